package archive

import (
	"fmt"
	"hash/crc32"
)

type crcWriter struct{ c uint32 }

func newCRC() *crcWriter { return &crcWriter{} }

func (w *crcWriter) Write(p []byte) (int, error) {
	w.c = crc32.Update(w.c, castagnoli, p)
	return len(p), nil
}

func (w *crcWriter) sum() string { return "crc32c:" + fmt.Sprintf("%08x", w.c) }
