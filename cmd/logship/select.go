package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/logship/logship/internal/config"
	"github.com/logship/logship/internal/retrieve"
	"github.com/logship/logship/internal/sinks/open"
	osssink "github.com/logship/logship/internal/sinks/oss"
	"github.com/spf13/cobra"
)

// selectFlags are the flags ls, pull and cat share: where from and what.
type selectFlags struct {
	from                    string
	app, host, source, path string
	since, until            string
	parallel                int
	// oss:// locations
	config           string
	region, endpoint string
	internal         bool

	cmd string           // the command's name, which its errors start with
	oss []osssink.Option // tests: another HTTP client, ~/.ossutilconfig, environment
}

const selectHelp = `Where from: --from DIR (a folder written by the dir sink, copied with
ossutil cp -r, or downloaded object by object: the headers inside the
chunks are enough) or --from oss://BUCKET/PREFIX; default $LOGSHIP_FROM,
else the oss sink of the agent config given with -c, else that of
$LOGSHIP_CONFIG (in the container: the agent's own).

OSS: --region (cn-hangzhou), or --endpoint (a host name or URL); the
public endpoint oss-REGION.aliyuncs.com unless --internal (the VPC endpoint,
from inside Aliyun). Without either, the endpoint and region of
~/.ossutilconfig; the region of an Aliyun endpoint name is its own, and
for another endpoint the bucket is asked (GetBucketLocation). -c AGENT.yaml takes bucket, prefix, region, endpoint
and access keys from the agent's sink (its VPC endpoint is turned into the
public one unless --internal); flags win. Credentials, the first found:
OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET (and OSS_SESSION_TOKEN), the
config's access_key_id and access_key_secret, ~/.ossutilconfig, the ECS
instance's RAM role (asked last, for at most a second). Secrets are never
printed. Reading needs oss:ListObjects on the bucket and oss:GetObject on
the prefix.

What: --app, --host and --source take names or patterns (web-*); --path a
glob over the original path (*.log matches the base name; with a "/" the
whole path, ** for any folders); --since and --until a duration before now
(90m, 2h, 3d) or a time (2026-11-26T10:00:00Z, "2026-11-26 10:00" and
2026-11-26 in local time). A chunk is selected when its ingest times
overlap the window; only the hour partitions from the hour before --since
to the hour of --until are listed.`

func (f *selectFlags) add(c *cobra.Command) {
	f.cmd = c.Name()
	fl := c.Flags()
	fl.StringVar(&f.from, "from", "", "archive: a folder or oss://BUCKET/PREFIX (default $LOGSHIP_FROM)")
	fl.StringVar(&f.app, "app", "", "app name or pattern")
	fl.StringVar(&f.host, "host", "", "host name or pattern")
	fl.StringVar(&f.source, "source", "", "source kind or pattern: file, kmsg, crash, snapshot, stdout (logship run's output), event")
	fl.StringVar(&f.path, "path", "", "glob over the original path (e.g. '*.log', '/home/admin/logs/**')")
	fl.StringVar(&f.since, "since", "", "from this time: a duration before now (2h) or a timestamp")
	fl.StringVar(&f.until, "until", "", "up to this time: a duration before now (30m) or a timestamp")
	fl.IntVarP(&f.parallel, "parallel", "j", retrieve.DefaultParallel, "objects fetched at once")
	fl.StringVarP(&f.config, "config", "c", "", "agent config: its oss sink gives bucket, prefix, region, endpoint and access keys")
	fl.StringVar(&f.region, "region", "", "OSS region, e.g. cn-hangzhou")
	fl.StringVar(&f.endpoint, "endpoint", "", "OSS endpoint, a host name or URL, instead of the one --region and --internal make")
	fl.BoolVar(&f.internal, "internal", false, "use the VPC endpoint oss-REGION-internal.aliyuncs.com (inside Aliyun)")
}

// resolve opens the archive and builds the filter; bad values are usage
// errors, which start with the command's name. Close the archive when done
// (closeArchive).
func (f *selectFlags) resolve(ctx context.Context, stderr io.Writer) (retrieve.Store, retrieve.Filter, error) {
	var flt retrieve.Filter
	var errs []error
	now := time.Now()
	var err error
	if flt.Since, err = retrieve.ParseTime(f.since, now); err != nil {
		errs = append(errs, fmt.Errorf("--since: %w", err))
	}
	if flt.Until, err = retrieve.ParseTime(f.until, now); err != nil {
		errs = append(errs, fmt.Errorf("--until: %w", err))
	}
	flt.App, flt.Host, flt.Source, flt.Path = f.app, f.host, f.source, f.path
	if err := flt.Validate(); err != nil {
		errs = append(errs, err)
	}
	if f.parallel < 1 || f.parallel > 256 {
		errs = append(errs, fmt.Errorf("--parallel %d: use 1..256", f.parallel))
	}
	oo := retrieve.OSSOptions{Region: f.region, Endpoint: f.endpoint, Internal: f.internal, Parallel: f.parallel,
		Log: newLogger(stderr, "warn", "text"), Options: f.oss}
	from, cfg, path, err := readerArchive(f.from, f.config)
	if err != nil {
		errs = append(errs, err)
	} else if cfg != nil {
		oo.Sink, oo.ConfigFile = cfg.Sink.OSSConfig(), path
	}
	if from == "" {
		errs = append(errs, errors.New("--from is required: a folder or oss://BUCKET/PREFIX (or set LOGSHIP_FROM, or give an agent config with an oss sink with -c or LOGSHIP_CONFIG)"))
	}
	if len(errs) > 0 {
		return nil, flt, usageErr(fmt.Errorf("%s: %w", f.cmd, errors.Join(errs...)))
	}
	a, err := retrieve.Open(ctx, from, oo)
	var re *open.RuntimeError
	if errors.As(err, &re) { // the bucket or the network said no: exit 1
		return nil, flt, fmt.Errorf("%s: %w", f.cmd, err)
	}
	if err != nil {
		return nil, flt, usageErr(fmt.Errorf("%s: %w", f.cmd, err))
	}
	return a, flt, nil
}

// closeArchive releases the connections an archive holds.
func closeArchive(a retrieve.Store) {
	if c, ok := a.(io.Closer); ok {
		c.Close()
	}
}

// readerArchive is where a reader of the archive reads: --from, else
// $LOGSHIP_FROM, else the oss sink of the agent config of readerConfig
// (returned, with its path, for its region, endpoint and keys).
func readerArchive(flagFrom, flagConfig string) (from string, cfg *config.Config, path string, err error) {
	from = flagFrom
	if from == "" {
		from = os.Getenv(config.EnvFrom)
	}
	if cfg, path, err = readerConfig(flagConfig, from); err != nil || cfg == nil {
		return from, nil, path, err
	}
	if from == "" && cfg.Sink.Type == config.SinkOSS && cfg.Sink.OSS.Bucket != "" {
		from = "oss://" + cfg.Sink.OSS.Bucket + "/" + strings.Trim(cfg.Sink.Prefix, "/")
	}
	return from, cfg, path, nil
}

// readerConfig reads the agent config a reader of the archive takes its
// bucket, prefix, region, endpoint and keys from: -c FILE; or, only when
// no archive is named (no --from, no $LOGSHIP_FROM), $LOGSHIP_CONFIG, as
// every command in the container reads it (on a laptop whose variable
// names a local agent's config, reading another archive is not changed
// by it). The LOGSHIP_* environment applies over the file, as for the
// agent. No file: nil.
func readerConfig(flagPath, from string) (*config.Config, string, error) {
	path, label := flagPath, "-c"
	if path == "" && from == "" {
		path, label = os.Getenv(config.EnvConfig), "$"+config.EnvConfig
	}
	if path == "" {
		return nil, "", nil
	}
	cfg, err := config.Load(path)
	if err == nil {
		err = cfg.ApplyEnv(os.Environ())
	}
	if err != nil {
		return nil, path, fmt.Errorf("%s: %w", label, err)
	}
	return cfg, path, nil
}
