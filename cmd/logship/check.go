package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/logship/logship/internal/config"
	"github.com/logship/logship/internal/sinks"
	"github.com/logship/logship/internal/sinks/dir"
	osssink "github.com/logship/logship/internal/sinks/oss"
	"github.com/spf13/cobra"
)

func newCheckCmd() *cobra.Command {
	var cf configFlags
	c := &cobra.Command{
		Use:   "check",
		Short: "Check that shipping to the configured sink works, step by step, with a diagnosis",
		Long: `Check the config, then everything the agent needs to ship, one step at a
time, each with its duration and a verdict: the credentials in use; DNS of
the endpoint; a TCP connection; the TLS handshake; authentication and the
bucket (it exists, in the configured region); the clock against OSS's; and
a probe object written under PREFIX.logship-check/ exactly as chunks are,
read back and deleted. A failure comes with its cause and the fix: e.g. the
internal endpoint used from outside the region's VPC, a public endpoint
from a VPC without NAT, a wrong region, a clock that is off, the RAM
permission that is missing.

Exit codes: 0 when shipping would work (warnings, e.g. no permission to
read back or delete, do not count); 3 when a step failed; 2 when the config
is invalid.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signalContext()
			defer stop()
			return runCheck(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), &cf)
		},
	}
	cf.add(c)
	return c
}

// runCheck runs the check and prints one line per step to w (logs go to
// logw); opts reach the oss sink (tests inject DNS, dialing and clocks).
func runCheck(ctx context.Context, w, logw io.Writer, cf *configFlags, opts ...osssink.Option) error {
	start := time.Now()
	cfg, err := cf.load()
	if err != nil {
		printStep(w, osssink.Step{Name: "config", Verdict: osssink.Fail, Took: time.Since(start), Detail: "invalid: see below"})
		return err
	}
	src := cfg.File()
	if src == "" {
		src = "built-in default config"
	}
	printStep(w, osssink.Step{Name: "config", Verdict: osssink.OK, Took: time.Since(start), Detail: src + ": " + describeSink(cfg.Sink)})
	log := newLogger(logw, cfg.LogLevel, cfg.LogFormat)

	var failed *osssink.Step
	report := func(st osssink.Step) {
		printStep(w, st)
		if st.Verdict == osssink.Fail && failed == nil {
			failed = &st
		}
	}
	switch cfg.Sink.Type {
	case config.SinkOSS:
		opts = append([]osssink.Option{osssink.WithConfigFile(cfg.File())}, opts...)
		osssink.Check(ctx, cfg.Sink.OSSConfig(), log, report, opts...)
	case config.SinkDir:
		checkDir(ctx, cfg, report)
	default:
		return usageErr(fmt.Errorf("sink type %q cannot be checked", cfg.Sink.Type))
	}
	if failed != nil {
		fmt.Fprintln(w, "shipping would NOT work: fix the failure above and run logship check again")
		return problemsErr(fmt.Errorf("check failed at %s: %s", failed.Name, failed.Diagnosis))
	}
	fmt.Fprintln(w, "shipping would work")
	return nil
}

func describeSink(s config.Sink) string {
	switch s.Type {
	case config.SinkOSS:
		d := "sink oss, bucket " + s.OSS.Bucket
		if s.OSS.Endpoint != "" {
			d += ", endpoint " + s.OSS.Endpoint
		} else {
			d += ", region " + s.OSS.Region
			if s.OSS.Internal == nil || *s.OSS.Internal {
				d += " (internal endpoint)"
			} else {
				d += " (public endpoint)"
			}
		}
		if s.Prefix != "" {
			d += ", prefix " + s.Prefix
		}
		return d
	case config.SinkDir:
		return "sink dir " + s.Dir.Path
	}
	return "sink " + s.Type
}

// printStep prints "name verdict took detail" and the diagnosis, indented
// under it.
func printStep(w io.Writer, st osssink.Step) {
	took := ""
	if st.Verdict != osssink.Skip {
		took = st.Took.Round(time.Millisecond).String()
		if st.Took > 0 && st.Took < time.Millisecond {
			took = "<1ms"
		}
	}
	fmt.Fprintf(w, "%-12s %-4s %8s  %s\n", st.Name, st.Verdict, took, st.Detail)
	if st.Diagnosis != "" {
		fmt.Fprintf(w, "%-12s %-4s %8s  → %s\n", "", "", "", st.Diagnosis)
	}
}

// checkDir writes, reads back and removes a probe in a dir sink.
func checkDir(ctx context.Context, cfg *config.Config, report func(osssink.Step)) {
	timed := func(name string, f func() osssink.Step) osssink.Step {
		start := time.Now()
		st := f()
		st.Name, st.Took = name, time.Since(start)
		report(st)
		return st
	}
	var d *dir.Sink
	host, _ := os.Hostname()
	key := cfg.Sink.Prefix + ".logship-check/probe-" + time.Now().UTC().Format("20060102T150405.000000000Z") + ".txt"
	body := []byte("logship check probe from " + host + "; safe to delete\n")
	st := timed("write", func() osssink.Step {
		var err error
		if d, err = dir.New(cfg.Sink.Dir.Path); err == nil {
			err = d.Put(ctx, &sinks.Object{Key: key, Body: body})
		}
		if err != nil {
			return osssink.Step{Verdict: osssink.Fail, Detail: err.Error(), Diagnosis: "the agent cannot write to sink.path: check that the folder exists and is writable by this user"}
		}
		return osssink.Step{Verdict: osssink.OK, Detail: filepath.Join(d.Root(), filepath.FromSlash(key)) + " (fsynced)"}
	})
	if st.Verdict == osssink.Fail {
		return
	}
	timed("read", func() osssink.Step {
		rc, _, err := d.Get(ctx, key)
		if err != nil {
			return osssink.Step{Verdict: osssink.Fail, Detail: err.Error()}
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, body) {
			return osssink.Step{Verdict: osssink.Fail, Detail: "the probe read back differs"}
		}
		return osssink.Step{Verdict: osssink.OK, Detail: "same bytes"}
	})
	timed("delete", func() osssink.Step {
		p := filepath.Join(d.Root(), filepath.FromSlash(key))
		if err := os.Remove(p); err != nil {
			return osssink.Step{Verdict: osssink.Warn, Detail: err.Error(), Diagnosis: "remove " + p + " by hand"}
		}
		_ = os.Remove(filepath.Dir(p)) // the probe folder, when nothing else is in it
		return osssink.Step{Verdict: osssink.OK, Detail: "probe removed"}
	})
}
