package pull

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/logship/logship/archive"
)

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
