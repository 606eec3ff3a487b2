package file

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/logship/logship/internal/pipeline/pipelinetest"
	"github.com/logship/logship/internal/schema"
)

// waitFor is the deadline of every poll in these tests.
const waitFor = 20 * time.Second

// testConfig is a config with small intervals for tests.
func testConfig(t *testing.T, paths ...string) Config {
	return Config{
		Paths:            paths,
		ScanInterval:     schema.Duration(20 * time.Millisecond),
		PartialLineAfter: schema.Duration(150 * time.Millisecond),
		ReadBufferBytes:  4096,
		MaxLineBytes:     64 << 10,
	}
}

// logBuffer collects log output.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// count returns how many log lines contain all of subs.
func (l *logBuffer) count(subs ...string) int {
	n := 0
	for _, line := range strings.Split(l.String(), "\n") {
		ok := line != ""
		for _, s := range subs {
			ok = ok && strings.Contains(line, s)
		}
		if ok {
			n++
		}
	}
	return n
}

// harness runs one Source against one emitter.
type harness struct {
	t      *testing.T
	src    *Source
	em     *pipelinetest.Emitter
	logs   *logBuffer
	cancel context.CancelFunc
	done   chan error
	base   map[*metrics.Counter]uint64 // counters are per source name: tests use deltas
}

// delta is how much c grew since the harness started.
func (h *harness) delta(c *metrics.Counter) uint64 { return c.Get() - h.base[c] }

// newSource builds a Source with a captured log.
// It is named after the test.
func newSource(t *testing.T, cfg Config) (*Source, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	src, err := New(strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()), cfg, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return src, logs
}

// run starts src on em; the source is stopped at the end of the test.
func run(t *testing.T, src *Source, logs *logBuffer, em *pipelinetest.Emitter) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, src: src, em: em, logs: logs, cancel: cancel, done: make(chan error, 1), base: map[*metrics.Counter]uint64{}}
	m := src.m
	for _, c := range []*metrics.Counter{m.bytesRead, m.linesSplit, m.partialLines, m.bytesAbandon, m.rotations, m.truncations, m.copies, m.readErrors, m.streamsOpened} {
		h.base[c] = c.Get()
	}
	go func() { h.done <- src.Run(ctx, em) }()
	t.Cleanup(func() {
		h.stop()
		if t.Failed() {
			t.Logf("source log:\n%s", logs.String())
		}
	})
	return h
}

// start is newSource + run on a fresh (first start) emitter.
func start(t *testing.T, cfg Config) *harness {
	t.Helper()
	src, logs := newSource(t, cfg)
	return run(t, src, logs, pipelinetest.New())
}

// stop cancels Run and checks it returns nil promptly. Safe twice.
func (h *harness) stop() {
	h.t.Helper()
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run returned %v", err)
		}
	case <-time.After(5 * time.Second):
		h.t.Errorf("Run did not return within 5s of cancel")
	}
}

// waitScans waits until the source has done n more scans.
func (h *harness) waitScans(n int64) {
	h.t.Helper()
	target := h.src.scans.Load() + n
	if !h.em.Wait(waitFor, func() bool { return h.src.scans.Load() >= target }) {
		h.t.Fatalf("fewer than %d scans in %v", n, waitFor)
	}
}

// contents returns the bytes of every non-empty stream, sorted, failing on
// a gap or overlap inside a stream.
func (h *harness) contents() ([][]byte, error) {
	var out [][]byte
	for id, s := range h.em.Streams() {
		b, err := s.Bytes()
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", id, err)
		}
		if len(b) > 0 {
			out = append(out, b)
		}
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i], out[j]) < 0 })
	return out, nil
}

// waitContents waits until the non-empty streams hold exactly want (in any
// order), and reports the difference if they never do.
func (h *harness) waitContents(want ...[]byte) {
	h.t.Helper()
	var w [][]byte
	for _, b := range want {
		if len(b) > 0 {
			w = append(w, b)
		}
	}
	sort.Slice(w, func(i, j int) bool { return bytes.Compare(w[i], w[j]) < 0 })
	var got [][]byte
	var err error
	total := 0
	for _, b := range w {
		total += len(b)
	}
	ok := h.em.Wait(waitFor, func() bool {
		n := 0 // cheap check first: the byte count
		for _, s := range h.em.Streams() {
			for _, p := range s.Pieces() {
				n += len(p.Data)
			}
		}
		if n < total {
			return false
		}
		got, err = h.contents()
		if err != nil || len(got) != len(w) {
			return false
		}
		for i := range got {
			if !bytes.Equal(got[i], w[i]) {
				return false
			}
		}
		return true
	})
	if ok {
		return
	}
	if err != nil {
		h.t.Fatalf("streams: %v", err)
	}
	h.t.Fatalf("streams never matched:\n%s", diffContents(got, w))
}

func diffContents(got, want [][]byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "got %d streams, want %d\n", len(got), len(want))
	used := make([]bool, len(got))
	for _, w := range want {
		found := false
		for i, g := range got {
			if !used[i] && bytes.Equal(g, w) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			fmt.Fprintf(&b, "missing stream of %d bytes starting %q\n", len(w), head(w))
			for _, g := range got {
				if len(g) > 0 && len(w) > 0 && g[0] == w[0] && bytes.Equal(head(g), head(w)) {
					i := 0
					for i < len(g) && i < len(w) && g[i] == w[i] {
						i++
					}
					fmt.Fprintf(&b, "  closest got %d bytes, first difference at %d: got %q want %q\n", len(g), i, around(g, i), around(w, i))
				}
			}
		}
	}
	for i, g := range got {
		if !used[i] {
			fmt.Fprintf(&b, "unexpected stream of %d bytes starting %q\n", len(g), head(g))
		}
	}
	return b.String()
}

func head(b []byte) []byte { return b[:min(len(b), 40)] }

func around(b []byte, i int) []byte {
	if i >= len(b) {
		return nil
	}
	return b[i:min(len(b), i+40)]
}

// writeFile creates or replaces a file.
func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// appendFile appends to a file, creating it if needed.
func appendFile(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// lines returns n numbered lines tagged with tag.
func lines(tag string, from, n int) []byte {
	var b bytes.Buffer
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, "%s line %06d the quick brown fox jumps over the lazy dog\n", tag, i)
	}
	return b.Bytes()
}

// readAll reads a file.
func readAll(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fdsTo counts this process's descriptors open on path.
func fdsTo(t *testing.T, path string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	n := 0
	for _, e := range ents {
		l, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err == nil && (l == path || l == path+" (deleted)") {
			n++
		}
	}
	return n
}

// streamByPath returns the stream first seen at path (the newest
// generation if there are several), or nil.
func (h *harness) streamByPath(path string) *pipelinetest.RecordedStream {
	var best *pipelinetest.RecordedStream
	var bestGen = -1
	for _, s := range h.em.Streams() {
		if s.Info().Path != path {
			continue
		}
		id, _ := parseIdentity(s.Info().Meta)
		if id.Gen > bestGen {
			best, bestGen = s, id.Gen
		}
	}
	return best
}
