package pipeline

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/logship/logship/internal/sinks"
)

// Retry is the one retry policy of the pipeline: exponential backoff with
// full jitter for retryable errors, without limit while the context lives
// (the data stays buffered and backpressure stops the sources), and a slow
// fixed pace for permanent errors, which an operator may fix while the agent
// runs (a RAM policy, a clock).
type Retry struct {
	Initial   time.Duration // first backoff; default 200ms
	Max       time.Duration // cap; default 30s
	Permanent time.Duration // pace for permanent errors; default DefaultRetryRefused
	// Sleep waits d or until ctx ends (tests inject a fast one).
	Sleep func(ctx context.Context, d time.Duration) error
	// OnFailure, if set, is told of every failed attempt (what, and its
	// error) before the wait (the pipeline's status file records them).
	OnFailure func(what string, err error)
}

func (r Retry) withDefaults() Retry {
	if r.Initial <= 0 {
		r.Initial = 200 * time.Millisecond
	}
	if r.Max <= 0 {
		r.Max = 30 * time.Second
	}
	if r.Permanent <= 0 {
		r.Permanent = DefaultRetryRefused
	}
	if r.Sleep == nil {
		r.Sleep = sleepCtx
	}
	return r
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Do calls op until it succeeds or ctx ends, logging every failure with
// what was being written (what) and when it is tried again. It returns nil
// on success, else the error that ended it (op's last error, or ctx's).
func (r Retry) Do(ctx context.Context, log *slog.Logger, what string, op func(context.Context) error) error {
	return r.do(ctx, log, what, op, nil)
}

// waker ends the backoff of the writes waiting on one sink when another
// write to it succeeds: after an outage each write has backed off on its
// own, up to Max, and without it the sink sat idle for tens of seconds
// after it came back (28 s seen in the torture run).
type waker struct {
	mu      sync.Mutex
	ch      chan struct{}
	gen     uint64 // successes so far
	waiting int
}

func newWaker() *waker { return &waker{ch: make(chan struct{})} }

// now is the number of successes so far, for wait.
func (w *waker) now() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.gen
}

// wait registers a waiter and returns a channel closed at the next
// success, already closed if one happened since now returned since; done
// unregisters it.
func (w *waker) wait(since uint64) (<-chan struct{}, func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.gen != since {
		return closedChan, func() {}
	}
	w.waiting++
	return w.ch, func() { w.mu.Lock(); w.waiting--; w.mu.Unlock() }
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// wake wakes the writes waiting in backoff, if any.
func (w *waker) wake() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gen++
	if w.waiting > 0 {
		close(w.ch)
		w.ch = make(chan struct{})
	}
}

// do is Do; wk, when not nil, is woken by a success and ends the backoff
// (not the slow pace of refusals) of the other writes sharing it.
func (r Retry) do(ctx context.Context, log *slog.Logger, what string, op func(context.Context) error, wk *waker) error {
	r = r.withDefaults()
	backoff := r.Initial
	for attempt := 1; ; attempt++ {
		var gen uint64
		if wk != nil {
			gen = wk.now()
		}
		err := op(ctx)
		if err == nil {
			if wk != nil {
				wk.wake()
			}
			if attempt > 1 {
				log.Info("upload recovered", "object", what, "attempts", attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		var wait time.Duration
		permanent := sinks.IsPermanent(err)
		if permanent {
			wait = r.Permanent
			mRetriesPermanent.Inc()
			log.Error("upload refused; keeping the data and retrying slowly", "object", what, "attempt", attempt, "retry_in", wait, "err", err)
		} else {
			wait = backoff/2 + rand.N(backoff/2+1)
			backoff = min(backoff*2, r.Max)
			mRetries.Inc()
			lvl := slog.LevelWarn
			if attempt > 3 {
				lvl = slog.LevelError
			}
			log.Log(ctx, lvl, "upload failed; retrying", "object", what, "attempt", attempt, "retry_in", wait.Round(time.Millisecond), "err", err)
		}
		if r.OnFailure != nil {
			r.OnFailure(what, err)
		}
		if err := r.backoff(ctx, wait, wk, gen, permanent); err != nil {
			return err
		}
	}
}

// backoff sleeps wait, or less when wk wakes it, or not at all when a
// write succeeded since the attempt began (gen; retryable errors only).
func (r Retry) backoff(ctx context.Context, wait time.Duration, wk *waker, gen uint64, permanent bool) error {
	if wk == nil || permanent {
		return r.Sleep(ctx, wait)
	}
	woken, done := wk.wait(gen)
	defer done()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-woken:
			cancel()
		case <-sctx.Done():
		}
	}()
	if err := r.Sleep(sctx, wait); err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}
