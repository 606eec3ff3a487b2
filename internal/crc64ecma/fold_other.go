//go:build !amd64

package crc64ecma

const haveFold = false

func fold(uint64, []byte) [2]uint64 { panic("unreachable") }
