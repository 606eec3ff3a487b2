package file

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/logship/logship/internal/pipeline/pipelinetest"
	"github.com/logship/logship/internal/schema"
)

// liveWriter appends numbered lines to one path through a kept descriptor,
// like a logging framework.
type liveWriter struct {
	t    *testing.T
	path string
	f    *os.File
	n    int
}

func openWriter(t *testing.T, path string) *liveWriter {
	t.Helper()
	w := &liveWriter{t: t, path: path}
	w.reopen()
	return w
}

func (w *liveWriter) reopen() *os.File {
	w.t.Helper()
	old := w.f
	f, err := os.OpenFile(w.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		w.t.Fatal(err)
	}
	w.f = f
	return old
}

// write appends n lines tagged tag in batches, pacing a little so that the
// tailer reads while the file is written. It returns what it wrote.
func (w *liveWriter) write(f *os.File, tag string, n int) []byte {
	w.t.Helper()
	var all []byte
	for i := 0; i < n; i += 7 {
		b := lines(tag, w.n, min(7, n-i))
		w.n += min(7, n-i)
		if _, err := f.Write(b); err != nil {
			w.t.Fatal(err)
		}
		all = append(all, b...)
		if i%70 == 0 {
			time.Sleep(50 * time.Microsecond) // pacing, not waiting
		}
	}
	return all
}

// waitStreams waits until at least n streams exist.
func (h *harness) waitStreams(n int) {
	h.t.Helper()
	if !h.em.Wait(waitFor, func() bool { return len(h.em.Streams()) >= n }) {
		h.t.Fatalf("fewer than %d streams after %v (%d)", n, waitFor, len(h.em.Streams()))
	}
}

// TestRenameRotation: logback/log4j style. The live file is renamed, the
// writer keeps writing to the renamed file for a while, then creates a new
// live file. Every inode must come through exactly once, whole.
func TestRenameRotation(t *testing.T) {
	const rotations = 15
	tests := []struct {
		name   string
		glob   string
		rotate func(dir string, r int) // renames the live app.log away
		fast   bool                    // rotate without waiting for the tailer to see each file
	}{
		{"dated names in paths", "app*.log", func(dir string, r int) {
			rename(t, filepath.Join(dir, "app.log"), filepath.Join(dir, fmt.Sprintf("app-2026-11-26.%d.log", r)))
		}, false},
		{"fixed window in paths", "app.log*", func(dir string, r int) {
			for i := r; i >= 1; i-- {
				rename(t, filepath.Join(dir, fmt.Sprintf("app.log.%d", i)), filepath.Join(dir, fmt.Sprintf("app.log.%d", i+1)))
			}
			rename(t, filepath.Join(dir, "app.log"), filepath.Join(dir, "app.log.1"))
		}, false},
		{"renamed out of paths", "app.log", func(dir string, r int) {
			rename(t, filepath.Join(dir, "app.log"), filepath.Join(dir, fmt.Sprintf("archived.%d", r)))
		}, false},
		{"fast, dated names in paths", "app*.log", func(dir string, r int) {
			rename(t, filepath.Join(dir, "app.log"), filepath.Join(dir, fmt.Sprintf("app-2026-11-26.%d.log", r)))
		}, true},
		{"fast, fixed window in paths", "app.log*", func(dir string, r int) {
			for i := r; i >= 1; i-- {
				rename(t, filepath.Join(dir, fmt.Sprintf("app.log.%d", i)), filepath.Join(dir, fmt.Sprintf("app.log.%d", i+1)))
			}
			rename(t, filepath.Join(dir, "app.log"), filepath.Join(dir, "app.log.1"))
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			h := start(t, testConfig(t, filepath.Join(dir, tt.glob)))
			w := openWriter(t, filepath.Join(dir, "app.log"))
			var want [][]byte
			for r := 0; r <= rotations; r++ {
				tag := fmt.Sprintf("r%03d", r)
				c := w.write(w.f, tag, 300)
				if r == rotations {
					want = append(want, c)
					break
				}
				if !tt.fast {
					h.waitStreams(r + 1) // a file must exist for a scan to see it
				}
				tt.rotate(dir, r)
				c = append(c, w.write(w.f, tag+"-late", 50)...) // still writing to the renamed file
				old := w.reopen()
				c = append(c, w.write(old, tag+"-later", 20)...)
				if err := old.Close(); err != nil {
					t.Fatal(err)
				}
				want = append(want, c)
			}
			h.waitContents(want...)
			if got := len(h.em.Streams()); got != rotations+1 {
				t.Errorf("%d streams, want %d", got, rotations+1)
			}
			// Renamed files were released once read. (A file first seen
			// under its rotated name is an ordinary file: it stays open.)
			if !tt.fast && !h.em.Wait(waitFor, func() bool { return h.src.m.openFiles.Get() == 1 }) {
				t.Errorf("open files = %v, want 1 (the live file)", h.src.m.openFiles.Get())
			}
		})
	}
}

// TestJULRotation: java.util.logging style: app.0.log is renamed to
// app.1.log, app.1.log to app.2.log..., the last deleted; all names match.
func TestJULRotation(t *testing.T) {
	const count, rotations = 4, 10
	dir := t.TempDir()
	name := func(i int) string { return filepath.Join(dir, fmt.Sprintf("app.%d.log", i)) }
	h := start(t, testConfig(t, filepath.Join(dir, "app.*.log")))
	var want [][]byte
	for r := 0; r <= rotations; r++ {
		want = append(want, writeGeneration(t, name(0), fmt.Sprintf("jul%03d", r), 200))
		if r == rotations {
			break
		}
		h.waitStreams(r + 1)
		if err := os.Remove(name(count - 1)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for i := count - 2; i >= 0; i-- {
			if _, err := os.Stat(name(i)); err == nil {
				rename(t, name(i), name(i+1))
			}
		}
	}
	h.waitContents(want...)
	if got := len(h.em.Streams()); got != rotations+1 {
		t.Errorf("%d streams, want %d: renamed files were shipped again", got, rotations+1)
	}
	// The saved identity follows each file's current name.
	ok := h.em.Wait(waitFor, func() bool {
		for i := 0; i < count; i++ {
			b, err := os.ReadFile(name(i))
			if err != nil {
				return false
			}
			found := false
			for _, s := range h.em.Streams() {
				got, _ := s.Bytes()
				id, _ := parseIdentity(s.Info().Meta)
				if string(got) == string(b) && id.Path == name(i) {
					found = true
				}
			}
			if !found {
				return false
			}
		}
		return true
	})
	if !ok {
		t.Error("stream identities do not follow the renamed files")
	}
}

// copyTruncate does what logrotate's copytruncate does: shift the old
// copies, copy the live file to app.log.1, truncate the live file.
func copyTruncate(t *testing.T, p string, keep int) []byte {
	t.Helper()
	for i := keep - 1; i >= 1; i-- {
		from := fmt.Sprintf("%s.%d", p, i)
		if _, err := os.Stat(from); err == nil {
			rename(t, from, fmt.Sprintf("%s.%d", p, i+1))
		}
	}
	b := readAll(t, p)
	writeFile(t, p+".1", b)
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCopyTruncate(t *testing.T) {
	t.Run("continuous writer", func(t *testing.T) {
		const rotations = 10
		dir := t.TempDir()
		h := start(t, testConfig(t, filepath.Join(dir, "app.log*")))
		w := openWriter(t, filepath.Join(dir, "app.log"))
		var mu sync.Mutex
		gens := [][]byte{nil}
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				g := len(gens) - 1
				gens[g] = append(gens[g], w.write(w.f, fmt.Sprintf("g%03d", g), 14)...)
				mu.Unlock()
			}
		}()
		for r := 0; r < rotations; r++ {
			// Each generation gets some lines, and is seen, before the next.
			if !h.em.Wait(waitFor, func() bool {
				mu.Lock()
				n := len(gens[len(gens)-1])
				mu.Unlock()
				return n > 0 && len(h.em.Streams()) >= r+1
			}) {
				t.Fatalf("generation %d never seen", r)
			}
			mu.Lock()
			copied := copyTruncate(t, filepath.Join(dir, "app.log"), 3)
			if string(copied) != string(gens[len(gens)-1]) {
				t.Errorf("copy differs from what was written")
			}
			gens = append(gens, nil)
			mu.Unlock()
		}
		close(stop)
		<-done
		h.waitContents(gens...)
		want := rotations
		if len(gens[rotations]) > 0 {
			want++
		}
		if got := len(h.em.Streams()); got != want {
			t.Errorf("%d streams, want %d: copies were shipped", got, want)
		}
	})

	t.Run("unread bytes come through the copy", func(t *testing.T) {
		dir := t.TempDir()
		p := filepath.Join(dir, "app.log")
		h := start(t, testConfig(t, filepath.Join(dir, "app.log*")))
		first := lines("g0", 0, 100)
		appendFile(t, p, first)
		h.waitContents(first)
		h.em.SetBlock(true)
		unread := lines("g0", 100, 2000) // the tailer reads one block, then waits
		appendFile(t, p, unread)
		if !h.em.Wait(waitFor, func() bool { return h.em.Blocked() == 1 }) {
			t.Fatal("not blocked")
		}
		copied := copyTruncate(t, filepath.Join(dir, "app.log"), 2)
		next := lines("g1", 0, 10)
		appendFile(t, p, next)
		h.em.SetBlock(false)
		h.waitContents(copied, next)
		if n := h.delta(h.src.m.bytesAbandon); n != 0 {
			t.Errorf("abandoned %d bytes", n)
		}
	})

	t.Run("copy outside the paths", func(t *testing.T) {
		dir := t.TempDir()
		p := filepath.Join(dir, "app.log")
		h := start(t, testConfig(t, p))
		first := lines("g0", 0, 100)
		appendFile(t, p, first)
		h.waitContents(first)
		h.em.SetBlock(true)
		appendFile(t, p, lines("g0", 100, 2000))
		if !h.em.Wait(waitFor, func() bool { return h.em.Blocked() == 1 }) {
			t.Fatal("not blocked")
		}
		copied := copyTruncate(t, filepath.Join(dir, "app.log"), 2)
		next := lines("g1", 0, 10)
		appendFile(t, p, next)
		h.em.SetBlock(false)
		// The old generation ends where the truncation cut it; what it
		// had not read is counted as abandoned, never silent.
		var old []byte
		if !h.em.Wait(waitFor, func() bool {
			got, _ := h.contents()
			for _, b := range got {
				if string(b[:2]) == "g0" {
					old = b
				}
			}
			return len(got) == 2 && h.delta(h.src.m.bytesAbandon) == uint64(len(copied)-len(old))
		}) {
			t.Fatalf("abandoned = %d, want %d", h.delta(h.src.m.bytesAbandon), len(copied)-len(old))
		}
		if string(copied[:len(old)]) != string(old) {
			t.Error("old generation is not a prefix of the file")
		}
		h.waitContents(old, next)
	})
}

func TestTruncation(t *testing.T) {
	tests := []struct {
		name  string
		block bool // truncate and refill while the tailer is held in Write
		next  []byte
	}{
		{"shorter", false, lines("new", 0, 3)},
		{"longer", false, lines("new", 0, 500)},
		{"refilled past the offset while held", true, lines("new", 0, 500)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "app.log")
			h := start(t, testConfig(t, p))
			old := lines("old", 0, 50)
			appendFile(t, p, old)
			h.waitContents(old)
			if tt.block {
				h.em.SetBlock(true)
				more := lines("old", 50, 10)
				appendFile(t, p, more)
				old = append(old, more...)
				if !h.em.Wait(waitFor, func() bool { return h.em.Blocked() == 1 }) {
					t.Fatal("not blocked")
				}
			}
			if err := os.Truncate(p, 0); err != nil {
				t.Fatal(err)
			}
			appendFile(t, p, tt.next)
			h.em.SetBlock(false)
			h.waitContents(old, tt.next)
			if h.delta(h.src.m.truncations) == 0 {
				t.Error("truncation not counted")
			}
			ids := map[int]bool{}
			for _, s := range h.em.Streams() {
				id, _ := parseIdentity(s.Info().Meta)
				ids[id.Gen] = true
			}
			if !ids[0] || !ids[1] {
				t.Errorf("generations %v, want 0 and 1", ids)
			}
		})
	}
}

func TestDeletedFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.log")
	h := start(t, testConfig(t, p))
	c := lines("a", 0, 100)
	appendFile(t, p, c)
	h.waitContents(c)
	// Bytes written just before the deletion, not read yet, still come.
	h.em.SetBlock(true)
	more := lines("a", 100, 3000)
	appendFile(t, p, more)
	if !h.em.Wait(waitFor, func() bool { return h.em.Blocked() == 1 }) {
		t.Fatal("not blocked")
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	h.em.SetBlock(false)
	h.waitContents(append(c, more...))
	s := h.streamByPath(p)
	if !h.em.Wait(waitFor, func() bool { return s.Closed() && fdsTo(t, p) == 0 && h.src.m.openFiles.Get() == 0 }) {
		t.Errorf("closed=%v, descriptors on the file=%d, open gauge=%v", s.Closed(), fdsTo(t, p), h.src.m.openFiles.Get())
	}
}

func TestRotatedBounds(t *testing.T) {
	tests := []struct {
		name     string
		maxOpen  int
		keepOpen time.Duration
	}{
		{"max_rotated_open", 1, time.Hour},
		{"rotated_keep_open", 32, 150 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "app.log")
			cfg := testConfig(t, p)
			cfg.MaxRotatedOpen = tt.maxOpen
			cfg.RotatedKeepOpen = schema.Duration(tt.keepOpen)
			src, logs := newSource(t, cfg)
			g := &gate{headMax: 1024} // fingerprint_bytes: head reads pass, data reads are held
			src.openFile = g.open
			h := run(t, src, logs, pipelinetest.New())

			c0 := lines("f0", 0, 20)
			appendFile(t, p, c0)
			h.waitContents(c0)
			g.holdData.Store(true)
			u0 := lines("f0-unread", 0, 10)
			appendFile(t, p, u0)
			rename(t, p, filepath.Join(dir, "out.0"))
			want := [][]byte{c0}
			if tt.maxOpen == 1 {
				// A second rotated file exceeds the count: the oldest goes.
				c1 := lines("f1", 0, 30)
				appendFile(t, p, c1)
				h.waitStreams(2)
				u1 := lines("f1-unread", 0, 10)
				appendFile(t, p, u1)
				rename(t, p, filepath.Join(dir, "out.1"))
				want = append(want, append(c1, u1...))
			}
			if !h.em.Wait(waitFor, func() bool { return h.delta(h.src.m.bytesAbandon) == uint64(len(u0)) }) {
				t.Fatalf("abandoned = %d, want %d", h.delta(h.src.m.bytesAbandon), len(u0))
			}
			g.holdData.Store(false)
			h.waitContents(want...)
			if n := logs.count("abandoned", filepath.Join(dir, "out.0"), fmt.Sprintf("unread_bytes=%d", len(u0))); n != 1 {
				t.Errorf("%d abandon logs with path and byte count, want 1", n)
			}
			if n := h.delta(h.src.m.bytesAbandon); n != uint64(len(u0)) {
				t.Errorf("abandoned = %d, want %d", n, len(u0))
			}
		})
	}
}

// writeGeneration creates path, writes n known lines tagged tag to it and
// closes it, returning what was written (one JUL generation).
func writeGeneration(t *testing.T, path, tag string, n int) []byte {
	t.Helper()
	w := openWriter(t, path)
	b := w.write(w.f, tag, n)
	if err := w.f.Close(); err != nil {
		t.Fatal(err)
	}
	return b
}

func rename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

// TestJULRotationFast renames faster than the scans: all files stay in the
// paths, so each is still shipped once, whole.
func TestJULRotationFast(t *testing.T) {
	const rotations = 30
	dir := t.TempDir()
	name := func(i int) string { return filepath.Join(dir, fmt.Sprintf("app.%d.log", i)) }
	h := start(t, testConfig(t, filepath.Join(dir, "app.*.log")))
	var want [][]byte
	for r := 0; r <= rotations; r++ {
		want = append(want, writeGeneration(t, name(0), fmt.Sprintf("jul%03d", r), 50))
		if r == rotations {
			break
		}
		for i := r; i >= 0; i-- {
			rename(t, name(i), name(i+1))
		}
	}
	h.waitContents(want...)
	h.waitScans(3)
	h.waitContents(want...)
}

// TestSameHeaderNotACopy: files that only start alike (a banner longer
// than fingerprint_bytes) are different files, each shipped whole.
func TestSameHeaderNotACopy(t *testing.T) {
	banner := lines("=== application banner, version 1.2.3 ===", 0, 40) // ~4 KB
	dir := t.TempDir()
	a, b := append(clone(banner), lines("a", 0, 3)...), append(clone(banner), lines("b", 0, 5)...)
	writeFile(t, filepath.Join(dir, "a.log"), a)
	writeFile(t, filepath.Join(dir, "b.log"), b)
	h := start(t, testConfig(t, filepath.Join(dir, "*.log*")))
	h.waitContents(a, b)

	// A restarted JVM writes the same banner to a new gc.log after the old
	// one was rotated: the new file starts exactly like a released one.
	gc := filepath.Join(dir, "gc.log")
	old := append(clone(banner), lines("gc-old", 0, 10)...)
	writeFile(t, gc, old)
	h.waitContents(a, b, old)
	rename(t, gc, gc+".1")
	if !h.em.Wait(waitFor, func() bool { s := h.streamByPath(gc); return s != nil && s.Closed() }) {
		t.Fatal("rotated gc.log never released")
	}
	w := openWriter(t, gc)
	fresh := w.write(w.f, "", 0)
	if _, err := w.f.Write(banner); err != nil { // the banner first, the rest later
		t.Fatal(err)
	}
	fresh = append(fresh, banner...)
	h.waitScans(3)
	fresh = append(fresh, w.write(w.f, "gc-new", 10)...)
	h.waitContents(a, b, old, fresh)
}
