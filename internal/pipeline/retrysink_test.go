package pipeline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/sinks"
)

// failSink fails the first fail calls of every write, counting calls.
type failSink struct {
	fail  int
	calls map[string]int
}

func (f *failSink) try(op string) error {
	f.calls[op]++
	if f.calls[op] <= f.fail {
		return errors.New("injected " + op + " failure")
	}
	return nil
}

func (f *failSink) Put(ctx context.Context, o *sinks.Object) error { return f.try("put") }
func (f *failSink) Close() error                                   { f.calls["close"]++; return nil }

type failMultipart struct{ *failSink }

func (f failMultipart) ResumeUpload(ctx context.Context, key string, h *archive.Header, ct string) (sinks.Upload, []sinks.Part, error) {
	if err := f.try("resume"); err != nil {
		return nil, nil, err
	}
	return failUpload{f.failSink}, nil, nil
}

type failUpload struct{ *failSink }

func (u failUpload) PutPart(ctx context.Context, n int, body []byte) (sinks.Part, error) {
	return sinks.Part{Number: n, Size: int64(len(body))}, u.try("part")
}
func (u failUpload) Complete(ctx context.Context, parts []sinks.Part) error { return u.try("complete") }
func (u failUpload) Abort(ctx context.Context) error                        { return u.try("abort") }

type failLister struct{ *failSink }

func (failLister) List(ctx context.Context, prefix string, fn func(sinks.ObjectInfo) error) error {
	return fn(sinks.ObjectInfo{Key: prefix})
}

// The wrapper retries every write, passes Close, List and Abort through
// once, and has exactly the abilities of the sink it wraps.
func TestRetryWrap(t *testing.T) {
	r := Retry{Initial: time.Millisecond, Max: time.Millisecond, Sleep: func(context.Context, time.Duration) error { return nil }}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()

	fs := &failSink{fail: 2, calls: map[string]int{}}
	w := r.Wrap(failMultipart{fs}, log)
	if err := w.Put(ctx, &sinks.Object{Key: "k"}); err != nil {
		t.Fatal(err)
	}
	mp, ok := w.(sinks.Multipart)
	if !ok {
		t.Fatal("multipart sink lost its multipart upload")
	}
	if _, ok := w.(sinks.Lister); ok {
		t.Fatal("wrapper lists for a sink that cannot")
	}
	up, _, err := mp.ResumeUpload(ctx, "k", &archive.Header{}, "application/zstd")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := up.PutPart(ctx, 3, []byte("abc")); err != nil || p.Number != 3 || p.Size != 3 {
		t.Fatalf("part %+v, %v", p, err)
	}
	if err := up.Complete(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := up.Abort(ctx); err == nil {
		t.Fatal("abort retried")
	}
	w.Close()
	for op, want := range map[string]int{"put": 3, "resume": 3, "part": 3, "complete": 3, "abort": 1, "close": 1} {
		if fs.calls[op] != want {
			t.Errorf("%s called %d times, want %d", op, fs.calls[op], want)
		}
	}

	fs = &failSink{calls: map[string]int{}}
	w = r.Wrap(failLister{fs}, log)
	if _, ok := w.(sinks.Multipart); ok {
		t.Fatal("wrapper has multipart uploads the sink lacks")
	}
	l, ok := w.(sinks.Lister)
	if !ok {
		t.Fatal("lister lost List")
	}
	var got string
	l.List(ctx, "p/", func(oi sinks.ObjectInfo) error { got = oi.Key; return nil })
	if got != "p/" {
		t.Fatalf("listed %q", got)
	}

	// A context that ends stops the retries.
	fs = &failSink{fail: 1 << 30, calls: map[string]int{}}
	cctx, cancel := context.WithCancel(ctx)
	r.Sleep = func(context.Context, time.Duration) error {
		if fs.calls["put"] == 5 {
			cancel()
			return cctx.Err()
		}
		return nil
	}
	if err := r.Wrap(fs, log).Put(cctx, &sinks.Object{Key: "k"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

// keyedSink fails the first Put of the keys in fail, and tells failed
// when it did.
type keyedSink struct {
	mu     sync.Mutex
	fail   map[string]bool
	failed chan string
}

func (k *keyedSink) Put(ctx context.Context, o *sinks.Object) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.fail[o.Key] {
		k.fail[o.Key] = false
		k.failed <- o.Key
		return errors.New("injected: connection reset")
	}
	return nil
}
func (k *keyedSink) Close() error { return nil }

// A write that succeeds ends the backoff of the others: after an outage
// the sink is used again at once, not when each write's backoff ends.
func TestRetrySuccessWakesBackoff(t *testing.T) {
	ks := &keyedSink{fail: map[string]bool{"a": true}, failed: make(chan string, 1)}
	r := Retry{Initial: 20 * time.Second, Max: 20 * time.Second}
	w := r.Wrap(ks, slog.New(slog.NewTextHandler(io.Discard, nil)))
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- w.Put(context.Background(), &sinks.Object{Key: "a"}) }()
	<-ks.failed // a waits 10-20s
	if err := w.Put(context.Background(), &sinks.Object{Key: "b"}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("a stored %v after its failure", time.Since(start).Round(time.Millisecond))
	case <-time.After(8 * time.Second):
		t.Fatal("a still waits out its backoff after b was stored")
	}
}
