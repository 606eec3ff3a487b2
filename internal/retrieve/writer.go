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
	"time"

	"github.com/logship/logship/archive"
)

// writer applies steps in order, output file by output file.
type writer struct {
	root  *os.Root
	dirs  *dirs
	st    *state
	ps    *problems
	fr    *fetcher
	outs  []*output
	sum   *Summary
	stats *Stats
	times map[*Chunk][2]time.Time

	oi, si int // next output, next step in it
	cur    *openOutput
	skip   map[*Step]bool // steps of outputs that could not be opened
}

type openOutput struct {
	o        *output
	f        *os.File
	partial  string // name inside the root
	size     int64
	segs     []segment
	srcs     map[string]*os.File
	sinceCkp int64
}

// checkpointEvery bounds what an interrupted (killed) run must redo in
// one output file.
const checkpointEvery = 256 << 20

// advance applies everything before step (copies from earlier files,
// file boundaries), or everything left when step is nil.
func (w *writer) advance(ctx context.Context, step *Step) error {
	for w.oi < len(w.outs) {
		o := w.outs[w.oi]
		if o.upToDate {
			w.upToDate(o)
			w.oi++
			continue
		}
		if w.cur == nil {
			if err := w.begin(o); err != nil {
				w.ps.add(Problem{Kind: KindWrite, File: o.name, Msg: err.Error()})
				w.skipOutput(o)
				w.oi++
				if w.skip[step] {
					return nil
				}
				continue
			}
		}
		for w.si < len(o.steps) {
			s := o.steps[w.si]
			if s == step {
				return nil
			}
			src, ok := o.src[segKeyOf(s)]
			if !ok {
				return fmt.Errorf("internal: step %s out of order", s.Chunk.Key)
			}
			if err := w.copy(s, src); err != nil {
				return err
			}
			w.si++
		}
		if err := w.end(); err != nil {
			return err
		}
		w.oi++
		w.si = 0
	}
	if step != nil {
		return fmt.Errorf("internal: step %s not planned", step.Chunk.Key)
	}
	return nil
}

// skipOutput drops an output that cannot be written; its fetched steps
// still arrive and are discarded.
func (w *writer) skipOutput(o *output) {
	skipped := map[*Step]bool{}
	for _, s := range o.steps {
		skipped[s] = true
	}
	o.steps = nil
	if w.skip == nil {
		w.skip = map[*Step]bool{}
	}
	for s := range skipped {
		w.skip[s] = true
	}
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

func (w *writer) begin(o *output) error {
	if err := w.dirs.ensure(path.Dir(o.name)); err != nil {
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
	w.cur = &openOutput{o: o, f: f, partial: partial, srcs: map[string]*os.File{}}
	return nil
}

// copy reuses a chunk's bytes from the previous run's file.
func (w *writer) copy(s *Step, src source) error {
	c := w.cur
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
	w.sum.Reused += n
	sg := src.seg
	sg.Off = c.size
	w.added(s, sg)
	return nil
}

func (w *writer) added(s *Step, sg segment) {
	c := w.cur
	c.size += sg.Len
	c.sinceCkp += sg.Len
	c.segs = append(c.segs, sg)
	w.times[s.Chunk] = [2]time.Time{sg.First, sg.Last}
	w.stats.Written.Add(sg.Len)
}

// apply writes a fetched step (or reports why it cannot).
func (w *writer) apply(ctx context.Context, ft *fetched) error {
	s := ft.step
	if w.skip[s] {
		return nil
	}
	w.si++
	c := w.cur
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
	w.added(s, segment{Key: s.Chunk.Key, Size: s.Chunk.Size, Skip: s.Skip, Off: off, Len: n, Checksum: h.Checksum, First: h.First, Last: h.Last})
	if c.sinceCkp >= checkpointEvery {
		c.sinceCkp = 0
		if err := w.checkpoint(); err != nil {
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

// checkpoint makes the partial file and its segments durable.
func (w *writer) checkpoint() error {
	c := w.cur
	if err := c.f.Sync(); err != nil {
		return err
	}
	fs := w.fileState(c.o.name)
	fs.Partial = &version{Name: path.Base(c.partial), Size: c.size, Segments: append([]segment(nil), c.segs...)}
	return w.st.save(w.root)
}

func (w *writer) fileState(name string) *fileState {
	fs := w.st.Files[name]
	if fs == nil {
		fs = &fileState{}
		w.st.Files[name] = fs
	}
	return fs
}

// end puts a finished output in place: fsync, rename over the old one,
// fsync the folder, record it.
func (w *writer) end() error {
	c := w.cur
	w.cur = nil
	for _, f := range c.srcs {
		f.Close()
	}
	if err := c.f.Sync(); err != nil {
		c.f.Close()
		return err
	}
	if err := c.f.Close(); err != nil {
		return err
	}
	o := c.o
	if len(c.segs) == 0 && len(o.steps) > 0 {
		// Nothing could be applied: put no empty file in place.
		w.root.Remove(c.partial)
		w.reportGaps(o)
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
	if err := syncDir(w.root, path.Dir(o.name)); err != nil {
		return err
	}
	fs := w.fileState(o.name)
	if fs.Partial != nil && fs.Partial.Name != path.Base(c.partial) {
		w.root.Remove(partialDir + "/" + fs.Partial.Name)
	}
	fs.Partial = nil
	fs.Final = &version{Size: c.size, Segments: c.segs}
	w.sum.Files++
	w.sum.Bytes += c.size
	w.reportGaps(o)
	return w.st.save(w.root)
}

// abort records the output being written as partial, so that a re-run
// reuses it, and saves the state.
func (w *writer) abort() {
	if c := w.cur; c != nil {
		for _, f := range c.srcs {
			f.Close()
		}
		if err := w.checkpoint(); err == nil {
			if prev := w.st.Files[c.o.name]; prev != nil && prev.Partial != nil && prev.Partial.Name != path.Base(c.partial) {
				w.root.Remove(partialDir + "/" + prev.Partial.Name)
			}
		}
		c.f.Close()
		w.cur = nil
	}
	w.st.save(w.root)
}

// reportGaps reports the holes in the middle of each stream of an output.
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
