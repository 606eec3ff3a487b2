package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/logship/logship/internal/config"
	"github.com/logship/logship/internal/retrieve"
	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
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
}

const selectHelp = `Where from: --from DIR (a folder written by the dir sink, copied with
ossutil cp -r, or downloaded object by object: the headers inside the
chunks are enough) or --from oss://BUCKET/PREFIX; default $LOGSHIP_FROM,
else the oss sink of the agent config given with -c.

OSS: --region (cn-hangzhou), or --endpoint (a host name or URL); the
public endpoint oss-REGION.aliyuncs.com unless --internal (the VPC endpoint,
from inside Aliyun). -c AGENT.yaml takes bucket, prefix, region, endpoint
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
	fl := c.Flags()
	fl.StringVar(&f.from, "from", "", "archive: a folder or oss://BUCKET/PREFIX (default $LOGSHIP_FROM)")
	fl.StringVar(&f.app, "app", "", "app name or pattern")
	fl.StringVar(&f.host, "host", "", "host name or pattern")
	fl.StringVar(&f.source, "source", "", "source kind or pattern: file, kmsg, crash, snapshot")
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
// errors. Close the archive when done (closeArchive).
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
		Log: newLogger(stderr, "warn", "text")}
	from := f.from
	if from == "" {
		from = os.Getenv("LOGSHIP_FROM")
	}
	if f.config != "" {
		cfg, err := config.Load(f.config)
		if err != nil {
			errs = append(errs, fmt.Errorf("-c: %w", err))
		} else {
			oo.Sink, oo.ConfigFile = cfg.Sink.OSSConfig(), f.config
			if from == "" && cfg.Sink.Type == config.SinkOSS && cfg.Sink.OSS.Bucket != "" {
				from = "oss://" + cfg.Sink.OSS.Bucket + "/" + strings.Trim(cfg.Sink.Prefix, "/")
			}
		}
	}
	if from == "" {
		errs = append(errs, errors.New("--from is required: a folder or oss://BUCKET/PREFIX (or set LOGSHIP_FROM, or give an agent config with an oss sink with -c)"))
	}
	if len(errs) > 0 {
		return nil, flt, usageErr(errors.Join(errs...))
	}
	a, err := retrieve.Open(ctx, from, oo)
	if err != nil {
		return nil, flt, usageErr(err)
	}
	return a, flt, nil
}

// closeArchive releases the connections an archive holds.
func closeArchive(a retrieve.Store) {
	if c, ok := a.(io.Closer); ok {
		c.Close()
	}
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

func newPullCmd() *cobra.Command {
	var (
		sf       selectFlags
		out      string
		split    bool
		memory   string
		progress string
		asJSON   bool
	)
	c := &cobra.Command{
		Use:   "pull --from ARCHIVE --out DIR [filters]",
		Short: "Download, verify and reassemble archived logs into a folder",
		Long: `Download what the filters select, verify every object (in-band checksum and
size: a decompression bomb is stopped at the size its header declares) and
rebuild the original files at OUT/APP/HOST/SOURCE/<original path>, the
generations of one path concatenated in ingest order (--split-generations
writes each to PATH@STREAM). Crash artifacts and snapshots come back under
their original names. Duplicates and overlaps from at-least-once delivery
are removed; gaps are reported as ranges with the ingest times around them
(a stream that starts before the window is not a gap).

Files are written aside and renamed into place when complete; nothing is
written outside OUT and no symbolic link inside it is followed. A re-run
resumes: OUT/.logship-pull/state.json records which objects each file holds,
so only what is missing is fetched.

` + selectHelp + `

Exit codes: 0 all good; 3 finished, but something was corrupt, unsafe,
could not be fetched or written, or a stream has a gap; 2 usage; 1 failure.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageErr(errors.New("--out is required"))
			}
			mem, err := config.ParseSize(memory)
			if err != nil || mem < 16<<20 {
				return usageErr(fmt.Errorf("--max-memory %q: use a size of at least 16MiB", memory))
			}
			switch progress {
			case "auto", "bar", "plain", "none":
			default:
				return usageErr(fmt.Errorf("--progress %q: use auto, bar, plain or none", progress))
			}
			ctx, stop := signalContext()
			defer stop()
			a, flt, err := sf.resolve(ctx, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer closeArchive(a)
			stats := &retrieve.Stats{}
			pr := startProgress(ctx, cmd.ErrOrStderr(), progress, "pull", stats)
			sum, err := retrieve.Pull(ctx, a, retrieve.Options{Filter: flt, Out: out, Parallel: sf.parallel, Memory: mem.Int64(),
				SplitGenerations: split, Stats: stats, OnProblem: pr.problem})
			pr.stop()
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(sum); err != nil {
					return err
				}
			}
			printSummary(cmd.ErrOrStderr(), sum, out)
			if len(sum.Problems) > 0 {
				return problemsErr(fmt.Errorf("finished with %d problems (listed above)", len(sum.Problems)))
			}
			return nil
		},
	}
	sf.add(c)
	c.Flags().StringVarP(&out, "out", "o", "", "folder to write the files into (created if needed)")
	c.Flags().BoolVar(&split, "split-generations", false, "write each generation of a path to its own file, PATH@STREAM")
	c.Flags().StringVar(&memory, "max-memory", "256MiB", "bound on fetched chunk bytes held at once")
	c.Flags().StringVar(&progress, "progress", "auto", "auto (a bar on a terminal, lines otherwise), bar, plain or none")
	c.Flags().BoolVar(&asJSON, "json", false, "print the summary as JSON on stdout")
	return c
}

func printSummary(w io.Writer, s *retrieve.Summary, out string) {
	fmt.Fprintf(w, "logship: %d files in %s (%d up to date), %s; fetched %d objects (%s), reused %s; %d duplicates dropped, %s of overlap trimmed\n",
		s.Files, out, s.UpToDate, humanBytes(s.Bytes), s.Fetched, humanBytes(s.FetchedBytes), humanBytes(s.Reused), s.Duplicates, humanBytes(s.Overlap))
	if len(s.Problems) > 0 || s.Ignored > 0 {
		fmt.Fprintf(w, "logship: problems: %d corrupt, %d could not be fetched, %d gaps, %d unsafe, %d not written; %d objects ignored (not logship chunks)\n",
			s.Count(retrieve.KindCorrupt), s.Count(retrieve.KindFetch), s.Count(retrieve.KindGap), s.Count(retrieve.KindUnsafe), s.Count(retrieve.KindWrite), s.Ignored)
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// progress shows pull and cat progress on stderr: an mpb bar on a
// terminal, a plain line every few seconds otherwise. Problems are printed
// as they are found.
type progressView struct {
	w      io.Writer
	p      *mpb.Progress
	done   chan struct{}
	exited chan struct{}
}

func startProgress(ctx context.Context, w io.Writer, mode, verb string, st *retrieve.Stats) *progressView {
	pv := &progressView{w: w, done: make(chan struct{}), exited: make(chan struct{})}
	f, isFile := w.(*os.File)
	if mode == "auto" {
		mode = "plain"
		if isFile && isTerminal(f) {
			mode = "bar"
		}
	}
	if mode == "none" {
		close(pv.exited)
		return pv
	}
	var bar *mpb.Bar
	tick := 5 * time.Second
	if mode == "bar" {
		tick = 200 * time.Millisecond
		pv.p = mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithWidth(32), mpb.WithRefreshRate(200*time.Millisecond), mpb.WithAutoRefresh())
		bar = pv.p.AddBar(0,
			mpb.PrependDecorators(decor.Name(verb+" "), decor.Any(func(decor.Statistics) string {
				return fmt.Sprintf("%d/%d objects", st.Objects.Load(), st.ObjectsTotal.Load())
			}, decor.WCSyncSpaceR)),
			mpb.AppendDecorators(decor.CountersKibiByte("% .1f / % .1f"), decor.Name(" "),
				decor.AverageSpeed(decor.SizeB1024(0), "% .1f"), decor.Name(" ETA "), decor.AverageETA(decor.ET_STYLE_GO)))
	}
	start := time.Now()
	go func() {
		defer close(pv.exited)
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-pv.done:
				if bar != nil {
					bar.SetCurrent(st.Bytes.Load())
					bar.SetTotal(-1, true) // complete at what was fetched
				}
				return
			case <-t.C:
			}
			if bar != nil {
				bar.SetTotal(st.BytesTotal.Load(), false)
				bar.SetCurrent(st.Bytes.Load())
				continue
			}
			secs := time.Since(start).Seconds()
			fmt.Fprintf(w, "logship: %s: %d/%d objects, %s/%s fetched, %s written, %.1f MB/s\n", verb,
				st.Objects.Load(), st.ObjectsTotal.Load(), humanBytes(st.Bytes.Load()), humanBytes(st.BytesTotal.Load()),
				humanBytes(st.Written.Load()), float64(st.Written.Load())/1e6/secs)
		}
	}()
	return pv
}

func (pv *progressView) problem(p retrieve.Problem) {
	var w io.Writer = pv.w
	if pv.p != nil {
		w = pv.p
	}
	fmt.Fprintln(w, "logship:", p.String())
}

func (pv *progressView) stop() {
	select {
	case <-pv.done:
		return
	default:
	}
	close(pv.done)
	<-pv.exited
	if pv.p != nil {
		pv.p.Wait()
	}
}
