// Package pipelinetest has an in-memory pipeline.Emitter for source tests:
// it records every piece per stream, acknowledges on demand, and can be
// "restarted" keeping only acknowledged checkpoints, like the real pipeline
// after a crash.
package pipelinetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/logship/logship/internal/pipeline"
)

// Emitter records pieces. With AutoAck (the default of New) every piece is
// durable as soon as it is written.
type Emitter struct {
	mu         sync.Mutex
	cond       *sync.Cond
	AutoAck    bool
	firstStart bool
	saved      map[string]pipeline.Checkpoint // state as loaded at "start"
	streams    map[string]*RecordedStream
	forgotten  map[string]bool
	// Block, when set, makes Write wait until it is cleared (backpressure).
	block bool
	// blocked counts the Writes waiting because of block.
	blocked int
}

// New returns an emitter for a first start (no saved state).
func New() *Emitter {
	e := &Emitter{AutoAck: true, firstStart: true, saved: map[string]pipeline.Checkpoint{}, streams: map[string]*RecordedStream{}, forgotten: map[string]bool{}}
	e.cond = sync.NewCond(&e.mu)
	return e
}

// Restart returns a new emitter whose saved state is this one's durable
// checkpoints, as if the process had been killed and started again.
// Data recorded so far stays readable through the old emitter only.
func (e *Emitter) Restart() *Emitter {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := New()
	n.firstStart = false
	n.AutoAck = e.AutoAck
	for id, cp := range e.saved {
		if !e.forgotten[id] {
			n.saved[id] = cp
		}
	}
	for id, s := range e.streams {
		if e.forgotten[id] {
			continue
		}
		n.saved[id] = pipeline.Checkpoint{Info: s.info, Committed: s.committed, Finished: s.closed && s.committed == s.next, Updated: time.Now()}
	}
	return n
}

// Checkpoints implements pipeline.Emitter.
func (e *Emitter) Checkpoints() ([]pipeline.Checkpoint, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []pipeline.Checkpoint
	for _, cp := range e.saved {
		out = append(out, cp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Info.ID < out[j].Info.ID })
	return out, e.firstStart
}

// Open implements pipeline.Emitter.
func (e *Emitter) Open(info pipeline.StreamInfo, start int64) pipeline.StreamWriter {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s, ok := e.streams[info.ID]; ok && !s.closed {
		return s
	}
	s := &RecordedStream{e: e, info: info, start: start, committed: start, next: start}
	if old, ok := e.streams[info.ID]; ok {
		// Reopened after Close (a copy continuing a finished stream).
		s.pieces = old.pieces
	}
	e.streams[info.ID] = s
	delete(e.forgotten, info.ID)
	return s
}

// Forget implements pipeline.Emitter.
func (e *Emitter) Forget(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s, ok := e.streams[id]; ok && !s.closed {
		return // open in this run: kept, as by the pipeline
	}
	e.forgotten[id] = true
	delete(e.saved, id)
}

// SetBlock turns simulated backpressure on or off.
func (e *Emitter) SetBlock(b bool) {
	e.mu.Lock()
	e.block = b
	e.mu.Unlock()
	e.cond.Broadcast()
}

// Blocked returns how many Writes are waiting because of SetBlock: a
// source under backpressure has stopped in Write.
func (e *Emitter) Blocked() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.blocked
}

// Streams returns a copy of the streams seen, by id.
func (e *Emitter) Streams() map[string]*RecordedStream {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]*RecordedStream, len(e.streams))
	for k, v := range e.streams {
		out[k] = v
	}
	return out
}

// Wait polls cond (under no lock) until it is true or the deadline passes.
func (e *Emitter) Wait(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cond()
}

// Piece is a recorded piece (Data copied).
type Piece = pipeline.Piece

// RecordedStream is the pipeline.StreamWriter the Emitter hands out: it
// records one stream's pieces, durable at once (AutoAck) or on Ack.
type RecordedStream struct {
	e         *Emitter
	info      pipeline.StreamInfo
	start     int64
	next      int64
	committed int64
	closed    bool
	flushes   int
	pieces    []Piece
}

// Write implements pipeline.StreamWriter.
func (s *RecordedStream) Write(ctx context.Context, p pipeline.Piece) error {
	e := s.e
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.block {
		e.blocked++
		defer func() { e.blocked-- }()
	}
	for e.block {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Wake up periodically to notice ctx.
		go func() { time.Sleep(10 * time.Millisecond); e.cond.Broadcast() }()
		e.cond.Wait()
	}
	if s.closed {
		panic(fmt.Sprintf("pipelinetest: write to closed stream %s", s.info.ID))
	}
	if s.info.Unit == "bytes" && p.End != p.Start+int64(len(p.Data)) {
		panic(fmt.Sprintf("pipelinetest: piece [%d,%d) has %d bytes", p.Start, p.End, len(p.Data)))
	}
	p.Data = bytes.Clone(p.Data)
	s.pieces = append(s.pieces, p)
	s.next = p.End
	if e.AutoAck {
		s.committed = p.End // everything so far is durable, gaps included
	}
	return nil
}

// Ack marks everything written so far durable (for AutoAck=false).
func (s *RecordedStream) Ack() {
	s.e.mu.Lock()
	s.committed = s.next
	s.e.mu.Unlock()
}

// Flush implements pipeline.StreamWriter.
func (s *RecordedStream) Flush() { s.e.mu.Lock(); s.flushes++; s.e.mu.Unlock() }

// Room implements pipeline.StreamWriter: a recorded stream has no chunks,
// so it always has the room of an empty one of the default size.
func (s *RecordedStream) Room() int { return int(pipeline.DefaultMaxBytes) }

// SetMeta implements pipeline.StreamWriter.
func (s *RecordedStream) SetMeta(m json.RawMessage) {
	s.e.mu.Lock()
	s.info.Meta = append(json.RawMessage(nil), m...)
	s.e.mu.Unlock()
}

// Committed implements pipeline.StreamWriter.
func (s *RecordedStream) Committed() int64 { s.e.mu.Lock(); defer s.e.mu.Unlock(); return s.committed }

// Close implements pipeline.StreamWriter.
func (s *RecordedStream) Close() { s.e.mu.Lock(); s.closed = true; s.e.mu.Unlock() }

// CloseStored implements pipeline.StreamWriter: the stream ends committed and
// finished at end, with no pieces recorded for the bytes the source
// stored itself.
func (s *RecordedStream) CloseStored(end int64) {
	s.e.mu.Lock()
	s.committed, s.next, s.closed = end, end, true
	s.e.mu.Unlock()
}

// Info returns the stream's info as last set.
func (s *RecordedStream) Info() pipeline.StreamInfo {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	return s.info
}

// Closed reports whether the source closed the stream.
func (s *RecordedStream) Closed() bool { s.e.mu.Lock(); defer s.e.mu.Unlock(); return s.closed }

// Bytes returns the concatenated data of all pieces, checking they are
// contiguous from the stream's first piece.
func (s *RecordedStream) Bytes() ([]byte, error) {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	var b []byte
	var pos int64 = -1
	for _, p := range s.pieces {
		if pos >= 0 && p.Start != pos {
			return b, fmt.Errorf("stream %s: piece at %d after %d", s.info.ID, p.Start, pos)
		}
		b = append(b, p.Data...)
		pos = p.End
	}
	return b, nil
}

// Pieces returns the recorded pieces.
func (s *RecordedStream) Pieces() []Piece {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	return append([]Piece(nil), s.pieces...)
}
