package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/artifact"
	"github.com/logship/logship/internal/pipeline"
)

// Snapshotter takes one snapshot and stores it: *Taker (always), *Trigger
// (for events: switched by snapshot.on_events and rate-limited).
// `logship run` calls one when its child exits abnormally.
type Snapshotter interface {
	Take(ctx context.Context, req Request) (*Result, error)
}

var (
	_ Snapshotter = (*Taker)(nil)
	_ Snapshotter = (*Trigger)(nil)
)

// Errors of Trigger.Take: the event took no snapshot.
var (
	ErrDisabled    = errors.New("snapshot: this trigger is off (snapshot.on_events)")
	ErrRateLimited = errors.New("snapshot: the last snapshot on an event is more recent than snapshot.min_interval")
)

// TriggerOptions configure a Trigger.
type TriggerOptions struct {
	Config Config // OnEvents and MinInterval
	Log    *slog.Logger
	Now    func() time.Time
	// OnTaken is called after each snapshot on an event is stored (e.g.
	// `logship run` writes a snapshot line into its events stream).
	OnTaken func(req Request, res *Result)
}

// Trigger takes snapshots on events: an OOM kill seen by the kmsg source,
// a JVM crash file shipped by the crash source (through Watch), the
// abnormal exit of `logship run`'s child (through Take). Each trigger can
// be switched off; at most one snapshot is taken per min_interval, the
// first event of a burst winning.
type Trigger struct {
	s  Snapshotter
	o  TriggerOptions
	mu sync.Mutex
	// last is when the last snapshot on an event started; zero: none yet.
	last time.Time
	// lastRes is the last snapshot on an event that was stored.
	lastRes *Result
	wg      sync.WaitGroup
}

// NewTrigger returns a trigger taking its snapshots with s.
func NewTrigger(s Snapshotter, o TriggerOptions) *Trigger {
	o.Config.SetDefaults()
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Trigger{s: s, o: o}
}

// reserve claims the rate-limit slot for a trigger.
func (t *Trigger) reserve(trigger string) error {
	if !t.o.Config.OnEvents.Enabled(trigger) {
		return fmt.Errorf("%w: %s", ErrDisabled, trigger)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.o.Now()
	if !t.last.IsZero() && now.Sub(t.last) < t.o.Config.MinInterval.Std() {
		return fmt.Errorf("%w (%s ago, min_interval %s)", ErrRateLimited, now.Sub(t.last).Round(time.Second), t.o.Config.MinInterval)
	}
	t.last = now
	return nil
}

// Take takes a snapshot for an event in the caller's goroutine, unless its
// trigger is off (ErrDisabled) or the last one was less than min_interval
// ago (ErrRateLimited). req.Trigger names the event.
func (t *Trigger) Take(ctx context.Context, req Request) (*Result, error) {
	if err := t.reserve(req.Trigger); err != nil {
		return nil, err
	}
	return t.take(ctx, req)
}

func (t *Trigger) take(ctx context.Context, req Request) (*Result, error) {
	res, err := t.s.Take(ctx, req)
	if err != nil {
		t.o.Log.Error("snapshot on an event failed", "trigger", req.Trigger, "err", err)
		return res, err
	}
	t.o.Log.Info("snapshot taken on an event", "trigger", req.Trigger, "keys", res.Stored.Keys, "bytes", res.Stored.Size)
	t.mu.Lock()
	t.lastRes = res
	t.mu.Unlock()
	if t.o.OnTaken != nil {
		t.o.OnTaken(req, res)
	}
	return res, nil
}

// TakeOrJoin is Take for the last event of a process, the abnormal exit of
// `logship run`'s child: when min_interval refuses a new snapshot because
// another event just took one (a JVM crash file shipped a moment before
// the exit), it waits for the snapshots in flight and returns the last one
// stored instead of nothing. ctx bounds the wait.
func (t *Trigger) TakeOrJoin(ctx context.Context, req Request) (*Result, error) {
	err := t.reserve(req.Trigger)
	if err == nil {
		return t.take(ctx, req)
	}
	if !errors.Is(err, ErrRateLimited) {
		return nil, err
	}
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	t.mu.Lock()
	res := t.lastRes
	t.mu.Unlock()
	if res == nil {
		return nil, err
	}
	return res, nil
}

// Go is Take in a goroutine of its own (sources must not wait for a
// snapshot); it reports whether a snapshot was started. Wait waits for
// those started.
func (t *Trigger) Go(ctx context.Context, req Request) bool {
	if err := t.reserve(req.Trigger); err != nil {
		t.o.Log.Debug("no snapshot on this event", "trigger", req.Trigger, "why", err)
		return false
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.take(ctx, req)
	}()
	return true
}

// Wait waits for the snapshots started by Go.
func (t *Trigger) Wait() { t.wg.Wait() }

// Watch wraps a source so that an OOM kill it reports triggers a
// snapshot: a piece flagged archive.EventOOMKill, once the pipeline has
// accepted it. The snapshot is taken in the background with the source's
// context.
func (t *Trigger) Watch(src pipeline.Source) pipeline.Source { return &watched{Source: src, t: t} }

type watched struct {
	pipeline.Source
	t *Trigger
}

func (w *watched) Run(ctx context.Context, out pipeline.Emitter) error {
	return w.Source.Run(ctx, &watchEmitter{Emitter: out, t: w.t, ctx: ctx})
}

type watchEmitter struct {
	pipeline.Emitter
	t   *Trigger
	ctx context.Context
}

func (e *watchEmitter) Open(info pipeline.StreamInfo, start int64) pipeline.StreamWriter {
	return &watchStream{StreamWriter: e.Emitter.Open(info, start), info: info, e: e}
}

// WatchUploads wraps the artifact uploader the crash source ships with, so
// that a JVM crash file (an artifact flagged archive.EventJVMCrash) takes
// a snapshot once it is stored; the request carries the crash file's key.
// ctx bounds the snapshots started (the agent's run).
func (t *Trigger) WatchUploads(ctx context.Context, up artifact.Uploader) artifact.Uploader {
	return &watchUploader{up: up, t: t, ctx: ctx}
}

type watchUploader struct {
	up  artifact.Uploader
	t   *Trigger
	ctx context.Context
}

func (w *watchUploader) Upload(ctx context.Context, a artifact.Artifact) (string, error) {
	key, err := w.up.Upload(ctx, a)
	if err != nil || a.Event != archive.EventJVMCrash {
		return key, err
	}
	w.t.Go(w.ctx, Request{Trigger: TriggerJVMCrash, Event: map[string]string{
		"time": a.Time.UTC().Format(time.RFC3339Nano), "source": a.Kind, "stream": a.ID, "path": a.Path, "key": key}})
	return key, nil
}

type watchStream struct {
	pipeline.StreamWriter
	info pipeline.StreamInfo
	e    *watchEmitter
}

func (s *watchStream) Write(ctx context.Context, p pipeline.Piece) error {
	if err := s.StreamWriter.Write(ctx, p); err != nil {
		return err
	}
	if p.Event == archive.EventOOMKill {
		at := p.Time
		if at.IsZero() {
			at = s.e.t.o.Now()
		}
		s.e.t.Go(s.e.ctx, Request{Trigger: TriggerOOMKill, Event: map[string]string{
			"time": at.UTC().Format(time.RFC3339Nano), "source": s.info.Kind, "stream": s.info.ID,
			"start": strconv.FormatInt(p.Start, 10), "end": strconv.FormatInt(p.End, 10)}})
	}
	return nil
}
