package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/pprof"

	"github.com/logship/logship/internal/config"
	"github.com/logship/logship/internal/retrieve"
	"github.com/logship/logship/internal/schema"
	"github.com/spf13/cobra"
)

func newPullCmd() *cobra.Command {
	var o pullOptions
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

Files and the state are not fsynced (--fsync does): a killed pull loses
nothing, and after a power loss the next pull reads back every file written
before the reboot, checks each object's part against its CRC-32C and fetches
what was lost. What pull writes does not stay in the page cache: each 8 MiB
written goes to the disk at once and its pages are dropped soon after.

` + selectHelp + `

Exit codes: 0 all good; 3 finished, but something was corrupt, unsafe,
could not be fetched or written, or a stream has a gap; 2 usage; 1 failure.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signalContext()
			defer stop()
			o.stdout, o.stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			return runPull(ctx, &o)
		},
	}
	o.sf.add(c)
	c.Flags().StringVarP(&o.out, "out", "o", "", "folder to write the files into (created if needed)")
	c.Flags().BoolVar(&o.split, "split-generations", false, "write each generation of a path to its own file, PATH@STREAM")
	c.Flags().BoolVar(&o.fsync, "fsync", false, "fsync every file before it is put in place, so that all is on the disk when pull exits (slower)")
	c.Flags().StringVar(&o.memory, "max-memory", "64MiB", "bound on pull's memory: chunk buffers take half of it, the Go memory limit is set to it (peak RSS stays within 32 MiB above it)")
	c.Flags().StringVar(&o.progress, "progress", "auto", "auto (a bar on a terminal, lines otherwise), bar, plain or none")
	c.Flags().BoolVar(&o.asJSON, "json", false, "print the summary as JSON on stdout")
	c.Flags().StringVar(&o.profile, "cpuprofile", "", "write a CPU profile of the pull to this file")
	c.Flags().MarkHidden("cpuprofile")
	return c
}

// pullOptions are the flags of pull and where it writes.
type pullOptions struct {
	sf       selectFlags
	out      string
	split    bool
	fsync    bool
	memory   string
	progress string
	asJSON   bool
	profile  string

	stdout, stderr io.Writer // the JSON summary; the summary, progress and problems
}

// runPull checks the options, pulls and prints the summary.
func runPull(ctx context.Context, o *pullOptions) error {
	if o.out == "" {
		return usageErr(errors.New("pull: --out is required"))
	}
	mem, err := config.ParseSize(o.memory)
	if err != nil || mem < 16<<20 {
		return usageErr(fmt.Errorf("pull: --max-memory %q: use a size of at least 16MiB", o.memory))
	}
	switch o.progress {
	case "auto", "bar", "plain", "none":
	default:
		return usageErr(fmt.Errorf("pull: --progress %q: use auto, bar, plain or none", o.progress))
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// The chunk buffers take half of it (retrieve.Options.Memory):
		// the rest is the GC's room.
		debug.SetMemoryLimit(mem.Int64())
	}
	if o.profile != "" {
		stop, err := startCPUProfile(o.profile)
		if err != nil {
			return err
		}
		defer stop()
	}
	a, flt, err := o.sf.resolve(ctx, o.stderr)
	if err != nil {
		return err
	}
	defer closeArchive(a)
	stats := &retrieve.Stats{}
	pr := startProgress(ctx, o.stderr, o.progress, "pull", stats)
	sum, err := retrieve.Pull(ctx, a, retrieve.Options{Filter: flt, Out: o.out, Parallel: o.sf.parallel, Memory: mem.Int64(),
		SplitGenerations: o.split, Fsync: o.fsync, Stats: stats, OnProblem: pr.problem})
	pr.stop()
	if err != nil {
		return err
	}
	if o.asJSON {
		enc := json.NewEncoder(o.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			return err
		}
	}
	printSummary(o.stderr, sum, o.out)
	if len(sum.Problems) > 0 {
		return problemsErr(fmt.Errorf("finished with %d problems (listed above)", len(sum.Problems)))
	}
	return nil
}

func printSummary(w io.Writer, s *retrieve.Summary, out string) {
	fmt.Fprintf(w, "logship: %d files in %s (%d up to date), %s; fetched %d objects (%s), reused %s; %d duplicates dropped, %s of overlap trimmed\n",
		s.Files, out, s.UpToDate, schema.HumanBytes(s.Bytes), s.Fetched, schema.HumanBytes(s.FetchedBytes), schema.HumanBytes(s.Reused), s.Duplicates, schema.HumanBytes(s.Overlap))
	if len(s.Problems) > 0 || s.Ignored > 0 {
		fmt.Fprintf(w, "logship: problems: %d corrupt, %d could not be fetched, %d gaps, %d unsafe, %d not written; %d objects ignored (not logship chunks)\n",
			s.Count(retrieve.KindCorrupt), s.Count(retrieve.KindFetch), s.Count(retrieve.KindGap), s.Count(retrieve.KindUnsafe), s.Count(retrieve.KindWrite), s.Ignored)
	}
}

// startCPUProfile writes a CPU profile to path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
