package artifact

// Artifacts read from a Body of unknown length. The header goes first in
// the object and carries the size and checksum, and the key names the
// range, so nothing can be stored before Body ends: its parts are
// compressed as they are read (the same independent frames as a file's)
// and kept in a spool, then stored like a file's, with one Put or in
// parts from the spool.

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/logship/logship/archive"
)

// stream reads a.Body to its end into a spool, then stores the object.
func (r *run) stream(ctx context.Context) (existed bool, err error) {
	a := r.a
	r.part = a.PartSize
	if r.part <= 0 {
		r.part = DefaultPartSize
	}
	sp := &spool{dir: r.s.o.TempDir, memLimit: r.part}
	defer sp.close()
	var crc uint32
	var lines, size int64
	scratch := make([]byte, 0, 64<<10)
	for i := 1; ; i++ {
		src := &partReader{ctx: ctx, r: io.LimitReader(a.Body, r.part), lim: r.lim, crc: &crc, lines: &lines}
		frame, n, err := r.enc.AppendFrame(scratch[:0], src)
		if err != nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			return false, fmt.Errorf("artifact: reading %s: %w", a.Path, err)
		}
		scratch = frame[:0]
		if n == 0 && i > 1 {
			break // Body ended at a part boundary
		}
		if i > MaxParts {
			return false, fmt.Errorf("%w: %s: more than %d parts of %d bytes", ErrRefused, a.Path, MaxParts, r.part)
		}
		if err := sp.add(frame); err != nil {
			return false, err
		}
		size += n
		if n < r.part {
			break
		}
	}
	r.n = len(sp.off) - 1
	r.h.End, r.h.RawSize = size, size
	r.h.Checksum, r.h.Lines = archive.FormatChecksum(crc), lines
	r.named()
	if r.exists(ctx) {
		return true, nil
	}
	r.frame = func(_ context.Context, i int, dst []byte, _ *uint32) ([]byte, error) { return sp.appendFrame(dst, i) }
	return false, r.store(ctx)
}

// spool keeps compressed frames: in memory up to memLimit bytes, then all
// of them in a temporary file, removed by close.
type spool struct {
	dir      string
	memLimit int64
	mem      []byte
	f        *os.File
	off      []int64 // frame i (from 1) is [off[i-1], off[i])
}

func (sp *spool) add(frame []byte) error {
	if len(sp.off) == 0 {
		sp.off = []int64{0}
	}
	end := sp.off[len(sp.off)-1]
	if sp.f == nil && end+int64(len(frame)) > sp.memLimit {
		f, err := os.CreateTemp(sp.dir, "logship-artifact-*.zst")
		if err != nil {
			return fmt.Errorf("artifact: spool: %w", err)
		}
		sp.f = f
		if _, err := f.Write(sp.mem); err != nil {
			return fmt.Errorf("artifact: spool: %w", err)
		}
		sp.mem = nil
	}
	if sp.f != nil {
		if _, err := sp.f.Write(frame); err != nil {
			return fmt.Errorf("artifact: spool: %w", err)
		}
	} else {
		sp.mem = append(sp.mem, frame...)
	}
	sp.off = append(sp.off, end+int64(len(frame)))
	return nil
}

// appendFrame appends frame i (from 1) to dst.
func (sp *spool) appendFrame(dst []byte, i int) ([]byte, error) {
	start, end := sp.off[i-1], sp.off[i]
	if sp.f == nil {
		return append(dst, sp.mem[start:end]...), nil
	}
	n := len(dst)
	dst = slices.Grow(dst, int(end-start))[:n+int(end-start)]
	if _, err := sp.f.ReadAt(dst[n:], start); err != nil {
		return nil, fmt.Errorf("artifact: spool: %w", err)
	}
	return dst, nil
}

func (sp *spool) close() {
	if sp.f != nil {
		sp.f.Close()
		os.Remove(sp.f.Name())
	}
}
