package pipeline

import (
	"context"
	"log/slog"
	"math/rand/v2"
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
	r = r.withDefaults()
	backoff := r.Initial
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil {
			if attempt > 1 {
				log.Info("upload recovered", "object", what, "attempts", attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		var wait time.Duration
		if sinks.IsPermanent(err) {
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
		if err := r.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}
