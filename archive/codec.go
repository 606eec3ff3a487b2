package archive

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// skippableMagic is the zstd skippable frame magic used for the header
// (0x184D2A50..0x184D2A5F are skippable; stock decoders ignore them).
const skippableMagic = 0x184D2A5C

// gzip FEXTRA subfield id carrying the header.
const gzipSI1, gzipSI2 = 'L', 'S'

// ErrCorrupt is returned for an object that cannot be decoded.
var ErrCorrupt = errors.New("archive: corrupt object")

// ErrTooLarge is returned when an object decompresses to more than its
// header says (a decompression bomb) or beyond a reader's limit.
var ErrTooLarge = errors.New("archive: object decompresses beyond its declared size")

// Encoder turns raw chunk bytes into chunk objects. It keeps its zstd and
// gzip state between calls; it is not safe for concurrent use.
type Encoder struct {
	zenc *zstd.Encoder
	gbuf appendWriter // gzip writes straight into the caller's dst
	gzw  *gzip.Writer
}

// NewEncoder returns an encoder tuned for logs: zstd SpeedFastest with a
// 4 MiB window (the default chunk size) and a history buffer of the window
// plus one block (WithLowerEncoderMem). A chunk of up to 4 MiB then goes
// into the history without the encoder ever moving it down: with a 1 MiB
// window the history is 2 MiB and every byte is copied twice, which cost
// about 5-10% of the encoding time here. The plain 4 MiB window keeps an
// 8 MiB history (8.6 MiB per encoder); this one 4.6 MiB, the 1 MiB
// window 2.6 MiB. On application logs (generated Java logs) the ratio is
// the same for all three (5.86x-5.87x); data repeating at periods above
// 1 MiB gains from the larger window (a 950 KB sample repeated: 43x
// against 23x). Readers accept windows up to 64 MiB.
//
// The zstd frame carries no content checksum: the header's CRC-32C of the
// raw bytes, computed as the bytes arrive and checked by every reader after
// decompression, is the integrity check of record, and OSS's CRC-64 guards
// the transfer. A second hash of every raw byte (xxhash64) cost about 3% of
// the agent's CPU and caught nothing the CRC-32C does not. Stock `zstd -d`
// still rejects structurally damaged frames; `logship cat`/`pull` verify.
func NewEncoder() (*Encoder, error) {
	z, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithWindowSize(4<<20),
		zstd.WithLowerEncoderMem(true),
		zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderCRC(false),
		zstd.WithZeroFrames(true))
	if err != nil {
		return nil, err
	}
	return &Encoder{zenc: z}, nil
}

// Encode appends the object for raw to dst. The header's Codec selects the
// format; RawSize and Checksum must already describe raw.
func (e *Encoder) Encode(dst []byte, h *Header, raw []byte) ([]byte, error) {
	hb, err := h.Marshal()
	if err != nil {
		return nil, err
	}
	switch h.Codec {
	case CodecZstd:
		dst = AppendSkippable(dst, hb)
		return e.zenc.EncodeAll(raw, dst), nil
	case CodecGzip:
		e.gbuf.b = dst
		defer func() { e.gbuf.b = nil }() // keep no reference to the caller's buffer
		if e.gzw == nil {
			e.gzw, err = gzip.NewWriterLevel(&e.gbuf, gzip.BestSpeed)
			if err != nil {
				return nil, err
			}
		} else {
			e.gzw.Reset(&e.gbuf)
		}
		extra := make([]byte, 4, 4+len(hb))
		extra[0], extra[1] = gzipSI1, gzipSI2
		binary.LittleEndian.PutUint16(extra[2:], uint16(len(hb)))
		e.gzw.Header.Extra = append(extra, hb...)
		e.gzw.Header.Name = ""
		if _, err := e.gzw.Write(raw); err != nil {
			return nil, err
		}
		if err := e.gzw.Close(); err != nil {
			return nil, err
		}
		return e.gbuf.b, nil
	case CodecNone:
		return append(dst, raw...), nil
	}
	return nil, fmt.Errorf("archive: unknown codec %q", h.Codec)
}

// Close releases the encoder's resources.
func (e *Encoder) Close() error { return e.zenc.Close() }

// AppendSkippable appends a zstd skippable frame holding payload.
func AppendSkippable(dst, payload []byte) []byte {
	var b [8]byte
	binary.LittleEndian.PutUint32(b[0:], skippableMagic)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(payload)))
	dst = append(dst, b[:]...)
	return append(dst, payload...)
}

// Limits bound what a reader accepts from outside input.
type Limits struct {
	// MaxRaw refuses objects whose header declares more raw bytes.
	// Zero means 1 GiB.
	MaxRaw int64
}

func (l Limits) maxRaw() int64 {
	if l.MaxRaw <= 0 {
		return 1 << 30
	}
	return l.MaxRaw
}

// ErrNotChunk is returned (wrapping ErrHeader) for content that is neither
// format: not an object logship wrote, or one stored without compression,
// whose header lives only in metadata.
var ErrNotChunk = fmt.Errorf("%w: no logship header (not zstd with a header frame, not gzip)", ErrHeader)

// Readers take their buffers and decoders from pools and give them back on
// Close: building a zstd decoder costs more than decoding a chunk of a few
// hundred KiB (pulling 2,000 chunks went from ~100 MB/s with a decoder per
// object to over 300 MB/s pooled, on two cores). A decoder that met bad
// input, or a reader closed before its end, is not reused.
var (
	bufPool  = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}
	zstdPool sync.Pool // *zstd.Decoder
	gzipPool sync.Pool // *gzip.Reader
)

// maxWindow is the largest zstd window a reader accepts (writers use 4 MiB);
// with the bound on decoder memory it caps what a hostile frame can make a
// reader allocate, whatever it declares.
const maxWindow = 64 << 20

func getZstd(r io.Reader) (*zstd.Decoder, error) {
	if d, ok := zstdPool.Get().(*zstd.Decoder); ok {
		if err := d.Reset(r); err != nil {
			d.Close()
			return nil, err
		}
		return d, nil
	}
	return zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxWindow),
		zstd.WithDecoderMaxMemory(maxWindow+(8<<20)), zstd.WithDecoderLowmem(false))
}

func putZstd(d *zstd.Decoder, reuse bool) {
	if !reuse {
		d.Close()
		return
	}
	d.Reset(nil) // drop the reference to the source
	zstdPool.Put(d)
}

func getBuf(r io.Reader) *bufio.Reader {
	br := bufPool.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

func putBuf(br *bufio.Reader) {
	br.Reset(nil)
	bufPool.Put(br)
}

// Reader streams one chunk object: the header first, then exactly RawSize
// raw bytes, verified against the header's checksum at EOF.
type Reader struct {
	Header *Header
	r      io.Reader
	free   func(reuse bool) // returns buffers and decoder to their pools
	n      int64
	crc    *crcWriter
	done   bool
	err    error
}

// NewReader reads the header of a chunk object in r and returns a reader
// of its raw bytes. The codec is detected from the content: zstd with a
// skippable header frame, or gzip with the header in FEXTRA (ErrNotChunk
// for anything else). Objects stored with CodecNone carry no header in
// band: use NewPlainReader with the header from metadata. Close the reader
// to return its decoder to the pool.
func NewReader(r io.Reader, lim Limits) (*Reader, error) {
	br := getBuf(r)
	rd, err := newReader(br, lim)
	if err != nil {
		putBuf(br)
		return nil, err
	}
	return rd, nil
}

func newReader(br *bufio.Reader, lim Limits) (*Reader, error) {
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	switch {
	case binary.LittleEndian.Uint32(magic) == skippableMagic:
		h, err := readFrameHeader(br)
		if err != nil {
			return nil, err
		}
		if err := checkLimit(h, lim); err != nil {
			return nil, err
		}
		d, err := getZstd(br)
		if err != nil {
			return nil, err
		}
		return &Reader{Header: h, r: d, crc: newCRC(), free: func(reuse bool) { putZstd(d, reuse); putBuf(br) }}, nil
	case magic[0] == 0x1f && magic[1] == 0x8b:
		gz, _ := gzipPool.Get().(*gzip.Reader)
		if gz == nil {
			gz = new(gzip.Reader)
		}
		if err := gz.Reset(br); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		gz.Multistream(true)
		h, err := gzipHeader(gz.Header.Extra)
		if err == nil {
			err = checkLimit(h, lim)
		}
		if err != nil {
			return nil, err
		}
		return &Reader{Header: h, r: gz, crc: newCRC(), free: func(reuse bool) {
			if reuse {
				gzipPool.Put(gz) // Reset rereads everything; nothing to clear
			}
			putBuf(br)
		}}, nil
	}
	return nil, ErrNotChunk
}

// ReadHeader reads only the in-band header at the start of a chunk object,
// without setting up a decompressor, and reads at most a few KiB past it.
// It refuses what NewReader refuses before the first raw byte, except the
// size limit.
func ReadHeader(r io.Reader) (*Header, error) {
	br := bufio.NewReaderSize(r, 4096)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	switch {
	case binary.LittleEndian.Uint32(magic) == skippableMagic:
		return readFrameHeader(br)
	case magic[0] == 0x1f && magic[1] == 0x8b:
		var gh [12]byte // ID1 ID2 CM FLG MTIME(4) XFL OS XLEN(2)
		if _, err := io.ReadFull(br, gh[:]); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if gh[2] != 8 || gh[3]&0x04 == 0 { // deflate, FEXTRA
			return nil, errNoGzipHeader
		}
		extra := make([]byte, binary.LittleEndian.Uint16(gh[10:]))
		if _, err := io.ReadFull(br, extra); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return gzipHeader(extra)
	}
	return nil, ErrNotChunk
}

// readFrameHeader reads the skippable frame holding the header.
func readFrameHeader(br *bufio.Reader) (*Header, error) {
	var fh [8]byte
	if _, err := io.ReadFull(br, fh[:]); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	n := binary.LittleEndian.Uint32(fh[4:])
	if n > MaxHeaderBytes {
		return nil, fmt.Errorf("%w: header frame of %d bytes", ErrHeader, n)
	}
	hb := make([]byte, n)
	if _, err := io.ReadFull(br, hb); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return UnmarshalHeader(hb)
}

var errNoGzipHeader = fmt.Errorf("%w: gzip object without a logship header", ErrHeader)

// gzipHeader finds and decodes the header in the gzip FEXTRA field.
func gzipHeader(extra []byte) (*Header, error) {
	for len(extra) >= 4 {
		n := int(binary.LittleEndian.Uint16(extra[2:]))
		if 4+n > len(extra) {
			break
		}
		if extra[0] == gzipSI1 && extra[1] == gzipSI2 {
			return UnmarshalHeader(extra[4 : 4+n])
		}
		extra = extra[4+n:]
	}
	return nil, errNoGzipHeader
}

func checkLimit(h *Header, lim Limits) error {
	if h.RawSize > lim.maxRaw() {
		return fmt.Errorf("%w: header declares %d raw bytes, limit %d", ErrTooLarge, h.RawSize, lim.maxRaw())
	}
	return nil
}

// NewPlainReader reads an object stored with CodecNone, whose header came
// from metadata or the key.
func NewPlainReader(r io.Reader, h *Header, lim Limits) (*Reader, error) {
	if err := h.Validate(); err != nil {
		return nil, err
	}
	if err := checkLimit(h, lim); err != nil {
		return nil, err
	}
	return &Reader{Header: h, r: r, crc: newCRC()}, nil
}

// Read returns raw bytes. After the last byte it returns io.EOF only when
// size and checksum match the header; otherwise ErrChecksum, ErrTooLarge or
// ErrCorrupt. It never returns more than RawSize bytes.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.done {
		return 0, io.EOF
	}
	left := r.Header.RawSize - r.n
	if left == 0 {
		// Expect EOF: one more byte means a bomb or a lying header.
		var one [1]byte
		n, err := io.ReadFull(r.r, one[:])
		if n > 0 {
			r.err = fmt.Errorf("%w: more than %d bytes", ErrTooLarge, r.Header.RawSize)
			return 0, r.err
		}
		if err != io.EOF && err != io.ErrUnexpectedEOF {
			r.err = fmt.Errorf("%w: %v", ErrCorrupt, err)
			return 0, r.err
		}
		if got := r.crc.sum(); got != r.Header.Checksum {
			r.err = fmt.Errorf("%w: got %s, header says %s", ErrChecksum, got, r.Header.Checksum)
			return 0, r.err
		}
		r.done = true
		return 0, io.EOF
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := r.r.Read(p)
	r.n += int64(n)
	r.crc.Write(p[:n])
	if err == io.EOF {
		if r.n < r.Header.RawSize {
			r.err = fmt.Errorf("%w: %d raw bytes, header says %d", ErrChecksum, r.n, r.Header.RawSize)
			return n, r.err
		}
		err = nil
	} else if err != nil {
		r.err = fmt.Errorf("%w: %v", ErrCorrupt, err)
		return n, r.err
	}
	return n, nil
}

// Close returns the decoder to its pool (only when the object was read to
// its verified end); it is safe to call twice. It does not close the
// source.
func (r *Reader) Close() error {
	if r.free != nil {
		r.free(r.done && r.err == nil)
		r.free = nil
	}
	return nil
}

// Decode reads a whole chunk object held in memory, verified.
func Decode(obj []byte, lim Limits) (*Header, []byte, error) {
	r, err := NewReader(bytes.NewReader(obj), lim)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	raw := make([]byte, 0, r.Header.RawSize)
	buf := bytes.NewBuffer(raw)
	if _, err := io.Copy(buf, r); err != nil {
		return r.Header, nil, err
	}
	return r.Header, buf.Bytes(), nil
}
