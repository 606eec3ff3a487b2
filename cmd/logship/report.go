package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/config"
	"github.com/logship/logship/internal/report"
	"github.com/logship/logship/internal/retrieve"
	"github.com/logship/logship/internal/schema"
	"github.com/spf13/cobra"
)

func newReportCmd() *cobra.Command {
	var (
		sf       selectFlags
		htmlOut  string
		asJSON   bool
		tz       string
		gap      time.Duration
		before   time.Duration
		cacheDir string
		color    string
	)
	c := &cobra.Command{
		Use:   "report [DIR] [--from ARCHIVE] [filters]",
		Short: "Say what went wrong: OOM kills, JVM crashes, exits, restarts, errors, on one timeline",
		Long: `Read a folder written by pull (OUT/APP/HOST/SOURCE/...), or pull first
with --from (into a cache under the user cache folder, reused and resumed
on the next run; heap dumps are left in the archive and listed with the
pull command that fetches them), and print what went wrong: per host when
it shipped, its starts, restarts, run exits and gaps; kernel OOM kills
(process, RSS, cgroup, limit) and other kernel errors; JVM crashes
(signal, frame, thread, heap at death, JRE, command line); heap dumps;
snapshots; per log file its format, levels over time, top exceptions and
error messages grouped by template, and the first errors before each
crash or OOM kill. All of it on one merged timeline (UTC).

--html FILE writes one self-contained page (no script, no font, no
network) with the timeline and charts; --json prints the same result
for scripts. Filters (--app --host --source --path --since --until)
apply to the folder as to pull: --since and --until select by ingest time
(the chunks the agent read in the window, from pull's records), not by
the times written in the logs; only a folder without pull's records is
filtered by the times in its data.

Log timestamps without a zone are read in the zone guessed per file from
the ingest times pull recorded (the agent reads a line seconds after it
is written), else UTC; --tz sets it.

Exit codes: 0 the report was made (what went wrong in the logs is what it
tells, not an error of its own); 1 reading, pulling or writing failed; 2
usage error, a folder that is neither pull's nor there (an archive given
as the folder: use --from).

` + selectHelp,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			now := time.Now()
			since, err1 := retrieve.ParseTime(sf.since, now)
			until, err2 := retrieve.ParseTime(sf.until, now)
			if err := errors.Join(err1, err2); err != nil {
				return usageErr(err)
			}
			switch color {
			case "auto", "always", "never":
			default:
				return usageErr(fmt.Errorf("--color %q: use auto, always or never", color))
			}
			opt := report.Options{App: sf.app, Host: sf.host, Source: sf.source, Path: sf.path, Since: since, Until: until,
				Zone: tz, Gap: gap, Before: before}
			if err := opt.Validate(); err != nil {
				return usageErr(err)
			}
			from := sf.from
			if from == "" && len(args) == 0 {
				from = os.Getenv(config.EnvFrom)
			}
			var dir string
			switch {
			case len(args) == 1 && (sf.from != "" || sf.config != ""):
				return usageErr(errors.New("give a pulled folder or --from ARCHIVE, not both"))
			case len(args) == 1:
				dir = args[0]
				if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
					return usageErr(fmt.Errorf("%s is not a folder written by pull (or use --from ARCHIVE)", dir))
				}
				if why := archiveLayout(dir); why != "" {
					return usageErr(fmt.Errorf("%s is an archive (%s), not a folder written by pull: use logship report --from %s", dir, why, dir))
				}
			case from == "" && sf.config == "":
				return usageErr(errors.New("give a folder written by pull, or --from ARCHIVE (a folder or oss://BUCKET/PREFIX)"))
			default:
				ctx, stop := signalContext()
				defer stop()
				sf.from = from
				a, flt, err := sf.resolve(ctx, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				defer closeArchive(a)
				if cacheDir == "" {
					if cacheDir, err = reportCache(sf); err != nil {
						return err
					}
				}
				dir = cacheDir
				opt.From = displayFrom(sf)
				dumps, err := pullForReport(ctx, cmd, a, flt, dir, sf.parallel)
				if err != nil {
					return err
				}
				opt.HeapDumps = dumps
			}
			ctx, stop := signalContext()
			defer stop()
			res, err := report.Build(ctx, dir, opt)
			if err != nil {
				return err
			}
			if htmlOut != "" {
				if err := writeHTMLFile(htmlOut, res); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "logship: report written to %s\n", htmlOut)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			useColor := color == "always"
			if color == "auto" {
				f, ok := cmd.OutOrStdout().(*os.File)
				useColor = ok && isTerminal(f) && os.Getenv("NO_COLOR") == ""
			}
			return report.WriteText(cmd.OutOrStdout(), res, report.TextOptions{Color: useColor})
		},
	}
	sf.add(c)
	fl := c.Flags()
	fl.StringVar(&htmlOut, "html", "", "also write a self-contained HTML page to this file")
	fl.BoolVar(&asJSON, "json", false, "print the result as JSON on stdout")
	fl.StringVar(&tz, "tz", "auto", "zone of log timestamps written without one: auto, UTC, Local, or a name like Asia/Shanghai")
	fl.DurationVar(&gap, "gap", 15*time.Minute, "report a host that shipped nothing for this long")
	fl.DurationVar(&before, "before", 10*time.Minute, "how far before a crash or OOM kill to collect the first errors")
	fl.StringVar(&cacheDir, "cache", "", "with --from: pull into this folder (default: a folder per archive under the user cache folder)")
	fl.StringVar(&color, "color", "auto", "auto (on a terminal, unless NO_COLOR is set), always or never")
	return c
}

// archiveLayout says why dir looks like an archive (what the dir sink
// writes, or chunk objects copied from a bucket) rather than a folder
// written by pull, or "" when it does not. A folder with pull's state is
// pull's; so is one of APP/HOST/SOURCE folders (an app name has no "=").
// The look is bounded: five levels (an archive prefix's folders, then
// app=/dt=/hour=), 2,000 entries, 16 files opened.
func archiveLayout(dir string) string {
	if _, err := os.Lstat(filepath.Join(dir, ".logship-pull")); err == nil {
		return ""
	}
	type folder struct {
		rel   string
		depth int
	}
	queue := []folder{{".", 0}}
	seen, opened := 0, 0
	for len(queue) > 0 && seen < 2000 {
		f := queue[0]
		queue = queue[1:]
		ents, err := os.ReadDir(filepath.Join(dir, f.rel))
		if err != nil {
			continue
		}
		for _, e := range ents {
			seen++
			rel := filepath.ToSlash(filepath.Join(f.rel, e.Name()))
			switch {
			case e.IsDir() && strings.HasPrefix(e.Name(), "app="):
				return "it holds " + rel + "/, the layout the dir sink writes"
			case e.IsDir() && f.depth < 4 && !strings.HasPrefix(e.Name(), "."):
				queue = append(queue, folder{rel, f.depth + 1})
			case e.Type().IsRegular() && opened < 16:
				opened++
				if isChunk(filepath.Join(dir, rel)) {
					return "it holds the chunk object " + rel
				}
			}
		}
	}
	return ""
}

// isChunk reports a file that starts with a logship chunk header.
func isChunk(name string) bool {
	f, err := os.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	_, err = archive.ReadHeader(f)
	return err == nil
}

// reportCache is the cache folder of an archive: one per --from (and
// region or endpoint), so that a re-run reuses and resumes what is there.
func reportCache(sf selectFlags) (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", usageErr(fmt.Errorf("no user cache folder (%v): give --cache DIR", err))
	}
	cfg := sf.config
	if cfg != "" {
		if abs, err := filepath.Abs(cfg); err == nil {
			cfg = abs
		}
	}
	sum := sha256.Sum256([]byte(sf.from + "\x00" + sf.region + "\x00" + sf.endpoint + "\x00" + cfg))
	return filepath.Join(base, "logship", "report", hex.EncodeToString(sum[:8])), nil
}

func displayFrom(sf selectFlags) string {
	s := sf.from
	if sf.region != "" {
		s += " --region " + sf.region
	}
	if sf.endpoint != "" {
		s += " --endpoint " + sf.endpoint
	}
	return s
}

// pullForReport pulls what the filter selects into dir, except heap dumps
// (often GBs, and the report needs only their size): every source but
// crash, then the hs_err files of crash (two pulls: one filter cannot say
// both), and prints one line for the two; the heap dumps are listed and
// returned.
func pullForReport(ctx context.Context, cmd *cobra.Command, a retrieve.Store, flt retrieve.Filter, dir string, par int) ([]report.HeapDump, error) {
	stderr := cmd.ErrOrStderr()
	pulls := []retrieve.Filter{flt, flt}
	pulls[0].Source = "[^c]*" // file, kmsg, snapshot, stdout, event: all but crash
	if flt.Source != "" {
		pulls[0].Source = flt.Source
		pulls = pulls[:1]
	}
	var problems, files, upToDate int
	var fetched, fetchedBytes int64
	for i, f := range pulls {
		if i == 1 {
			f.Source = "crash"
			if f.Path == "" {
				f.Path = "hs_err*"
			}
		}
		sum, err := retrieve.Pull(ctx, a, retrieve.Options{Filter: f, Out: dir, Parallel: par,
			OnProblem: func(p retrieve.Problem) { fmt.Fprintln(stderr, "logship:", p.String()) }})
		if err != nil {
			return nil, err
		}
		problems += len(sum.Problems)
		files += sum.Files
		upToDate += sum.UpToDate
		fetched += sum.Fetched
		fetchedBytes += sum.FetchedBytes
	}
	// The two selections are disjoint: one line says what both did.
	fmt.Fprintf(stderr, "logship: pulled into %s: %d files (%d up to date), fetched %d objects (%s)\n", dir, files, upToDate, fetched, schema.HumanBytes(fetchedBytes))
	if problems > 0 {
		fmt.Fprintf(stderr, "logship: the pull had %d problems (above); the report shows what arrived\n", problems)
	}
	if flt.Source != "" && !strings.Contains(flt.Source, "c") {
		return nil, nil
	}
	lf := flt
	lf.Source, lf.Path = "crash", "*.hprof"
	l, err := retrieve.List(ctx, a, lf, par)
	if err != nil {
		return nil, err
	}
	var out []report.HeapDump
	for _, f := range l.Files {
		out = append(out, report.HeapDump{App: f.App, Host: f.Host, Path: f.Path, Size: f.Raw, Time: f.First})
	}
	return out, nil
}

func writeHTMLFile(name string, res *report.Result) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := report.WriteHTML(f, res); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
