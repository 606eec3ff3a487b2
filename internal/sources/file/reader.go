package file

import (
	"bytes"
	"context"
	"errors"
	"io"
	"time"

	"github.com/logship/logship/internal/pipeline"
)

// round gives every file a turn: pending files are settled, tailing files
// read up to roundBytes each. It reports whether another round should
// follow at once: a file stopped at its budget, not at its end, or a new
// stream was opened.
func (t *tailer) round(ctx context.Context, now time.Time) (bool, error) {
	more := false
	for _, f := range t.files {
		if f.h == nil {
			continue
		}
		switch {
		case f.st == statePending:
			t.settle(f, now, false)
			more = more || f.st == stateTailing
		case f.st == stateTailing && !f.truncated:
			n, err := t.read(ctx, f, now)
			if err != nil {
				return more, err
			}
			more = more || n > 0 && !f.s.atEOF
		}
	}
	return more, nil
}

// bigBuf is the buffer for lines longer than a read block.
func (t *tailer) bigBuf() []byte {
	if t.big == nil {
		t.big = make([]byte, t.cfg.maxLine)
	}
	return t.big
}

// read ships what f holds past its stream's offset: complete lines, lines
// longer than max_line_bytes in pieces of that size, and an unterminated
// last line once the file has been idle for partial_line_after. It returns
// the bytes shipped; an error only when a Write failed (ctx ended).
func (t *tailer) read(ctx context.Context, f *file, now time.Time) (int, error) {
	s := f.s
	fi, err := f.h.Stat()
	if err != nil {
		t.logOnce(f.path, "cannot stat file", err)
		return 0, nil
	}
	size := fi.Size()
	if size < s.off+s.tail {
		t.markTruncated(f, size)
		return 0, nil
	}
	if size == s.off+s.tail { // nothing new
		f.size, s.atEOF = size, true
		return t.idle(ctx, f, now)
	}
	if !t.headIntact(f) { // replaced or truncated and refilled past off?
		t.markTruncated(f, size)
		return 0, nil
	}
	f.size = size
	s.grewAt = now
	shipped := 0
	// A turn reads at least a chunk's room, and a chunk that cannot take
	// the next block is sealed before it: with many files catching up,
	// chunks are sealed full and one after the other, instead of every
	// file's chunk being half full at once and holding the in-flight slots
	// the compressors need (which made reading and compressing take turns).
	for budget := max(t.cfg.roundBytes, s.out.Room()); budget > 0; {
		buf := t.buf
		if s.tail >= int64(len(buf)) { // a line longer than a block: read up to max_line_bytes
			buf = t.bigBuf()
		}
		if s.out.Room() < len(buf) {
			s.out.Flush()
		}
		n, err := f.h.ReadAt(buf, s.off)
		if err != nil && !errors.Is(err, io.EOF) {
			t.logOnce(f.path, "cannot read file", err)
			return shipped, nil
		}
		t.clearLog(f.path) // read again after an error: solved
		budget -= n
		data := buf[:n]
		cut, split := 0, false
		if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
			cut = i + 1
		} else if n >= t.cfg.maxLine {
			cut, split = t.cfg.maxLine, true
		}
		if cut > 0 {
			if err := t.write(ctx, f, data[:cut], split); err != nil {
				return shipped, err
			}
			shipped += cut
		}
		s.tail = int64(n - cut)
		if n < len(buf) { // reached the end
			s.atEOF = true
			break
		}
		s.atEOF = false
	}
	if !s.atEOF && s.out.Room() < len(t.buf) {
		s.out.Flush() // the turn ends on a chunk boundary
	}
	if shipped > 0 && len(f.head) < t.cfg.fpBytes && s.off > int64(len(f.head)) {
		t.growHead(f)
	}
	return shipped, nil
}

// write ships data at the stream's offset and advances it.
func (t *tailer) write(ctx context.Context, f *file, data []byte, split bool) error {
	s := f.s
	var lines int64
	if split {
		if !s.splitting {
			t.m.linesSplit.Inc()
		}
		s.splitting = true
	} else {
		lines = int64(bytes.Count(data, []byte{'\n'}))
		if lines > 0 {
			s.splitting = false
		}
	}
	p := pipeline.Piece{Start: s.off, End: s.off + int64(len(data)), Data: data, Lines: lines}
	if err := s.out.Write(ctx, p); err != nil {
		return err
	}
	s.off = p.End
	t.m.bytesRead.Add(len(data))
	return nil
}

// idle handles a file with nothing new: an unterminated last line is
// shipped after partial_line_after; a rotated file read to its end is
// released after rotatedIdle.
func (t *tailer) idle(ctx context.Context, f *file, now time.Time) (int, error) {
	s := f.s
	idleFor := now.Sub(s.grewAt)
	if s.tail > 0 && idleFor >= t.cfg.partialAfter {
		buf := t.buf
		if s.tail > int64(len(buf)) {
			buf = t.bigBuf()
		}
		buf = buf[:s.tail]
		n, err := f.h.ReadAt(buf, s.off)
		if err != nil && !errors.Is(err, io.EOF) {
			t.logOnce(f.path, "cannot read file", err)
			return 0, nil
		}
		if int64(n) < s.tail { // shrank under us
			t.markTruncated(f, int64(n)+s.off)
			return 0, nil
		}
		if err := t.write(ctx, f, buf, false); err != nil {
			return 0, err
		}
		s.tail = 0
		t.m.partialLines.Inc()
		if len(f.head) < t.cfg.fpBytes && s.off > int64(len(f.head)) {
			t.growHead(f)
		}
		return n, nil
	}
	if s.tail == 0 && s.atEOF && t.rotated(f) && idleFor >= t.cfg.rotatedIdle {
		if f.matched {
			t.finish(f, "renamed file read to its end")
		} else {
			t.finish(f, "file read to its end after leaving the paths")
			t.forgetFile(f)
		}
	}
	return 0, nil
}

// headIntact reports whether f still starts with the head it had.
func (t *tailer) headIntact(f *file) bool {
	if len(f.head) == 0 {
		return true
	}
	b := t.hbuf[:len(f.head)]
	n, err := f.h.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return true // a read error is not evidence of a replacement
	}
	return n == len(b) && bytes.Equal(b, f.head)
}

// growHead extends f's fingerprint as the file grows (a stronger identity
// for restarts), or notices that the head changed.
func (t *tailer) growHead(f *file) {
	head, err := t.readHead(f)
	if err != nil {
		return
	}
	if compareHeads(head, f.head) != headContains {
		t.markTruncated(f, f.size)
		return
	}
	if len(head) > len(f.head) {
		f.head = head
		t.setMeta(f)
	}
}
