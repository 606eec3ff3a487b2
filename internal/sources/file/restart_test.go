package file

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/logship/logship/internal/pipeline/pipelinetest"
)

// ackAll acknowledges everything written so far on every stream.
func ackAll(em *pipelinetest.Emitter) {
	for _, s := range em.Streams() {
		s.Ack()
	}
}

// The sources' shared at-least-once suite, on one growing file.
func TestAtLeastOnceSuite(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, filepath.Join(dir, "*.log"))
	path := filepath.Join(dir, "app.log")
	var size int64
	pipelinetest.RunAtLeastOnce(t, pipelinetest.AtLeastOnce{
		Start: func(t *testing.T, em *pipelinetest.Emitter) func() error {
			src, logs := newSource(t, cfg)
			h := run(t, src, logs, em)
			return func() error { h.stop(); return nil }
		},
		Feed: func(t *testing.T, part int) int64 {
			b := lines("app", part*30, 30)
			appendFile(t, path, b)
			size += int64(len(b))
			return size
		},
	})
}

// TestRestartAtLeastOnce: nack some, restart, get exactly those again.
func TestRestartAtLeastOnce(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, filepath.Join(dir, "*.log"))
	em := pipelinetest.New()
	em.AutoAck = false
	src, logs := newSource(t, cfg)
	h := run(t, src, logs, em)

	a1, b1, b2, c1 := lines("a", 0, 50), lines("b", 0, 40), lines("b", 40, 30), lines("c", 0, 20)
	appendFile(t, filepath.Join(dir, "a.log"), a1)
	appendFile(t, filepath.Join(dir, "b.log"), b1)
	h.waitContents(a1, b1)
	ackAll(em) // a and b1 are durable
	appendFile(t, filepath.Join(dir, "b.log"), b2)
	appendFile(t, filepath.Join(dir, "c.log"), c1)
	h.waitContents(a1, append(clone(b1), b2...), c1)
	ids := map[string]string{}
	for id, s := range em.Streams() {
		ids[s.Info().Path] = id
	}
	h.stop()

	em2 := em.Restart()
	src2, logs2 := newSource(t, cfg)
	h2 := run(t, src2, logs2, em2)
	h2.waitContents(b2, c1) // exactly the unacknowledged bytes
	for id, s := range em2.Streams() {
		if ids[s.Info().Path] != id {
			t.Errorf("%s: stream id %s after restart, was %s", s.Info().Path, id, ids[s.Info().Path])
		}
		pcs := s.Pieces()
		if len(pcs) == 0 {
			continue
		}
		want := int64(0)
		if s.Info().Path == filepath.Join(dir, "b.log") {
			want = int64(len(b1))
		}
		if pcs[0].Start != want {
			t.Errorf("%s resumed at %d, want %d (the committed offset)", s.Info().Path, pcs[0].Start, want)
		}
	}
	// And it goes on from there.
	b3 := lines("b", 70, 5)
	appendFile(t, filepath.Join(dir, "b.log"), b3)
	h2.waitContents(append(clone(b2), b3...), c1)
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

func TestRestartMatching(t *testing.T) {
	a1, a2 := lines("a", 0, 50), lines("a", 50, 20)
	n1 := lines("new", 0, 10)
	tests := []struct {
		name     string
		down     func(t *testing.T, dir string) // what happens while the agent is down
		want     [][]byte                       // stream contents after the restart
		sameID   string                         // a path whose bytes must continue the old stream
		wantGens []int                          // generations of the streams written after restart
	}{
		{
			name:   "unchanged",
			down:   func(t *testing.T, dir string) {},
			want:   [][]byte{a2},
			sameID: "a.log",
		},
		{
			name: "renamed within the paths",
			down: func(t *testing.T, dir string) {
				rename(t, filepath.Join(dir, "a.log"), filepath.Join(dir, "a.log.1"))
				appendFile(t, filepath.Join(dir, "a.log.1"), n1)
			},
			want:   [][]byte{append(clone(a2), n1...)},
			sameID: "a.log.1",
		},
		{
			name: "truncated and rewritten",
			down: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "a.log"), n1) // same inode, other content
			},
			want:     [][]byte{n1},
			wantGens: []int{1},
		},
		{
			name: "replaced by a new file",
			down: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "a.log")
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
				writeFile(t, p, n1)
			},
			want: [][]byte{n1},
		},
		{
			name: "copytruncate",
			down: func(t *testing.T, dir string) {
				copyTruncate(t, filepath.Join(dir, "a.log"), 2)
				appendFile(t, filepath.Join(dir, "a.log"), n1)
			},
			want:   [][]byte{a2, n1}, // the old stream goes on in the copy
			sameID: "a.log.1",
		},
		{
			name: "moved to another inode",
			down: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "a.log")
				b := readAll(t, p)
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(dir, "moved.log"), b) // like mv across file systems
			},
			want:   [][]byte{a2},
			sameID: "moved.log",
		},
		{
			name: "deleted",
			down: func(t *testing.T, dir string) {
				if err := os.Remove(filepath.Join(dir, "a.log")); err != nil {
					t.Fatal(err)
				}
			},
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig(t, filepath.Join(dir, "*.log*"))
			if tt.name == "copytruncate" {
				cfg.Paths = []string{filepath.Join(dir, "a.log*")}
			}
			em := pipelinetest.New()
			em.AutoAck = false
			src, logs := newSource(t, cfg)
			h := run(t, src, logs, em)
			p := filepath.Join(dir, "a.log")
			appendFile(t, p, a1)
			h.waitContents(a1)
			ackAll(em)
			appendFile(t, p, a2)
			h.waitContents(append(clone(a1), a2...))
			var oldID string
			for id := range em.Streams() {
				oldID = id
			}
			h.stop()

			tt.down(t, dir)
			em2 := em.Restart()
			src2, logs2 := newSource(t, cfg)
			h2 := run(t, src2, logs2, em2)
			h2.waitContents(tt.want...)
			h2.waitScans(3)
			h2.waitContents(tt.want...) // and nothing more
			if tt.sameID != "" {
				s := em2.Streams()[oldID]
				if s == nil {
					t.Fatalf("old stream %s not resumed", oldID)
				}
				id, _ := parseIdentity(s.Info().Meta)
				if want := filepath.Join(dir, tt.sameID); id.Path != want {
					t.Errorf("resumed stream's path %q, want %q", id.Path, want)
				}
			}
			var gens []int
			for id, s := range em2.Streams() {
				if id == oldID || len(s.Pieces()) == 0 {
					continue
				}
				m, _ := parseIdentity(s.Info().Meta)
				gens = append(gens, m.Gen)
			}
			for i, g := range tt.wantGens {
				if i >= len(gens) || gens[i] != g {
					t.Errorf("generations %v, want %v", gens, tt.wantGens)
				}
			}
		})
	}
}

// TestFinishedNotShippedAgain: a rotated file read to its end and
// released is not shipped again after a restart.
func TestFinishedNotShippedAgain(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, filepath.Join(dir, "app.log*"))
	src, logs := newSource(t, cfg)
	em := pipelinetest.New()
	h := run(t, src, logs, em)
	p := filepath.Join(dir, "app.log")
	c1 := lines("one", 0, 30)
	appendFile(t, p, c1)
	h.waitContents(c1)
	rename(t, p, p+".1")
	c2 := lines("two", 0, 30)
	appendFile(t, p, c2)
	h.waitContents(c1, c2)
	old := h.streamByPath(p)
	for _, s := range em.Streams() {
		if string(s.Info().Meta) == "" {
			t.Fatal("no meta")
		}
	}
	if !em.Wait(waitFor, func() bool {
		for _, s := range em.Streams() {
			if b, _ := s.Bytes(); string(b) == string(c1) {
				return s.Closed()
			}
		}
		return false
	}) {
		t.Fatal("rotated file never released")
	}
	_ = old
	h.stop()
	c3 := lines("two", 30, 5)
	appendFile(t, p, c3)
	em2 := em.Restart()
	src2, logs2 := newSource(t, cfg)
	h2 := run(t, src2, logs2, em2)
	h2.waitContents(c3)
	h2.waitScans(3)
	h2.waitContents(c3)
}

// TestIDWithoutCheckpoint: a restart that lost its checkpoints computes
// the same stream ids.
func TestIDWithoutCheckpoint(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a.log", "b.log"} {
		writeFile(t, filepath.Join(dir, n), lines(n, 0, 5))
	}
	idsOf := func() map[string]bool {
		h := start(t, testConfig(t, filepath.Join(dir, "*.log")))
		h.waitStreams(2)
		ids := map[string]bool{}
		for id := range h.em.Streams() {
			ids[id] = true
		}
		h.stop()
		return ids
	}
	first, second := idsOf(), idsOf()
	if len(first) != 2 || len(second) != 2 {
		t.Fatalf("ids %v, %v", first, second)
	}
	for id := range first {
		if !second[id] {
			t.Errorf("id %s not computed again (%v)", id, second)
		}
	}
}

// TestForget: checkpoints of finished streams whose file is gone are
// forgotten after the retention time, or beyond the entry limit.
func TestForget(t *testing.T) {
	tests := []struct {
		name    string
		after   time.Duration
		maxGone int
		kept    int // gone streams still checkpointed at the end
	}{
		{"retention time", 100 * time.Millisecond, 1000, 0},
		{"entry limit", time.Hour, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			src, logs := newSource(t, testConfig(t, filepath.Join(dir, "*.log")))
			src.cfg.forgetAfter, src.cfg.maxGone = tt.after, tt.maxGone
			em := pipelinetest.New()
			h := run(t, src, logs, em)
			live := lines("live", 0, 3)
			writeFile(t, filepath.Join(dir, "live.log"), live)
			want := [][]byte{live}
			for i := range 4 {
				c := lines(fmt.Sprintf("gone%d", i), 0, 3)
				writeFile(t, filepath.Join(dir, fmt.Sprintf("gone%d.log", i)), c)
				want = append(want, c)
			}
			h.waitContents(want...)
			for i := range 4 {
				if err := os.Remove(filepath.Join(dir, fmt.Sprintf("gone%d.log", i))); err != nil {
					t.Fatal(err)
				}
			}
			saved := func() (live, gone int) {
				cps, _ := em.Restart().Checkpoints()
				for _, cp := range cps {
					if cp.Info.Path == filepath.Join(dir, "live.log") {
						live++
					} else {
						gone++
					}
				}
				return live, gone
			}
			if !em.Wait(waitFor, func() bool { l, g := saved(); return l == 1 && g == tt.kept }) {
				l, g := saved()
				t.Fatalf("checkpoints: %d live, %d gone; want 1, %d", l, g, tt.kept)
			}
			h.waitScans(3)
			if l, g := saved(); l != 1 || g != tt.kept {
				t.Fatalf("checkpoints: %d live, %d gone; want 1, %d", l, g, tt.kept)
			}
		})
	}
}
