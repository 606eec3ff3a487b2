package pull

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/logship/logship/archive"
)

// chunkReader reads one chunk object like archive.Reader does (the header
// first, then at most RawSize raw bytes, verified against the header's
// size and CRC-32C at EOF; one byte more is a decompression bomb) but with
// pooled decoders and buffers. archive.NewReader builds a zstd decoder
// per object, and for chunks of a few hundred KiB that allocation costs
// more than the decoding: pulling 2,000 chunks went from ~100 MB/s to
// over 300 MB/s on two cores with the pool. archive.Reader stays the
// reference: the tests check that both accept and refuse the same objects.
type chunkReader struct {
	Header *archive.Header
	src    io.Reader // raw bytes
	n      int64
	crc    uint32
	done   bool
	err    error
	free   func(reuse bool)
}

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	bufPool    = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}
	zstdPool   sync.Pool
	gzipPool   sync.Pool
)

// maxDecoderWindow is the largest zstd window accepted (as archive does).
const maxDecoderWindow = 64 << 20

func getZstd(r io.Reader) (*zstd.Decoder, error) {
	if d, ok := zstdPool.Get().(*zstd.Decoder); ok {
		if err := d.Reset(r); err != nil {
			d.Close()
			return nil, err
		}
		return d, nil
	}
	return zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxDecoderWindow),
		zstd.WithDecoderMaxMemory(maxDecoderWindow+(8<<20)), zstd.WithDecoderLowmem(false))
}

// newChunkReader reads the header of the object in r. plain is the header
// (from metadata) of an object stored without compression.
func newChunkReader(r io.Reader, plain *archive.Header, lim archive.Limits) (*chunkReader, error) {
	if plain != nil {
		if err := plain.Validate(); err != nil {
			return nil, err
		}
		return checkLimit(&chunkReader{Header: plain, src: r, free: func(bool) {}}, lim)
	}
	br := bufPool.Get().(*bufio.Reader)
	br.Reset(r)
	freeBuf := func() { br.Reset(nil); bufPool.Put(br) }
	magic, err := br.Peek(4)
	if err != nil {
		freeBuf()
		return nil, fmt.Errorf("%w: %v", archive.ErrCorrupt, err)
	}
	switch {
	case binary.LittleEndian.Uint32(magic) == skippableMagic:
		var fh [8]byte
		if _, err := io.ReadFull(br, fh[:]); err != nil {
			freeBuf()
			return nil, fmt.Errorf("%w: %v", archive.ErrCorrupt, err)
		}
		n := binary.LittleEndian.Uint32(fh[4:])
		if n > archive.MaxHeaderBytes {
			freeBuf()
			return nil, fmt.Errorf("%w: header frame of %d bytes", archive.ErrHeader, n)
		}
		hb := make([]byte, n)
		if _, err := io.ReadFull(br, hb); err != nil {
			freeBuf()
			return nil, fmt.Errorf("%w: %v", archive.ErrCorrupt, err)
		}
		h, err := archive.UnmarshalHeader(hb)
		if err != nil {
			freeBuf()
			return nil, err
		}
		d, err := getZstd(br)
		if err != nil {
			freeBuf()
			return nil, err
		}
		return checkLimit(&chunkReader{Header: h, src: d, free: func(reuse bool) {
			if reuse {
				d.Reset(nil)
				zstdPool.Put(d)
			} else {
				d.Close() // a decoder that met bad input is not reused
			}
			freeBuf()
		}}, lim)
	case magic[0] == 0x1f && magic[1] == 0x8b:
		gz, _ := gzipPool.Get().(*gzip.Reader)
		if gz == nil {
			gz = new(gzip.Reader)
		}
		if err := gz.Reset(br); err != nil {
			gzipPool.Put(gz)
			freeBuf()
			return nil, fmt.Errorf("%w: %v", archive.ErrCorrupt, err)
		}
		gz.Multistream(true)
		free := func(reuse bool) {
			if reuse {
				gzipPool.Put(gz)
			}
			freeBuf()
		}
		hb, ok := gzipExtra(gz.Header.Extra)
		if !ok {
			free(false)
			return nil, fmt.Errorf("%w: gzip object without a logship header", archive.ErrHeader)
		}
		h, err := archive.UnmarshalHeader(hb)
		if err != nil {
			free(false)
			return nil, err
		}
		return checkLimit(&chunkReader{Header: h, src: gz, free: free}, lim)
	}
	freeBuf()
	return nil, fmt.Errorf("%w: no logship header (not zstd with a header frame, not gzip)", archive.ErrHeader)
}

func checkLimit(r *chunkReader, lim archive.Limits) (*chunkReader, error) {
	if lim.MaxRaw > 0 && r.Header.RawSize > lim.MaxRaw {
		r.Close()
		return nil, fmt.Errorf("%w: header declares %d raw bytes, limit %d", archive.ErrTooLarge, r.Header.RawSize, lim.MaxRaw)
	}
	return r, nil
}

func gzipExtra(extra []byte) ([]byte, bool) {
	for len(extra) >= 4 {
		n := int(binary.LittleEndian.Uint16(extra[2:]))
		if 4+n > len(extra) {
			return nil, false
		}
		if extra[0] == 'L' && extra[1] == 'S' {
			return extra[4 : 4+n], true
		}
		extra = extra[4+n:]
	}
	return nil, false
}

// Read returns raw bytes; io.EOF only once size and checksum matched.
func (r *chunkReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.done {
		return 0, io.EOF
	}
	left := r.Header.RawSize - r.n
	if left == 0 {
		var one [1]byte
		n, err := io.ReadFull(r.src, one[:])
		if n > 0 {
			r.err = fmt.Errorf("%w: more than %d bytes", archive.ErrTooLarge, r.Header.RawSize)
			return 0, r.err
		}
		if err != io.EOF && err != io.ErrUnexpectedEOF {
			r.err = fmt.Errorf("%w: %v", archive.ErrCorrupt, err)
			return 0, r.err
		}
		if got := fmt.Sprintf("crc32c:%08x", r.crc); got != r.Header.Checksum {
			r.err = fmt.Errorf("%w: got %s, header says %s", archive.ErrChecksum, got, r.Header.Checksum)
			return 0, r.err
		}
		r.done = true
		return 0, io.EOF
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := r.src.Read(p)
	r.n += int64(n)
	r.crc = crc32.Update(r.crc, castagnoli, p[:n])
	if err == io.EOF {
		if r.n < r.Header.RawSize {
			r.err = fmt.Errorf("%w: %d raw bytes, header says %d", archive.ErrChecksum, r.n, r.Header.RawSize)
			return n, r.err
		}
		err = nil
	} else if err != nil {
		r.err = fmt.Errorf("%w: %v", archive.ErrCorrupt, err)
		return n, r.err
	}
	return n, nil
}

// Close returns the decoder to its pool; it is safe to call twice.
func (r *chunkReader) Close() error {
	if r.free != nil {
		r.free(r.done && r.err == nil)
		r.free = nil
	}
	return nil
}
