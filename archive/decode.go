package archive

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// allDecoder decodes whole zstd frames held in memory (DecodeAll), on as
// many goroutines at once as there are CPUs: the output buffer is the
// history, so it needs no window buffer of its own and makes no copy.
var allDecoder = sync.OnceValues(func() (*zstd.Decoder, error) {
	return zstd.NewReader(nil, zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)), zstd.WithDecoderMaxWindow(maxWindow),
		zstd.WithDecoderMaxMemory(maxWindow+(8<<20)), zstd.WithDecodeAllCapLimit(true))
})

// DecodeInto is Decode appending the raw bytes to dst. A zstd object whose
// frame declares its content size (logship writes it) is decoded in one
// call into dst's spare capacity: give dst room for the header's RawSize
// and nothing is allocated. Other objects are streamed as Decode does.
// The checks are Decode's: header, limit, size and checksum.
func DecodeInto(dst, obj []byte, lim Limits) (*Header, []byte, error) {
	h, frame, ok, err := splitZstd(obj, lim)
	if err != nil {
		return nil, dst, err
	}
	if !ok {
		h, raw, err := Decode(obj, lim)
		return h, append(dst, raw...), err
	}
	dst = slices.Grow(dst, int(h.RawSize))
	d, err := allDecoder()
	if err != nil {
		return h, dst, err
	}
	base := len(dst)
	// WithDecodeAllCapLimit: never more than dst's capacity, so a frame
	// that lies about its size cannot allocate.
	out, err := d.DecodeAll(frame, dst[:base:base+int(h.RawSize)])
	if err != nil {
		return h, dst, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	raw := out[base:]
	if int64(len(raw)) != h.RawSize {
		return h, dst, fmt.Errorf("%w: %d raw bytes, header says %d", ErrChecksum, len(raw), h.RawSize)
	}
	if got := Checksum(raw); got != h.Checksum {
		return h, dst, fmt.Errorf("%w: got %s, header says %s", ErrChecksum, got, h.Checksum)
	}
	return h, out, nil
}

// splitZstd returns the header and the zstd frame of an object, with ok
// false when it is not a zstd chunk whose one frame declares exactly the
// header's raw size (gzip, no content size: those are streamed).
func splitZstd(obj []byte, lim Limits) (*Header, []byte, bool, error) {
	if len(obj) < 8 || binary.LittleEndian.Uint32(obj) != skippableMagic {
		return nil, nil, false, nil
	}
	n := int64(binary.LittleEndian.Uint32(obj[4:]))
	if n > MaxHeaderBytes || 8+n > int64(len(obj)) {
		return nil, nil, false, fmt.Errorf("%w: header frame of %d bytes in an object of %d", ErrHeader, n, len(obj))
	}
	h, err := UnmarshalHeader(obj[8 : 8+n])
	if err != nil {
		return nil, nil, false, err
	}
	if err := checkLimit(h, lim); err != nil {
		return nil, nil, false, err
	}
	frame := obj[8+n:]
	var zh zstd.Header
	if err := zh.Decode(frame); err != nil || !zh.HasFCS || zh.FrameContentSize != uint64(h.RawSize) {
		return h, nil, false, nil
	}
	return h, frame, true, nil
}
