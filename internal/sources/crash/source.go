// Package crash ships JVM crash files (hs_err_pid*.log error reports and
// java_pid*.hprof heap dumps, or whatever the configured globs name) as
// artifacts: whole, once, when complete.
//
// A file is complete when its size and modification time have not changed
// for the settle period and its writer is gone: the pid in its name
// (hs_err_pid<PID>.log, java_pid<PID>.hprof) no longer runs, or no process
// holds it open (found in /proc/*/fd). Where that cannot be known (the
// writer's descriptors are not ours to list), a longer quiet period stands
// in for it.
//
// An artifact's stream id is a pure function of its content's identity:
// the base name, size, modification time and a hash of its first 4 KiB
// (not the device and inode, which change when an overlay file system is
// mounted again after a container restart). Its checkpoint entry says
// shipped (Committed == size, finished) only once the object is durable;
// after that it is never shipped again, also after a restart. Files that
// cannot be read are reported once, with a hint, and retried at every
// scan; the other files keep flowing.
package crash

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/logship/logship/internal/artifact"
	"github.com/logship/logship/internal/pipeline"
	"github.com/logship/logship/internal/schema"
	"github.com/logship/logship/internal/sources/glob"
)

// Defaults.
const (
	DefaultScanInterval = time.Second
	// DefaultSmallArtifact: artifacts up to this size ship from the scan
	// loop; larger ones (heap dumps) ship one at a time in the background,
	// so that an error report never waits behind a heap dump.
	DefaultSmallArtifact = 8 << 20
	// fingerprintBytes of a file's head go into its identity.
	fingerprintBytes = 4 << 10
	// uncertainQuiet is the least quiet time, when whether the writer is
	// gone cannot be known, before a file counts as complete.
	uncertainQuiet = 30 * time.Second
	// maxGlobDepth bounds how many folders a "**" descends.
	maxGlobDepth = 16
)

// Artifact kinds (Extra["artifact"]).
const (
	KindHsErr    = "hs_err"
	KindHeapDump = "heap_dump"
	KindFile     = "file"
)

// Source watches globs for crash files. Create it with New.
//
// The exported fields are hooks with working defaults; tests and embedders
// may replace them after New and before Run.
type Source struct {
	name      string
	up        artifact.Uploader
	globs     glob.Set
	settle    time.Duration
	rateLimit int64
	log       *slog.Logger
	m         sourceMetrics

	// ScanInterval paces the glob scans (default: settle/2, between 50ms
	// and 1s).
	ScanInterval time.Duration
	// Now is the clock of settle periods.
	Now func() time.Time
	// OpenFile opens a crash file for reading (default os.Open).
	OpenFile func(name string) (*os.File, error)
	// PidAlive reports whether the process that wrote a file still runs.
	PidAlive func(pid int) bool
	// ProcRoot is where open descriptors are looked for; empty disables
	// the check (then the quiet period for uncertain writers applies).
	ProcRoot string
	// PartSize is the raw bytes per upload part (0: artifact.DefaultPartSize).
	PartSize int64
	// SmallArtifact is the size up to which artifacts ship inline.
	SmallArtifact int64

	scans    atomic.Int64
	finishQ  chan finishReq
	finished chan struct{} // closed when Run returns
}

type finishReq struct {
	quiet time.Duration
	done  chan struct{}
}

var _ pipeline.Source = (*Source)(nil)

// New returns a source named name ("" is "crash", the name config gives
// the first crash source) for cfg, shipping the files through up. Zero values take their defaults
// (Config.SetDefaults, nothing else), relative paths are taken from the
// working directory, and every problem Config.Validate finds is reported
// at once.
func New(name string, cfg Config, up artifact.Uploader, log *slog.Logger) (*Source, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if name == "" {
		name = "crash"
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if up == nil {
		return nil, errors.New("no artifact uploader to ship the files with")
	}
	s := &Source{name: name, up: up, log: log.With("source", name), m: newMetrics(name), settle: cfg.Settle.Std(), rateLimit: cfg.RateLimit.Int64(),
		Now: time.Now, OpenFile: os.Open, PidAlive: pidAlive(DefaultProcRoot), ProcRoot: DefaultProcRoot,
		SmallArtifact: DefaultSmallArtifact, finishQ: make(chan finishReq), finished: make(chan struct{})}
	s.globs, _ = glob.Compile(cfg.Paths, cfg.Exclude, examplePath) // Validate checked them
	s.globs.MaxDepth = maxGlobDepth
	s.ScanInterval = min(max(s.settle/2, 50*time.Millisecond), DefaultScanInterval)
	return s, nil
}

// Config returns the keys the source runs with, read back from its
// fields: what logship validate --print shows for it.
func (s *Source) Config() Config {
	paths, exclude := s.globs.Globs()
	return Config{Paths: paths, Exclude: exclude, Settle: schema.Duration(s.settle), RateLimit: schema.Size(s.rateLimit)}
}

// Name implements pipeline.Source.
func (s *Source) Name() string { return s.name }

// Run implements pipeline.Source: it scans until ctx ends.
func (s *Source) Run(ctx context.Context, out pipeline.Emitter) error {
	defer close(s.finished)
	r := &run{s: s, out: out, cands: map[string]*candidate{}, known: map[string]identity{},
		doneSet: map[string]bool{}, bgDone: make(chan result, 1), settle: s.settle}
	saved, _ := out.Checkpoints()
	for _, cp := range saved {
		id, ok := parseIdentity(cp.Info.Meta)
		if !ok {
			out.Forget(cp.Info.ID)
			continue
		}
		r.known[cp.Info.ID] = id
		if cp.Finished && cp.Committed == id.Size {
			r.doneSet[cp.Info.ID] = true
		}
	}
	s.globs.OnErr = func(dir string, err error) {
		if errors.Is(err, syscall.ENOTDIR) {
			return // a path segment that is a file: nothing can match below it
		}
		if r.noteErr("dir:"+dir, err.Error()) {
			s.log.Warn("crash: cannot list a folder of the crash paths; will retry", "dir", dir, "err", err)
		}
	}
	s.log.Info("crash: watching for crash files", "paths", patternsOf(s.globs.Patterns), "settle", s.settle)
	t := time.NewTicker(s.ScanInterval)
	defer t.Stop()
	for {
		if err := r.scan(ctx); err != nil {
			r.wait()
			return err
		}
		select {
		case <-ctx.Done():
			r.wait()
			return nil
		case res := <-r.bgDone:
			r.busy = false
			r.finish(res)
		case req := <-s.finishQ:
			r.settle = min(r.settle, req.quiet)
			err := r.scan(ctx)
			r.wait()
			close(req.done)
			if err != nil {
				return err
			}
		case <-t.C:
		}
	}
}

// Finish makes a last pass for logship run, whose child has ended: from
// now on a file counts as settled once unchanged for quiet (shorter than
// settle: its writer is gone), and the files that are complete now are
// shipped before Finish returns; it returns early when ctx ends or Run has
// returned.
func (s *Source) Finish(ctx context.Context, quiet time.Duration) error {
	req := finishReq{quiet: max(quiet, time.Millisecond), done: make(chan struct{})}
	select {
	case s.finishQ <- req:
	case <-s.finished:
		return errors.New("crash: the source is not running")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-req.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func patternsOf(ps []glob.Pattern) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

type sourceMetrics struct {
	shipped, unreadable, failures *metrics.Counter
}

func newMetrics(name string) sourceMetrics {
	c := func(n string) *metrics.Counter {
		return metrics.GetOrCreateCounter(fmt.Sprintf("%s{source=%q}", n, name))
	}
	return sourceMetrics{
		shipped:    c("logship_crash_artifacts_shipped_total"),
		unreadable: c("logship_crash_unreadable_total"),
		failures:   c("logship_crash_failures_total"),
	}
}
