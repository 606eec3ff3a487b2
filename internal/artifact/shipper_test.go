package artifact

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/pipeline"
	"github.com/logship/logship/internal/schema"
	"github.com/logship/logship/internal/sinks"
	"github.com/logship/logship/internal/sinks/dir"
)

func TestLayout(t *testing.T) {
	for _, c := range []struct {
		size, part int64
		wantPart   int64
		wantN      int
	}{
		{0, 0, DefaultPartSize, 1},
		{1, 0, DefaultPartSize, 1},
		{DefaultPartSize, 0, DefaultPartSize, 1},
		{DefaultPartSize + 1, 0, DefaultPartSize, 2},
		{1 << 30, 0, DefaultPartSize, 128},
		{100 << 30, 0, 11 << 20, 9310},
		{1000, 100, 100, 10},
	} {
		part, n := Layout(c.size, c.part)
		if part != c.wantPart || n != c.wantN {
			t.Errorf("Layout(%d, %d) = %d, %d; want %d, %d", c.size, c.part, part, n, c.wantPart, c.wantN)
		}
		if n > MaxParts {
			t.Errorf("%d parts", n)
		}
	}
}

func TestArtifactSmallIsOnePut(t *testing.T) {
	ps := newPartSink(t, t.TempDir())
	p := newTestShipper(t, ps)
	data := lines(500, "hs_err")
	f, mod := writeArtifact(t, data)
	a := testArtifact(f, int64(len(data)), mod, 0)
	a.Event = archive.EventJVMCrash
	got, err := p.Upload(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	if ps.puts.Load() != 1 || ps.parts.Load() != 0 {
		t.Fatalf("%d puts, %d parts", ps.puts.Load(), ps.parts.Load())
	}
	key, h, raw, obj := readObject(t, ps.Sink)
	if !bytes.Equal(raw, data) {
		t.Fatal("bytes differ")
	}
	zstdCLI(t, obj, data)
	if h.Source != archive.KindCrash || h.Start != 0 || h.End != int64(len(data)) || h.Event != archive.EventJVMCrash ||
		!h.First.Equal(mod) || !h.Last.Equal(mod) || h.Extra["pid"] != "42" || h.Lines != 500 || h.Path != a.Path {
		t.Fatalf("header %+v", h)
	}
	if key != archive.Key("", h) {
		t.Fatalf("key %s, header says %s", key, archive.Key("", h))
	}
	if got != key {
		t.Fatalf("Upload returned %s, stored %s", got, key)
	}
}

func TestArtifactMultipart(t *testing.T) {
	cases := []struct {
		name string
		data []byte
	}{
		{"heap-like", heapLike(1<<20+12345, 1)},
		{"zeros, parts padded", make([]byte, 1<<20+7)},
		{"exact parts", heapLike(1<<20, 2)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps := newPartSink(t, t.TempDir())
			p := newTestShipper(t, ps)
			f, mod := writeArtifact(t, c.data)
			a := testArtifact(f, int64(len(c.data)), mod, 128<<10)
			if err := upload(p, context.Background(), a); err != nil {
				t.Fatal(err)
			}
			_, n := Layout(a.Size, a.PartSize)
			if got := ps.parts.Load(); got != int64(n) || ps.puts.Load() != 0 {
				t.Fatalf("%d parts, %d puts; want %d parts", got, ps.puts.Load(), n)
			}
			_, h, raw, obj := readObject(t, ps.Sink)
			if !bytes.Equal(raw, c.data) || h.RawSize != int64(len(c.data)) {
				t.Fatal("bytes differ")
			}
			zstdCLI(t, obj, c.data)
			ps.mu.Lock()
			defer ps.mu.Unlock()
			if ps.maxIn != 1 {
				t.Fatalf("%d parts uploading at once", ps.maxIn)
			}
		})
	}
}

// An upload interrupted after k parts (the process was stopped) resumes:
// the next attempt, by a new Shipper, uploads only the missing parts.
func TestArtifactResume(t *testing.T) {
	root := t.TempDir()
	data := heapLike(2<<20+999, 3)
	f, mod := writeArtifact(t, data)
	const partSize = 128 << 10
	_, n := Layout(int64(len(data)), partSize)

	ps := newPartSink(t, root)
	ctx, cancel := context.WithCancel(context.Background())
	ps.onPart = func(i int) error {
		if ps.parts.Load() == 7 {
			cancel() // "killed" while part 8 was on its way
			return ctx.Err()
		}
		return nil
	}
	p := newTestShipper(t, ps)
	err := upload(p, ctx, testArtifact(f, int64(len(data)), mod, partSize))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted ship: %v", err)
	}
	if ps.parts.Load() != 7 {
		t.Fatalf("%d parts before the interruption", ps.parts.Load())
	}
	ps2 := newPartSink(t, root)
	p2 := newTestShipper(t, ps2)
	if err := upload(p2, context.Background(), testArtifact(f, int64(len(data)), mod, partSize)); err != nil {
		t.Fatal(err)
	}
	if got := ps2.parts.Load(); got != int64(n-7) {
		t.Fatalf("resumed upload sent %d parts, want %d (of %d)", got, n-7, n)
	}
	_, _, raw, obj := readObject(t, ps2.Sink)
	if !bytes.Equal(raw, data) {
		t.Fatal("bytes differ")
	}
	zstdCLI(t, obj, data)
}

// Parts stored with another layout (another part size) are detected and
// the upload starts over.
func TestArtifactResumeOtherLayout(t *testing.T) {
	root := t.TempDir()
	data := heapLike(1<<20, 4)
	f, mod := writeArtifact(t, data)
	ps := newPartSink(t, root)
	ctx, cancel := context.WithCancel(context.Background())
	ps.onPart = func(i int) error {
		if ps.parts.Load() == 3 {
			cancel()
			return ctx.Err()
		}
		return nil
	}
	p := newTestShipper(t, ps)
	if err := upload(p, ctx, testArtifact(f, int64(len(data)), mod, 128<<10)); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	ps2 := newPartSink(t, root)
	p2 := newTestShipper(t, ps2)
	if err := upload(p2, context.Background(), testArtifact(f, int64(len(data)), mod, 200<<10)); err != nil {
		t.Fatal(err)
	}
	_, n := Layout(int64(len(data)), 200<<10)
	if got := ps2.parts.Load(); got != int64(n) {
		t.Fatalf("sent %d parts, want all %d", got, n)
	}
	if _, _, raw, _ := readObject(t, ps2.Sink); !bytes.Equal(raw, data) {
		t.Fatal("bytes differ")
	}
}

// A restart after the object was completed but before the caller recorded
// it (the crash source's checkpoint) finds the object and uploads nothing.
func TestArtifactAlreadyStored(t *testing.T) {
	root := t.TempDir()
	data := heapLike(600<<10, 5)
	f, mod := writeArtifact(t, data)
	ps := newPartSink(t, root)
	key, err := newTestShipper(t, ps).Upload(context.Background(), testArtifact(f, int64(len(data)), mod, 128<<10))
	if err != nil {
		t.Fatal(err)
	}
	ps2 := newPartSink(t, root)
	p2 := newTestShipper(t, ps2) // fresh state: the checkpoint was lost
	cf := &countingFile{r: f}
	key2, err := p2.Upload(context.Background(), testArtifact(cf, int64(len(data)), mod, 128<<10))
	if err != nil {
		t.Fatal(err)
	}
	if ps2.parts.Load() != 0 || ps2.puts.Load() != 0 || cf.n.Load() != 0 {
		t.Fatalf("uploaded again: %d parts, %d puts, %d bytes read", ps2.parts.Load(), ps2.puts.Load(), cf.n.Load())
	}
	if key2 != key {
		t.Fatalf("key %s the second time, %s the first", key2, key)
	}
}

func TestArtifactPartFailuresRetried(t *testing.T) {
	ps := newPartSink(t, t.TempDir())
	ps.failPart.Store(3)
	p := newTestShipper(t, ps)
	data := heapLike(700<<10, 6)
	f, mod := writeArtifact(t, data)
	if err := upload(p, context.Background(), testArtifact(f, int64(len(data)), mod, 128<<10)); err != nil {
		t.Fatal(err)
	}
	if _, _, raw, _ := readObject(t, ps.Sink); !bytes.Equal(raw, data) {
		t.Fatal("bytes differ")
	}
}

type countingFile struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingFile) ReadAt(b []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(b, off)
	c.n.Add(int64(n))
	return n, err
}

// changingFile returns other bytes at the second read of an offset.
type changingFile struct {
	data  []byte
	mu    sync.Mutex
	reads map[int64]int
}

func (c *changingFile) ReadAt(b []byte, off int64) (int, error) {
	c.mu.Lock()
	c.reads[off]++
	second := c.reads[off] > 1
	c.mu.Unlock()
	if off >= int64(len(c.data)) {
		return 0, io.EOF
	}
	n := copy(b, c.data[off:])
	if second && off == 0 {
		b[0] ^= 0xff
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

func TestArtifactChanged(t *testing.T) {
	mod := time.Now()
	t.Run("shorter than its size", func(t *testing.T) {
		ps := newPartSink(t, t.TempDir())
		p := newTestShipper(t, ps)
		data := heapLike(100, 7)
		err := upload(p, context.Background(), testArtifact(bytes.NewReader(data), 200, mod, 0))
		if !errors.Is(err, ErrChanged) {
			t.Fatalf("got %v", err)
		}
	})
	// In parts (multipart upload) and in one Put (a small hs_err file).
	for _, tc := range []struct {
		name       string
		size, part int64
	}{{"bytes changed between the reads, in parts", 500 << 10, 128 << 10}, {"bytes changed between the reads, one put", 100 << 10, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			ps := newPartSink(t, t.TempDir())
			p := newTestShipper(t, ps)
			data := heapLike(int(tc.size), 8)
			err := upload(p, context.Background(), testArtifact(&changingFile{data: data, reads: map[int64]int{}}, int64(len(data)), mod, tc.part))
			if !errors.Is(err, ErrChanged) {
				t.Fatalf("got %v", err)
			}
			var keys []string
			ps.List(context.Background(), "", func(oi sinks.ObjectInfo) error { keys = append(keys, oi.Key); return nil })
			if len(keys) != 0 {
				t.Fatalf("object stored: %v", keys)
			}
		})
	}
	t.Run("refused", func(t *testing.T) {
		p := newTestShipper(t, newPartSink(t, t.TempDir()))
		a := testArtifact(nil, 1, mod, 0)
		a.ID = "../x"
		if err := upload(p, context.Background(), a); !errors.Is(err, ErrRefused) {
			t.Fatalf("got %v", err)
		}
	})
}

// zeroFile is a large file of zeros that takes no memory.
type zeroFile struct{ size int64 }

func (z zeroFile) ReadAt(b []byte, off int64) (int, error) {
	if off >= z.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(b)), z.size-off))
	clear(b[:n])
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// putOnly hides the dir sink's multipart upload.
type putOnly struct{ d *dir.Sink }

func (s putOnly) Put(ctx context.Context, o *sinks.Object) error { return s.d.Put(ctx, o) }
func (s putOnly) Close() error                                   { return nil }

func TestArtifactWithoutMultipart(t *testing.T) {
	d, err := dir.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := newTestShipper(t, putOnly{d})
	data := heapLike(900<<10, 9)
	f, mod := writeArtifact(t, data)
	if err := upload(p, context.Background(), testArtifact(f, int64(len(data)), mod, 128<<10)); err != nil {
		t.Fatal(err)
	}
	if _, _, raw, _ := readObject(t, d); !bytes.Equal(raw, data) {
		t.Fatal("bytes differ")
	}
	err = upload(p, context.Background(), testArtifact(zeroFile{MaxPut + 1}, MaxPut+1, mod, 0))
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("large artifact without multipart: %v", err)
	}
}

// gateSink holds every Put (the chunks of a pipeline) until gate is
// closed; parts of multipart uploads pass.
type gateSink struct {
	*dir.Sink
	gate  chan struct{}
	inPut atomic.Int64
}

func (g *gateSink) Put(ctx context.Context, o *sinks.Object) error {
	g.inPut.Add(1)
	defer g.inPut.Add(-1)
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Sink.Put(ctx, o)
}

// Artifacts do not wait for chunk slots: with the sink refusing to finish
// any chunk (every slot of the pipeline on the same sink taken), an
// artifact still ships.
func TestArtifactNotBehindChunks(t *testing.T) {
	d, err := dir.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	gs := &gateSink{Sink: d, gate: make(chan struct{})}
	defer close(gs.gate)
	const slots = 2
	p, err := pipeline.New(pipeline.Options{App: "app", Host: "host", Sink: gs, Uploaders: slots,
		Config: pipeline.Config{StateDir: t.TempDir(), MaxBytes: 16 << 10, MaxAge: schema.Duration(50 * time.Millisecond), MaxInFlight: slots},
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	defer p.Close()
	s := p.Emitter("files").Open(pipeline.StreamInfo{ID: "app.log-0000000000000000", Kind: archive.KindFile, Path: "/logs/app.log", Unit: archive.UnitBytes}, 0)
	data := lines(2000, "x")
	wctx, stopWriter := context.WithCancel(context.Background())
	defer stopWriter()
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for off := 0; off < len(data); off += 4000 {
			end := min(off+4000, len(data))
			if s.Write(wctx, pipeline.Piece{Start: int64(off), End: int64(end), Data: data[off:end]}) != nil {
				return
			}
		}
	}()
	// A chunk in Put holds its slot.
	waitFor(t, "every chunk slot taken", func() bool { return gs.inPut.Load() == slots })
	art := heapLike(400<<10, 10)
	f, mod := writeArtifact(t, art)
	done := make(chan error, 1)
	go func() {
		done <- upload(newTestShipper(t, gs), context.Background(), testArtifact(f, int64(len(art)), mod, 128<<10))
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("artifact waited behind chunks")
	}
	stopWriter()
	<-writerDone
}

// The rate limit is a floor on the time an artifact takes: 1 MiB at
// 2 MiB/s, less the burst, cannot take less than 0.3 s.
func TestArtifactRateLimit(t *testing.T) {
	ps := newPartSink(t, t.TempDir())
	p := newTestShipper(t, ps)
	data := heapLike(1<<20, 11)
	f, mod := writeArtifact(t, data)
	a := testArtifact(f, int64(len(data)), mod, 256<<10)
	a.RateLimit = 2 << 20
	start := time.Now()
	if err := upload(p, context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Fatalf("1 MiB at 2 MiB/s took %v", took)
	}
}

// Stopping the caller (the source's context ends: the agent stops, or
// the pipeline's drain gave up) stops an artifact upload in flight.
func TestArtifactStopsWithCaller(t *testing.T) {
	ps := newPartSink(t, t.TempDir())
	p := newTestShipper(t, ps)
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	var once sync.Once
	ps.onPart = func(int) error {
		once.Do(func() { close(started) })
		<-ctx.Done()
		return ctx.Err()
	}
	data := heapLike(600<<10, 12)
	f, mod := writeArtifact(t, data)
	done := make(chan error, 1)
	go func() {
		done <- upload(p, ctx, testArtifact(f, int64(len(data)), mod, 128<<10))
	}()
	<-started
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("artifact shipped after the caller stopped")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("artifact upload did not stop")
	}
}
