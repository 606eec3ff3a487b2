package kmsg

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"golang.org/x/sys/unix"

	"github.com/logship/logship/internal/pipeline/pipelinetest"
)

// testBoot is the boot time tests format timestamps against.
var testBoot = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

const testBootID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0" // testdata/boot_id

// fakeRing is a kernel ring buffer: records with increasing sequence
// numbers, the oldest dropped when "overwritten". Every open gets a reader
// that behaves like an open /dev/kmsg.
type fakeRing struct {
	mu      sync.Mutex
	recs    []fakeRec
	base    int64         // seq of the oldest record kept, or of the next one when empty
	changed chan struct{} // closed and replaced on every change
	opens   int
}

type fakeRec struct {
	seq int64
	raw []byte
}

func newRing(raws ...[]byte) *fakeRing {
	f := &fakeRing{changed: make(chan struct{})}
	f.push(raws...)
	return f
}

func (f *fakeRing) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// push appends records; their sequence numbers are read from their headers.
func (f *fakeRing) push(raws ...[]byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, raw := range raws {
		seq, err := strconv.ParseInt(string(bytes.SplitN(raw, []byte(","), 3)[1]), 10, 64)
		if err != nil {
			panic(fmt.Sprintf("fixture record %q: %v", raw, err))
		}
		if len(f.recs) == 0 {
			f.base = seq
		}
		f.recs = append(f.recs, fakeRec{seq: seq, raw: raw})
	}
	f.notifyLocked()
}

// overwrite drops the records with seq < upTo, as the kernel does when the
// ring is full.
func (f *fakeRing) overwrite(upTo int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.recs) > 0 && f.recs[0].seq < upTo {
		f.recs = f.recs[1:]
	}
	f.base = max(f.base, upTo)
	f.notifyLocked()
}

func (f *fakeRing) open(string) (Device, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opens++
	return &fakeReader{ring: f, next: f.base}, nil
}

// fakeReader is one open of the ring: one record per Read, EAGAIN when
// none is ready, EPIPE once when its next record was overwritten.
type fakeReader struct {
	ring   *fakeRing
	next   int64
	closed bool
}

func (r *fakeReader) Read(p []byte) (int, error) {
	f := r.ring
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.closed {
		return 0, unix.EBADF
	}
	if r.next < f.base {
		r.next = f.base
		return 0, unix.EPIPE
	}
	for _, rec := range f.recs {
		if rec.seq >= r.next {
			if len(p) < len(rec.raw) {
				return 0, unix.EINVAL
			}
			r.next = rec.seq + 1
			return copy(p, rec.raw), nil
		}
	}
	return 0, unix.EAGAIN
}

func (r *fakeReader) Wait(ctx context.Context) error {
	f := r.ring
	for {
		f.mu.Lock()
		ready := r.next < f.base || len(f.recs) > 0 && f.recs[len(f.recs)-1].seq >= r.next
		ch := f.changed
		f.mu.Unlock()
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

func (r *fakeReader) Close() error {
	r.ring.mu.Lock()
	r.closed = true
	r.ring.mu.Unlock()
	return nil
}

// splitRecords splits a fixture file into records: a record is a line
// plus the continuation lines (starting with a space) after it.
func splitRecords(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		line := b[:i+1]
		if i < 0 {
			line = b
		}
		b = b[len(line):]
		if len(out) > 0 && line[0] == ' ' {
			out[len(out)-1] = append(out[len(out)-1], line...)
		} else {
			out = append(out, append([]byte(nil), line...))
		}
	}
	return out
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rec makes a /dev/kmsg record.
func rec(seq int64, msg string) []byte {
	return fmt.Appendf(nil, "6,%d,%d,-;%s\n", seq, 1000000+seq, msg)
}

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeKlog is syslog(2): EPERM, or the current text of the buffer.
type fakeKlog struct {
	mu    sync.Mutex
	err   error
	text  []byte
	calls int
}

func (k *fakeKlog) set(text []byte) {
	k.mu.Lock()
	k.text = append([]byte(nil), text...)
	k.mu.Unlock()
}

func (k *fakeKlog) klogctl(typ int, buf []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls++
	if k.err != nil {
		return 0, k.err
	}
	switch typ {
	case syslogActionSizeBuffer:
		return len(k.text), nil
	case syslogActionReadAll:
		// Like the kernel: the newest text that fits.
		t := k.text
		if len(t) > len(buf) {
			t = t[len(t)-len(buf):]
		}
		return copy(buf, t), nil
	}
	return 0, unix.EINVAL
}

// harness is a source wired to fakes, with a unique name so its metrics
// start at zero.
type harness struct {
	src  *Source
	ring *fakeRing
	klog *fakeKlog
	logs *syncBuffer
}

var harnessN struct {
	sync.Mutex
	n int
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	harnessN.Lock()
	harnessN.n++
	name := fmt.Sprintf("kmsg-test-%d", harnessN.n)
	harnessN.Unlock()
	h := &harness{ring: newRing(), klog: &fakeKlog{}, logs: &syncBuffer{}}
	src, err := New(name, cfg, slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	src.OpenDevice = h.ring.open
	src.Klogctl = h.klog.klogctl
	src.BootIDPath = "testdata/boot_id"
	src.SelfCgroupPath = ""
	src.BootTime = testBoot
	src.Now = func() time.Time { return testBoot.Add(time.Hour) }
	src.PollInterval = 2 * time.Millisecond
	h.src = src
	return h
}

// counter returns one of the source's metrics.
func (h *harness) counter(name string) uint64 {
	return metrics.GetOrCreateCounter(fmt.Sprintf("%s{source=%q}", name, h.src.Name())).Get()
}

// start runs the source until the returned stop is called (or the test
// ends); stop returns Run's error and fails the test if Run hangs.
func (h *harness) start(t *testing.T, em *pipelinetest.Emitter) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.src.Run(ctx, em) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return after cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// waitStream waits until the stream id exists and cond holds for it.
func waitStream(t *testing.T, em *pipelinetest.Emitter, id string, cond func(s *pipelinetest.RecordedStream) bool) *pipelinetest.RecordedStream {
	t.Helper()
	var s *pipelinetest.RecordedStream
	ok := em.Wait(10*time.Second, func() bool {
		s = em.Streams()[id]
		return s != nil && cond(s)
	})
	if !ok {
		var got string
		if s != nil {
			b, _ := s.Bytes()
			got = fmt.Sprintf("pieces %v, data:\n%s", pieceRanges(s), b)
		}
		t.Fatalf("stream %s: condition not met before the deadline; %s", id, got)
	}
	return s
}

// reaches is a waitStream condition: the stream's last piece ends at end.
func reaches(end int64) func(s *pipelinetest.RecordedStream) bool {
	return func(s *pipelinetest.RecordedStream) bool {
		p := s.Pieces()
		return len(p) > 0 && p[len(p)-1].End >= end
	}
}

func pieceRanges(s *pipelinetest.RecordedStream) [][2]int64 {
	var out [][2]int64
	for _, p := range s.Pieces() {
		out = append(out, [2]int64{p.Start, p.End})
	}
	return out
}

// concat joins the data of all pieces, gaps or not.
func concat(s *pipelinetest.RecordedStream) []byte {
	var b []byte
	for _, p := range s.Pieces() {
		b = append(b, p.Data...)
	}
	return b
}

// format formats raw records as the source would.
func format(t testing.TB, raws ...[]byte) []byte {
	t.Helper()
	var out []byte
	for _, raw := range raws {
		r, err := parseRecord(raw)
		if err != nil {
			t.Fatal(err)
		}
		out = appendLine(out, &r, testBoot)
	}
	return out
}
