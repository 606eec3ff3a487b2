package crc64ecma

import (
	"hash/crc64"
	"math/rand/v2"
	"testing"
)

func TestMatchesHashCRC64(t *testing.T) {
	if !haveFold {
		t.Log("no carry-less multiplication here: hash/crc64 throughout")
	}
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 1<<16+77)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	for n := range 300 {
		for _, init := range []uint64{0, 1, 0xdeadbeefcafef00d} {
			off := r.IntN(16)
			p := buf[off : off+n]
			if got, want := Update(init, p), crc64.Update(init, table, p); got != want {
				t.Fatalf("len %d, crc %x: %x, want %x", n, init, got, want)
			}
		}
	}
	for _, n := range []int{1 << 10, 1<<16 - 3, 1 << 16} {
		if got, want := Checksum(buf[:n]), crc64.Checksum(buf[:n], table); got != want {
			t.Fatalf("len %d: %x, want %x", n, got, want)
		}
	}
	// In pieces, as a hash.
	h := New()
	for p := buf; len(p) > 0; {
		k := min(len(p), r.IntN(5000))
		h.Write(p[:k])
		p = p[k:]
	}
	if got, want := h.Sum64(), crc64.Checksum(buf, table); got != want {
		t.Fatalf("in pieces: %x, want %x", got, want)
	}
	if got, want := h.Sum(nil), crc64.New(table); string(got) != string(func() []byte { want.Write(buf); return want.Sum(nil) }()) {
		t.Fatalf("Sum: %x", got)
	}
}

func FuzzMatchesHashCRC64(f *testing.F) {
	f.Add(uint64(0), []byte("hello, world, a line long enough to be folded: 0123456789abcdef0123456789"))
	f.Fuzz(func(t *testing.T, init uint64, p []byte) {
		if got, want := Update(init, p), crc64.Update(init, table, p); got != want {
			t.Fatalf("len %d, crc %x: %x, want %x", len(p), init, got, want)
		}
	})
}

func BenchmarkUpdate(b *testing.B) {
	p := make([]byte, 1<<20)
	for i := range p {
		p[i] = byte(i * 7)
	}
	b.Run("fold", func(b *testing.B) {
		b.SetBytes(int64(len(p)))
		for b.Loop() {
			Update(0, p)
		}
	})
	b.Run("hash/crc64", func(b *testing.B) {
		b.SetBytes(int64(len(p)))
		for b.Loop() {
			crc64.Update(0, table, p)
		}
	})
}
