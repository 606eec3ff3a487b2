package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/logship/logship/internal/agent"
	"github.com/logship/logship/internal/config"
	"github.com/logship/logship/internal/pipeline"
	"github.com/spf13/cobra"
)

func newBenchCmd() *cobra.Command {
	var (
		size    string
		samples []string
		workdir string
		codec   string
		keep    bool
		profile string
	)
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure the agent on this machine: tail -> compress -> dir sink",
		Long: `Write a log file of --size made of real log lines (--sample, repeated), then
run the agent in this process on it with the default settings (file source,
zstd, dir sink with fsync) and report throughput of raw log, CPU seconds per
GiB and peak RSS. The file is written before the clock starts. max_age is
100ms instead of 5s so that the last, partial chunk does not wait 5s
(full chunks are sealed by size, so this does not change the throughput).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := config.ParseSize(size)
			if err == nil && n <= 0 {
				err = fmt.Errorf("%q: use a size above 0", size)
			}
			if err != nil {
				return usageErr(fmt.Errorf("--size: %w", err))
			}
			dir := workdir
			if dir == "" {
				if dir, err = os.MkdirTemp("", "logship-bench"); err != nil {
					return err
				}
			}
			if !keep {
				defer os.RemoveAll(dir)
			}
			logPath := filepath.Join(dir, "logs", "app.log")
			written, err := writeSample(logPath, samples, int64(n))
			if err != nil {
				return err
			}
			cfg, err := config.Parse([]byte(fmt.Sprintf("app: bench\nhost: bench\nsources:\n  - type: file\n    paths: [%q]\npipeline:\n  compression: %s\n  max_age: 100ms\n  state_dir: %q\nsink:\n  type: dir\n  path: %q\n",
				filepath.Join(dir, "logs", "*.log"), codec, filepath.Join(dir, "state"), filepath.Join(dir, "archive"))), "bench")
			if err != nil {
				return err
			}
			cfg.SetDefaults()
			if err := cfg.Validate(); err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if profile != "" {
				pf, err := os.Create(profile)
				if err != nil {
					return err
				}
				defer pf.Close()
				if err := pprof.StartCPUProfile(pf); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			_, raw0, stored0 := pipeline.Shipped()
			ru0 := rusage()
			start := time.Now()
			done := make(chan error, 1)
			go func() { done <- agent.Run(ctx, cfg, log) }()
			for {
				_, raw, _ := pipeline.Shipped()
				if int64(raw-raw0) >= written {
					break
				}
				select {
				case err := <-done:
					return fmt.Errorf("agent stopped early: %v", err)
				case <-time.After(5 * time.Millisecond):
				}
			}
			elapsed := time.Since(start)
			ru1 := rusage()
			cancel()
			if err := <-done; err != nil {
				return err
			}
			_, raw, stored := pipeline.Shipped()
			cpu := (tv(ru1.Utime) + tv(ru1.Stime)) - (tv(ru0.Utime) + tv(ru0.Stime))
			gib := float64(written) / (1 << 30)
			what := "built-in lines"
			if len(samples) > 0 {
				what = strings.Join(samples, " ")
			}
			fmt.Fprintf(cmd.OutOrStdout(), "raw log        %d bytes (%s, repeated)\n", written, what)
			fmt.Fprintf(cmd.OutOrStdout(), "stored         %d bytes (ratio %.1fx, %s)\n", stored-stored0, float64(raw-raw0)/float64(max(stored-stored0, 1)), codec)
			fmt.Fprintf(cmd.OutOrStdout(), "elapsed        %.2fs\n", elapsed.Seconds())
			fmt.Fprintf(cmd.OutOrStdout(), "throughput     %.0f MB/s\n", float64(written)/elapsed.Seconds()/1e6)
			fmt.Fprintf(cmd.OutOrStdout(), "cpu            %.2f CPU-seconds per GiB\n", cpu.Seconds()/gib)
			fmt.Fprintf(cmd.OutOrStdout(), "peak rss       %.1f MiB\n", float64(ru1.Maxrss)/1024)
			return nil
		},
	}
	c.Flags().StringVar(&size, "size", "1GiB", "size of the log file to ship")
	c.Flags().StringArrayVar(&samples, "sample", nil, "log file whose lines are repeated, in turn with the other --sample files (default: built-in lines)")
	c.Flags().StringVar(&workdir, "dir", "", "work folder (default: a temporary one, removed after)")
	c.Flags().StringVar(&codec, "compression", "zstd", "zstd, gzip or none")
	c.Flags().BoolVar(&keep, "keep", false, "keep the work folder")
	c.Flags().StringVar(&profile, "cpuprofile", "", "write a CPU profile of the run to this file")
	return c
}

func rusage() syscall.Rusage {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru
}

func tv(t syscall.Timeval) time.Duration {
	return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
}

// builtinLines stand in for a sample when none is given.
const builtinLines = `2026-11-26 10:00:00,123 INFO  [main] o.s.b.w.e.tomcat.TomcatWebServer - Tomcat started on port(s): 8080 (http)
2026-11-26 10:00:01,456 WARN  [http-nio-8080-exec-3] c.e.order.OrderService - slow query took 1234 ms: SELECT * FROM orders WHERE id=?
2026-11-26 10:00:02,789 ERROR [http-nio-8080-exec-7] c.e.order.PaymentClient - payment gateway timeout after 3000 ms, retrying (attempt 2/5)
2026-11-26 10:00:03,012 DEBUG [scheduler-1] c.e.cache.Refresher - refreshed 532 entries in 45 ms
`

// writeSample writes about size bytes of whole lines to path by repeating
// the samples (streamed, so memory stays small), and returns the exact size.
func writeSample(path string, samples []string, size int64) (int64, error) {
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
		if len(samples) == 0 {
			k, err := w.WriteString(builtinLines)
			if err != nil {
				return 0, err
			}
			n += int64(k)
			continue
		}
		for _, sample := range samples {
			src, err := os.Open(sample)
			if err != nil {
				return 0, err
			}
			m, err := io.Copy(w, src)
			src.Close()
			if err != nil {
				return 0, err
			}
			if m == 0 {
				return 0, fmt.Errorf("%s is empty", sample)
			}
			n += m
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
