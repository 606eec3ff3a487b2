// Package open is the one place that turns a sink config, or a location
// (a folder, oss://BUCKET/PREFIX), into a sink: the agent, the readers (ls,
// pull, cat), check, and every later command that stores or reads the
// archive open it here; check probes it here too (Check).
//
// It is a package of its own because it must import every concrete sink
// (sinks/dir, sinks/oss), which themselves import package sinks: the list
// of sinks cannot live in sinks without an import cycle, and in
// internal/agent it would make the read side import the whole agent
// (pipeline, sources) to open a folder.
package open

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/logship/logship/internal/config"
	"github.com/logship/logship/internal/sinks"
	"github.com/logship/logship/internal/sinks/dir"
	osssink "github.com/logship/logship/internal/sinks/oss"
)

// Options adjust how a sink is opened; the zero value is fine.
type Options struct {
	// ConfigFile is where the sink config came from: the oss sink warns
	// when it holds a secret that others can read.
	ConfigFile string
	Log        *slog.Logger
	OSS        []osssink.Option // tests: another HTTP client, credentials, clock, dialer
}

// Config opens the sink a config describes (sink.type: dir or oss), as
// the agent writes to it. The result is a sinks.Sink; the abilities of the
// concrete sink (sinks.Lister, sinks.Getter, sinks.Multipart,
// sinks.Prober, ...) are found by type assertion.
func Config(ctx context.Context, c config.Sink, o Options) (sinks.Sink, error) {
	switch c.Type {
	case config.SinkDir:
		return dir.New(c.Dir.Path)
	case config.SinkOSS:
		opts := o.OSS
		if o.ConfigFile != "" {
			opts = append([]osssink.Option{osssink.WithConfigFile(o.ConfigFile)}, opts...)
		}
		s, err := osssink.New(ctx, c.OSSConfig(), o.Log, opts...)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("sink type %q is not available in this build", c.Type)
}

// Check opens the sink of c and probes it (sinks.Prober), reporting each
// step as it ends; it returns true when shipping would work. A sink that
// cannot be opened is reported as one failed step, named by the
// constructor when it says (sinks.StepError: endpoint, credentials), else
// "open".
func Check(ctx context.Context, c config.Sink, o Options, report func(sinks.Step)) bool {
	start := time.Now()
	s, err := Config(ctx, c, o)
	if err != nil {
		name := "open"
		var se *sinks.StepError
		if errors.As(err, &se) {
			name = se.Step
		}
		report(sinks.Step{Name: name, Verdict: sinks.Fail, Took: time.Since(start), Diagnosis: err.Error()})
		return false
	}
	defer s.Close()
	p, ok := s.(sinks.Prober)
	if !ok {
		report(sinks.Step{Name: "probe", Verdict: sinks.Skip, Detail: "sink " + c.Type + " cannot be probed"})
		return true
	}
	return p.Probe(ctx, c.Prefix, report)
}

// Location is a parsed location: a folder, or an OSS bucket and prefix.
type Location struct {
	Scheme string // "dir" or "oss"
	Dir    string // Scheme "dir": the folder
	Bucket string // Scheme "oss"
	Prefix string // Scheme "oss": key prefix, without leading or trailing "/"
}

// String is the location as a user writes it.
func (l Location) String() string {
	if l.Scheme == "oss" {
		return "oss://" + l.Bucket + "/" + l.Prefix
	}
	return l.Dir
}

// Parse parses oss://BUCKET/PREFIX, file://DIR or a plain folder path.
func Parse(from string) (Location, error) {
	if from == "" {
		return Location{}, errors.New("empty location: use --from DIR or --from oss://BUCKET/PREFIX")
	}
	scheme, rest, ok := strings.Cut(from, "://")
	if !ok {
		return Location{Scheme: "dir", Dir: from}, nil
	}
	switch strings.ToLower(scheme) {
	case "file":
		if rest == "" {
			return Location{}, fmt.Errorf("%q: empty folder", from)
		}
		return Location{Scheme: "dir", Dir: rest}, nil
	case "oss":
		bucket, prefix, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return Location{}, fmt.Errorf("%q: no bucket: write oss://BUCKET/PREFIX", from)
		}
		return Location{Scheme: "oss", Bucket: bucket, Prefix: strings.Trim(prefix, "/")}, nil
	}
	return Location{}, fmt.Errorf("%q: unknown scheme %q: use a folder or oss://BUCKET/PREFIX", from, scheme)
}

// Reader says how a reader on a laptop reaches an oss:// location; a
// folder ignores it. Flags win over Sink, the sink section of an agent
// config (-c), which gives what they leave unset: region, endpoint and
// access keys; ~/.ossutilconfig gives the endpoint when neither does.
type Reader struct {
	Sink       osssink.Config // the oss sink of the agent config; its bucket and prefix are not used (the location says)
	ConfigFile string         // where Sink came from: a secret in it that others can read is warned about
	Region     string         // e.g. cn-hangzhou; derived from an Aliyun endpoint when empty
	Endpoint   string         // host name or URL, instead of the one Region and Internal make
	Internal   bool           // the VPC endpoint oss-REGION-internal.aliyuncs.com, from inside Aliyun
	Parallel   int            // requests at once (connections kept open)
	Log        *slog.Logger
	Options    []osssink.Option // tests: another metadata service, ~/.ossutilconfig, environment
}

// ecsWait bounds the ECS RAM role probe of a reader (see
// osssink.WithLocalCredentialsFirst): on an instance the metadata service
// answers in milliseconds.
const ecsWait = time.Second

// URL opens the archive at from for reading: a folder written by the dir
// sink (or filled by `ossutil cp -r`, or by hand; it must exist), or
// oss://BUCKET/PREFIX through the OSS sink with a reader's credentials
// chain (OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET, the config's keys,
// ~/.ossutilconfig, then the ECS RAM role) and the public endpoint unless
// r.Internal. Keys of the result are full keys: the caller scopes it to
// the location's Prefix. Its errors are about the location and the
// options (no region, a bad endpoint, no credentials): nothing is read
// yet.
func URL(ctx context.Context, from string, r Reader) (sinks.Sink, Location, error) {
	loc, err := Parse(from)
	if err != nil {
		return nil, loc, err
	}
	if loc.Scheme == "oss" {
		s, err := openOSS(ctx, loc, r)
		return s, loc, err
	}
	fi, err := os.Stat(loc.Dir)
	if err != nil {
		return nil, loc, fmt.Errorf("--from: %w", err) // a *PathError: it names the folder
	}
	if !fi.IsDir() {
		return nil, loc, fmt.Errorf("--from %s: not a folder", loc.Dir)
	}
	abs, err := filepath.Abs(loc.Dir)
	if err != nil {
		return nil, loc, err
	}
	s, err := dir.New(abs)
	return s, loc, err
}

func openOSS(ctx context.Context, loc Location, r Reader) (sinks.Sink, error) {
	oc := r.Sink
	oc.Bucket = loc.Bucket
	if r.Region != "" {
		oc.Region = r.Region
	}
	if r.Endpoint != "" {
		oc.Endpoint = r.Endpoint
	} else if !r.Internal {
		// An agent config names the VPC endpoint, which a laptop cannot reach.
		oc.Endpoint = publicEndpoint(oc.Endpoint)
	}
	oc.Internal = &r.Internal
	oc.Concurrency = r.Parallel
	c := config.Sink{Type: config.SinkOSS, Prefix: loc.Prefix, OSS: oc}
	opts := append([]osssink.Option{osssink.WithLocalCredentialsFirst(ecsWait)}, r.Options...)
	s, err := Config(ctx, c, Options{ConfigFile: r.ConfigFile, Log: r.Log, OSS: opts})
	if err != nil {
		var re *osssink.RegionError
		if errors.As(err, &re) && len(re.Asked) > 0 {
			at := ""
			if oc.Endpoint != "" {
				at = " at " + oc.Endpoint
			}
			return nil, &RuntimeError{Msg: fmt.Sprintf("%s: the bucket did not say its region%s: %s (check the bucket name, the credentials and the endpoint; or give --region, e.g. cn-hangzhou)",
				loc, at, strings.Join(re.Asked, "; ")), Err: err}
		}
		if errors.As(err, &re) {
			return nil, fmt.Errorf("%s: --region is required (e.g. cn-hangzhou), or --endpoint; tried %s", loc, strings.Join(re.Tried, ", "))
		}
		return nil, fmt.Errorf("%s: %w", loc, err)
	}
	return s, nil
}

// RuntimeError is a failure to open an archive that is no usage error: the
// options were complete, and the bucket or the network answered no.
type RuntimeError struct {
	Msg string // what to tell the user
	Err error  // the cause, for errors.Is and errors.As
}

func (e *RuntimeError) Error() string { return e.Msg }
func (e *RuntimeError) Unwrap() error { return e.Err }

var internalEndpoint = regexp.MustCompile(`^((?:https?://)?(?:[a-z0-9-]+\.)?oss-[a-z0-9-]+?)-internal(\.aliyuncs\.com(?::\d+)?/?)$`)

// publicEndpoint turns oss-REGION-internal.aliyuncs.com into
// oss-REGION.aliyuncs.com; other endpoints are returned as they are.
func publicEndpoint(ep string) string {
	return internalEndpoint.ReplaceAllString(ep, "$1$2")
}
