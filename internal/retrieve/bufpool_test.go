package retrieve

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

// kept is the bytes of the buffers a budget keeps.
func (b *budget) keptBytes() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	var n int64
	for c, l := range b.kept {
		n += c * int64(len(l))
	}
	return n
}

// A released buffer is handed to the next step that needs its size (the
// same memory, not a new allocation); reserved plus kept bytes never
// exceed the total, whatever the sizes.
func TestBudget(t *testing.T) {
	const total = 64 << 20
	b := newBudget(total)
	ctx := context.Background()
	raw, obj := roundUp(4<<20-12345), roundUp(600<<10)
	bufs, n, err := b.acquire(ctx, raw, obj)
	if err != nil || len(bufs) != 0 || n != raw+obj {
		t.Fatalf("first acquire: %d buffers, %d bytes, %v", len(bufs), n, err)
	}
	r := get(&bufs, 4<<20-12345)
	o := get(&bufs, 600<<10)
	b.release(n, r, o)
	if got := b.keptBytes(); got != raw+obj {
		t.Fatalf("kept %d bytes, want %d", got, raw+obj)
	}
	// A chunk a little smaller gets the same buffers.
	bufs, n, err = b.acquire(ctx, roundUp(4<<20-99999), roundUp(590<<10))
	if err != nil || len(bufs) != 2 {
		t.Fatalf("second acquire: %d buffers handed over, want 2 (%v)", len(bufs), err)
	}
	r2 := get(&bufs, 4<<20-99999)
	o2 := get(&bufs, 590<<10)
	if &r2[0] != &r[0] || &o2[0] != &o[0] {
		t.Error("kept buffers not reused")
	}
	b.release(n, r2, o2)

	rng := rand.New(rand.NewPCG(1, 2))
	type held struct {
		n    int64
		bufs [][]byte
	}
	var hs []held
	var reserved int64
	for range 2000 {
		if len(hs) > 0 && (rng.IntN(2) == 0 || reserved > total/2) {
			i := rng.IntN(len(hs))
			b.release(hs[i].n, hs[i].bufs...)
			reserved -= hs[i].n
			hs = append(hs[:i], hs[i+1:]...)
			continue
		}
		size := int64(rng.IntN(6<<20) + 1)
		bufs, n, err := b.acquire(ctx, roundUp(size))
		if err != nil {
			t.Fatal(err)
		}
		buf := get(&bufs, size)
		hs = append(hs, held{n, append(bufs, buf)})
		reserved += n
		if k := b.keptBytes(); reserved+k > total {
			t.Fatalf("%d reserved + %d kept > %d", reserved, k, total)
		}
	}
}

// acquire waits while there is no room, and returns when a release
// makes some, or when ctx ends.
func TestBudgetWaits(t *testing.T) {
	b := newBudget(8 << 20)
	ctx := context.Background()
	_, n, err := b.acquire(ctx, 6<<20)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { _, _, err := b.acquire(ctx, 4<<20); got <- err }()
	select {
	case err := <-got:
		t.Fatalf("acquired beyond the total (%v)", err)
	case <-time.After(20 * time.Millisecond): // it must still be waiting: no event to poll for
	}
	b.release(n)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	go func() { _, _, err := b.acquire(cctx, 8<<20); got <- err }()
	cancel()
	if err := <-got; err == nil {
		t.Fatal("acquire beyond the total returned without error after cancel")
	}
}

// Steps of chunks of an agent's usual sizes (raw a little under 4 MiB,
// objects of 550-800 KiB, none alike), six in flight as a pull has them,
// reuse the same buffers: a new buffer costs its zeroing and, on a VM, a
// fault for every page.
func TestBudgetReusesAcrossSizes(t *testing.T) {
	b := newBudget(32 << 20)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	type step struct {
		n    int64
		bufs [][]byte
	}
	var inFlight []step
	before := newBuffers.Load()
	for range 300 {
		if len(inFlight) == 6 {
			s := inFlight[0]
			inFlight = inFlight[1:]
			b.release(s.n, s.bufs...)
		}
		raw := 4<<20 - rng.Int64N(256<<10)
		obj := 550<<10 + rng.Int64N(250<<10)
		bufs, n, err := b.acquire(ctx, roundUp(raw), roundUp(obj))
		if err != nil {
			t.Fatal(err)
		}
		r, o := get(&bufs, raw), get(&bufs, obj)
		inFlight = append(inFlight, step{n, [][]byte{r, o}})
	}
	made := newBuffers.Load() - before
	t.Logf("%d buffers made", made)
	if made > 12 {
		t.Errorf("%d buffers made for 300 steps, 6 in flight", made)
	}
}
