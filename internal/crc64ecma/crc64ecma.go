// Package crc64ecma computes the CRC-64/ECMA that OSS returns in
// x-oss-hash-crc64ecma (hash/crc64 with the ECMA table), by folding with
// carry-less multiplication where the CPU has it (amd64 with PCLMULQDQ):
// about ten times the speed of hash/crc64's slicing-by-8, which cost 3% of
// the agent's CPU into OSS and 6% of a pull's. Elsewhere, and for short
// inputs, it is hash/crc64.
package crc64ecma

import (
	"encoding/binary"
	"hash"
	"hash/crc64"
)

var table = crc64.MakeTable(crc64.ECMA)

// foldMin is the shortest input that folding takes: four 16-byte blocks.
const foldMin = 64

// Update returns the CRC of p appended to data whose CRC is crc, as
// crc64.Update(crc, crc64.MakeTable(crc64.ECMA), p).
func Update(crc uint64, p []byte) uint64 {
	if !haveFold || len(p) < foldMin {
		return crc64.Update(crc, table, p)
	}
	n := len(p) &^ 15
	acc := fold(^crc, p[:n])
	// acc is congruent to p[:n] with the initial state folded in: the
	// rest is the CRC from a zero state (crc64.Update inverts the state
	// before and after) of its 16 bytes and of the tail.
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], acc[0])
	binary.LittleEndian.PutUint64(b[8:], acc[1])
	raw := ^crc64.Update(^uint64(0), table, b[:])
	return crc64.Update(^raw, table, p[n:])
}

// Checksum returns the CRC of p.
func Checksum(p []byte) uint64 { return Update(0, p) }

// New returns a hash.Hash64 computing the CRC, as crc64.New(ECMA table).
func New() hash.Hash64 { return &digest{} }

type digest struct{ crc uint64 }

func (d *digest) Write(p []byte) (int, error) { d.crc = Update(d.crc, p); return len(p), nil }
func (d *digest) Sum64() uint64               { return d.crc }
func (d *digest) Sum(in []byte) []byte {
	s := d.crc
	return append(in, byte(s>>56), byte(s>>48), byte(s>>40), byte(s>>32), byte(s>>24), byte(s>>16), byte(s>>8), byte(s))
}
func (d *digest) Reset()         { d.crc = 0 }
func (d *digest) Size() int      { return crc64.Size }
func (d *digest) BlockSize() int { return 1 }
