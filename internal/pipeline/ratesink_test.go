package pipeline

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/sinks"
)

// pipeline.upload_rate paces every chunk the pipeline sends, retries
// included, before the sink sees it; without it nothing waits.
func TestUploadRatePacesEveryChunk(t *testing.T) {
	fs := newFlaky(t)
	fs.failNext.Store(2) // two retried puts: paced again
	p := newTestPipeline(t, fs, func(o *Options) { o.UploadRate = MinUploadRate })
	paced, ok := retried(t, p.sink).(*rateSink)
	if !ok {
		t.Fatalf("with upload_rate the retried sink is %T, want the pacing wrapper", retried(t, p.sink))
	}
	var mu sync.Mutex
	var waited, calls int
	paced.wait = func(ctx context.Context, n int) error { // count instead of sleeping
		mu.Lock()
		waited += n
		calls++
		mu.Unlock()
		return nil
	}
	p.Start()
	s := p.Emitter("files").Open(StreamInfo{ID: "a-1", Kind: archive.KindFile, Unit: archive.UnitBytes}, 0)
	data := lines(5000, "a")
	writeAll(t, s, 0, data, 4096)
	if err := p.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.Close()

	var stored int
	fs.Sink.List(context.Background(), "", func(oi sinks.ObjectInfo) error { stored += int(oi.Size); return nil })
	got := readBack(t, fs.Sink)["a-1"]
	if !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, wrote %d", len(got), len(data))
	}
	puts := int(fs.puts.Load())
	if calls != puts+2 || waited <= stored {
		t.Fatalf("paced %d bytes in %d waits; the sink stored %d bytes in %d puts after 2 failures", waited, calls, stored, puts)
	}

	plain := newTestPipeline(t, newFlaky(t), nil)
	if _, ok := retried(t, plain.sink).(*rateSink); ok {
		t.Fatal("without upload_rate the sink is paced")
	}
	plain.Close()
}

// A body larger than a second of budget waits for it in steps (the
// limiter refuses one wait larger than its burst).
func TestRateSinkLargeBody(t *testing.T) {
	fs := newFlaky(t)
	r := newRateSink(fs, 1<<20)
	body := bytes.Repeat([]byte("x"), 1<<20+100) // the bucket starts full: waits only for 100 bytes
	if err := r.Put(context.Background(), &sinks.Object{Key: "a/0000000000000000-0000000000000001.log", Body: body}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Put(ctx, &sinks.Object{Key: "a/0000000000000001-0000000000000002.log", Body: body}); err == nil {
		t.Fatal("a Put with an ended context was sent")
	}
}

// retried returns the sink under the pipeline's retry wrapper.
func retried(t *testing.T, s sinks.Sink) sinks.Sink {
	switch w := s.(type) {
	case *retrySink:
		return w.s
	case *retryLister:
		return w.s
	case *retryMultipart:
		return w.s
	case *retryMultipartLister:
		return w.s
	}
	t.Fatalf("the pipeline's sink is %T, not a retry wrapper", s)
	return nil
}
