package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/configs"
	"github.com/logship/logship/internal/agent"
	"github.com/logship/logship/internal/config"
	"github.com/logship/logship/internal/schema"
	"github.com/spf13/cobra"
)

func newStatusCmd() *cobra.Command {
	var (
		cf     configFlags
		asJSON bool
		maxLag time.Duration
	)
	c := &cobra.Command{
		Use:   "status",
		Short: "What the agent has archived, what waits, and its last error",
		Long: `Read the agent's checkpoint and status files (in pipeline.state_dir) and the
live files, without touching either: it works while the agent runs and
after it stopped. Per stream: path, identity, archived position, file size,
lag (bytes written and not yet durable, and how long the archived position
has not moved), when it last moved; per crash artifact: uploading (with
the parts stored, of a large one) or done;
the kernel source's mode; the agent's last upload and last error.

Without -c (nor $LOGSHIP_CONFIG) it reads the state folder of the
embedded default, or, when that holds none, the one of logship run's
default (configs/run.yaml: /tmp/logship), where an app run as
'logship run -- CMD' without a config keeps it.

Exit 0 when healthy; 3 when a stream has had bytes waiting longer than
--max-lag, the last upload failed and none succeeded since, or a source
cannot read a path it matches (a file it may not open, a folder it may
not list: retried at every scan, shown until read again).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			var runCfg *config.Config
			if cf.path == "" && os.Getenv(config.EnvConfig) == "" {
				runCfg, _ = cf.resolve(configs.Run()) // unusable: the default's answer stands
			}
			r, err := statusOf(cfg, runCfg, time.Now(), maxLag)
			if err != nil {
				return err
			}
			if r.StateDir != cfg.Pipeline.StateDir {
				fmt.Fprintf(cmd.ErrOrStderr(), "logship: no agent state in %s (the default config's): showing logship run's, in %s\n", cfg.Pipeline.StateDir, r.StateDir)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				e := json.NewEncoder(out)
				e.SetIndent("", "  ")
				if err := e.Encode(r); err != nil {
					return err
				}
			} else {
				printStatus(out, r)
			}
			if len(r.Problems) > 0 {
				return problemsErr(errors.New("status: not healthy"))
			}
			return nil
		},
	}
	cf.add(c)
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	c.Flags().DurationVar(&maxLag, "max-lag", time.Minute, "a stream whose bytes have waited longer is a problem (exit 3)")
	return c
}

// statusOf reads the agent's state under cfg. When no config was named
// (no -c, no $LOGSHIP_CONFIG) and the default's state folder holds no
// checkpoint, it reads the state folder of runCfg (logship run's own
// default, configs/run.yaml), where `logship run -- CMD` without a config
// keeps it: the container of such an app has no config file to name.
func statusOf(cfg, runCfg *config.Config, now time.Time, maxLag time.Duration) (agent.Report, error) {
	r, err := agent.Status(cfg, now, maxLag)
	if err != nil || hasState(r) || runCfg == nil || runCfg.Pipeline.StateDir == cfg.Pipeline.StateDir {
		return r, err
	}
	if rr, err := agent.Status(runCfg, now, maxLag); err == nil && hasState(rr) {
		return rr, nil
	}
	return r, nil
}

// hasState reports whether an agent has left its state (a checkpoint, or
// a status file) where r was read.
func hasState(r agent.Report) bool { return !r.Checkpoint.IsZero() || r.Status.PID != 0 }

func printStatus(w io.Writer, r agent.Report) {
	state := "not running"
	if r.Running {
		state = fmt.Sprintf("running (pid %d, since %s)", r.Status.PID, r.Status.Started.Local().Format(time.DateTime))
	}
	fmt.Fprintf(w, "agent      %s; state %s; checkpoint saved %s\n", state, r.StateDir, ago(r.Checkpoint))
	fmt.Fprintf(w, "uploads    last %s %s\n", ago(r.Status.LastUpload), r.Status.LastUploadKey)
	if e := r.Status.LastError; e != nil {
		fmt.Fprintf(w, "last error %s (%d since the last upload): %s: %s\n", ago(e.Time), r.Status.Failures, e.Object, e.Error)
	}
	for _, s := range r.Streams {
		switch {
		case s.Mode != "":
			fmt.Fprintf(w, "%-6s %s  mode %s  archived %d %s  moved %s\n", s.Kind, s.ID, s.Mode, s.Archived, s.Unit, ago(s.LastArchive))
		case s.Kind != archive.KindFile: // logship run's output and events
			fmt.Fprintf(w, "%-6s %s  archived %d bytes  moved %s\n", s.Kind, s.Path, s.Archived, ago(s.LastArchive))
		case !s.Found:
			fmt.Fprintf(w, "%-6s %s  [%s]  archived %d  (not at its path now: rotated away or deleted)  moved %s\n", s.Kind, s.Path, s.Identity, s.Archived, ago(s.LastArchive))
		default:
			fmt.Fprintf(w, "%-6s %s  [%s]  archived %d of %d  lag %d bytes", s.Kind, s.Path, s.Identity, s.Archived, s.Size, s.LagBytes)
			if s.LagBytes > 0 {
				fmt.Fprintf(w, " for up to %.0fs", s.LagSeconds)
			}
			fmt.Fprintf(w, "  moved %s\n", ago(s.LastArchive))
		}
	}
	for _, a := range r.Artifacts {
		kind := "crash "
		if a.Source == "" { // a snapshot bundle: not in the checkpoint
			kind = "upload"
		}
		fmt.Fprintf(w, "%s %s  %s", kind, a.Path, a.State)
		if a.Parts > 0 {
			fmt.Fprintf(w, " %d of %d parts (%s)", a.PartsDone, a.Parts, schema.HumanBytes(a.Size))
		}
		fmt.Fprintf(w, "  %s\n", ago(a.Updated))
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "PROBLEM    %s\n", p)
	}
}

// ago formats a time as an age.
func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return time.Since(t).Round(time.Second).String() + " ago"
}
