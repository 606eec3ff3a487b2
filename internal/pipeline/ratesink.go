package pipeline

import (
	"context"

	"github.com/VictoriaMetrics/metrics"
	"golang.org/x/time/rate"

	"github.com/logship/logship/internal/sinks"
)

// rateSink paces the bytes a sink is given (pipeline.upload_rate): each
// Put first waits until its body fits in the budget. It sits under the
// retry wrapper, so a retried chunk is paced again: the rate holds for
// what goes over the wire.
type rateSink struct {
	sinks.Sink
	// wait blocks until n more bytes may be sent, or ctx ends.
	wait func(ctx context.Context, n int) error
}

// newRateSink paces s to bytesPerSec; a chunk larger than one second of
// budget waits for it one second's worth at a time.
func newRateSink(s sinks.Sink, bytesPerSec int64) *rateSink {
	lim := rate.NewLimiter(rate.Limit(bytesPerSec), int(bytesPerSec))
	return &rateSink{Sink: s, wait: func(ctx context.Context, n int) error {
		for n > 0 {
			step := min(n, lim.Burst())
			if err := lim.WaitN(ctx, step); err != nil {
				return err
			}
			n -= step
		}
		return nil
	}}
}

var mUploadPaced = metrics.NewCounter(`logship_pipeline_upload_paced_bytes_total`)

func (r *rateSink) Put(ctx context.Context, obj *sinks.Object) error {
	if err := r.wait(ctx, len(obj.Body)); err != nil {
		return err
	}
	mUploadPaced.Add(len(obj.Body))
	return r.Sink.Put(ctx, obj)
}
