package crc64ecma

// The folding constants, for the bit-reflected CRC (a register's bit i is
// the coefficient of x^(63-i)): a carry-less product of two reflected
// 64-bit values is their product times x, so folding a 128-bit block
// (high-degree half lo, low-degree half hi) over D bits multiplies lo by
// x^(D+63) mod P and hi by x^(D-1) mod P.

// polyNormal is the ECMA-182 polynomial without its x^64 term.
const polyNormal = 0x42F0E1EBA9EA3693

// xPowMod returns x^e mod P, reflected.
func xPowMod(e int) uint64 {
	r := uint64(1) // x^0, normal form
	for range e {
		carry := r >> 63
		r <<= 1
		if carry != 0 {
			r ^= polyNormal
		}
	}
	return reverse(r)
}

func reverse(v uint64) uint64 {
	var r uint64
	for i := range 64 {
		r |= (v >> i & 1) << (63 - i)
	}
	return r
}

// foldConsts returns the pair for folding over d bits: lo's, hi's.
func foldConsts(d int) [2]uint64 { return [2]uint64{xPowMod(d + 63), xPowMod(d - 1)} }

// k512 folds each of four blocks over the next 64 bytes; k128 folds a
// block into the next.
var k512, k128 = foldConsts(512), foldConsts(128)
