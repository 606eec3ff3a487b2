package retrieve

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/logship/logship/archive"
)

// Stats are live counters for a progress display; read them with Load
// while a run goes on.
type Stats struct {
	ObjectsTotal atomic.Int64 // objects to fetch
	Objects      atomic.Int64 // objects fetched (verified or not)
	BytesTotal   atomic.Int64 // stored bytes to fetch
	Bytes        atomic.Int64 // stored bytes read so far
	Written      atomic.Int64 // reassembled bytes delivered (written or printed)
}

// fetched is one step on its way from the archive to the consumer.
type fetched struct {
	step   *Step
	hdr    *archive.Header
	buf    []byte // the chunk's raw bytes, verified (buffered steps)
	err    error
	inline bool     // too large to buffer: the consumer streams it (fetcher.stream)
	est    int64    // budget held
	bufs   [][]byte // buffers handed over by the budget, not in use
	done   chan struct{}
	f      *fetcher
	// held: the consumer keeps the step after deliver returns, and calls
	// release when done with it (on any goroutine).
	held bool
}

// release gives back the step's buffer and budget.
func (ft *fetched) release() {
	ft.f.b.release(ft.est, append(ft.bufs, ft.buf)...)
	ft.buf, ft.bufs, ft.est = nil, nil, 0
}

// fetcher downloads chunks in parallel and hands them over in order.
// Memory is bounded: a buffered chunk holds budget from its dispatch until
// the consumer is done with it, and chunks larger than inlineOver are not
// buffered but streamed by the consumer when their turn comes.
type fetcher struct {
	a          Store
	par        int
	mem        int64
	inlineOver int64
	lim        archive.Limits
	stats      *Stats
	b          *budget
	streamBufs sync.Pool // of *[]byte, for streamed chunks
}

func newFetcher(a Store, par int, mem int64, stats *Stats) *fetcher {
	par = max(1, par)
	mem = max(mem, 4<<20)
	// The buffers are kept for reuse, so they are live all the time: they
	// get half of mem, which leaves the GC room for the garbage of the
	// requests under a memory limit of mem (with three quarters, 1 GiB
	// from osstest peaked at mem + 38 MiB once on a loaded machine).
	bufs := mem / 2
	return &fetcher{a: a, par: par, mem: mem, inlineOver: min(32<<20, mem/4), stats: stats, b: newBudget(bufs),
		lim: archive.Limits{MaxRaw: 1 << 42}} // raw size is only a bound for streaming; buffers never exceed inlineOver
}

// estimate returns the buffers a step's chunk needs, as known before
// fetching it: its raw bytes, and the object while it is decoded.
func (f *fetcher) estimate(s *Step) (raw, obj int64) {
	c := s.Chunk
	switch {
	case c.Header != nil:
		return roundUp(c.Header.RawSize), roundUp(c.Size)
	case c.Source != archive.KindKmsg:
		return roundUp(c.End - c.Start), roundUp(c.Size)
	}
	return roundUp(min(f.inlineOver, max(64<<10, c.Size*16))), roundUp(c.Size)
}

// run fetches the steps with f.par workers and calls deliver for each, in
// order, on the calling goroutine. A delivery error stops the run and is
// returned; fetch errors are handed to deliver in fetched.err. A step is
// released when deliver returns, unless deliver set its held.
func (f *fetcher) run(ctx context.Context, steps []*Step, deliver func(*fetched) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b := f.b
	work := make(chan *fetched)
	ordered := make(chan *fetched, 4*f.par)
	var wg sync.WaitGroup
	for range f.par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ft := range work {
				f.fetch(ctx, ft)
				close(ft.done)
			}
		}()
	}
	wg.Add(1)
	go func() { // dispatcher
		defer wg.Done()
		defer close(work)
		defer close(ordered)
		for _, s := range steps {
			ft := &fetched{step: s, done: make(chan struct{}), f: f}
			raw, obj := f.estimate(s)
			if raw+obj > f.inlineOver {
				ft.inline = true
				close(ft.done)
			} else if bufs, n, err := b.acquire(ctx, raw, obj); err != nil {
				return
			} else {
				ft.est, ft.bufs = n, bufs
			}
			select {
			case ordered <- ft:
			case <-ctx.Done():
				return
			}
			if !ft.inline {
				select {
				case work <- ft:
				case <-ctx.Done():
					ft.err = ctx.Err()
					close(ft.done) // never reaches a worker
					return
				}
			}
		}
	}()
	var err error
	for ft := range ordered {
		<-ft.done // closed by its worker, or by the dispatcher when it never got one
		if err == nil {
			if err = ctx.Err(); err == nil {
				err = deliver(ft)
			}
			if err != nil {
				cancel()
			}
		}
		if !ft.held {
			ft.release()
		}
	}
	wg.Wait()
	return err
}

// fetch downloads and verifies one buffered chunk.
func (f *fetcher) fetch(ctx context.Context, ft *fetched) {
	if c := ft.step.Chunk; c.Codec == archive.CodecZstd && c.Size > 0 && roundUp(c.Size) < ft.est {
		f.fetchWhole(ctx, ft)
		return
	}
	r, closeFn, err := f.open(ctx, ft.step.Chunk)
	if err != nil {
		f.stats.Objects.Add(1)
		ft.err = err
		return
	}
	defer closeFn()
	h := r.Header
	if roundUp(h.RawSize) > ft.est {
		ft.inline = true // the estimate was low (record streams): stream it instead
		return
	}
	defer f.stats.Objects.Add(1)
	buf := get(&ft.bufs, h.RawSize)
	if _, err := io.ReadFull(r, buf); err != nil {
		ft.bufs = append(ft.bufs, buf)
		ft.err = err
		return
	}
	var one [1]byte
	if n, err := r.Read(one[:]); n != 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = fmt.Errorf("%w: more than %d bytes", archive.ErrTooLarge, h.RawSize)
		}
		ft.bufs = append(ft.bufs, buf)
		ft.err = err
		return
	}
	ft.hdr, ft.buf = h, buf
}

// fetchWhole downloads a zstd chunk whole and decodes it in one call
// straight into its buffer (archive.DecodeInto): no streaming decoder with
// a window of its own per worker, and no copy out of it.
func (f *fetcher) fetchWhole(ctx context.Context, ft *fetched) {
	defer f.stats.Objects.Add(1)
	c := ft.step.Chunk
	obj := get(&ft.bufs, c.Size)
	defer func() { ft.bufs = append(ft.bufs, obj) }()
	rc, _, err := f.a.Get(ctx, c.Key)
	if err == nil {
		err = readObject(&countReader{r: rc, n: &f.stats.Bytes}, obj)
		rc.Close()
	}
	if err != nil {
		ft.err = err
		return
	}
	h, err := archive.ReadHeader(bytes.NewReader(obj))
	if err == nil {
		err = c.checkHeader(h)
	}
	if err != nil {
		ft.err = err
		return
	}
	if roundUp(h.RawSize) > ft.est-roundUp(c.Size) {
		ft.inline = true // the estimate was low: stream it instead
		return
	}
	buf := get(&ft.bufs, h.RawSize)
	h, raw, err := archive.DecodeInto(buf[:0], obj, f.lim)
	if err != nil || len(raw) == 0 || &raw[0] != &buf[:1][0] {
		ft.bufs = append(ft.bufs, buf) // not decoded into it
		buf = raw
	}
	if err != nil {
		ft.err = err
		return
	}
	ft.hdr, ft.buf = h, buf[:len(raw)] // buf's whole capacity, for its reuse
}

// readObject reads r to its end into buf, which must be exactly filled: a
// store's error at the end (OSS: a CRC-64 mismatch) is returned.
func readObject(r io.Reader, buf []byte) error {
	n := 0
	for {
		p := buf[n:]
		var one [1]byte
		if len(p) == 0 {
			p = one[:]
		}
		k, err := r.Read(p)
		if len(buf) == n && k > 0 {
			return fmt.Errorf("%w: object larger than the %d bytes listed", archive.ErrCorrupt, len(buf))
		}
		n += k
		switch {
		case err == io.EOF && n < len(buf):
			return fmt.Errorf("%w: object of %d bytes, %d listed", archive.ErrCorrupt, n, len(buf))
		case err == io.EOF:
			return nil
		case err != nil: // as archive.Reader reports a failed read: OSS's CRC-64 check fails here
			return fmt.Errorf("%w: %v", archive.ErrCorrupt, err)
		}
	}
}

// open gets a chunk object and reads its header, checked against the key.
func (f *fetcher) open(ctx context.Context, c *Chunk) (*archive.Reader, func(), error) {
	rc, _, err := f.a.Get(ctx, c.Key)
	if err != nil {
		return nil, nil, err
	}
	cr := &countReader{r: rc, n: &f.stats.Bytes}
	var r *archive.Reader
	switch {
	case c.Codec != archive.CodecNone:
		r, err = archive.NewReader(cr, f.lim)
	case c.Header == nil:
		err = fmt.Errorf("%w: stored without compression and without metadata, so without a header to verify it", archive.ErrHeader)
	default:
		r, err = archive.NewPlainReader(cr, c.Header, f.lim)
	}
	if err == nil {
		if err = c.checkHeader(r.Header); err != nil {
			r.Close()
		}
	}
	if err != nil {
		rc.Close()
		return nil, nil, err
	}
	return r, func() { r.Close(); rc.Close() }, nil
}

// stream fetches a chunk that is not buffered and writes its bytes after
// the step's skip to w. Bytes may have reached w when it fails: the caller
// rolls back.
func (f *fetcher) stream(ctx context.Context, s *Step, w io.Writer) (*archive.Header, error) {
	defer f.stats.Objects.Add(1)
	r, closeFn, err := f.open(ctx, s.Chunk)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	sw := &skipWriter{w: w, skip: s.Skip, lines: r.Header.Unit == archive.UnitRecords}
	bp, _ := f.streamBufs.Get().(*[]byte)
	if bp == nil {
		bp = new(make([]byte, 256<<10))
	}
	defer f.streamBufs.Put(bp)
	buf := *bp
	if _, err := io.CopyBuffer(sw, onlyReader{r}, buf); err != nil {
		return nil, err
	}
	return r.Header, nil
}

// deliverTo writes a buffered step's bytes, after its skip, to w.
func (ft *fetched) deliverTo(w io.Writer) (int64, error) {
	sw := &skipWriter{w: w, skip: ft.step.Skip, lines: ft.hdr.Unit == archive.UnitRecords}
	_, err := sw.Write(ft.buf)
	return sw.n, err
}

// skipWriter drops the first skip positions (bytes, or lines) of what is
// written through it.
type skipWriter struct {
	w     io.Writer
	skip  int64
	lines bool
	n     int64
}

func (s *skipWriter) Write(p []byte) (int, error) {
	total := len(p)
	for s.skip > 0 && len(p) > 0 {
		if !s.lines {
			k := min(int64(len(p)), s.skip)
			p, s.skip = p[k:], s.skip-k
			continue
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			p = nil
			break
		}
		p, s.skip = p[i+1:], s.skip-1
	}
	if len(p) > 0 {
		n, err := s.w.Write(p)
		s.n += int64(n)
		if err != nil {
			return total - len(p) + n, err
		}
	}
	return total, nil
}

// onlyReader hides WriterTo/ReaderFrom so io.CopyBuffer uses the buffer.
type onlyReader struct{ io.Reader }

type countReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
