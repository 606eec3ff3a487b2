package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/logship/logship/internal/config"
	"github.com/logship/logship/internal/loggen"
	"github.com/logship/logship/internal/osstest"
	"github.com/logship/logship/internal/pipeline"
	"github.com/logship/logship/internal/sinks/dir"
	osssink "github.com/logship/logship/internal/sinks/oss"
	"github.com/logship/logship/internal/sources/file"
	"github.com/spf13/cobra"
)

// benchFlags are the options of `logship bench`.
type benchFlags struct {
	size, codec, workdir, profile, generate, zstd string
	files, rounds, idleFiles                      int
	seed                                          uint64
	samples, sinks, sets, encode                  []string
	keep, idle, json, pull                        bool
	pullMemory                                    string
	idleFor                                       time.Duration
}

func newBenchCmd() *cobra.Command {
	var f benchFlags
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure the agent on this machine against the zstd CLI, on realistic Java logs",
		Long: `Write --size of generated Java application logs (logback lines, ids,
durations, stack traces; zstd -1 compresses them about 6x, as real
application logs) into --files files, then, in each of --rounds rounds on
the same bytes (page cache warm):

  1. the stock 'zstd -1 -T1' CLI compresses the files, when installed: the
     floor of one core on this machine;
  2. 'Go zstd, 1 goroutine': the agent's own encoder (Go's zstd, the same
     options and 4 MiB chunks) compresses the files in one goroutine of a
     child process, with nothing else: the floor of the agent's CPU;
  3. 'logship agent' (this binary, a child process) ships them into each
     --sink: dir (a folder, fsynced) or osstest (an OSS imitation in this
     process, over loopback HTTP).

Every line gives wall time, MB/s of raw log, CPU seconds per GiB, peak RSS
and the compression ratio, and the agent's throughput and CPU as a
multiple of the CLI's in the same round (this machine's speed drifts:
compare within a run). max_age is 200ms so that the last, partial chunks
do not wait 5s.

--idle instead tails --idle-files quiet files for --idle-for and reports
the agent's CPU (percent of one core) and memory.
--generate DIR only writes the generated logs into DIR (for a demo).
--sample FILE repeats the lines of FILE instead (the old benchmark data;
repeated lines compress far better than real logs).`,
		Example: `  logship bench --size 1GiB --rounds 3 --sink dir --sink osstest
  logship bench --idle --idle-for 1m
  logship bench --generate demo/logs --size 100MiB`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return f.run(cmd.Context(), cmd.OutOrStdout()) },
	}
	fl := c.Flags()
	fl.StringVar(&f.size, "size", "1GiB", "bytes of log to ship (or to --generate)")
	fl.IntVar(&f.files, "files", 8, "number of generated log files, each written by its own writer")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the generated logs")
	fl.StringArrayVar(&f.samples, "sample", nil, "ship this file's lines repeated to --size instead of generated logs (repeatable)")
	fl.StringArrayVar(&f.sinks, "sink", []string{"dir"}, "dir or osstest (repeatable)")
	fl.IntVar(&f.rounds, "rounds", 1, "rounds of CLI and agent runs, interleaved")
	fl.StringVar(&f.zstd, "zstd", "zstd", "the zstd CLI to compare with (\"\" or not found: skipped)")
	fl.StringVar(&f.workdir, "dir", "", "work folder (default: a temporary one, removed after)")
	fl.StringVar(&f.codec, "compression", "zstd", "zstd, gzip or none")
	fl.BoolVar(&f.keep, "keep", false, "keep the work folder")
	fl.StringVar(&f.profile, "cpuprofile", "", "write a CPU profile of the agent's last run to this file (and of the last pull to FILE.pull, with --pull)")
	fl.BoolVar(&f.idle, "idle", false, "measure the agent tailing quiet files instead")
	fl.IntVar(&f.idleFiles, "idle-files", 50, "quiet files for --idle")
	fl.DurationVar(&f.idleFor, "idle-for", time.Minute, "how long --idle measures")
	fl.StringArrayVar(&f.sets, "set", nil, "key=value passed to the agent's --set, to try a setting (repeatable)")
	fl.BoolVar(&f.pull, "pull", false, "after each run into osstest, pull the archive back with logship pull, and the naive way (GETs three at a time, as ossutil cp -r, then zstd -dc in key order); the two take turns at going first")
	fl.StringVar(&f.pullMemory, "pull-max-memory", "", "--max-memory of those pulls (default: pull's)")
	fl.BoolVar(&f.json, "json", false, "print the results as JSON")
	fl.StringVar(&f.generate, "generate", "", "only write --files generated logs of --size in total into this folder")
	fl.StringArrayVar(&f.encode, "encode", nil, "only compress these files with the agent's encoder, in one goroutine, and print the compressed size (the child of the 'Go zstd' row)")
	fl.MarkHidden("encode")
	return c
}

// benchReport is what bench prints with --json.
type benchReport struct {
	Data    string      `json:"data,omitempty"`
	Files   int         `json:"files,omitempty"`
	Bytes   int64       `json:"raw_bytes,omitempty"`
	Runs    []figure    `json:"runs,omitempty"`
	Medians []figure    `json:"medians,omitempty"`
	Idle    *idleFigure `json:"idle,omitempty"`
}

func (f *benchFlags) run(ctx context.Context, w io.Writer) error {
	n, err := config.ParseSize(f.size)
	if err == nil && n <= 0 {
		err = fmt.Errorf("%q: use a size above 0", f.size)
	}
	if err != nil {
		return usageErr(fmt.Errorf("--size: %w", err))
	}
	if f.rounds < 1 || f.files < 1 || f.idle && (f.idleFiles < 1 || f.idleFor <= 0) {
		return usageErr(fmt.Errorf("--rounds, --files and --idle-files must be at least 1, --idle-for above 0 (got %d, %d, %d, %s)", f.rounds, f.files, f.idleFiles, f.idleFor))
	}
	if f.pull && !slices.Contains(f.sinks, "osstest") {
		f.sinks = append(f.sinks, "osstest")
	}
	for _, s := range f.sinks {
		if s != "dir" && s != "osstest" {
			return usageErr(fmt.Errorf("--sink %q: use dir or osstest", s))
		}
	}
	if len(f.encode) > 0 {
		stored, err := encodeFiles(f.encode, pipeline.DefaultMaxBytes)
		if err != nil {
			return err
		}
		fmt.Fprintln(w, stored)
		return nil
	}
	if f.generate != "" {
		paths, total, err := loggen.WriteFiles(f.generate, loggen.Options{Size: int64(n), Files: f.files, Seed: f.seed})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "wrote %d bytes of Java application logs into %d files: %s ... %s\n", total, len(paths), paths[0], paths[len(paths)-1])
		return nil
	}
	dir := f.workdir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "logship-bench"); err != nil {
			return err
		}
	}
	if !f.keep {
		defer os.RemoveAll(dir)
	}
	out := w
	if f.json {
		out = io.Discard
	}
	if f.idle {
		cfg, err := benchConfig(dir, dir, f.codec, 5*time.Second, "")
		if err != nil {
			return err
		}
		fig, err := runIdle(ctx, dir, f.idleFiles, f.idleFor, cfg, out)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "idle: %d files for %.0fs: %.2f%% of a core, RSS %.1f MiB (peak %.1f MiB)\n", fig.Files, fig.Seconds, fig.CPUPercent, fig.RSSMiB, fig.PeakRSSMiB)
		return f.print(w, benchReport{Idle: &fig})
	}
	rep, err := f.prepare(dir, int64(n))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "data: %d bytes in %d files, %s\n", rep.Bytes, rep.Files, rep.Data)
	paths, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log"))
	zstd, _ := exec.LookPath(f.zstd)
	if f.zstd == "" || zstd == "" {
		fmt.Fprintln(out, "no zstd CLI: the agent is not compared with it")
	}
	for round := 1; round <= f.rounds; round++ {
		var cli *figure
		if zstd != "" {
			fig, err := runCLI(zstd, paths, rep.Bytes)
			if err != nil {
				return err
			}
			fig.Round = round
			cli = &fig
			rep.Runs = append(rep.Runs, fig)
			fmt.Fprintln(out, fig.line())
		}
		if f.codec == "zstd" {
			fig, err := runGoZstd(paths, rep.Bytes)
			if err != nil {
				return err
			}
			fig.Round = round
			fig.vsCLI(cli)
			rep.Runs = append(rep.Runs, fig)
			fmt.Fprintln(out, fig.line())
		}
		for _, sink := range f.sinks {
			figs, err := f.runAgent(ctx, dir, sink, round, rep.Bytes, zstd)
			if err != nil {
				return err
			}
			for _, fig := range figs {
				if strings.HasPrefix(fig.Name, "agent") {
					fig.vsCLI(cli)
				}
				rep.Runs = append(rep.Runs, fig)
				fmt.Fprintln(out, fig.line())
			}
		}
	}
	if f.rounds > 1 {
		rep.Medians = medians(rep.Runs)
		fmt.Fprintf(out, "median of %d rounds:\n", f.rounds)
		for _, m := range rep.Medians {
			fmt.Fprintln(out, m.line())
		}
	}
	return f.print(w, rep)
}

func (f *benchFlags) print(w io.Writer, rep benchReport) error {
	if !f.json {
		return nil
	}
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	e.SetEscapeHTML(false) // "agent -> dir", not "agent -\u003e dir"
	return e.Encode(rep)
}

// line is the text form of a figure.
func (f figure) line() string {
	s := fmt.Sprintf("%-22s %6.2fs %6.0f MB/s %5.2f CPU-s/GiB %6.1f MiB peak  ratio %4.2fx", f.Name, f.Seconds, f.MBps, f.CPUPerGiB, f.PeakRSSMiB, f.Ratio)
	if f.Round > 0 {
		s = fmt.Sprintf("round %d  %s", f.Round, s)
	}
	if f.ThroughputVsCLI > 0 {
		s += fmt.Sprintf("  | vs CLI: %.2fx throughput, %.2fx CPU", f.ThroughputVsCLI, f.CPUVsCLI)
	}
	switch {
	case f.SpeedupVsNaive >= 1:
		s += fmt.Sprintf("  | %.2fx faster than naive", f.SpeedupVsNaive)
	case f.SpeedupVsNaive > 0:
		s += fmt.Sprintf("  | %.2fx slower than naive", 1/f.SpeedupVsNaive)
	}
	return s
}

// medians gives, per name, the median of each measure over the rounds.
func medians(runs []figure) []figure {
	var names []string
	by := map[string][]figure{}
	for _, r := range runs {
		if by[r.Name] == nil {
			names = append(names, r.Name)
		}
		by[r.Name] = append(by[r.Name], r)
	}
	var out []figure
	for _, name := range names {
		rs := by[name]
		med := func(get func(figure) float64) float64 {
			v := make([]float64, len(rs))
			for i, r := range rs {
				v[i] = get(r)
			}
			slices.Sort(v)
			if n := len(v); n%2 == 0 {
				return (v[n/2-1] + v[n/2]) / 2
			}
			return v[len(v)/2]
		}
		out = append(out, figure{
			Name: name, Bytes: rs[0].Bytes, Stored: rs[0].Stored, Ratio: rs[0].Ratio,
			Seconds:         med(func(r figure) float64 { return r.Seconds }),
			MBps:            med(func(r figure) float64 { return r.MBps }),
			CPUPerGiB:       med(func(r figure) float64 { return r.CPUPerGiB }),
			PeakRSSMiB:      med(func(r figure) float64 { return r.PeakRSSMiB }),
			ThroughputVsCLI: med(func(r figure) float64 { return r.ThroughputVsCLI }),
			CPUVsCLI:        med(func(r figure) float64 { return r.CPUVsCLI }),
			SpeedupVsNaive:  med(func(r figure) float64 { return r.SpeedupVsNaive }),
		})
	}
	return out
}

// prepare writes the data to ship into dir/logs.
func (f *benchFlags) prepare(dir string, size int64) (benchReport, error) {
	logs := filepath.Join(dir, "logs")
	if len(f.samples) > 0 {
		n, err := writeSample(filepath.Join(logs, "app.log"), f.samples, size)
		return benchReport{Data: "lines of " + strings.Join(f.samples, " ") + ", repeated", Files: 1, Bytes: n}, err
	}
	paths, n, err := loggen.WriteFiles(logs, loggen.Options{Size: size, Files: f.files, Seed: f.seed, Sync: true})
	return benchReport{Data: fmt.Sprintf("generated Java application logs (seed %d)", f.seed), Files: len(paths), Bytes: n}, err
}

// The keys osstest accepts in a bench run.
const (
	benchAK     = "LTAIbenchKey0001"
	benchSK     = "bench-secret"
	benchBucket = "bench"
)

// runAgent ships dir/logs with the agent into a fresh sink; with --pull,
// it then pulls them back from osstest.
func (f *benchFlags) runAgent(ctx context.Context, dir, sink string, round int, raw int64, zstd string) ([]figure, error) {
	work := filepath.Join(dir, fmt.Sprintf("run-%d-%s", round, sink))
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	if !f.keep {
		defer os.RemoveAll(work)
	}
	a := agentRun{name: "agent -> " + sink, profile: f.profile, sets: f.sets}
	if sink == "osstest" {
		srv, err := osstest.Start(osstest.Options{AccessKeyID: benchAK, AccessKeySecret: benchSK, Buckets: []string{benchBucket}})
		if err != nil {
			return nil, err
		}
		defer srv.Close()
		if a.config, err = benchConfig(dir, work, f.codec, 200*time.Millisecond, srv.Endpoint()); err != nil {
			return nil, err
		}
		a.env = benchEnv(work)
		a.stored = storedInOSS(srv, benchBucket)
		fig, err := a.run(ctx, work, raw)
		if err != nil || !f.pull {
			fig.Round = round
			return []figure{fig}, err
		}
		figs := []figure{fig}
		// The naive way and pull take turns at going first: whichever goes
		// second writes into the pages the first one freed, or not.
		var p, n figure
		pull := func() (err error) { p, err = benchPull(ctx, srv, work, raw, f.pullMemory, f.profile); return err }
		naive := func() (err error) {
			if zstd != "" {
				n, err = benchNaivePull(ctx, srv, zstd, work, raw)
			}
			return err
		}
		steps := []func() error{pull, naive}
		if round%2 == 0 {
			steps = []func() error{naive, pull}
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return nil, err
			}
		}
		if zstd != "" {
			p.SpeedupVsNaive = n.Seconds / p.Seconds
			figs = append(figs, n)
		}
		figs = append(figs, p)
		for i := range figs {
			figs[i].Round = round
		}
		return figs, nil
	}
	var err error
	if a.config, err = benchConfig(dir, work, f.codec, 200*time.Millisecond, ""); err != nil {
		return nil, err
	}
	a.stored = storedInDir(filepath.Join(work, "archive"))
	fig, err := a.run(ctx, work, raw)
	fig.Round = round
	return []figure{fig}, err
}

// benchConfig is the agent's config for a bench run: the defaults but
// for max_age, reading data/logs/*.log, its state in work/state, into
// osstest at endpoint or, without one, the folder work/archive. It is
// built as a value and written out with the defaults applied, so the
// file in the work folder shows every setting the agent ran with.
func benchConfig(data, work, codec string, maxAge time.Duration, endpoint string) ([]byte, error) {
	c := &config.Config{
		App:  "bench",
		Host: "bench",
		Sources: []config.Source{{
			Type: config.SourceFile,
			File: file.Config{Paths: []string{filepath.Join(data, "logs", "*.log")}},
		}},
		Pipeline: pipeline.Config{Compression: codec, MaxAge: config.Duration(maxAge), StateDir: filepath.Join(work, "state")},
		Sink:     config.Sink{Type: config.SinkDir, Dir: dir.Config{Path: filepath.Join(work, "archive")}},
	}
	if endpoint != "" {
		c.Sink = config.Sink{Type: config.SinkOSS, Prefix: "logs/",
			OSS: osssink.Config{Bucket: benchBucket, Region: "cn-hangzhou", Endpoint: endpoint}}
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c.YAML()
}

// writeSample writes about size bytes of whole lines to path by repeating
// the samples, and returns the exact size. A sample whose last line has no
// newline gets one: a file ending in a partial line would be shipped in
// full only partial_line_after later, which the bench would time.
func writeSample(path string, samples []string, size int64) (int64, error) {
	var lines [][]byte
	for _, sample := range samples {
		b, err := os.ReadFile(sample)
		if err != nil {
			return 0, err
		}
		if len(b) == 0 {
			return 0, fmt.Errorf("%s is empty", sample)
		}
		if b[len(b)-1] != '\n' {
			b = append(b, '\n')
		}
		lines = append(lines, b)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, err
	}
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	var n int64
	for n < size {
		for _, b := range lines {
			m, err := w.Write(b)
			if err != nil {
				return 0, err
			}
			n += int64(m)
		}
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return n, f.Close()
}
