package control

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/schema"
	"github.com/logship/logship/internal/sinks"
	"github.com/logship/logship/internal/sinks/dir"
)

const testPrefix = "logs"

func newStore(t *testing.T) *dir.Sink {
	t.Helper()
	s, err := dir.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fakeTaker stores a small real bundle (tar.zst with manifest.json and
// host.txt) as a snapshot artifact, and counts what it was asked.
type fakeTaker struct {
	store     sinks.Sink
	app, host string
	mu        sync.Mutex
	taken     []Snapshot
	block     chan struct{} // non-nil: Take waits for it (or ctx)
	started   chan struct{} // closed when a Take begins, if non-nil
	fail      error
}

func (f *fakeTaker) Take(ctx context.Context, s Snapshot) (Bundle, error) {
	f.mu.Lock()
	f.taken = append(f.taken, s)
	f.mu.Unlock()
	if f.started != nil {
		close(f.started)
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return Bundle{}, ctx.Err()
		}
	}
	if f.fail != nil {
		return Bundle{}, f.fail
	}
	raw := testBundle(map[string]string{"manifest.json": `{"version":1,"host":"` + f.host + `"}`, "host.txt": f.host + " " + s.Note})
	name := "snapshot-20261206T000000Z-" + s.RequestID[:8] + ".tar.zst"
	now := time.Now().UTC()
	h := &archive.Header{V: archive.Version, App: f.app, Host: f.host, Source: archive.KindSnapshot, Path: name,
		Stream: strings.TrimSuffix(name, ".tar.zst"), Start: 0, End: int64(len(raw)), Unit: archive.UnitBytes,
		RawSize: int64(len(raw)), Checksum: archive.Checksum(raw), First: now, Last: now, Codec: archive.CodecZstd, Event: archive.EventSnapshot}
	enc, err := archive.NewEncoder()
	if err != nil {
		return Bundle{}, err
	}
	defer enc.Close()
	body, err := enc.Encode(nil, h, raw)
	if err != nil {
		return Bundle{}, err
	}
	key := archive.Key(testPrefix, h)
	if err := f.store.Put(ctx, &sinks.Object{Key: key, Body: body, Header: h}); err != nil {
		return Bundle{}, err
	}
	return Bundle{Path: name, Keys: []string{key}, Size: int64(len(raw))}, nil
}

func (f *fakeTaker) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.taken)
}

// testBundle is a tar.zst of files (sorted by name for determinism).
func testBundle(files map[string]string) []byte {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, n := range slices.Sorted(maps.Keys(files)) {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg})
		io.WriteString(tw, files[n])
	}
	tw.Close()
	return zstdBytes(tb.Bytes())
}

func zstdBytes(b []byte) []byte {
	e, _ := zstd.NewWriter(nil)
	defer e.Close()
	return e.EncodeAll(b, nil)
}

// logBuf is a concurrency-safe log sink for assertions on log lines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newPoller(t *testing.T, store Store, host, state string, ft *fakeTaker, lb *logBuf, mod ...func(*PollerOptions)) *Poller {
	t.Helper()
	var w io.Writer = io.Discard
	if lb != nil {
		w = lb
	}
	o := PollerOptions{Store: store, Prefix: testPrefix, App: "shop", Host: host, StateDir: state,
		Config: Config{PollInterval: ms(20)}, Snapshotter: ft, Log: slog.New(slog.NewTextHandler(w, nil))}
	for _, m := range mod {
		m(&o)
	}
	p, err := NewPoller(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ms(n int) schema.Duration { return schema.Duration(time.Duration(n) * time.Millisecond) }

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline
	}
}

func putRaw(t *testing.T, s Store, key, body string) {
	t.Helper()
	if err := s.Put(context.Background(), &sinks.Object{Key: key, Body: []byte(body)}); err != nil {
		t.Fatal(err)
	}
}

func mustf(t *testing.T, err error, format string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(format, args...), err)
	}
}

type (
	rcT = io.ReadCloser
	oiT = sinks.ObjectInfo
)

func zstdDecode(b []byte) ([]byte, error) {
	d, err := zstd.NewReader(nil)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.DecodeAll(b, nil)
}
