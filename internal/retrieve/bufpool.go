package retrieve

import (
	"context"
	"maps"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/logship/logship/internal/prefault"
)

// budget bounds the bytes of the buffers of fetched objects and decoded
// chunks, and keeps returned buffers for the next chunks: a fresh buffer
// costs its zeroing and, on virtual machines whose host takes back long
// free memory, a fault in the host for every page first touched (a
// sync.Pool is emptied by every GC, which the memory limit makes
// frequent).
//
// Before a step is fetched, the dispatcher reserves the buffers it will
// need (acquire): kept buffers of the right size are handed to the step,
// the rest is reserved from the free bytes. The step takes its buffers
// with get and gives everything back with release. Reserved plus kept
// bytes never exceed the total: acquire drops kept buffers of other sizes
// to make room before it waits. Sizes are rounded (roundUp), so that
// chunks of about the same size share buffers.
type budget struct {
	mu   sync.Mutex
	free int64              // total - reserved - kept
	kept map[int64][][]byte // by capacity
	wake chan struct{}
}

func newBudget(total int64) *budget {
	return &budget{free: total, kept: map[int64][][]byte{}, wake: make(chan struct{}, 1)}
}

// acquire reserves buffers of the given capacities (from roundUp) for a
// step, waiting for releases when there is no room. It hands over kept
// buffers of at least, and less than twice, those capacities, and returns
// them with the bytes reserved (release takes them back). It has one
// caller at a time (the dispatcher).
func (b *budget) acquire(ctx context.Context, caps ...int64) ([][]byte, int64, error) {
	var bufs [][]byte
	var handed int64
	caps = slices.Clone(caps)
	b.mu.Lock()
	for {
		var need int64
		for i, c := range caps {
			if c == 0 {
				continue
			}
			if buf := b.take(c); buf != nil {
				bufs = append(bufs, buf)
				handed += int64(cap(buf)) // from kept to reserved: free does not change
				caps[i] = 0
				continue
			}
			need += c
		}
		b.drop(need)
		if b.free >= need {
			b.free -= need
			b.mu.Unlock()
			return bufs, handed + need, nil
		}
		b.mu.Unlock()
		select {
		case <-b.wake:
		case <-ctx.Done():
			b.release(handed, bufs...)
			return nil, 0, ctx.Err()
		}
		b.mu.Lock()
	}
}

// drop drops kept buffers, the smallest first (chunks' raw buffers are
// the dearest to make again), until need bytes are free or none is kept
// (b.mu held).
func (b *budget) drop(need int64) {
	if b.free >= need {
		return
	}
	caps := slices.Sorted(maps.Keys(b.kept))
	for _, c := range caps {
		l := b.kept[c]
		for len(l) > 0 && b.free < need {
			l[len(l)-1] = nil // the GC may have it
			l = l[:len(l)-1]
			b.free += c
		}
		b.kept[c] = l
	}
}

// take removes and returns the smallest kept buffer of capacity in
// [c, 2c), or nil (b.mu held).
func (b *budget) take(c int64) []byte {
	best := int64(0)
	for k, l := range b.kept {
		if len(l) > 0 && k >= c && k < 2*c && (best == 0 || k < best) {
			best = k
		}
	}
	if best == 0 {
		return nil
	}
	l := b.kept[best]
	buf := l[len(l)-1]
	l[len(l)-1] = nil
	b.kept[best] = l[:len(l)-1]
	return buf
}

// get returns a buffer of length n: the smallest of bufs (those acquire
// handed over; the one taken is removed) that holds n bytes, or a new one
// of capacity roundUp(n).
func get(bufs *[][]byte, n int64) []byte {
	best := -1
	for i, buf := range *bufs {
		if int64(cap(buf)) >= n && (best < 0 || cap(buf) < cap((*bufs)[best])) {
			best = i
		}
	}
	if best >= 0 {
		buf := (*bufs)[best]
		*bufs = slices.Delete(*bufs, best, best+1)
		return buf[:n]
	}
	newBuffers.Add(1)
	buf := make([]byte, n, roundUp(n))
	if n >= 256<<10 {
		_ = prefault.Buffer(buf) // an optimisation: refused on old kernels
	}
	return buf
}

// release ends a reservation of reserved bytes (all the capacities
// acquire was given) and keeps the buffers (nil ones and ones of
// capacities not from roundUp are dropped).
func (b *budget) release(reserved int64, bufs ...[]byte) {
	b.mu.Lock()
	b.free += reserved
	for _, buf := range bufs {
		if c := int64(cap(buf)); buf != nil && roundUp(c) == c {
			b.kept[c] = append(b.kept[c], buf[:0])
			b.free -= c
		}
	}
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// newBuffers counts the buffers get made (for tests).
var newBuffers atomic.Int64

// sizeClasses hold the chunks of an agent with the default max_bytes
// (4 MiB raw, sealed full) and their compressed objects: buffers of one
// class serve every chunk of that size, instead of each size having its
// own (which left a third of the buffers of a pull made anew).
var sizeClasses = []int64{256 << 10, 1 << 20, 4 << 20}

// roundUp rounds n up to its size class when it has one (more than a
// quarter of the class), else to a multiple of a sixteenth of the power
// of two below it (4 KiB at least): at most 6.25% more.
func roundUp(n int64) int64 {
	for _, c := range sizeClasses {
		if n > c/4 && n <= c {
			return c
		}
	}
	step := max(int64(4<<10), int64(1)<<max(0, bits.Len64(uint64(n))-5))
	return (n + step - 1) / step * step
}
