// Package retrieve reads an archive back: it lists what is archived (ls),
// downloads and reassembles the original files (pull) and streams the
// reassembled lines (cat).
//
// The archive is outside input. Keys and headers are validated, header
// paths are sanitised before they name a file, every object is verified
// against its in-band checksum, decompression is bounded by the size the
// header declares, and one bad object never stops the others: it is
// reported as a Problem and the run goes on.
package retrieve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/logship/logship/internal/sinks"
	"github.com/logship/logship/internal/sinks/dir"
	osssink "github.com/logship/logship/internal/sinks/oss"
)

// Store is a read-only view of an archive: a folder or an OSS prefix.
// Keys are relative to the location given to Open.
//
// List must call fn in key order (see sinks.Lister); Get must return
// sinks.ErrNotFound (wrapped) for a missing key and, for object stores,
// verify the transfer checksum (CRC64) itself: pull verifies the in-band
// checksum of every chunk on top. A Store may also implement
// sinks.PrefixLister, which lets a time window list only the partitions it
// needs.
type Store interface {
	sinks.Lister
	sinks.Getter
}

// Location is a parsed --from value.
type Location struct {
	Scheme string // "dir" or "oss"
	Dir    string // Scheme "dir": the folder
	Bucket string // Scheme "oss"
	Prefix string // Scheme "oss": key prefix, without leading or trailing "/"
}

// ParseLocation parses oss://BUCKET/PREFIX, file://DIR or a plain folder path.
func ParseLocation(from string) (Location, error) {
	if from == "" {
		return Location{}, errors.New("pull: empty location: use --from DIR or --from oss://BUCKET/PREFIX")
	}
	scheme, rest, ok := strings.Cut(from, "://")
	if !ok {
		return Location{Scheme: "dir", Dir: from}, nil
	}
	switch strings.ToLower(scheme) {
	case "file":
		if rest == "" {
			return Location{}, fmt.Errorf("pull: %q: empty folder", from)
		}
		return Location{Scheme: "dir", Dir: rest}, nil
	case "oss":
		bucket, prefix, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return Location{}, fmt.Errorf("pull: %q: no bucket: write oss://BUCKET/PREFIX", from)
		}
		return Location{Scheme: "oss", Bucket: bucket, Prefix: strings.Trim(prefix, "/")}, nil
	}
	return Location{}, fmt.Errorf("pull: %q: unknown scheme %q: use a folder or oss://BUCKET/PREFIX", from, scheme)
}

// OSSOptions say how to reach an oss:// location; a folder ignores them.
// Flags win over Sink, the sink section of an agent config (-c), which
// gives what they leave unset: region, endpoint and access keys.
type OSSOptions struct {
	Sink       osssink.Config // the oss sink of the agent config; its bucket and prefix are not used (the location says)
	ConfigFile string         // where Sink came from: a secret in it that others can read is warned about
	Region     string         // e.g. cn-hangzhou; derived from an Aliyun endpoint when empty
	Endpoint   string         // host name or URL, instead of the one Region and Internal make
	Internal   bool           // the VPC endpoint oss-REGION-internal.aliyuncs.com, from inside Aliyun
	Parallel   int            // requests at once (connections kept open)
	Log        *slog.Logger
	Options    []osssink.Option // tests: another metadata service, ~/.ossutilconfig, environment
}

// Open opens the archive at from: a folder written by the dir sink (or
// filled by `ossutil cp -r`, or by hand), or oss://BUCKET/PREFIX. Its
// errors are all about the location and the options (no region, a bad
// endpoint, no credentials): nothing is listed yet. The result implements
// io.Closer when it holds connections.
func Open(ctx context.Context, from string, o OSSOptions) (Store, error) {
	loc, err := ParseLocation(from)
	if err != nil {
		return nil, err
	}
	switch loc.Scheme {
	case "oss":
		return openOSS(ctx, loc, o)
	default:
		fi, err := os.Stat(loc.Dir)
		if err != nil {
			return nil, fmt.Errorf("pull: --from %s: %w", loc.Dir, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("pull: --from %s: not a folder", loc.Dir)
		}
		abs, err := filepath.Abs(loc.Dir)
		if err != nil {
			return nil, err
		}
		return dir.New(abs)
	}
}

// ecsWait bounds the ECS RAM role probe of a reader (see
// osssink.WithLocalCredentialsFirst): on an instance the metadata service
// answers in milliseconds.
const ecsWait = time.Second

// openOSS is the one place where the OSS reader plugs in: the bucket
// reader of sinks/oss (credentials from its chain: OSS_ACCESS_KEY_ID and
// OSS_ACCESS_KEY_SECRET, the config's keys, ~/.ossutilconfig, then the ECS
// RAM role; the public endpoint unless Internal), under the prefix, so
// that keys are relative to it like those of a folder.
func openOSS(ctx context.Context, loc Location, o OSSOptions) (Store, error) {
	c := o.Sink
	c.Bucket, c.Prefix = loc.Bucket, loc.Prefix
	if o.Region != "" {
		c.Region = o.Region
	}
	if o.Endpoint != "" {
		c.Endpoint = o.Endpoint
	} else if !o.Internal {
		// An agent config names the VPC endpoint, which a laptop cannot reach.
		c.Endpoint = publicEndpoint(c.Endpoint)
	}
	c.Internal = &o.Internal
	if c.Endpoint == "" && c.Region == "" {
		return nil, fmt.Errorf("pull: oss://%s: --region is required (e.g. cn-hangzhou), or --endpoint", loc.Bucket)
	}
	c.Concurrency = max(o.Parallel, DefaultParallel)
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts := []osssink.Option{osssink.WithLocalCredentialsFirst(ecsWait)}
	if o.ConfigFile != "" {
		opts = append(opts, osssink.WithConfigFile(o.ConfigFile))
	}
	s, err := osssink.New(ctx, c, log, append(opts, o.Options...)...)
	if err != nil {
		return nil, fmt.Errorf("pull: oss://%s: %w", loc.Bucket, err)
	}
	return Sub(s, loc.Prefix), nil
}

var internalEndpoint = regexp.MustCompile(`^((?:https?://)?(?:[a-z0-9-]+\.)?oss-[a-z0-9-]+?)-internal(\.aliyuncs\.com(?::\d+)?/?)$`)

// publicEndpoint turns oss-REGION-internal.aliyuncs.com into
// oss-REGION.aliyuncs.com; other endpoints are returned as they are.
func publicEndpoint(ep string) string {
	return internalEndpoint.ReplaceAllString(ep, "$1$2")
}

// Sub returns the part of a under prefix, with keys relative to it (like
// fs.Sub). The result implements sinks.PrefixLister when a does.
func Sub(a Store, prefix string) Store {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return a
	}
	s := &sub{a: a, p: prefix + "/"}
	if pl, ok := a.(sinks.PrefixLister); ok {
		return &subPrefix{sub: s, pl: pl}
	}
	return s
}

type sub struct {
	a Store
	p string
}

// Close closes the archive under the prefix when it holds connections.
func (s *sub) Close() error {
	if c, ok := s.a.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

func (s *sub) List(ctx context.Context, prefix string, fn func(sinks.ObjectInfo) error) error {
	return s.a.List(ctx, s.p+prefix, func(oi sinks.ObjectInfo) error {
		if !strings.HasPrefix(oi.Key, s.p) {
			return nil
		}
		oi.Key = oi.Key[len(s.p):]
		return fn(oi)
	})
}

func (s *sub) Get(ctx context.Context, key string) (io.ReadCloser, sinks.ObjectInfo, error) {
	rc, oi, err := s.a.Get(ctx, s.p+key)
	oi.Key = strings.TrimPrefix(oi.Key, s.p)
	return rc, oi, err
}

// Stat implements sinks.Stater when the archive under the prefix does;
// otherwise it returns errors.ErrUnsupported.
func (s *sub) Stat(ctx context.Context, key string) (sinks.ObjectInfo, error) {
	st, ok := s.a.(sinks.Stater)
	if !ok {
		return sinks.ObjectInfo{}, errors.ErrUnsupported
	}
	oi, err := st.Stat(ctx, s.p+key)
	oi.Key = strings.TrimPrefix(oi.Key, s.p)
	return oi, err
}

type subPrefix struct {
	*sub
	pl sinks.PrefixLister
}

func (s *subPrefix) ListPrefixes(ctx context.Context, prefix string) ([]string, error) {
	ps, err := s.pl.ListPrefixes(ctx, s.p+prefix)
	if err != nil {
		return nil, err
	}
	out := ps[:0]
	for _, p := range ps {
		if strings.HasPrefix(p, s.p) {
			out = append(out, p[len(s.p):])
		}
	}
	return out, nil
}
