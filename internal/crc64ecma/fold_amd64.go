package crc64ecma

import "golang.org/x/sys/cpu"

var haveFold = cpu.X86.HasPCLMULQDQ && cpu.X86.HasSSE41

// fold returns a 128-bit value congruent, for the CRC, to p (a multiple
// of 16 bytes, at least 64) with init XORed into its first 8 bytes.
func fold(init uint64, p []byte) [2]uint64 {
	var acc [2]uint64
	foldAsm(init, p, &k512, &k128, &acc)
	return acc
}

//go:noescape
func foldAsm(init uint64, p []byte, k512, k128 *[2]uint64, acc *[2]uint64)
