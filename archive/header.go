// Package archive is the contract between the agent and the reader: the
// header every chunk carries, the key layout, the encoding of chunk objects
// and the reassembly of streams from any set of chunks.
//
// Everything else in logship may change; what this package writes must stay
// readable. Version is bumped on any incompatible change and readers refuse
// versions they do not know.
package archive

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
	"time"
)

// Version is the archive format version written into every header.
const Version = 1

// Units of stream positions.
const (
	UnitBytes   = "bytes"   // file streams: byte offsets
	UnitRecords = "records" // kernel log: record sequence numbers
)

// Source kinds.
const (
	KindFile     = "file"
	KindKmsg     = "kmsg"
	KindCrash    = "crash"
	KindSnapshot = "snapshot"
	KindStdout   = "stdout" // logship run: the child's stdout and stderr (path "stdout", "stderr")
	KindEvent    = "event"  // logship run: JSON lines of run events (path "events.jsonl")
)

// Events flagged in headers so readers can find them without reading data.
const (
	EventOOMKill  = "oom_kill"
	EventJVMCrash = "jvm_crash"
	EventExit     = "exit"     // the chunk holds the exit event of a child under logship run
	EventSnapshot = "snapshot" // a diagnostic bundle (source snapshot)
)

// Codecs of chunk objects.
const (
	CodecZstd = "zstd"
	CodecGzip = "gzip"
	CodecNone = "none"
)

// MaxHeaderBytes bounds the encoded header; a larger one is refused on both
// sides (a gzip FEXTRA subfield holds at most 65535 bytes).
const MaxHeaderBytes = 60 << 10

// Header describes one chunk. It travels inside the compressed object and is
// mirrored in object metadata.
type Header struct {
	V        int               `json:"v"`
	App      string            `json:"app"`
	Host     string            `json:"host"`
	Source   string            `json:"source"`          // KindFile, KindKmsg, ...
	Path     string            `json:"path,omitempty"`  // original path of the stream
	Stream   string            `json:"stream"`          // stream id, unique per app+host+source
	Start    int64             `json:"start"`           // first position, inclusive
	End      int64             `json:"end"`             // last position, exclusive
	Unit     string            `json:"unit"`            // UnitBytes or UnitRecords
	Lines    int64             `json:"lines"`           // newline-terminated lines in the raw bytes
	RawSize  int64             `json:"raw_size"`        // length of the raw bytes
	Checksum string            `json:"checksum"`        // "crc32c:%08x" of the raw bytes
	First    time.Time         `json:"first"`           // ingest time of the first byte
	Last     time.Time         `json:"last"`            // ingest time of the last byte
	Codec    string            `json:"codec"`           // CodecZstd, CodecGzip, CodecNone
	Event    string            `json:"event,omitempty"` // EventOOMKill, EventJVMCrash
	Extra    map[string]string `json:"extra,omitempty"` // source specific facts (parsed hs_err, ...)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum returns the header checksum of raw bytes.
func Checksum(raw []byte) string { return FormatChecksum(UpdateChecksum(0, raw)) }

// UpdateChecksum extends a running CRC-32C (start from 0) with p, so a
// writer can checksum bytes while they are still in the CPU cache instead
// of in a second pass over the whole chunk.
func UpdateChecksum(crc uint32, p []byte) uint32 { return crc32.Update(crc, castagnoli, p) }

// FormatChecksum is the header form of a running CRC-32C.
func FormatChecksum(crc uint32) string { return fmt.Sprintf("crc32c:%08x", crc) }

// ErrChecksum is returned when raw bytes do not match their header.
var ErrChecksum = errors.New("archive: checksum mismatch")

// ErrHeader is returned for a header that is malformed or unsafe.
var ErrHeader = errors.New("archive: bad header")

// Verify checks raw bytes against the header's size and checksum.
func (h *Header) Verify(raw []byte) error {
	if int64(len(raw)) != h.RawSize {
		return fmt.Errorf("%w: %d raw bytes, header says %d", ErrChecksum, len(raw), h.RawSize)
	}
	if got := Checksum(raw); got != h.Checksum {
		return fmt.Errorf("%w: got %s, header says %s", ErrChecksum, got, h.Checksum)
	}
	return nil
}

// Validate reports whether a header (typically decoded from outside input)
// is complete and consistent. It does not judge Path: readers sanitise it.
func (h *Header) Validate() error {
	var errs []string
	if h.V != Version {
		errs = append(errs, fmt.Sprintf("unknown version %d", h.V))
	}
	for _, f := range []struct{ name, v string }{{"app", h.App}, {"host", h.Host}, {"source", h.Source}, {"stream", h.Stream}} {
		if err := checkSegment(f.v); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", f.name, err))
		}
	}
	if h.Start < 0 || h.End < h.Start {
		errs = append(errs, fmt.Sprintf("bad range [%d, %d)", h.Start, h.End))
	}
	if h.Unit != UnitBytes && h.Unit != UnitRecords {
		errs = append(errs, fmt.Sprintf("unknown unit %q", h.Unit))
	}
	if h.Unit == UnitBytes && h.End-h.Start != h.RawSize {
		errs = append(errs, fmt.Sprintf("range [%d, %d) does not match raw_size %d", h.Start, h.End, h.RawSize))
	}
	if h.RawSize < 0 || h.Lines < 0 {
		errs = append(errs, "negative size or line count")
	}
	if !strings.HasPrefix(h.Checksum, "crc32c:") {
		errs = append(errs, fmt.Sprintf("unknown checksum %q", h.Checksum))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrHeader, strings.Join(errs, "; "))
	}
	return nil
}

// Marshal encodes the header as JSON, refusing one larger than
// MaxHeaderBytes.
func (h *Header) Marshal() ([]byte, error) {
	b, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxHeaderBytes {
		return nil, fmt.Errorf("%w: %d bytes encoded, limit %d", ErrHeader, len(b), MaxHeaderBytes)
	}
	return b, nil
}

// UnmarshalHeader decodes and validates a header from outside input.
func UnmarshalHeader(b []byte) (*Header, error) {
	if len(b) > MaxHeaderBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrHeader, len(b), MaxHeaderBytes)
	}
	var h Header
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHeader, err)
	}
	if err := h.Validate(); err != nil {
		return nil, err
	}
	return &h, nil
}

// Meta returns the header as object metadata (x-oss-meta-* without the
// prefix). Values are ASCII-safe: the path is quoted with strconv.Quote when
// it is not plain ASCII.
func (h *Header) Meta() map[string]string {
	m := map[string]string{
		"logship-v":        strconv.Itoa(h.V),
		"logship-app":      h.App,
		"logship-host":     h.Host,
		"logship-source":   h.Source,
		"logship-stream":   h.Stream,
		"logship-start":    strconv.FormatInt(h.Start, 10),
		"logship-end":      strconv.FormatInt(h.End, 10),
		"logship-unit":     h.Unit,
		"logship-lines":    strconv.FormatInt(h.Lines, 10),
		"logship-raw-size": strconv.FormatInt(h.RawSize, 10),
		"logship-checksum": h.Checksum,
		"logship-first":    h.First.UTC().Format(time.RFC3339Nano),
		"logship-last":     h.Last.UTC().Format(time.RFC3339Nano),
		"logship-codec":    h.Codec,
	}
	if h.Path != "" {
		m["logship-path"] = strconv.QuoteToASCII(h.Path)
	}
	if h.Event != "" {
		m["logship-event"] = h.Event
	}
	return m
}

// HeaderFromMeta rebuilds a header from object metadata (x-oss-meta-*
// without the prefix): the inverse of Header.Meta. The metadata is
// outside input: the result is validated. It returns nil, nil when
// the metadata holds no header.
func HeaderFromMeta(m map[string]string) (*Header, error) {
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
	h := &Header{
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
		return nil, fmt.Errorf("%w: metadata: bad %s", ErrHeader, strings.Join(errs, ", "))
	}
	if err := h.Validate(); err != nil {
		return nil, err
	}
	return h, nil
}
