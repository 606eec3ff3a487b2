package file

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"sort"
	"time"
)

// settleAll decides what the pending files are, in two passes: first every
// file that is a saved stream's inode, then the others (which may be a
// saved stream moved away from an inode found to hold other content).
func (t *tailer) settleAll(now time.Time) {
	var pend []*file
	for _, f := range t.files {
		if f.st == statePending && f.h != nil {
			pend = append(pend, f)
		}
	}
	sort.Slice(pend, func(i, j int) bool { return pend[i].path < pend[j].path })
	for _, f := range pend {
		t.settle(f, now, true)
	}
	for _, f := range pend {
		if f.st == statePending && f.h != nil {
			t.settle(f, now, false)
		}
	}
}

// settle refreshes a pending file's head and classifies it once ready:
// its first line is complete, or it holds fingerprint_bytes, or it has
// been idle for partial_line_after, or it left the paths. With keyOnly it
// only looks for a saved stream of its inode.
func (t *tailer) settle(f *file, now time.Time, keyOnly bool) {
	fi, err := f.h.Stat()
	if err != nil {
		t.logOnce(f.path, "cannot stat file", err)
		return
	}
	size := fi.Size()
	if size != f.size {
		f.grewAt = now
	}
	f.size = size
	if len(f.head) < t.cfg.fpBytes && int64(len(f.head)) != size {
		head, err := t.readHead(f)
		if err != nil {
			t.logOnce(f.path, "cannot read file", err)
			return
		}
		f.head = head
	}
	if len(f.head) == 0 {
		if f.matched {
			t.release(f) // empty: reopened when a scan sees it grow
		} else {
			t.forgetFile(f) // gone before it held a byte
		}
		return
	}
	if t.adoptByKey(f) || keyOnly {
		return
	}
	ready := len(f.head) >= t.cfg.fpBytes || bytes.IndexByte(f.head, '\n') >= 0 ||
		now.Sub(f.grewAt) >= t.cfg.partialAfter || !f.matched
	if ready {
		t.classify(f, now)
	}
}

// adoptByKey resumes the saved stream of f's inode whose fingerprint f's
// head still holds (the newest generation first). A saved stream of this
// inode that does not match is marked as gone from it (as are generations
// seen truncated in this run, whatever their head), and f's next
// generation is set past them.
func (t *tailer) adoptByKey(f *file) bool {
	var best *orphan
	for _, o := range t.orphans {
		if !o.ok || o.key != f.key {
			continue
		}
		f.nextGen = max(f.nextGen, o.id.Gen+1)
		if !o.contentGone && o.id.matches(f.head) && o.cp.Committed <= f.size && (best == nil || o.id.Gen > best.id.Gen) {
			best = o
		}
	}
	// Every other saved stream of this inode (older generations, or
	// content that is no longer at its head) is gone from it: a copy
	// holding it may continue it (copytruncate while we were down).
	for _, o := range t.orphans {
		if o.ok && o.key == f.key && o != best {
			o.contentGone = true
		}
	}
	if best == nil {
		return false
	}
	t.adopt(f, best)
	return true
}

// classify decides what a ready pending file is: a saved stream moved
// here, a copy of a known stream, or a new file.
func (t *tailer) classify(f *file, now time.Time) {
	for _, o := range t.orphans {
		if !o.ok || o.key == f.key || !o.id.matches(f.head) {
			continue
		}
		if g := t.files[o.key]; g != nil && !o.contentGone {
			continue // its inode is still here and undecided, or holds it
		}
		if o.cp.Committed > f.size {
			// An older copy of content already shipped.
			t.markCopy(f, o.s, o.cp.Info.ID)
			return
		}
		t.log.Info("file holds a known stream moved from another inode", "path", f.path, "stream", o.cp.Info.ID, "was", o.id.Path)
		t.adopt(f, o)
		return
	}
	undecided := false
	for _, g := range t.files {
		if g == f || g.s == nil || len(g.head) == 0 {
			continue
		}
		switch compareHeads(f.head, g.head) {
		case headContains:
			if t.sameContent(f, g) {
				t.markCopy(f, g.s, g.s.id)
				return
			}
		case headIsPrefix:
			undecided = true
		}
	}
	if undecided && f.matched && now.Sub(f.grewAt) < t.cfg.partialAfter {
		return // may still become a copy: wait for more bytes or idleness
	}
	var start int64
	if f.initial && t.cfg.readFromEnd {
		start = t.endOfLastLine(f)
	}
	t.newStream(f, start)
}

// adopt continues the orphan's stream on f.
func (t *tailer) adopt(f *file, o *orphan) {
	t.orphans = slices.DeleteFunc(t.orphans, func(x *orphan) bool { return x == o })
	s := o.s
	if s == nil {
		s = &stream{id: o.cp.Info.ID, info: o.cp.Info, gen: o.id.Gen, off: o.cp.Committed, closed: true}
	}
	f.s, f.st, f.copyOf = s, stateDone, nil
	f.nextGen = max(f.nextGen, s.gen+1)
	t.ids[s.id] = true
	switch {
	case !o.cp.Finished || f.size > s.off:
		if s.out != nil && s.out.Committed() < s.off {
			// Closed in this run with chunks not durable yet: reopening
			// now would claim they are. The next scan retries.
			t.release(f)
			f.wantOpen = true
			return
		}
		t.resume(f, s, s.off)
	default:
		t.release(f) // finished and read to its end
	}
}

// markCopy records f as a copy of s: not shipped. Its descriptor is kept
// while it holds bytes s has not read (the original may be truncated next).
func (t *tailer) markCopy(f *file, s *stream, id string) {
	f.st, f.copyOf = stateCopy, s
	t.m.copies.Inc()
	t.log.Info("file is a copy of a known stream; not shipped", "path", f.path, "stream", id)
	if s == nil || s.closed || s.off >= f.size {
		t.release(f)
	}
}

// sameContent looks past the head for evidence that f, whose head holds
// g's, is a copy of g's file: f cannot be longer than g's file (unless g
// was truncated), and f's last bytes must equal g's at the same offsets.
// Two files that merely start alike (a long constant banner) differ there.
// When g's old content cannot be read any more (truncated, gone), the head
// is all the evidence left and sameContent reports true.
func (t *tailer) sameContent(f, g *file) bool {
	if g.truncated || f.h == nil {
		return true
	}
	h := g.h
	if h == nil {
		if !g.matched {
			return true
		}
		oh, err := t.src.openFile(g.path)
		if err != nil {
			return true
		}
		defer oh.Close()
		if fi, err := oh.Stat(); err != nil {
			return true
		} else if k, _, _ := statKey(fi); k != g.key {
			return true
		}
		h = oh
	}
	fi, err := h.Stat()
	if err != nil {
		return true
	}
	gsize := fi.Size()
	if g.s != nil && !g.s.closed && gsize < g.s.off+g.s.tail {
		return true // truncated, not noticed yet
	}
	if f.size > gsize {
		return false
	}
	n := min(f.size, int64(len(t.buf)/2))
	a, b := t.buf[:n], t.buf[n:2*n]
	if m, err := f.h.ReadAt(a, f.size-n); int64(m) < n && err != nil {
		return true
	}
	if m, err := h.ReadAt(b, f.size-n); int64(m) < n && err != nil {
		return true // g shrank: truncated
	}
	return bytes.Equal(a, b)
}

// fileOf returns the file whose stream is s, or nil.
func (t *tailer) fileOf(s *stream) *file {
	for _, g := range t.files {
		if g.s == s {
			return g
		}
	}
	return nil
}

// resolveTruncations ends the old generation of each truncated file: its
// stream continues on a copy holding its unread bytes (copytruncate), or
// is closed; the file starts a new generation from 0.
func (t *tailer) resolveTruncations(now time.Time) {
	var trunc []*file
	for _, f := range t.files {
		if f.truncated && f.st == stateTailing {
			trunc = append(trunc, f)
		}
	}
	sort.Slice(trunc, func(i, j int) bool { return trunc[i].path < trunc[j].path })
	for _, f := range trunc {
		s := f.s
		t.m.truncations.Inc()
		var c *file
		for _, g := range t.files {
			if g == f || g.h == nil {
				continue
			}
			if !(g.st == stateCopy && g.copyOf == s || g.st == statePending && compareHeads(g.head, f.head) != headDiffers) {
				continue
			}
			if fi, err := g.h.Stat(); err == nil {
				g.size = fi.Size()
			}
			if g.size > s.off && (c == nil || g.size > c.size) {
				c = g
			}
		}
		if c != nil {
			t.log.Info("file truncated after being copied; its stream continues on the copy",
				"path", f.path, "copy", c.path, "stream", s.id, "offset", s.off)
			if lost := f.lostBytes - (c.size - s.off); lost > 0 && f.lostBytes > 0 {
				t.m.bytesAbandon.AddInt64(lost)
				t.log.Warn("bytes written between the copy and the truncation are lost", "path", f.path, "stream", s.id, "bytes", lost)
			}
			c.st, c.s, c.copyOf = stateTailing, s, nil
			s.tail, s.atEOF, s.grewAt = 0, false, now
			t.setMeta(c)
			f.s = nil
		} else {
			if f.lostBytes > 0 {
				t.m.bytesAbandon.AddInt64(f.lostBytes)
				t.log.Warn("file truncated before it was read to the end", "path", f.path, "stream", s.id, "unread_bytes", f.lostBytes)
			} else {
				t.log.Info("file truncated; starting a new generation", "path", f.path, "stream", s.id)
			}
			t.closeStream(f, "truncated")
			t.orphan(f, s, true) // a copy found later is recognised
		}
		t.newGeneration(f, now)
		if f.h != nil {
			t.settle(f, now, false)
		}
	}
}

// endOfLastLine is where read_from: end starts: after the last newline in
// the last max_line_bytes of what the file held at the first scan (0 if it
// was one partial line). Bytes written since then are shipped.
func (t *tailer) endOfLastLine(f *file) int64 {
	end := min(f.firstSize, f.size)
	lo := max(end-int64(t.cfg.maxLine), 0)
	for end > lo {
		n := min(int64(len(t.buf)), end-lo)
		b := t.buf[:n]
		m, err := f.h.ReadAt(b, end-n)
		if err != nil && !errors.Is(err, io.EOF) || int64(m) < n {
			return min(f.firstSize, f.size)
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			return end - n + int64(i) + 1
		}
		end -= n
	}
	if lo == 0 {
		return 0
	}
	return min(f.firstSize, f.size)
}
