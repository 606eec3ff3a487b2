package retrieve

import (
	"fmt"
	"time"

	"github.com/logship/logship/archive"
)

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
