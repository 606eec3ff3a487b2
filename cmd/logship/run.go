package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/configs"
	"github.com/logship/logship/internal/agent"
	"github.com/logship/logship/internal/artifact"
	"github.com/logship/logship/internal/config"
	"github.com/logship/logship/internal/pipeline"
	"github.com/logship/logship/internal/snapshot"
	"github.com/logship/logship/internal/supervise"
)

// exitSnapshot takes the snapshot after an abnormal exit
// (run.snapshot_on_exit) through the agent's trigger of snapshots on
// events, so that snapshot.on_events.exit applies to it as to an OOM kill
// or a JVM crash; when a crash file's snapshot was just taken, the exit
// event names that one (snapshot.min_interval).
type exitSnapshot struct{ t *snapshot.Trigger }

func (e exitSnapshot) Snapshot(ctx context.Context, trigger string) (string, error) {
	res, err := e.t.TakeOrJoin(ctx, snapshot.Request{Trigger: trigger})
	if err != nil {
		return "", err
	}
	if len(res.Stored.Keys) == 0 {
		return "", nil
	}
	return res.Stored.Keys[0], nil
}

// lateSnapshotter is the snapshotter made once the agent has built its
// uploader; without one, Snapshot returns no key and no error.
type lateSnapshotter struct{ s atomic.Value }

func (l *lateSnapshotter) Snapshot(ctx context.Context, trigger string) (string, error) {
	s, _ := l.s.Load().(supervise.Snapshotter)
	if s == nil {
		return "", nil
	}
	return s.Snapshot(ctx, trigger)
}

// startedChild is the child of logship run as the snapshots see it, known
// once it has started (supervise.Options.Started).
type startedChild struct {
	pid    int
	stdout func() string // the stdout spool file being appended to
}

// adjust makes the snapshots about the child: its pid is the app's, and
// without jcmd (or when jcmd fails) the thread dump is asked for by
// SIGQUIT and read from the child's stdout spool. A dump written across a
// spool rotation (run.spool_file_bytes) may be cut, or missed when the
// rotation comes at its first byte: the file read is the one current
// when the signal is sent (the dump is in the archived stdout anyway).
func (c *atomicChild) adjust(o *snapshot.Options) {
	o.ThreadDumpFrom = func(ctx context.Context) ([]byte, error) {
		ch := c.Load()
		if ch == nil {
			return nil, errors.New("the command has not started")
		}
		spool := ch.stdout()
		if spool == "" {
			return nil, errors.New("the command has written nothing to stdout yet")
		}
		return snapshot.SigquitDump(ctx, ch.pid, spool)
	}
	if ch := c.Load(); ch != nil {
		o.AppPID = ch.pid
	}
}

// atomicChild is set by supervise once the child has started.
type atomicChild struct{ atomic.Pointer[startedChild] }

// Exit codes of run when the command cannot be started, as a shell's.
const (
	exitNotFound = 127
	exitCannot   = 126
)

func newRunCmd() *cobra.Command {
	var cf configFlags
	c := &cobra.Command{
		// Flags come before "--": everything after it is CMD's.
		Use:                   "run [flags] -- CMD [ARGS...]",
		DisableFlagsInUseLine: true,
		Short:                 "Run a command as a child and archive its output, crash files and exit (a container entrypoint)",
		Long: `Start CMD as a child, with the agent beside it in the same process:

- signals TERM, INT, HUP, USR1, USR2 and QUIT are passed on to the child
  (kill -3 still makes a JVM print a thread dump); as PID 1 (or with
  run.subreaper) orphaned processes are reaped;
- the child's stdout and stderr are passed through unchanged and archived as
  streams of their own (source stdout), spooled on disk under
  pipeline.state_dir/run so that a slow or absent sink never blocks the child
  (at most run.spool_max_bytes per pipe);
- when the child ends: run.crash_wait for crash files and the kernel log, an
  exit event in the archive (source event), everything flushed within
  run.final_flush_timeout, then logship exits with the child's status
  (128+N for signal N).

Without -c (nor $LOGSHIP_CONFIG) it runs on the embedded configs/run.yaml:
crash files and the kernel log besides the output, app named after the
command, the folder ./archive as sink; LOGSHIP_* variables change any of it,
e.g. LOGSHIP_APP, LOGSHIP_SINK_TYPE=oss, LOGSHIP_SINK_BUCKET,
LOGSHIP_SINK_REGION (credentials: OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET).`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErr(errors.New("no command: write logship run [-c FILE] -- CMD [ARGS...]"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := cf.loadRun(args)
			if err != nil {
				return err
			}
			log := newLogger(os.Stderr, cfg.LogLevel, cfg.LogFormat)
			setMemoryLimit(cfg, log)
			stopMetrics, err := serveMetrics(cfg, log)
			if err != nil {
				// Never the reason the app does not start.
				log.Error("run: no metrics; the command starts anyway", "err", err)
				stopMetrics = func() {}
			}
			defer stopMetrics()
			for i, s := range cfg.Sources {
				if s.Name == supervise.SourceName {
					return usageErr(fmt.Errorf("sources[%d].name: %q names the command's output under logship run: choose another name", i, s.Name))
				}
			}
			// The agent drains within run.final_flush_timeout, not shutdown_timeout.
			cfg.ShutdownTimeout = cfg.Run.FinalFlushTimeout
			snap := &lateSnapshotter{}
			child := &atomicChild{}
			st, err := supervise.Run(supervise.Options{
				Args: args, Run: cfg.Run, StateDir: cfg.Pipeline.StateDir, Version: shortVersion(), Log: log,
				Started: func(pid int, stdout func() string) { child.Store(&startedChild{pid, stdout}) },
				Agent: func(ctx context.Context, own pipeline.Source, built func([]pipeline.Source)) error {
					return agent.RunExtra(ctx, cfg, log, agent.Extra{Version: shortVersion(), Sources: []pipeline.Source{own},
						Built: func(srcs []pipeline.Source, _ artifact.Uploader, events *snapshot.Trigger) {
							snap.s.Store(supervise.Snapshotter(exitSnapshot{events}))
							built(srcs)
						},
						Snapshot: child.adjust, // Started has run: the agent starts after the child
					})
				},
				Snapshotter: snap,
			})
			if err != nil {
				code := exitCannot
				if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
					code = exitNotFound
				}
				return &exitError{code, err}
			}
			return &exitError{code: st.ExitCode}
		},
	}
	cf.add(c)
	// run falls back to its own embedded config, not the agent's (loadRun).
	c.Flags().Lookup("config").Usage = "config file (default: $LOGSHIP_CONFIG, else the embedded default: configs/run.yaml)"
	c.Flags().SetInterspersed(false) // flags after CMD are CMD's
	return c
}

// loadRun is load with run's own embedded default (configs/run.yaml) when
// no file is named, where app is the command's base name unless LOGSHIP_APP
// or --app says otherwise.
func (f *configFlags) loadRun(args []string) (*config.Config, error) {
	named := f.path != "" || os.Getenv(config.EnvConfig) != ""
	sets := f.sets
	if !named && f.app == "" && os.Getenv("LOGSHIP_APP") == "" {
		sets = append([]string{"app=" + archive.SafeName(filepath.Base(args[0]))}, sets...)
	}
	g := *f
	g.sets = sets
	return g.resolve(configs.Run())
}
