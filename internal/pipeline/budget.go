package pipeline

import "sync"

// budget is the pipeline's memory bound in bytes: max_in_flight ×
// max_bytes. A chunk open or waiting to be compressed holds max_bytes of
// it (its raw buffer); once compressed it gives back all but its
// compressed body's size, which it holds until the sink has it. A slow
// sink (an fsync, an HTTP round trip, an outage) thus stops the readers
// only when the compressed chunks waiting on it fill the budget, not when
// max_in_flight of them merely exist: logs compress 5-10x, so the readers
// and compressors keep working through the latency of the sink, within
// the same memory.
type budget struct {
	mu   sync.Mutex
	free int64
	wake chan struct{} // closed and replaced whenever bytes are given back
}

func newBudget(n int64) *budget { return &budget{free: n, wake: make(chan struct{})} }

// take takes n bytes when they are free. When they are not, it returns a
// channel closed the next time bytes are given back.
func (b *budget) take(n int64) (bool, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.free >= n {
		b.free -= n
		return true, nil
	}
	return false, b.wake
}

// give gives n bytes back.
func (b *budget) give(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.free += n
	close(b.wake)
	b.wake = make(chan struct{})
	b.mu.Unlock()
}

// available is the free part of the budget.
func (b *budget) available() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.free
}
