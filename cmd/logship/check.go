package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/logship/logship/internal/config"
	"github.com/logship/logship/internal/control"
	"github.com/logship/logship/internal/sinks"
	"github.com/logship/logship/internal/sinks/open"
	osssink "github.com/logship/logship/internal/sinks/oss"
	"github.com/spf13/cobra"
)

func newCheckCmd() *cobra.Command {
	var (
		cf     configFlags
		policy bool
	)
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

--policy prints, instead, the least-privilege RAM policy of the agent for
the configured bucket and prefix (JSON, for the RAM console or aliyun ram
CreatePolicy): PutObject and the multipart calls on BUCKET/PREFIX*,
ListObjects limited to the prefix, ListMultipartUploads. It contacts
nothing. Reading back (ls, pull, cat) also needs oss:ListObjects and
oss:GetObject.

Exit codes: 0 when shipping would work (warnings, e.g. no permission to
read back or delete, do not count); 3 when a step failed; 2 when the config
is invalid.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if policy {
				return runPolicy(cmd.OutOrStdout(), &cf)
			}
			ctx, stop := signalContext()
			defer stop()
			return runCheck(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), &cf)
		},
	}
	cf.add(c)
	c.Flags().BoolVar(&policy, "policy", false, "print the least-privilege RAM policy the agent needs (JSON) and exit")
	return c
}

// runPolicy prints the RAM policy of the configured oss sink, with the
// app's control prefix when remote snapshots are on (snapshot.remote).
func runPolicy(w io.Writer, cf *configFlags) error {
	cfg, err := cf.load()
	if err != nil {
		return err
	}
	if cfg.Sink.Type != config.SinkOSS {
		return usageErr(fmt.Errorf("check --policy: sink type %s needs no RAM policy (only oss does)", cfg.Sink.Type))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	var controlRoot string
	if cfg.Snapshot.Remote.On() {
		controlRoot = control.Root(cfg.Sink.Prefix, cfg.App)
	}
	return enc.Encode(osssink.AgentPolicy(cfg.Sink.OSS.Bucket, cfg.Sink.Prefix, controlRoot))
}

// runCheck runs the check and prints one line per step to w (logs go to
// logw); opts reach the oss sink (tests inject DNS, dialing and clocks).
func runCheck(ctx context.Context, w, logw io.Writer, cf *configFlags, opts ...osssink.Option) error {
	start := time.Now()
	cfg, err := cf.load()
	if err != nil {
		printStep(w, sinks.Step{Name: "config", Verdict: sinks.Fail, Took: time.Since(start), Detail: "invalid: see below"})
		return err
	}
	src := cfg.File()
	if src == "" {
		src = "built-in default config"
	}
	printStep(w, sinks.Step{Name: "config", Verdict: sinks.OK, Took: time.Since(start), Detail: src + ": " + describeSink(cfg.Sink)})
	log := newLogger(logw, cfg.LogLevel, cfg.LogFormat)

	var failed *sinks.Step
	report := func(st sinks.Step) {
		printStep(w, st)
		if st.Verdict == sinks.Fail && failed == nil {
			failed = &st
		}
	}
	open.Check(ctx, cfg.Sink, open.Options{ConfigFile: cfg.File(), Log: log, OSS: opts}, report)
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
func printStep(w io.Writer, st sinks.Step) {
	took := ""
	if st.Verdict != sinks.Skip {
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
