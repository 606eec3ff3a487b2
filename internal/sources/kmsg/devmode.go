package kmsg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/pipeline"
	"golang.org/x/sys/unix"
)

const (
	// recordBufSize holds the largest record: the kernel's limit for one
	// formatted /dev/kmsg record is 8 KiB (CONSOLE_EXT_LOG_MAX) and read
	// fails with EINVAL when the buffer is smaller than the record.
	recordBufSize = 16 << 10
	// maxPieceBytes caps a piece so a flood still reaches the pipeline in
	// steps, not in one piece per ring buffer.
	maxPieceBytes = 256 << 10
)

// batch collects consecutive lines for one piece.
type batch struct {
	start, end int64
	data       []byte
	lines      int64
	kills      int64
	event      string
}

func (b *batch) empty() bool { return b.end == b.start }

func (b *batch) reset(at int64) {
	b.start, b.end, b.data, b.lines, b.kills, b.event = at, at, b.data[:0], 0, 0, ""
}

// add appends one record formatted as text and ending at position end.
func (b *batch) add(r *record, boot time.Time, end int64) {
	b.data = appendLine(b.data, r, boot)
	b.lines++ // one line per record
	b.end = end
	if isOOM(r.Msg) {
		b.event = archive.EventOOMKill
		if isOOMKill(r.Msg) {
			b.kills++
		}
	}
}

// write hands the batch to the stream as one piece and empties it.
func (b *batch) write(ctx context.Context, st pipeline.StreamWriter, m *sourceMetrics) error {
	if b.empty() {
		return nil
	}
	if err := st.Write(ctx, pipeline.Piece{Start: b.start, End: b.end, Data: b.data, Lines: b.lines, Event: b.event}); err != nil {
		return err
	}
	m.records.AddInt64(b.end - b.start)
	m.oomKills.AddInt64(b.kills)
	b.reset(b.end)
	return nil
}

// device reads records from a kmsg device until ctx ends.
func (r *run) device(ctx context.Context, dev Device) error {
	defer dev.Close()
	s := r.s
	meta, _ := json.Marshal(streamMeta{BootID: r.bootID, Mode: ModeKmsg})
	info := pipeline.StreamInfo{ID: r.streamID, Kind: archive.KindKmsg, Path: s.device, Unit: archive.UnitRecords, Meta: meta}

	var st pipeline.StreamWriter
	next := int64(-1) // the sequence number expected next; -1: the first one read
	if cp, ok := r.checkpoint(info.ID); ok {
		next = cp.Committed
		st = r.out.Open(info, next)
	}
	var b batch
	b.reset(next)
	overwritten := false // EPIPE seen: the next record follows a gap
	warnedMalformed := false
	w, canWait := dev.(waiter)
	buf := make([]byte, recordBufSize)
	defer func() {
		if st != nil {
			st.Flush()
		}
	}()
	for ctx.Err() == nil {
		n, err := dev.Read(buf)
		switch {
		case err == nil:
		case errors.Is(err, unix.EPIPE):
			overwritten = true
			continue
		case errors.Is(err, unix.EAGAIN):
			if err := b.write(ctx, st, &s.m); err != nil {
				return nil // ctx ended while the pipeline was full
			}
			if canWait {
				if err := w.Wait(ctx); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return fmt.Errorf("kmsg: %s: %w", s.device, err)
				}
			} else if !wait(ctx, s.PollInterval) {
				return nil
			}
			continue
		default:
			return fmt.Errorf("kmsg: read %s: %w", s.device, err)
		}

		rec, err := parseRecord(buf[:n])
		if err != nil {
			s.m.malformed.Inc()
			if !warnedMalformed {
				s.log.Warn("kmsg: skipping malformed record (logged once)", "err", err)
				warnedMalformed = true
			}
			continue
		}
		if st == nil {
			// First start on this boot: from the oldest record kept.
			next = rec.Seq
			st = r.out.Open(info, next)
			b.reset(next)
		}
		if rec.Seq < next {
			continue // before the resume point
		}
		if rec.Seq > next {
			lost := rec.Seq - next
			when := "while logship was not running"
			if overwritten {
				when = "before logship read them"
			}
			s.log.Warn("kmsg: kernel log records lost: overwritten "+when, "first_seq", next, "last_seq", rec.Seq-1, "records", lost)
			s.m.gaps.Inc()
			s.m.lost.AddInt64(lost)
			if err := b.write(ctx, st, &s.m); err != nil {
				return nil
			}
			b.reset(rec.Seq) // the next piece starts after the jump
		}
		overwritten = false
		b.add(&rec, r.boot, rec.Seq+1)
		next = rec.Seq + 1
		if len(b.data) >= maxPieceBytes {
			if err := b.write(ctx, st, &s.m); err != nil {
				return nil
			}
		}
	}
	return nil
}
