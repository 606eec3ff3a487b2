package pull

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/logship/logship/archive"
)

// errNotChunk is returned by readHeader for content that is neither
// format: not an object logship wrote.
var errNotChunk = errors.New("not a logship chunk (neither zstd with a header frame nor gzip)")

// zstd skippable frame magic carrying the header (archive/codec.go).
const skippableMagic = 0x184D2A5C

// readHeader reads only the in-band header at the start of a chunk object
// (the zstd skippable frame, or the gzip FEXTRA subfield "LS"), without
// setting up a decompressor. It reads at most a few bytes past the header.
func readHeader(r io.Reader) (*archive.Header, error) {
	br := bufio.NewReaderSize(r, 4096)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", archive.ErrCorrupt, err)
	}
	switch {
	case binary.LittleEndian.Uint32(magic) == skippableMagic:
		var fh [8]byte
		if _, err := io.ReadFull(br, fh[:]); err != nil {
			return nil, fmt.Errorf("%w: %v", archive.ErrCorrupt, err)
		}
		n := binary.LittleEndian.Uint32(fh[4:])
		if n > archive.MaxHeaderBytes {
			return nil, fmt.Errorf("%w: header frame of %d bytes", archive.ErrHeader, n)
		}
		hb := make([]byte, n)
		if _, err := io.ReadFull(br, hb); err != nil {
			return nil, fmt.Errorf("%w: %v", archive.ErrCorrupt, err)
		}
		return archive.UnmarshalHeader(hb)
	case magic[0] == 0x1f && magic[1] == 0x8b:
		var gh [12]byte // ID1 ID2 CM FLG MTIME(4) XFL OS XLEN(2)
		if _, err := io.ReadFull(br, gh[:]); err != nil {
			return nil, fmt.Errorf("%w: %v", archive.ErrCorrupt, err)
		}
		if gh[2] != 8 || gh[3]&0x04 == 0 {
			return nil, fmt.Errorf("%w: gzip object without a logship header", archive.ErrHeader)
		}
		extra := make([]byte, binary.LittleEndian.Uint16(gh[10:]))
		if _, err := io.ReadFull(br, extra); err != nil {
			return nil, fmt.Errorf("%w: %v", archive.ErrCorrupt, err)
		}
		for len(extra) >= 4 {
			n := int(binary.LittleEndian.Uint16(extra[2:]))
			if 4+n > len(extra) {
				break
			}
			if extra[0] == 'L' && extra[1] == 'S' {
				return archive.UnmarshalHeader(extra[4 : 4+n])
			}
			extra = extra[4+n:]
		}
		return nil, fmt.Errorf("%w: gzip object without a logship header", archive.ErrHeader)
	}
	return nil, errNotChunk
}

// headerFromMeta rebuilds a header from object metadata (x-oss-meta-*
// without the prefix, see archive.Header.Meta). It returns nil, nil when
// the metadata holds no header.
func headerFromMeta(m map[string]string) (*archive.Header, error) {
	if m == nil || m["logship-v"] == "" {
		return nil, nil
	}
	var errs []string
	num := func(k string) int64 {
		v, err := strconv.ParseInt(m[k], 10, 64)
		if err != nil {
			errs = append(errs, k)
		}
		return v
	}
	tm := func(k string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, m[k])
		if err != nil {
			errs = append(errs, k)
		}
		return v
	}
	h := &archive.Header{
		V: int(num("logship-v")), App: m["logship-app"], Host: m["logship-host"], Source: m["logship-source"],
		Stream: m["logship-stream"], Start: num("logship-start"), End: num("logship-end"), Unit: m["logship-unit"],
		Lines: num("logship-lines"), RawSize: num("logship-raw-size"), Checksum: m["logship-checksum"],
		First: tm("logship-first"), Last: tm("logship-last"), Codec: m["logship-codec"], Event: m["logship-event"],
	}
	if p := m["logship-path"]; p != "" {
		if strings.HasPrefix(p, `"`) {
			u, err := strconv.Unquote(p)
			if err != nil {
				errs = append(errs, "logship-path")
			}
			p = u
		}
		h.Path = p
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: metadata: bad %s", archive.ErrHeader, strings.Join(errs, ", "))
	}
	if err := h.Validate(); err != nil {
		return nil, err
	}
	return h, nil
}

// checkHeader reports whether a header agrees with what the key of its
// object says: a header that claims another stream or range than its key
// is refused, as is one that differs from the header read earlier.
func (c *Chunk) checkHeader(h *archive.Header) error {
	if c.Header != nil && c.Header != h {
		if c.Header.Checksum != h.Checksum || c.Header.Start != h.Start || c.Header.End != h.End || c.Header.Stream != h.Stream {
			return fmt.Errorf("%w: header changed since it was first read", archive.ErrHeader)
		}
	}
	if !c.Placed {
		return nil
	}
	if h.App != c.App || h.Host != c.Host || h.Source != c.Source || h.Stream != c.Stream || h.Start != c.Start || h.End != c.End {
		return fmt.Errorf("%w: header says %s/%s/%s/%s [%d, %d), the key %s/%s/%s/%s [%d, %d)", archive.ErrHeader,
			h.App, h.Host, h.Source, h.Stream, h.Start, h.End, c.App, c.Host, c.Source, c.Stream, c.Start, c.End)
	}
	if h.First.UTC().Truncate(time.Hour) != c.Hour {
		return fmt.Errorf("%w: first ingest time %s is not in the key's hour %s", archive.ErrHeader, h.First.UTC().Format(time.RFC3339), c.Hour.Format("2006-01-02T15"))
	}
	return nil
}
