package artifact

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/pipeline"
	"github.com/logship/logship/internal/sinks"
	"github.com/logship/logship/internal/sinks/dir"
)

// partSink embeds the dir sink and counts, fails or stops part uploads.
type partSink struct {
	*dir.Sink
	puts     atomic.Int64 // Put calls
	parts    atomic.Int64 // PutPart calls that stored a part
	failPart atomic.Int64 // fail this many PutPart calls
	// onPart runs before a part is stored; an error fails the call.
	onPart func(n int) error
	mu     sync.Mutex
	inPart int
	maxIn  int
}

func (s *partSink) Put(ctx context.Context, o *sinks.Object) error {
	s.puts.Add(1)
	return s.Sink.Put(ctx, o)
}

func (s *partSink) ResumeUpload(ctx context.Context, key string, h *archive.Header, ct string) (sinks.Upload, []sinks.Part, error) {
	u, parts, err := s.Sink.ResumeUpload(ctx, key, h, ct)
	if err != nil {
		return nil, nil, err
	}
	return &partUpload{Upload: u, s: s}, parts, nil
}

type partUpload struct {
	sinks.Upload
	s *partSink
}

func (u *partUpload) PutPart(ctx context.Context, n int, body []byte) (sinks.Part, error) {
	s := u.s
	s.mu.Lock()
	s.inPart++
	s.maxIn = max(s.maxIn, s.inPart)
	s.mu.Unlock()
	defer func() { s.mu.Lock(); s.inPart--; s.mu.Unlock() }()
	if s.failPart.Add(-1) >= 0 {
		return sinks.Part{}, errors.New("injected part failure")
	}
	if s.onPart != nil {
		if err := s.onPart(n); err != nil {
			return sinks.Part{}, err
		}
	}
	p, err := u.Upload.PutPart(ctx, n, body)
	if err == nil {
		s.parts.Add(1)
	}
	return p, err
}

func newPartSink(t *testing.T, root string) *partSink {
	t.Helper()
	d, err := dir.New(root)
	if err != nil {
		t.Fatal(err)
	}
	return &partSink{Sink: d}
}

// heapLike returns n bytes that compress about like a heap dump: runs of
// text, zeros, and noise.
func heapLike(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	text := []byte("java.util.concurrent.ConcurrentHashMap$Node com.example.order.OrderService 2026-11-26 10:00:00,123 INFO request done\n")
	b := make([]byte, 0, n)
	for len(b) < n {
		switch rng.IntN(3) {
		case 0:
			b = append(b, text[:rng.IntN(len(text))]...)
		case 1:
			b = append(b, make([]byte, rng.IntN(4096))...)
		default:
			for range rng.IntN(512) {
				b = append(b, byte(rng.Uint32()))
			}
		}
	}
	return b[:n]
}

func writeArtifact(t *testing.T, data []byte) (*os.File, time.Time) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "java_pid42.hprof")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	mod := time.Date(2026, 11, 26, 12, 30, 0, 123456789, time.UTC)
	if err := os.Chtimes(p, mod, mod); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, mod
}

func testArtifact(f io.ReaderAt, size int64, mod time.Time, partSize int64) Artifact {
	return Artifact{
		ID:       "java_pid42.hprof-00112233aabbccdd",
		Kind:     archive.KindCrash,
		Path:     "/app/java_pid42.hprof",
		File:     f,
		Size:     size,
		Time:     mod,
		Event:    "heap_dump",
		Extra:    map[string]string{"pid": "42"},
		PartSize: partSize,
	}
}

// readObject returns the only object of the sink, decoded and verified.
func readObject(t *testing.T, d *dir.Sink) (string, *archive.Header, []byte, []byte) {
	t.Helper()
	var keys []string
	if err := d.List(context.Background(), "", func(oi sinks.ObjectInfo) error { keys = append(keys, oi.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Fatalf("objects %v, want one", keys)
	}
	obj, err := os.ReadFile(filepath.Join(d.Root(), filepath.FromSlash(keys[0])))
	if err != nil {
		t.Fatal(err)
	}
	h, raw, err := archive.Decode(obj, archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return keys[0], h, raw, obj
}

func zstdCLI(t *testing.T, obj, raw []byte) {
	t.Helper()
	bin, err := exec.LookPath("zstd")
	if err != nil {
		t.Log("zstd CLI not installed; stock decoder not checked")
		return
	}
	p := filepath.Join(t.TempDir(), "o.zst")
	if err := os.WriteFile(p, obj, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-d", "-c", "-q", p).Output()
	if err != nil || !bytes.Equal(out, raw) {
		t.Fatalf("zstd -d: %d bytes, want %d; %v", len(out), len(raw), err)
	}
}

func newTestShipper(t *testing.T, sink sinks.Sink) *Shipper {
	t.Helper()
	s, err := New(Options{App: "app", Host: "host", Sink: sink, TempDir: t.TempDir(),
		Retry: pipeline.Retry{Initial: time.Millisecond, Max: 5 * time.Millisecond, Permanent: 5 * time.Millisecond},
		Log:   slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func upload(s *Shipper, ctx context.Context, a Artifact) error {
	_, err := s.Upload(ctx, a)
	return err
}

func lines(n int, tag string) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "2026-11-26 10:00:00,%03d INFO [%s] request %d done \x00\xff\n", i%1000, tag, i)
	}
	return b.Bytes()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
