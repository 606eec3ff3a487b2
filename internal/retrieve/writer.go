package retrieve

// The writer: applies the planned steps to the output files, with resume
// state, rollback of a failed output and the gap report.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"sync"
	"time"

	"github.com/logship/logship/archive"
)

// writer applies the planned steps to the output files. Each lane writes
// its outputs one after the other, and the lanes write at once: the
// kernel's copy into the page cache is the costliest part of a pull after
// decompression, and files written side by side take both cores.
type writer struct {
	root  *os.Root
	ps    *problems
	fr    *fetcher
	stats *Stats
	boot  string // recorded for files not fsynced; "": fsync each file

	mu    sync.Mutex // guards what follows, and the state file
	dirs  *dirs
	st    *state
	sum   *Summary
	times map[*Chunk][2]time.Time
	saved time.Time // when the state file was last written
}

// stateSaveEvery paces the state saves that record finished files: the
// state holds every file (with its segments), so saving it after each of
// thousands of small files made a pull quadratic (1,772 files: 7 minutes).
// A file put in place and not yet recorded is only written again by a
// re-run after a kill; the run's end saves the state.
var stateSaveEvery = time.Second

// saveSoon saves the state unless it was saved less than stateSaveEvery
// ago (w.mu held).
func (w *writer) saveSoon() error {
	if time.Since(w.saved) < stateSaveEvery {
		return nil
	}
	w.saved = time.Now()
	return w.st.save(w.root, w.boot == "")
}

// lane writes its outputs in order, taking their fetched steps from in,
// in the order of the fetch list.
type lane struct {
	w    *writer
	outs []*output
	in   chan *fetched
	cur  *openOutput
}

type openOutput struct {
	o        *output
	f        *os.File
	partial  string // name inside the root
	size     int64
	segs     []segment
	srcs     map[string]*os.File
	sinceCkp int64
	behind   writeBehind
}

// checkpointEvery bounds what an interrupted (killed) run must redo in
// one output file.
const checkpointEvery = 256 << 20

// run writes the lane's outputs. On an error it records the output being
// written as partial (a re-run reuses it) and returns.
func (l *lane) run(ctx context.Context) error {
	for _, o := range l.outs {
		if err := l.write(ctx, o); err != nil {
			l.abort()
			return err
		}
	}
	return nil
}

// next returns the next fetched step of the lane.
func (l *lane) next(ctx context.Context) (*fetched, error) {
	select {
	case ft, ok := <-l.in:
		if !ok {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return nil, errors.New("internal: fetching stopped early")
		}
		return ft, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// write applies an output's steps (copies from earlier files, fetched
// steps) and puts it in place. An output that cannot be opened is
// reported, and its fetched steps dropped.
func (l *lane) write(ctx context.Context, o *output) error {
	if err := l.begin(o); err != nil {
		l.w.ps.add(Problem{Kind: KindWrite, File: o.name, Msg: err.Error()})
		for _, s := range o.steps {
			if _, ok := o.src[segKeyOf(s)]; ok {
				continue
			}
			ft, err := l.next(ctx)
			if err != nil {
				return err
			}
			ft.release()
		}
		return nil
	}
	for _, s := range o.steps {
		if src, ok := o.src[segKeyOf(s)]; ok {
			if err := l.copy(s, src); err != nil {
				return err
			}
			continue
		}
		ft, err := l.next(ctx)
		if err != nil {
			return err
		}
		if ft.step != s {
			ft.release()
			return fmt.Errorf("internal: step %s out of order", s.Chunk.Key)
		}
		err = l.apply(ctx, ft)
		ft.release()
		if err != nil {
			return err
		}
	}
	return l.end()
}

func (w *writer) upToDate(o *output) {
	w.sum.Files++
	w.sum.UpToDate++
	w.sum.Bytes += o.prev.Final.Size
	for _, sg := range o.prev.Final.Segments {
		for _, s := range o.steps {
			if s.Chunk.Key == sg.Key {
				w.times[s.Chunk] = [2]time.Time{sg.First, sg.Last}
			}
		}
	}
	w.reportGaps(o)
}

// untrust prepares a run that does not fsync (w.boot set), whose state
// saves are not durable either: the outputs it will change that the state
// trusts as fsynced (no boot) get this boot, in a durable save, so that a
// power loss cannot leave a state that trusts a file the run replaced
// (state.save).
func (w *writer) untrust(outs []*output) error {
	if w.boot == "" {
		return nil
	}
	changed := false
	for _, o := range outs {
		fs := w.st.Files[o.name]
		if o.upToDate || fs == nil {
			continue
		}
		for _, v := range []*version{fs.Final, fs.Partial} {
			if v != nil && v.Boot == "" {
				v.Boot, changed = w.boot, true
			}
		}
	}
	if !changed {
		return nil
	}
	return w.st.save(w.root, true)
}

func (l *lane) begin(o *output) error {
	w := l.w
	w.mu.Lock()
	err := w.dirs.ensure(path.Dir(o.name))
	w.mu.Unlock()
	if err != nil {
		return err
	}
	if _, err := regularOrAbsent(w.root, o.name); err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(o.name))
	partial := partialDir + "/" + hex.EncodeToString(sum[:8]) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	f, err := w.root.OpenFile(partial, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	l.cur = &openOutput{o: o, f: f, partial: partial, srcs: map[string]*os.File{}, behind: writeBehind{f: f}}
	return nil
}

// copy reuses a chunk's bytes from the previous run's file.
func (l *lane) copy(s *Step, src source) error {
	w, c := l.w, l.cur
	f := c.srcs[src.file]
	if f == nil {
		var err error
		if f, err = w.root.Open(src.file); err != nil {
			return err
		}
		c.srcs[src.file] = f
	}
	if _, err := f.Seek(src.seg.Off, io.SeekStart); err != nil {
		return err
	}
	n, err := io.CopyN(c.f, f, src.seg.Len)
	if err != nil {
		return fmt.Errorf("copying %s from %s: %w", s.Chunk.Key, src.file, err)
	}
	w.mu.Lock()
	w.sum.Reused += n
	w.mu.Unlock()
	sg := src.seg
	sg.Off = c.size
	l.added(s, sg)
	return nil
}

func (l *lane) added(s *Step, sg segment) {
	c, w := l.cur, l.w
	c.size += sg.Len
	c.sinceCkp += sg.Len
	c.segs = append(c.segs, sg)
	c.behind.wrote(c.size)
	w.mu.Lock()
	w.times[s.Chunk] = [2]time.Time{sg.First, sg.Last}
	w.mu.Unlock()
	w.stats.Written.Add(sg.Len)
}

// apply writes a fetched step (or reports why it cannot).
func (l *lane) apply(ctx context.Context, ft *fetched) error {
	s, w, c := ft.step, l.w, l.cur
	var h *archive.Header
	off := c.size
	var n int64
	err := ft.err
	if err == nil && ft.inline {
		cw := &countWriter{w: c.f}
		h, err = w.fr.stream(ctx, s, cw)
		n = cw.n
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if terr := c.f.Truncate(off); terr != nil {
				return terr
			}
			if _, serr := c.f.Seek(off, io.SeekStart); serr != nil {
				return serr
			}
			if errors.Is(err, errWrite) {
				return err
			}
		}
	} else if err == nil {
		h = ft.hdr
		n, err = ft.deliverTo(c.f)
		if err != nil {
			return fmt.Errorf("writing %s: %w", c.partial, err)
		}
	}
	if err != nil {
		w.ps.add(Problem{Kind: classify(err), Key: s.Chunk.Key, File: c.o.name,
			Msg: fmt.Sprintf("%v; %s [%d, %d) of stream %s left out", err, unitName(s), s.Chunk.Start+s.Skip, s.Chunk.End, s.Chunk.Stream)})
		return nil
	}
	sg := segment{Key: s.Chunk.Key, Size: s.Chunk.Size, Skip: s.Skip, Off: off, Len: n, Checksum: h.Checksum, First: h.First, Last: h.Last}
	if s.Skip > 0 {
		// Part of the chunk (an overlap trimmed): its own CRC, read back
		// from the page cache (rare).
		if sg.CRC, err = crcOf(c.f, off, n, make([]byte, min(n, 1<<20))); err != nil {
			return fmt.Errorf("reading back %s: %w", c.partial, err)
		}
	}
	l.added(s, sg)
	if c.sinceCkp >= checkpointEvery {
		c.sinceCkp = 0
		if err := l.checkpoint(); err != nil {
			return err
		}
	}
	return nil
}

func unitName(s *Step) string {
	if s.Chunk.Source == archive.KindKmsg {
		return "records"
	}
	return "bytes"
}

// checkpoint records the partial file and its segments (fsynced, or
// with the boot they were written in).
func (l *lane) checkpoint() error {
	c, w := l.cur, l.w
	if w.boot == "" {
		if err := c.f.Sync(); err != nil {
			return err
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	fs := w.fileState(c.o.name)
	fs.Partial = &version{Name: path.Base(c.partial), Size: c.size, Boot: w.boot, Segments: append([]segment(nil), c.segs...)}
	return w.st.save(w.root, w.boot == "")
}

// fileState returns the state of an output, created if needed (w.mu held).
func (w *writer) fileState(name string) *fileState {
	fs := w.st.Files[name]
	if fs == nil {
		fs = &fileState{}
		w.st.Files[name] = fs
	}
	return fs
}

// end puts a finished output in place: fsync (unless w.boot), rename
// over the old one, fsync the folder (likewise), record it.
func (l *lane) end() error {
	c, w := l.cur, l.w
	l.cur = nil
	for _, f := range c.srcs {
		f.Close()
	}
	if w.boot == "" {
		if err := c.f.Sync(); err != nil {
			c.f.Close()
			return err
		}
	}
	if err := c.f.Close(); err != nil {
		return err
	}
	o := c.o
	if len(c.segs) == 0 && len(o.steps) > 0 {
		// Nothing could be applied: put no empty file in place.
		w.root.Remove(c.partial)
		w.mu.Lock()
		w.reportGaps(o)
		w.mu.Unlock()
		return nil
	}
	if _, err := regularOrAbsent(w.root, o.name); err != nil {
		w.ps.add(Problem{Kind: KindWrite, File: o.name, Msg: err.Error()})
		w.root.Remove(c.partial)
		return nil
	}
	if err := w.root.Rename(c.partial, o.name); err != nil {
		return err
	}
	if w.boot == "" {
		if err := syncDir(w.root, path.Dir(o.name)); err != nil {
			return err
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	fs := w.fileState(o.name)
	if fs.Partial != nil && fs.Partial.Name != path.Base(c.partial) {
		w.root.Remove(partialDir + "/" + fs.Partial.Name)
	}
	fs.Partial = nil
	fs.Final = &version{Size: c.size, Boot: w.boot, Segments: c.segs}
	w.sum.Files++
	w.sum.Bytes += c.size
	w.reportGaps(o)
	return w.saveSoon()
}

// abort records the output being written as partial, so that a re-run
// reuses it, and saves the state.
func (l *lane) abort() {
	c, w := l.cur, l.w
	if c == nil {
		return
	}
	l.cur = nil
	for _, f := range c.srcs {
		f.Close()
	}
	w.mu.Lock()
	prev := w.st.Files[c.o.name]
	var old string
	if prev != nil && prev.Partial != nil && prev.Partial.Name != path.Base(c.partial) {
		old = prev.Partial.Name
	}
	w.mu.Unlock()
	l.cur = c
	if err := l.checkpoint(); err == nil && old != "" {
		w.root.Remove(partialDir + "/" + old)
	}
	l.cur = nil
	c.f.Close()
}

// reportGaps reports the holes in the middle of each stream of an output
// (w.mu held).
func (w *writer) reportGaps(o *output) {
	for _, s := range o.streams {
		for _, p := range gapProblems(o.name, s, w.times) {
			w.ps.add(p)
		}
	}
}

// gapProblems describes the gaps of a stream, with the ingest times around
// them where the chunks next to them were read.
func gapProblems(name string, s *Stream, times map[*Chunk][2]time.Time) []Problem {
	var out []Problem
	for _, g := range s.Gaps {
		before, after := "?", "?"
		if !g.Before.IsZero() {
			before = g.Before.UTC().Format(time.RFC3339Nano)
		}
		if !g.After.IsZero() {
			after = g.After.UTC().Format(time.RFC3339Nano)
		}
		if g.Next > 0 {
			if t := times[s.Steps[g.Next-1].Chunk]; !t[1].IsZero() {
				before = t[1].UTC().Format(time.RFC3339Nano)
			}
		}
		if g.Next < len(s.Steps) {
			if t := times[s.Steps[g.Next].Chunk]; !t[0].IsZero() {
				after = t[0].UTC().Format(time.RFC3339Nano)
			}
		}
		out = append(out, Problem{Kind: KindGap, File: name, Msg: fmt.Sprintf("stream %s: %s [%d, %d) missing (%d), ingested between %s and %s",
			s.ID, unitName(&s.Steps[0]), g.Start, g.End, g.End-g.Start, before, after)})
	}
	return out
}

var errWrite = errors.New("write failed")

// countWriter counts bytes and marks its own errors, so that a failing
// output is not mistaken for a corrupt object.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil {
		err = fmt.Errorf("%w: %w", errWrite, err)
	}
	return n, err
}
