package retrieve

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/control"
	"github.com/logship/logship/internal/sinks"
)

// Chunk is one object of the archive.
type Chunk struct {
	Key    string
	Size   int64 // stored bytes
	Placed bool  // the key follows the layout (archive.ParseKey); else all comes from the header
	Hour   time.Time
	App    string
	Host   string
	Source string
	Stream string
	Start  int64
	End    int64
	Codec  string          // from the key; "" when unplaced
	Header *archive.Header // nil until read (from metadata, a header read or the fetch)

	bad       bool // refused or unreadable: left out of every plan
	ignored   bool // unplaced and not a logship object at all
	chunkLike bool // unplaced, but named like a chunk: errors are corruption
}

func (c *Chunk) streamKey() string { return c.App + "/" + c.Host + "/" + c.Source + "/" + c.Stream }

// setHeader records a verified header; for unplaced objects it is the
// only source of identity.
func (c *Chunk) setHeader(h *archive.Header) {
	c.Header = h
	if !c.Placed {
		c.App, c.Host, c.Source, c.Stream, c.Start, c.End = h.App, h.Host, h.Source, h.Stream, h.Start, h.End
		c.Hour = h.First.UTC().Truncate(time.Hour)
	}
}

// planHeader is what archive.Plan sees: the real header when known, else
// one built from the key.
func (c *Chunk) planHeader() *archive.Header {
	if c.Header != nil {
		return c.Header
	}
	unit := archive.UnitBytes
	if c.Source == archive.KindKmsg {
		unit = archive.UnitRecords
	}
	return &archive.Header{App: c.App, Host: c.Host, Source: c.Source, Stream: c.Stream, Start: c.Start, End: c.End,
		Unit: unit, First: c.Hour, Last: c.Hour}
}

// maxKeyLen bounds the keys accepted from a listing (OSS allows 1023 bytes).
const maxKeyLen = 1024

// checkKey refuses keys that could not have come from a logship agent and
// that a careless reader could turn into a path outside its folder.
func checkKey(key string) error {
	switch {
	case key == "":
		return errors.New("empty key")
	case len(key) > maxKeyLen:
		return fmt.Errorf("key of %d bytes, limit %d", len(key), maxKeyLen)
	case strings.IndexByte(key, 0) >= 0:
		return errors.New("key holds NUL")
	case strings.IndexByte(key, '\\') >= 0:
		return errors.New("key holds a backslash")
	case strings.HasPrefix(key, "/"):
		return errors.New("absolute key")
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == ".." || seg == "." || seg == "" {
			return fmt.Errorf("key has a %q segment", seg)
		}
	}
	return nil
}

// lister lists the objects a filter needs.
type lister struct {
	a       Store
	f       Filter
	ps      *problems
	ignored int
	// listed records every prefix listed (tests check partition pruning).
	listed []string
}

type appRoot struct{ prefix, app string }

// appRoots finds the app=APP/ folders (at most three levels down, for a
// folder holding PREFIX/app=...). It returns nil when the archive cannot
// list folders, when nothing would be pruned, or when the folder has no
// key layout (a flat folder): then everything is listed.
func (l *lister) appRoots(ctx context.Context) ([]appRoot, error) {
	pl, ok := l.a.(sinks.PrefixLister)
	if !ok || (!l.f.windowed() && l.f.App == "") {
		return nil, nil
	}
	var roots []appRoot
	var walk func(prefix string, depth int) error
	walk = func(prefix string, depth int) error {
		ps, err := pl.ListPrefixes(ctx, prefix)
		if err != nil {
			return err
		}
		for _, p := range ps {
			seg := path.Base(strings.TrimSuffix(p, "/"))
			if app, ok := strings.CutPrefix(seg, "app="); ok {
				roots = append(roots, appRoot{p, app})
				continue
			}
			if depth < 3 && !strings.Contains(seg, "=") {
				if err := walk(p, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk("", 0); err != nil {
		return nil, err
	}
	return roots, nil
}

// list returns the chunks the filter may need, judged by key only (the
// header decides later for unplaced objects and boundary hours).
func (l *lister) list(ctx context.Context) ([]*Chunk, error) {
	var out []*Chunk
	add := func(oi sinks.ObjectInfo) error {
		if c := l.classify(oi); c != nil {
			out = append(out, c)
		}
		return nil
	}
	roots, err := l.appRoots(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing partitions: %w", err)
	}
	listAll := func(prefix string) error {
		l.listed = append(l.listed, prefix)
		if err := l.a.List(ctx, prefix, add); err != nil {
			return fmt.Errorf("listing %s: %w", listed(prefix), err)
		}
		return nil
	}
	if len(roots) == 0 {
		return out, listAll("")
	}
	pl := l.a.(sinks.PrefixLister)
	for _, r := range roots {
		if !match(l.f.App, r.app) {
			continue
		}
		if !l.f.windowed() {
			if err := listAll(r.prefix); err != nil {
				return nil, err
			}
			continue
		}
		days, err := pl.ListPrefixes(ctx, r.prefix)
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", listed(r.prefix), err)
		}
		for _, d := range days {
			day, err := time.Parse("2006-01-02", strings.TrimPrefix(path.Base(d), "dt="))
			if err != nil {
				if err := listAll(d); err != nil { // not a partition: let the keys speak
					return nil, err
				}
				continue
			}
			if !l.f.dayKept(day) {
				continue
			}
			hours, err := pl.ListPrefixes(ctx, d)
			if err != nil {
				return nil, fmt.Errorf("listing %s: %w", listed(d), err)
			}
			for _, h := range hours {
				hh, err := time.Parse("15", strings.TrimPrefix(path.Base(h), "hour="))
				if err == nil && !l.f.hourKept(day.Add(time.Duration(hh.Hour())*time.Hour)) {
					continue
				}
				if err := listAll(h); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// listed names a prefix being listed, for an error: "" is the archive's
// top.
func listed(prefix string) string {
	if prefix == "" {
		return "the archive"
	}
	return strconv.Quote(prefix)
}

// classify turns a listed object into a chunk, or nil when it is refused,
// not wanted, or not ours.
func (l *lister) classify(oi sinks.ObjectInfo) *Chunk {
	if err := checkKey(oi.Key); err != nil {
		l.ps.add(Problem{Kind: KindUnsafe, Key: oi.Key, Msg: err.Error() + "; object refused"})
		return nil
	}
	c := &Chunk{Key: oi.Key, Size: oi.Size}
	meta, err := archive.HeaderFromMeta(oi.Meta)
	if err != nil {
		l.ps.add(Problem{Kind: KindCorrupt, Key: oi.Key, Msg: err.Error()})
		return nil
	}
	if ki, err := archive.ParseKey(oi.Key); err == nil {
		c.Placed, c.Hour, c.App, c.Host, c.Source, c.Stream, c.Start, c.End, c.Codec =
			true, ki.Hour, ki.App, ki.Host, ki.Source, ki.Stream, ki.Start, ki.End, ki.Codec
		if meta != nil {
			if err := c.checkHeader(meta); err != nil {
				l.ps.add(Problem{Kind: KindCorrupt, Key: oi.Key, Msg: "metadata: " + err.Error()})
				return nil
			}
			c.Header = meta
		}
		if !l.f.matchKey(c.App, c.Host, c.Source) || !l.f.hourKept(c.Hour) {
			return nil
		}
		return c
	}
	base := path.Base(oi.Key)
	if strings.HasPrefix(oi.Key, control.Dir+"/") {
		return nil // remote snapshot requests and answers: logship's own, not chunks
	}
	if strings.HasPrefix(base, ".") || strings.HasPrefix(oi.Key, stateDir+"/") {
		l.ignored++
		return nil
	}
	c.chunkLike = strings.HasSuffix(base, ".zst") || strings.HasSuffix(base, ".gz")
	if meta != nil {
		c.setHeader(meta)
		if !l.f.matchKey(c.App, c.Host, c.Source) || !l.f.hourKept(c.Hour) {
			return nil
		}
	}
	return c
}

// headerReader reads the in-band headers of chunks in parallel.
type headerReader struct {
	a     Store
	par   int
	ps    *problems
	reads atomic.Int64
}

// read fills c.Header for every chunk that lacks it. Chunks that fail are
// marked bad (reported) or ignored (an unplaced object that is not ours).
func (hr *headerReader) read(ctx context.Context, cs []*Chunk) error {
	var todo []*Chunk
	for _, c := range cs {
		if c.Header == nil && !c.bad && !c.ignored {
			todo = append(todo, c)
		}
	}
	return forEach(ctx, hr.par, len(todo), func(i int) {
		c := todo[i]
		h, err := hr.get(ctx, c)
		if err == nil {
			err = c.checkHeader(h)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !c.Placed && !c.chunkLike && errors.Is(err, archive.ErrNotChunk) {
				c.ignored = true
				return
			}
			c.bad = true
			if c.Codec == archive.CodecNone && errors.Is(err, archive.ErrNotChunk) {
				err = fmt.Errorf("%w: stored without compression, and a folder keeps no metadata: no header to read or verify it with (use compression zstd or gzip with a dir sink)", archive.ErrHeader)
			}
			hr.ps.add(Problem{Kind: classify(err), Key: c.Key, Msg: "reading header: " + err.Error()})
			return
		}
		c.setHeader(h)
	})
}

// get reads a chunk's header: from its metadata when the archive can
// describe an object without its body (OSS HeadObject: no body sent, the
// connection is reused), else from the object's first bytes. Metadata that
// is missing or unreadable (an object copied without it) falls back to the
// in-band header; pull checks the in-band header against the key again
// when it fetches the chunk.
func (hr *headerReader) get(ctx context.Context, c *Chunk) (*archive.Header, error) {
	hr.reads.Add(1)
	if st, ok := hr.a.(sinks.Stater); ok {
		oi, err := st.Stat(ctx, c.Key)
		switch {
		case errors.Is(err, errors.ErrUnsupported):
		case err != nil:
			return nil, err
		default:
			if h, err := archive.HeaderFromMeta(oi.Meta); err == nil && h != nil && c.checkHeader(h) == nil {
				return h, nil
			}
		}
	}
	rc, _, err := hr.a.Get(ctx, c.Key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return archive.ReadHeader(rc)
}

// forEach calls fn(i) for i in [0, n) on up to par goroutines and waits.
// It returns ctx.Err() when ctx ended before all were started.
func forEach(ctx context.Context, par, n int, fn func(i int)) error {
	if n == 0 {
		return ctx.Err()
	}
	par = max(1, min(par, n))
	next := make(chan int)
	var wg sync.WaitGroup
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	var err error
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	return err
}
