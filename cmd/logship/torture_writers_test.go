package main

// The writers of the torture run: each appends realistic Java log events
// (internal/loggen) to one file at its own pace and rotates it in its own
// style, recording the exact bytes of every generation.

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/logship/logship/internal/loggen"
)

// Rotation styles.
const (
	styleRename   = "rename"       // logrotate create: app.log → app.log.N, the app writes a little more to the old descriptor, then reopens
	styleJUL      = "jul"          // java.util.logging: app.log.(i) → app.log.(i+1), ..., app.log.0 → app.log.1
	styleCopy     = "copytruncate" // copy app.log to app.log.N, truncate app.log in place; the app keeps its O_APPEND descriptor
	styleTruncate = "truncate"     // plain truncation in place (once what the file holds is archived)
	styleRecreate = "recreate"     // delete app.log (held open by the agent), write a little more to the old descriptor, create it again
)

// generation is what one file generation holds: the writer's record of it.
type generation struct {
	writer string
	n      int
	first  string // its first line, unique in the run: how it is found in the archive
	data   []byte
	// abandonable: the agent may abandon its end (the abandonment
	// scenario); every other generation must come back whole.
	abandonable bool
}

// gates is what a writer needs from the harness before a step that would
// lose bytes if the agent were behind.
type gates interface {
	// durable returns how many bytes of g, from its start, the archive holds.
	durable(g *generation) int
	// waitDurable waits until the archive holds the first n bytes of g.
	waitDurable(g *generation, n int) error
	// waitCheckpointed waits until the agent's saved checkpoint covers the
	// first n bytes of g: what a restarted agent knows is archived.
	waitCheckpointed(g *generation, n int) error
	// deleteHeld waits until the agent holds path open, then runs del (which
	// deletes it) with no SIGKILL allowed until g's first n() bytes are
	// archived: the agent must have the chance to read a deleted file to
	// its end.
	deleteHeld(path string, g *generation, del func() error, n func() int) error
}

// tortureWriter is one application writing one log.
type tortureWriter struct {
	name, style, dir string
	pace             time.Duration // between bursts
	burst            int           // events per burst, at most
	keep             int           // rotated files kept; older ones are deleted once archived
	rotateMin        time.Duration
	rotateMax        time.Duration

	rng   *rand.Rand
	gen   *loggen.Generator
	gates gates
	errc  chan<- error

	gens    []*generation
	cur     *generation
	f       *os.File
	rot     int
	rotated []string // rotated files, oldest first (rename, copytruncate)
	buf     []byte
}

func (w *tortureWriter) live() string {
	if w.style == styleJUL {
		return filepath.Join(w.dir, "app.log.0")
	}
	return filepath.Join(w.dir, "app.log")
}

func (w *tortureWriter) rotatedPath(i int) string {
	return filepath.Join(w.dir, fmt.Sprintf("app.log.%d", i))
}

// begin starts a new generation with its header line.
func (w *tortureWriter) begin() {
	g := &generation{writer: w.name, n: len(w.gens) + 1}
	g.first = fmt.Sprintf("GEN %s %d begins\n", w.name, g.n)
	w.gens = append(w.gens, g)
	w.cur = g
	w.write([]byte(g.first))
}

func (w *tortureWriter) open() error {
	f, err := os.OpenFile(w.live(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	w.f = f
	w.begin()
	return nil
}

func (w *tortureWriter) write(b []byte) {
	if _, err := w.f.Write(b); err != nil {
		panic(fmt.Sprintf("writer %s: %v", w.name, err)) // the test's own file system: cannot fail
	}
	w.cur.data = append(w.cur.data, b...)
}

// events writes up to n log events (a line, or a line and a stack trace)
// in one write.
func (w *tortureWriter) events(n int) {
	w.buf = w.buf[:0]
	for range 1 + w.rng.IntN(n) {
		w.buf = w.gen.Append(w.buf)
	}
	w.write(w.buf)
}

// partial ends the generation, sometimes, with an unterminated line: the
// agent ships it after partial_line_after.
func (w *tortureWriter) partial(always bool) {
	if always || w.rng.IntN(3) == 0 {
		w.write(fmt.Appendf(nil, "%s partial line of generation %d, no newline", w.name, w.cur.n))
	}
}

// run writes and rotates until stop is closed; the last generation ends
// with a partial line.
func (w *tortureWriter) run(stop <-chan struct{}) {
	if err := w.open(); err != nil {
		w.errc <- err
		return
	}
	tick := time.NewTicker(w.pace) // the application's pace
	defer tick.Stop()
	next := time.Now().Add(w.rotateIn())
	for {
		select {
		case <-stop:
			w.partial(true)
			w.f.Close()
			return
		case <-tick.C:
		}
		w.events(w.burst)
		if time.Now().After(next) {
			if err := w.rotate(); err != nil {
				w.errc <- fmt.Errorf("writer %s, rotation %d (%s): %w", w.name, w.rot, w.style, err)
				w.f.Close()
				return
			}
			next = time.Now().Add(w.rotateIn())
		}
	}
}

func (w *tortureWriter) rotateIn() time.Duration {
	return w.rotateMin + time.Duration(w.rng.Int64N(int64(w.rotateMax-w.rotateMin)))
}

func (w *tortureWriter) rotate() error {
	w.rot++
	switch w.style {
	case styleRename:
		p := w.rotatedPath(w.rot)
		if err := os.Rename(w.live(), p); err != nil {
			return err
		}
		w.events(4) // the app has not reopened yet
		w.partial(false)
		w.f.Close()
		w.rotated = append(w.rotated, p)
		return errors.Join(w.prune(), w.open())
	case styleJUL:
		w.partial(false)
		top := 0
		for exists(w.rotatedPath(top + 1)) {
			top++
		}
		for i := top; i >= 0; i-- {
			if err := os.Rename(w.rotatedPath(i), w.rotatedPath(i+1)); err != nil {
				return err
			}
		}
		w.f.Close()
		// The oldest beyond keep are deleted once archived; the chain
		// grows while they are not.
		for i := top + 1; i > w.keep; i-- {
			if ok, err := w.archived(w.rotatedPath(i)); err != nil || !ok {
				if err != nil {
					return err
				}
				break
			}
			if err := os.Remove(w.rotatedPath(i)); err != nil {
				return err
			}
		}
		return w.open()
	case styleCopy:
		w.partial(false)
		data, err := os.ReadFile(w.live())
		if err != nil {
			return err
		}
		p := w.rotatedPath(w.rot)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
		if err := os.Truncate(w.live(), 0); err != nil {
			return err
		}
		w.rotated = append(w.rotated, p)
		w.begin()
		return w.prune()
	case styleTruncate:
		w.partial(false)
		// Once the checkpoint covers it, not only the bucket: an agent
		// restarted from an older checkpoint would count the bytes it had
		// not read again as lost (it cannot know an earlier life stored
		// them).
		if err := w.gates.waitCheckpointed(w.cur, len(w.cur.data)); err != nil {
			return err
		}
		if err := w.f.Truncate(0); err != nil {
			return err
		}
		w.begin()
		return nil
	case styleRecreate:
		g := w.cur
		err := w.gates.deleteHeld(w.live(), g, func() error {
			if err := os.Remove(w.live()); err != nil {
				return err
			}
			w.events(4) // into the deleted file, which the agent holds
			w.partial(false)
			return w.f.Close()
		}, func() int { return len(g.data) })
		if err != nil {
			return err
		}
		return w.open()
	}
	return fmt.Errorf("unknown style %q", w.style)
}

// prune deletes the rotated files beyond keep whose content is archived.
func (w *tortureWriter) prune() error {
	for len(w.rotated) > w.keep {
		ok, err := w.archived(w.rotated[0])
		if err != nil || !ok {
			return err
		}
		if err := os.Remove(w.rotated[0]); err != nil {
			return err
		}
		w.rotated = w.rotated[1:]
	}
	return nil
}

// archived reports whether the generation a rotated file holds is whole in
// the archive (it is then deleted; else kept for now).
func (w *tortureWriter) archived(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, 256)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return false, err
	}
	for _, g := range w.gens {
		if len(g.first) <= n && string(head[:len(g.first)]) == g.first {
			fi, err := f.Stat()
			if err != nil {
				return false, err
			}
			return w.gates.durable(g) >= int(fi.Size()), nil
		}
	}
	return false, fmt.Errorf("%s holds no known generation", path)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
