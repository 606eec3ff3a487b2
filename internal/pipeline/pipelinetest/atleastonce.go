package pipelinetest

import (
	"bytes"
	"testing"
	"time"
)

// AtLeastOnce describes a source for RunAtLeastOnce.
type AtLeastOnce struct {
	// Start runs a new instance of the source on em (in the background)
	// until stop is called; stop returns what the source's Run returned
	// and is safe to call twice.
	Start func(t *testing.T, em *Emitter) (stop func() error)
	// Feed grows the source's input by part n (called with 0, 1, 2 in
	// order) and returns the position in the stream at which that part
	// ends (bytes, or records). All parts land in one stream.
	Feed func(t *testing.T, part int) (end int64)
}

// RunAtLeastOnce checks the restart contract every source keeps, the one
// the pipeline's checkpoints rely on: part 0 is emitted and acknowledged,
// part 1 emitted but not acknowledged, then the source is stopped and
// started again from the durable checkpoint. The new run must emit part 1
// again, exactly (the same bytes, from the acknowledged position, nothing
// before it), and then go on with part 2.
func RunAtLeastOnce(t *testing.T, src AtLeastOnce) {
	t.Helper()
	em := New()
	em.AutoAck = false
	stop := src.Start(t, em)
	end1 := src.Feed(t, 0)
	s := waitEnd(t, em, end1)
	s.Ack()
	if c := s.Committed(); c != end1 {
		t.Fatalf("acknowledged up to %d, want %d (the end of part 0): the source emitted beyond its input", c, end1)
	}
	end2 := src.Feed(t, 1)
	s = waitEnd(t, em, end2)
	if err := stop(); err != nil {
		t.Fatalf("first run: %v", err)
	}
	var unacked []byte
	for _, p := range s.Pieces() {
		if p.Start < end1 && p.End > end1 {
			t.Fatalf("piece [%d,%d) straddles the acknowledged position %d", p.Start, p.End, end1)
		}
		if p.Start >= end1 {
			unacked = append(unacked, p.Data...)
		}
	}

	em2 := em.Restart()
	stop2 := src.Start(t, em2)
	defer stop2()
	s2 := waitEnd(t, em2, end2)
	pcs := s2.Pieces()
	if pcs[0].Start != end1 {
		t.Errorf("after the restart the stream starts at %d, want %d (the acknowledged position)", pcs[0].Start, end1)
	}
	got, err := s2.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, unacked) {
		t.Errorf("after the restart:\n%q\nwant exactly the unacknowledged part:\n%q", got, unacked)
	}
	end3 := src.Feed(t, 2)
	s2 = waitEnd(t, em2, end3)
	if _, err := s2.Bytes(); err != nil {
		t.Errorf("after part 2: %v", err)
	}
	if err := stop2(); err != nil {
		t.Fatalf("second run: %v", err)
	}
}

// waitEnd waits for the emitter's only stream to reach end.
func waitEnd(t *testing.T, em *Emitter, end int64) *RecordedStream {
	t.Helper()
	var s *RecordedStream
	reached := em.Wait(10*time.Second, func() bool {
		ss := em.Streams()
		if len(ss) != 1 {
			return false
		}
		for _, st := range ss {
			s = st
		}
		p := s.Pieces()
		return len(p) > 0 && p[len(p)-1].End >= end
	})
	if !reached {
		n := len(em.Streams())
		var last int64 = -1
		if s != nil {
			if p := s.Pieces(); len(p) > 0 {
				last = p[len(p)-1].End
			}
		}
		t.Fatalf("%d streams, the stream's end %d: want one stream reaching %d before the deadline", n, last, end)
	}
	return s
}
