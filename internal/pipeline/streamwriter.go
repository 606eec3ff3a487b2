package pipeline

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logship/logship/archive"
)

// streamWriter is the pipeline's StreamWriter for one stream: its open
// batch and the tracker of its acknowledged chunks.
type streamWriter struct {
	p      *Pipeline
	source string

	mu   sync.Mutex
	info StreamInfo

	// open batch
	buf      *[]byte
	bStart   int64
	bEnd     int64
	bLines   int64
	bCRC     uint32 // running CRC-32C of *buf
	bFirst   time.Time
	bLast    time.Time
	bEvent   string
	openedAt time.Time // wall clock when the batch opened (for MaxAge)

	next int64 // position after the last byte written

	// tracker: sealed chunks in order; committed advances over the acked
	// prefix. A jump between chunks (a known gap) is simply passed over.
	sealed    []*sealedRange
	committed int64
	closed    bool
	opened    bool // a source opened it in this run (not only loaded)
	finished  bool
	updated   time.Time

	// saved: the stream is in the checkpoint file (loaded from it, or
	// written since it was opened); its chunks wait for it (saveStream).
	saved atomic.Bool
}

type sealedRange struct {
	start, end int64
	acked      bool
}

func newStreamWriter(p *Pipeline, source string, info StreamInfo, start int64) *streamWriter {
	return &streamWriter{p: p, source: source, info: info, committed: start, next: start, updated: time.Now()}
}

func (s *streamWriter) Write(ctx context.Context, pc Piece) error {
	if len(pc.Data) == 0 && pc.End == pc.Start {
		return nil
	}
	if pc.Time.IsZero() {
		pc.Time = s.p.o.Now()
	}
	s.mu.Lock()
	if s.buf != nil && (pc.Start != s.bEnd || len(*s.buf)+len(pc.Data) > int(s.p.o.MaxBytes) || (pc.Event != "" && s.bEvent != "" && pc.Event != s.bEvent)) {
		s.sealLocked()
	}
	if s.buf == nil {
		s.mu.Unlock()
		if err := s.p.acquire(ctx, s); err != nil {
			return err
		}
		s.mu.Lock()
		bp := s.p.getRaw(len(pc.Data))
		if cap(*bp) < len(pc.Data) {
			b := make([]byte, 0, len(pc.Data))
			bp = &b
		}
		*bp = (*bp)[:0]
		s.buf = bp
		s.bStart, s.bEnd, s.bLines, s.bCRC, s.bEvent = pc.Start, pc.Start, 0, 0, ""
		s.bFirst = pc.Time
		s.openedAt = time.Now()
		s.p.setOpen(s, true)
	}
	if len(*s.buf)+len(pc.Data) > cap(*s.buf) && cap(*s.buf) < int(s.p.o.MaxBytes) {
		// A batch begun small outgrows its buffer: on to a full one.
		bp := s.p.getRaw(int(s.p.o.MaxBytes))
		*bp = append((*bp)[:0], *s.buf...)
		s.p.putRaw(s.buf)
		s.buf = bp
	}
	*s.buf = append(*s.buf, pc.Data...)
	// Checksummed here, while the bytes the source just read are in the
	// cache: a pass over the sealed chunk would read it from memory again.
	s.bCRC = archive.UpdateChecksum(s.bCRC, pc.Data)
	s.bEnd = pc.End
	s.bLines += pc.Lines
	s.bLast = pc.Time
	if pc.Event != "" {
		s.bEvent = pc.Event
	}
	s.next = pc.End
	full := len(*s.buf) >= int(s.p.o.MaxBytes)
	if full {
		s.sealLocked()
	}
	s.mu.Unlock()
	return nil
}

// sealLocked hands the open batch to the compressors.
func (s *streamWriter) sealLocked() {
	if s.buf == nil {
		return
	}
	c := &chunk{s: s, info: s.info, start: s.bStart, end: s.bEnd, raw: s.buf, crc: s.bCRC, lines: s.bLines, first: s.bFirst, last: s.bLast, event: s.bEvent, held: s.p.o.MaxBytes.Int64()}
	s.buf = nil
	s.p.setOpen(s, false)
	s.p.sendMu.RLock()
	defer s.p.sendMu.RUnlock()
	if s.p.sendClosed {
		// Written after Drain: the data stays in the source and is read
		// again at the next start.
		s.p.putRaw(c.raw)
		s.p.release(c.held)
		return
	}
	s.sealed = append(s.sealed, &sealedRange{start: c.start, end: c.end})
	s.p.pending.Add(1)
	s.p.compressQ <- c // never blocks: one slot per token
}

func (s *streamWriter) Flush() {
	s.mu.Lock()
	s.sealLocked()
	s.mu.Unlock()
}

func (s *streamWriter) Room() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buf == nil {
		return int(s.p.o.MaxBytes)
	}
	return max(int(s.p.o.MaxBytes)-len(*s.buf), 0)
}

func (s *streamWriter) SetMeta(m json.RawMessage) {
	s.mu.Lock()
	s.info.Meta = append(json.RawMessage(nil), m...)
	s.updated = time.Now()
	s.mu.Unlock()
	s.p.markDirty()
}

func (s *streamWriter) Committed() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.committed
}

func (s *streamWriter) Close() {
	s.mu.Lock()
	s.sealLocked()
	s.closed = true
	s.finished = len(s.sealed) == 0
	s.updated = time.Now()
	s.mu.Unlock()
	s.p.markDirty()
}

func (s *streamWriter) CloseStored(end int64) {
	s.mu.Lock()
	s.committed, s.next = end, end
	s.sealed = nil
	s.closed, s.finished = true, true
	s.updated = time.Now()
	s.mu.Unlock()
	s.p.markDirty()
	if err := s.p.SaveCheckpoint(); err != nil {
		// The bytes are durable; the ticker saves the entry later (and the
		// source finds them stored after a restart before that).
		s.p.log.Error("saving checkpoint after a stored stream failed; will retry", "dir", s.p.o.StateDir, "stream", s.info.ID, "err", err)
	}
}

// ack marks [start, end) durable and advances the checkpoint over the
// acknowledged prefix.
func (s *streamWriter) ack(start, end int64) {
	s.mu.Lock()
	for _, r := range s.sealed {
		if r.start == start && r.end == end && !r.acked {
			r.acked = true
			break
		}
	}
	n := 0
	for n < len(s.sealed) && s.sealed[n].acked {
		s.committed = s.sealed[n].end
		n++
	}
	if n > 0 {
		s.sealed = append(s.sealed[:0], s.sealed[n:]...)
		s.updated = time.Now()
	}
	if s.closed && len(s.sealed) == 0 {
		s.finished = true
	}
	s.mu.Unlock()
	if n > 0 {
		s.p.markDirty()
	}
}

func (s *streamWriter) entry() savedEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return savedEntry{Source: s.source, ID: s.info.ID, Kind: s.info.Kind, Path: s.info.Path, Unit: s.info.Unit, Meta: s.info.Meta,
		Committed: s.committed, Finished: s.finished, Updated: s.updated}
}
