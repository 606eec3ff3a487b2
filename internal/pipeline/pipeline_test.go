package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/schema"
	"github.com/logship/logship/internal/sinks"
	"github.com/logship/logship/internal/sinks/dir"
)

// flakySink embeds the dir sink and fails or blocks on cue.
type flakySink struct {
	*dir.Sink
	failNext atomic.Int64 // fail this many Puts
	down     atomic.Bool  // fail every Put
	gate     chan struct{}
	puts     atomic.Int64
	inPut    atomic.Int64
	maxInPut atomic.Int64
}

func (f *flakySink) Put(ctx context.Context, o *sinks.Object) error {
	n := f.inPut.Add(1)
	defer f.inPut.Add(-1)
	for {
		m := f.maxInPut.Load()
		if n <= m || f.maxInPut.CompareAndSwap(m, n) {
			break
		}
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f.down.Load() {
		return errors.New("injected outage")
	}
	if f.failNext.Add(-1) >= 0 {
		return errors.New("injected failure")
	}
	f.puts.Add(1)
	return f.Sink.Put(ctx, o)
}

func newTestPipeline(t *testing.T, sink sinks.Sink, mut func(*Options)) *Pipeline {
	t.Helper()
	o := Options{App: "app", Host: "host", Sink: sink,
		Config: Config{StateDir: filepath.Join(t.TempDir(), "state"), MaxBytes: 64 << 10, MaxAge: schema.Duration(50 * time.Millisecond),
			MaxInFlight: 4, CheckpointInterval: schema.Duration(20 * time.Millisecond), RetryRefused: schema.Duration(5 * time.Millisecond)},
		Retry: Retry{Initial: time.Millisecond, Max: 5 * time.Millisecond},
		Log:   slog.New(slog.NewTextHandler(io.Discard, nil))}
	if mut != nil {
		mut(&o)
	}
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newFlaky(t *testing.T) *flakySink {
	d, err := dir.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &flakySink{Sink: d}
}

func lines(n int, tag string) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "2026-11-26 10:00:00,%03d INFO [%s] request %d done \x00\xff\n", i%1000, tag, i)
	}
	return b.Bytes()
}

// readBack reassembles every stream in a dir sink.
func readBack(t *testing.T, d *dir.Sink) map[string][]byte {
	t.Helper()
	type ref struct {
		h   *archive.Header
		key string
	}
	var refs []ref
	raws := map[string][]byte{}
	err := d.List(context.Background(), "", func(oi sinks.ObjectInfo) error {
		rc, _, err := d.Get(context.Background(), oi.Key)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		h, raw, err := archive.Decode(b, archive.Limits{})
		if err != nil {
			return fmt.Errorf("%s: %w", oi.Key, err)
		}
		if archive.Key("", h) != oi.Key {
			return fmt.Errorf("key %s does not match its header (%s)", oi.Key, archive.Key("", h))
		}
		raws[oi.Key] = raw
		refs = append(refs, ref{h, oi.Key})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, p := range archive.Plan(refs, func(r ref) *archive.Header { return r.h }) {
		if len(p.Gaps) > 0 {
			t.Fatalf("stream %s has gaps %+v", p.ID, p.Gaps)
		}
		var b []byte
		for _, st := range p.Steps {
			part, err := p.Apply(st, raws[st.Chunk.key])
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, part...)
		}
		out[p.ID] = b
	}
	return out
}

func writeAll(t *testing.T, s StreamWriter, start int64, data []byte, piece int) {
	t.Helper()
	for off := 0; off < len(data); off += piece {
		end := min(off+piece, len(data))
		p := Piece{Start: start + int64(off), End: start + int64(end), Data: data[off:end], Lines: int64(bytes.Count(data[off:end], []byte{'\n'}))}
		if err := s.Write(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
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

func TestDeliversExactBytes(t *testing.T) {
	for _, codec := range []string{archive.CodecZstd, archive.CodecGzip} {
		t.Run(codec, func(t *testing.T) {
			fs := newFlaky(t)
			fs.failNext.Store(5) // retried transparently
			p := newTestPipeline(t, fs, func(o *Options) { o.Compression = codec })
			p.Start()
			em := p.Emitter("files")
			want := map[string][]byte{}
			var wg sync.WaitGroup
			for i := 0; i < 3; i++ {
				id := fmt.Sprintf("s%d-0000000000000000", i)
				data := lines(3000+i*500, id)
				want[id] = data
				s := em.Open(StreamInfo{ID: id, Kind: archive.KindFile, Path: "/logs/" + id, Unit: archive.UnitBytes}, 0)
				wg.Add(1)
				go func() { defer wg.Done(); writeAll(t, s, 0, data, 7000) }()
			}
			wg.Wait()
			if err := p.Drain(context.Background()); err != nil {
				t.Fatal(err)
			}
			p.Close()
			got := readBack(t, fs.Sink)
			for id, w := range want {
				if !bytes.Equal(got[id], w) {
					t.Fatalf("stream %s: got %d bytes, want %d", id, len(got[id]), len(w))
				}
			}
			// The checkpoint says everything is durable.
			p2 := newTestPipeline(t, fs, func(o *Options) { o.StateDir = p.o.StateDir })
			cps, first := p2.Emitter("files").Checkpoints()
			if first || len(cps) != 3 {
				t.Fatalf("checkpoints %+v first %v", cps, first)
			}
			for _, cp := range cps {
				if cp.Committed != int64(len(want[cp.Info.ID])) {
					t.Fatalf("%s committed %d, want %d", cp.Info.ID, cp.Committed, len(want[cp.Info.ID]))
				}
			}
		})
	}
}

// gatedPipeline is a started pipeline of 3 chunks of 16 KiB in flight whose
// sink blocks every Put until fs.gate is closed, and stream a-1 opened at
// start.
func gatedPipeline(t *testing.T, start int64) (*flakySink, *Pipeline, StreamWriter) {
	fs := newFlaky(t)
	fs.gate = make(chan struct{})
	p := newTestPipeline(t, fs, func(o *Options) { o.MaxInFlight = 3; o.MaxBytes = 16 << 10 })
	p.Start()
	return fs, p, p.Emitter("files").Open(StreamInfo{ID: "a-1", Kind: archive.KindFile, Unit: archive.UnitBytes}, start)
}

// The checkpoint never covers data that is not durable, and a stuck sink
// stops the writers (backpressure) with bounded chunks in flight.
func TestBackpressureAndCheckpointOnlyOnAck(t *testing.T) {
	fs, p, s := gatedPipeline(t, 100)
	data := lines(5000, "bp")
	done := make(chan struct{})
	var written atomic.Int64
	go func() {
		defer close(done)
		for off := 0; off < len(data); off += 4096 {
			end := min(off+4096, len(data))
			if err := s.Write(context.Background(), Piece{Start: 100 + int64(off), End: 100 + int64(end), Data: data[off:end]}); err != nil {
				return
			}
			written.Store(int64(end))
		}
	}()
	// The writer must stall: at most MaxInFlight chunks of MaxBytes (here
	// a compressed body's buffer, 64 KiB, is larger than a raw chunk).
	waitFor(t, "writer to stall", func() bool { return written.Load() > 0 && p.budget.available() == 0 })
	stalled := written.Load()
	if stalled > 3*(16<<10)+4096 {
		t.Fatalf("writer got %d bytes ahead with 3 chunks of 16KiB in flight", stalled)
	}
	if c := s.Committed(); c != 100 {
		t.Fatalf("committed %d before any ack", c)
	}
	close(fs.gate)
	<-done
	if err := p.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c := s.Committed(); c != 100+int64(len(data)) {
		t.Fatalf("committed %d, want %d", c, 100+len(data))
	}
}

// A chunk that waits on the sink holds its compressed body only: the raw
// buffer goes back to the free list once the chunk is compressed, so an
// outage costs max_in_flight compressed chunks of memory, not raw ones.
func TestStuckChunksReleaseRawBuffers(t *testing.T) {
	fs, p, s := gatedPipeline(t, 0)
	data := lines(5000, "raw")
	done := make(chan struct{})
	go func() {
		defer close(done)
		writeAll(t, s, 0, data, 4096)
	}()
	waitFor(t, "three chunks waiting on the sink", func() bool { return fs.inPut.Load() == 3 })
	// The sink holds all three: their raw buffers must all come back (a
	// timeout here is the failure; read at once, the third was seen
	// missing under -race and load).
	waitFor(t, "3 raw buffers back on the free list while 3 compressed chunks wait on the sink", func() bool { return len(p.rawFree) == 3 })
	if n := fs.inPut.Load(); n != 3 {
		t.Fatalf("%d chunks in the sink's Put, want the 3 that filled the budget", n)
	}
	openGate(t, fs, p, done, data)
}

// openGate lets the gated sink take what waits, waits for the writer to
// finish (done), drains p and checks that stream a-1 holds data.
func openGate(t *testing.T, fs *flakySink, p *Pipeline, done chan struct{}, data []byte) {
	t.Helper()
	close(fs.gate)
	<-done
	if err := p.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := readBack(t, fs.Sink)["a-1"]; !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, want the %d written", len(got), len(data))
	}
}

// A chunk waiting on the sink holds its compressed size of the budget,
// not max_bytes: with logs that compress well, the writer goes on filling
// chunks while the sink is slow, and still stops once the compressed
// chunks waiting on it fill max_in_flight × max_bytes.
func TestStuckChunksHoldTheirCompressedSize(t *testing.T) {
	const maxBytes, inFlight = 256 << 10, 3
	fs := newFlaky(t)
	fs.gate = make(chan struct{})
	p := newTestPipeline(t, fs, func(o *Options) { o.MaxInFlight = inFlight; o.MaxBytes = maxBytes })
	p.Start()
	s := p.Emitter("files").Open(StreamInfo{ID: "a-1", Kind: archive.KindFile, Unit: archive.UnitBytes}, 0)
	data := lines(200000, "cz") // about 14 MiB, compressing well over 4x
	done := make(chan struct{})
	var written atomic.Int64
	go func() {
		defer close(done)
		for off := 0; off < len(data); off += 16 << 10 {
			end := min(off+16<<10, len(data))
			if err := s.Write(context.Background(), Piece{Start: int64(off), End: int64(end), Data: data[off:end]}); err != nil {
				return
			}
			written.Store(int64(end))
		}
	}()
	// Were every chunk to hold max_bytes until the sink has it, at most 3
	// would exist; each compressed one holds max_bytes/bodyShare, so the
	// budget takes up to max_in_flight × bodyShare of them, less those
	// whose room a new raw chunk would need (a timeout here is the
	// failure).
	waiting := func() int64 { return fs.inPut.Load() + int64(len(p.uploadQ)) }
	waitFor(t, "more compressed chunks waiting than max_in_flight", func() bool { return waiting() >= inFlight+2 })
	// Each waiting chunk holds at least max_bytes/bodyShare: the writer
	// is at most max_in_flight × bodyShare chunks and an open one ahead.
	if limit, got := int64(inFlight*bodyShare+1)*maxBytes, written.Load(); got > limit {
		t.Fatalf("writer got %d bytes ahead, more than the budget allows (%d)", got, limit)
	}
	time.Sleep(100 * time.Millisecond) // were the budget not holding, more would come
	if n := waiting(); n > inFlight*bodyShare {
		t.Fatalf("%d chunks wait on the sink, more than the budget allows", n)
	}
	openGate(t, fs, p, done, data)
}

// A sink that is down at shutdown: Drain gives up at its deadline and the
// checkpoint stays where the durable data ends.
func TestDrainDeadlineKeepsCheckpoint(t *testing.T) {
	fs := newFlaky(t)
	p := newTestPipeline(t, fs, nil)
	p.Start()
	s := p.Emitter("files").Open(StreamInfo{ID: "a-1", Kind: archive.KindFile, Unit: archive.UnitBytes}, 0)
	first := lines(10, "ok")
	writeAll(t, s, 0, first, len(first))
	s.Flush()
	waitFor(t, "first chunk durable", func() bool { return s.Committed() == int64(len(first)) })
	fs.down.Store(true)
	more := lines(10, "lost-for-now")
	writeAll(t, s, int64(len(first)), more, len(more))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := p.Drain(ctx); err == nil {
		t.Fatal("Drain succeeded with the sink down")
	}
	p2 := newTestPipeline(t, fs, func(o *Options) { o.StateDir = p.o.StateDir })
	cps, _ := p2.Emitter("files").Checkpoints()
	if len(cps) != 1 || cps[0].Committed != int64(len(first)) {
		t.Fatalf("checkpoint %+v, want committed %d", cps, len(first))
	}
}

// Chunks acknowledged out of order advance the checkpoint only over the
// contiguous prefix; a known gap (a jump) is passed over.
func TestTrackerOutOfOrder(t *testing.T) {
	p := newTestPipeline(t, newFlaky(t), nil)
	s := newStreamWriter(p, "k", StreamInfo{ID: "k"}, 10)
	s.sealed = []*sealedRange{{start: 10, end: 20}, {start: 20, end: 30}, {start: 50, end: 60}}
	s.ack(20, 30)
	if s.committed != 10 {
		t.Fatalf("committed %d after out-of-order ack", s.committed)
	}
	s.ack(10, 20)
	if s.committed != 30 {
		t.Fatalf("committed %d", s.committed)
	}
	s.ack(50, 60)
	if s.committed != 60 {
		t.Fatalf("committed %d across a gap", s.committed)
	}
}

// A crash between writing the temporary checkpoint and renaming it leaves
// the previous state intact; the leftover is cleaned at the next start.
func TestCheckpointCrashBeforeRename(t *testing.T) {
	dirp := t.TempDir()
	st, err := OpenStore(dirp)
	if err != nil {
		t.Fatal(err)
	}
	old := []savedEntry{{Source: "f", ID: "a", Unit: "bytes", Committed: 100}}
	if err := st.Save(old); err != nil {
		t.Fatal(err)
	}
	crash := errors.New("killed")
	st.beforeRename = func(tmp string) error { return crash }
	if err := st.Save([]savedEntry{{Source: "f", ID: "a", Unit: "bytes", Committed: 999}}); !errors.Is(err, crash) {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(dirp, "*.tmp*")); len(m) != 1 {
		t.Fatalf("expected the temp file of the interrupted save, got %v", m)
	}
	st2, err := OpenStore(dirp)
	if err != nil {
		t.Fatal(err)
	}
	got, exists, err := st2.Load()
	if err != nil || !exists || len(got) != 1 || got[0].Committed != 100 {
		t.Fatalf("after crash: %+v %v %v", got, exists, err)
	}
	if m, _ := filepath.Glob(filepath.Join(dirp, "*.tmp*")); len(m) != 0 {
		t.Fatalf("temp files left: %v", m)
	}
	// A torn or foreign file is moved aside, not trusted.
	os.WriteFile(filepath.Join(dirp, checkpointFile), []byte(`{"version":1,"streams":[{"id":`), 0o644)
	if _, exists, err := st2.Load(); !errors.Is(err, ErrCheckpoint) || !exists {
		t.Fatalf("torn file: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(dirp, "*.corrupt-*")); len(m) != 1 {
		t.Fatal("corrupt file not kept aside")
	}
}

// Many idle streams cannot hold every in-flight slot: a writer needing one
// seals the oldest open batch instead of waiting for max_age.
func TestManyStreamsDoNotStarve(t *testing.T) {
	fs := newFlaky(t)
	p := newTestPipeline(t, fs, func(o *Options) { o.MaxInFlight = 2; o.MaxAge = schema.Duration(time.Hour) })
	p.Start()
	em := p.Emitter("files")
	for i := 0; i < 20; i++ {
		s := em.Open(StreamInfo{ID: fmt.Sprintf("s-%d", i), Kind: archive.KindFile, Unit: archive.UnitBytes}, 0)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.Write(ctx, Piece{Start: 0, End: 2, Data: []byte("x\n"), Lines: 1}); err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
		cancel()
	}
	if err := p.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(readBack(t, fs.Sink)); got != 20 {
		t.Fatalf("%d streams stored, want 20", got)
	}
}

// Writers sealing batches while checkpoints are saved and streams opened:
// the lock order (pipeline, then stream; the open-batch registry a leaf)
// must not deadlock. Found as an agent that stopped archiving.
func TestNoDeadlockUnderCheckpointing(t *testing.T) {
	fs := newFlaky(t)
	p := newTestPipeline(t, fs, func(o *Options) {
		o.CheckpointInterval = schema.Duration(time.Millisecond)
		o.MaxAge = schema.Duration(time.Millisecond)
		o.MaxBytes = 64 << 10
	})
	p.Start()
	em := p.Emitter("files")
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				s := em.Open(StreamInfo{ID: fmt.Sprintf("w%d-%d", w, i%7), Kind: archive.KindFile, Unit: archive.UnitBytes}, 0)
				pos := s.(*streamWriter).next
				if err := s.Write(context.Background(), Piece{Start: pos, End: pos + 2, Data: []byte("x\n"), Lines: 1}); err != nil {
					t.Error(err)
					return
				}
				if i%10 == 0 {
					p.SaveCheckpoint()
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("writers deadlocked")
	}
	if err := p.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Forget drops an entry loaded from the checkpoint and not opened in this
// run (a file gone, a kernel log of an earlier boot), and keeps a stream a
// source has open.
func TestForgetRetention(t *testing.T) {
	fs := newFlaky(t)
	p := newTestPipeline(t, fs, nil)
	p.Start()
	em := p.Emitter("kmsg")
	for _, id := range []string{"old-boot", "this-boot"} {
		writeAll(t, em.Open(StreamInfo{ID: id, Kind: archive.KindKmsg, Unit: archive.UnitBytes}, 0), 0, lines(10, id), 1000)
	}
	if err := p.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.Close()

	p2 := newTestPipeline(t, fs, func(o *Options) { o.StateDir = p.o.StateDir })
	p2.Start()
	em2 := p2.Emitter("kmsg")
	open := em2.Open(StreamInfo{ID: "this-boot", Kind: archive.KindKmsg, Unit: archive.UnitBytes}, 0)
	em2.Forget("old-boot")  // loaded, never opened: dropped
	em2.Forget("this-boot") // open: kept
	writeAll(t, open, open.Committed(), lines(5, "more"), 1000)
	if err := p2.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	p2.Close()

	p3 := newTestPipeline(t, fs, func(o *Options) { o.StateDir = p.o.StateDir })
	cps, _ := p3.Emitter("kmsg").Checkpoints()
	var ids []string
	for _, cp := range cps {
		ids = append(ids, cp.Info.ID)
	}
	if len(ids) != 1 || ids[0] != "this-boot" {
		t.Fatalf("checkpoint entries %v, want only this-boot", ids)
	}
}
