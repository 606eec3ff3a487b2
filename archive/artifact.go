package archive

import (
	"encoding/binary"
	"io"

	"github.com/klauspost/compress/zstd"
)

// Artifacts (crash files shipped whole: hs_err logs, heap dumps) are
// ordinary zstd chunk objects covering a whole file, [0, size) in bytes,
// written in parts so that they can be streamed and resumed:
//
//	part 1: [header skippable frame] [zstd frame of raw [0, P)]   [padding]
//	part i:                          [zstd frame of raw [(i-1)P, iP)] [padding]
//
// Each zstd frame is independent, so a part can be produced again from the
// raw bytes alone (an upload resumed after a restart), and the parts
// concatenated are one valid .zst file that NewReader and stock `zstd -d`
// decode to the raw bytes. Padding is a skippable frame, present only where
// a part had to reach a minimum size (object stores refuse small parts but
// the last); decoders skip it.

// EventHeapDump flags an artifact that is a JVM heap dump (written on
// OutOfMemoryError by -XX:+HeapDumpOnOutOfMemoryError, or on demand); the
// JVM may well have survived it, so it is not an EventJVMCrash.
const EventHeapDump = "heap_dump"

// paddingMagic marks padding frames (any of 0x184D2A50..5F is skippable;
// the header uses skippableMagic).
const paddingMagic = 0x184D2A5E

// skippableOverhead is the size of a skippable frame without payload.
const skippableOverhead = 8

// AppendPadding returns dst grown to at least n bytes by appending one
// skippable frame of zeros; dst is returned unchanged when it is already
// that long. The frame is never shorter than 8 bytes, so the result may
// exceed n by up to 8 bytes.
func AppendPadding(dst []byte, n int) []byte {
	if len(dst) >= n {
		return dst
	}
	payload := max(n-len(dst)-skippableOverhead, 0)
	var b [skippableOverhead]byte
	binary.LittleEndian.PutUint32(b[0:], paddingMagic)
	binary.LittleEndian.PutUint32(b[4:], uint32(payload))
	dst = append(dst, b[:]...)
	return append(dst, make([]byte, payload)...)
}

// FrameEncoder compresses a stream into one independent zstd frame at a
// time, with the settings of chunk objects (SpeedFastest, 1 MiB window, low
// memory), never holding more than a block of input. It is not safe for
// concurrent use.
type FrameEncoder struct {
	z *zstd.Encoder
	w appendWriter
}

// NewFrameEncoder returns a frame encoder; Close it when done.
func NewFrameEncoder() (*FrameEncoder, error) {
	z, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithWindowSize(1<<20),
		zstd.WithEncoderConcurrency(1),
		zstd.WithLowerEncoderMem(true),
		zstd.WithEncoderCRC(true),
		zstd.WithZeroFrames(true))
	if err != nil {
		return nil, err
	}
	return &FrameEncoder{z: z}, nil
}

// AppendFrame reads r to EOF and appends one zstd frame holding its bytes
// to dst. It returns the extended dst and the number of bytes read. The
// output is a pure function of the input bytes (same library version).
func (e *FrameEncoder) AppendFrame(dst []byte, r io.Reader) ([]byte, int64, error) {
	e.w.b = dst
	e.z.Reset(&e.w)
	n, err := e.z.ReadFrom(r)
	if cerr := e.z.Close(); err == nil {
		err = cerr
	}
	out := e.w.b
	e.w.b = nil
	if err != nil {
		return dst, n, err
	}
	return out, n, nil
}

// Close releases the encoder.
func (e *FrameEncoder) Close() error { return e.z.Close() }

type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
