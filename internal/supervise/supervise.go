// Package supervise is `logship run -- CMD`: it starts CMD as a child and
// stays beside it as the container's entrypoint. It forwards signals,
// reaps orphans when it is PID 1 (or a subreaper), passes the child's
// stdout and stderr through unchanged while spooling them to disk for the
// archive, and when the child ends records an exit event, flushes, and
// exits with the child's status.
//
// # Output
//
// Each pipe is read by a pump that writes every block at once to logship's
// own stdout or stderr, then appends it to a spool (STATE/run/RUNID/stdout.*
// and stderr.*, see spool). The pump never waits for the archive: a slow or
// absent sink only makes the spool grow, up to run.spool_max_bytes per
// pipe, beyond which the oldest spool file is dropped (counted and logged).
// A pipeline source reads the spools into streams of kind stdout (header
// path "stdout" and "stderr"; positions are bytes of the child's output),
// and deletes spool files once the sink has acknowledged them. A spool left
// by a run that was killed is shipped by the next run in the same state
// folder, from its checkpoint.
//
// # Exit
//
// When the child has ended: the pumps get until run.crash_wait to see the
// ends of the pipes (a grandchild may hold them open); at run.crash_wait
// after the exit, sources with a last pass (the crash source: files quiet
// since the exit count as settled) make it; the kernel log source has had
// that time for its last reading (it polls every second at most); after an
// abnormal exit a snapshot is taken when a Snapshotter is set; the exit
// event is written; the spools are read to their ends and everything is
// flushed, within run.final_flush_timeout from the end of crash_wait (past
// it Run gives up: what is not durable stays in the spool and the
// checkpoint, as after a kill -9); then Run returns the child's status.
package supervise

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/logship/logship/internal/pipeline"
	"github.com/logship/logship/internal/secret"
)

// Snapshotter takes a diagnostic snapshot (the snapshot package provides
// one). Snapshot collects and archives one bundle for trigger ("exit"
// here) and returns the object key of the bundle; it must return by ctx's
// deadline. Run calls it after an abnormal exit when run.snapshot_on_exit
// is set, before the exit event, which then names the key (none when key
// is "": no snapshot was taken).
type Snapshotter interface {
	Snapshot(ctx context.Context, trigger string) (key string, err error)
}

// Finisher is a source with a last pass to make once the child has ended:
// the crash source ships the files that have not changed for quiet (their
// writer is gone). Finish returns when the pass is done or ctx ends.
type Finisher interface {
	Finish(ctx context.Context, quiet time.Duration) error
}

// Options configure Run.
type Options struct {
	Args     []string // the command and its arguments
	Dir      string   // the child's working folder; "" is ours
	Run      Config   // the run: section, defaults set
	StateDir string   // pipeline.state_dir: the spools go under STATE/run
	Version  string   // logship's, for the start event
	// Stdout and Stderr receive the child's output (default os.Stdout, os.Stderr).
	Stdout, Stderr io.Writer
	Log            *slog.Logger
	// Agent runs the archiving agent, with its configured sources and own
	// (the run's output), until ctx ends, then drains; it calls built with
	// the configured sources before they run (those that are Finishers get
	// their last pass). An Agent that stops early is logged at once; the
	// child is supervised anyway.
	Agent func(ctx context.Context, own pipeline.Source, built func([]pipeline.Source)) error
	// Snapshotter, when set, is called after an abnormal exit.
	Snapshotter Snapshotter
	// Started, when set, is called once the child has started, before
	// Agent: with the child's pid and a function returning the spool file
	// its stdout is being appended to ("" before its first byte), from
	// which a thread dump asked for by SIGQUIT can be read.
	Started func(pid int, stdoutSpool func() string)
}

// ErrStart wraps a failure to start the child (exec.ErrNotFound and the like).
var ErrStart = errors.New("supervise: cannot start the command")

// Run starts the child and supervises it until it has ended and its
// output is flushed; it returns how the child ended. It does not return
// before the child has ended.
func Run(o Options) (Status, error) {
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	runID := newRunID()
	runsDir := filepath.Join(o.StateDir, "run")
	dir := filepath.Join(runsDir, runID)
	wake := make(chan struct{}, 1)
	fileMax, spoolMax := o.Run.SpoolFileBytes.Int64(), o.Run.SpoolMaxBytes.Int64()
	spOut := newSpool(dir, nameStdout, fileMax, spoolMax, wake, log)
	spErr := newSpool(dir, nameStderr, fileMax, spoolMax, wake, log)
	spEv := newSpool(dir, nameEvents, fileMax, spoolMax, wake, log)
	src := &source{runsDir: runsDir, runID: runID, cur: []*spool{spOut, spErr, spEv}, wake: wake,
		finish: make(chan struct{}), drained: make(chan struct{}), log: log}

	reap := os.Getpid() == 1
	if o.Run.Subreaper != nil && *o.Run.Subreaper && !reap {
		if err := becomeSubreaper(); err != nil {
			log.Warn("run: cannot become a subreaper; orphans are left to PID 1", "err", err)
		} else {
			reap = true
		}
	}
	sigs, stopNotify := notify() // before the start: a signal right after it is forwarded
	defer stopNotify()
	c, err := startChild(o.Args, o.Dir)
	if err != nil {
		return Status{}, fmt.Errorf("%w: %w", ErrStart, err)
	}
	pid := c.pid()
	cmdline := secret.Args(o.Args)
	log.Info("run: started", "pid", pid, "cmd", cmdline, "run", runID, "reaper", reap)
	if o.Started != nil {
		o.Started(pid, spOut.current)
	}
	var pumps sync.WaitGroup
	pumps.Add(2)
	go func() { defer pumps.Done(); pump(c.outR, o.Stdout, spOut, log) }()
	go func() { defer pumps.Done(); pump(c.errR, o.Stderr, spErr, log) }()
	pumpsDone := make(chan struct{})
	go func() { pumps.Wait(); close(pumpsDone) }()
	spEv.Write(line(startEvent{TS: timestamp(c.started), Event: "start", Pid: pid, Cmd: cmdline, LogshipVersion: o.Version}))

	agentCtx, stopAgent := context.WithCancel(context.Background())
	defer stopAgent()
	agentDone := make(chan error, 1)
	var (
		finMu     sync.Mutex
		finishers []Finisher
	)
	built := func(srcs []pipeline.Source) {
		finMu.Lock()
		defer finMu.Unlock()
		for _, s := range srcs {
			if f, ok := s.(Finisher); ok {
				finishers = append(finishers, f)
			}
		}
	}
	go func() {
		err := o.Agent(agentCtx, src, built)
		if agentCtx.Err() == nil {
			// Said now, not when the command ends: an app that runs for
			// days must not run them unarchived without a word.
			log.Error("run: the archiving agent stopped; the command runs on, and its output is not archived", "err", err)
		}
		agentDone <- err
	}()

	var asked atomic.Int32 // the last stop signal passed on
	stopFwd := make(chan struct{})
	fwdDone := make(chan struct{})
	go func() {
		defer close(fwdDone)
		c.forward(sigs, stopFwd, func(s syscall.Signal) { asked.Store(int32(s)) })
	}()

	st := waitChild(pid, c.started, reap, log)
	exitAt := time.Now()
	close(stopFwd)
	<-fwdDone
	c.cmd.Process.Release()
	abnormal := st.ExitCode != 0 && !askedFor(st, syscall.Signal(asked.Load()))
	log.Info("run: the command ended", "pid", pid, "exit_code", st.ExitCode, "signal", st.Signal, "abnormal", abnormal, "runtime", st.Runtime.Round(time.Millisecond))

	crashWait := o.Run.CrashWait.Std()
	crashAt := exitAt.Add(crashWait)
	if !waitFor(pumpsDone, crashAt) {
		log.Warn("run: the command's stdout or stderr is still open (held by a process it started); output from now on is passed through, not archived")
	}
	spOut.Close()
	spErr.Close()
	waitFor(nil, crashAt) // crash files and the kernel log get crash_wait to show up
	flushCtx, cancel := context.WithDeadline(context.Background(), crashAt.Add(o.Run.FinalFlushTimeout.Std()))
	defer cancel()
	agentRuns := true
	select {
	case <-agentDone: // logged when it stopped
		agentRuns = false
	default:
	}
	if agentRuns {
		finMu.Lock()
		fs := finishers
		finMu.Unlock()
		for _, f := range fs {
			if err := f.Finish(flushCtx, crashWait/4); err != nil {
				log.Warn("run: the last pass of a source failed", "err", err)
			}
		}
	}
	ev := exitEvent{TS: timestamp(exitAt), Event: "exit", Pid: pid, ExitCode: st.ExitCode, Signal: st.Signal, CoreDumped: st.CoreDumped,
		RuntimeMS: st.Runtime.Milliseconds(), Cmd: cmdline, Abnormal: abnormal}
	if abnormal && o.Snapshotter != nil && o.Run.SnapshotOnExit != nil && *o.Run.SnapshotOnExit {
		key, err := o.Snapshotter.Snapshot(flushCtx, "exit")
		if err != nil {
			log.Error("run: snapshot after the abnormal exit failed", "err", err)
		} else if key != "" {
			ev.SnapshotKey = key
			spEv.Write(line(snapshotEvent{TS: timestamp(time.Now()), Event: "snapshot", Trigger: "exit", Key: key}))
		}
	}
	spEv.Write(line(ev))
	spEv.Close()
	close(src.finish)
	if agentRuns {
		select {
		case <-src.drained:
		case <-flushCtx.Done():
			log.Error("run: run.final_flush_timeout passed before the command's output was read; the rest stays in the spool for the next start", "dir", dir)
		case <-agentDone: // logged when it stopped
			agentRuns = false
		}
	}
	stopAgent()
	if !agentRuns {
		return st, nil
	}
	// The agent's own drain is bounded by shutdown_timeout; the flush as a
	// whole by the deadline: past it, exit like a kill -9 would (what is not
	// durable is read again from the spool and the checkpoint at the next
	// start in the same state folder).
	select {
	case err := <-agentDone:
		if err != nil && !errors.Is(err, context.Canceled) {
			log.Error("run: not everything was archived (it stays in the spool and is shipped at the next start)", "err", err)
			return st, nil
		}
		os.RemoveAll(dir) // everything in it is durable
		log.Info("run: flushed", "took", time.Since(exitAt).Round(time.Millisecond))
	case <-flushCtx.Done():
		log.Error("run: run.final_flush_timeout passed with uploads pending; exiting with the command's status (the rest stays in the spool for the next start)", "dir", dir)
	}
	return st, nil
}

// askedFor reports whether the child ended because of the stop signal
// logship run passed on: killed by it, or exiting with 128+it (a JVM after
// its shutdown hooks).
func askedFor(st Status, asked syscall.Signal) bool {
	return asked != 0 && (st.signo == asked || st.ExitCode == 128+int(asked))
}

// waitFor waits for done (nil: nothing) until the deadline; it reports
// whether done was closed.
func waitFor(done <-chan struct{}, deadline time.Time) bool {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// pump copies a pipe of the child to the console (first, unbuffered) and
// to the spool. It never stops reading before the pipe ends: a console
// that fails is given up, the spool never blocks on the archive.
func pump(r *os.File, console io.Writer, sp *spool, log *slog.Logger) {
	defer r.Close()
	buf := make([]byte, 64<<10)
	consoleOK := true
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if consoleOK {
				if _, werr := console.Write(buf[:n]); werr != nil {
					consoleOK = false
					log.Warn("run: cannot pass the command's output through; it is still archived", "stream", sp.name, "err", werr)
				}
			}
			sp.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// newRunID names this run's streams: the UTC start time and 4 random bytes
// (PID 1 in every container).
func newRunID() string {
	var b [4]byte
	rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405Z") + "." + hex.EncodeToString(b[:])
}
