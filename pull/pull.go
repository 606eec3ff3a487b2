package pull

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"time"

	"github.com/logship/logship/archive"
)

// Defaults of Options.
const (
	DefaultParallel = 8
	DefaultMemory   = 256 << 20
)

// Options configure Pull (Out is required) and, where they apply, Cat and
// List.
type Options struct {
	Filter Filter
	// Out is the folder the files are written to:
	// OUT/APP/HOST/SOURCE/<original path>.
	Out string
	// Parallel is the number of objects fetched at once (default 8).
	Parallel int
	// Memory bounds the bytes of fetched chunks held at once (default
	// 256 MiB). Chunks larger than a quarter of it (at most 32 MiB) are
	// streamed one at a time instead.
	Memory int64
	// SplitGenerations writes each generation of a path to its own file,
	// PATH@STREAM, instead of concatenating them in ingest order.
	SplitGenerations bool
	// Stats, when set, is updated as the run goes (progress display).
	Stats *Stats
	// OnProblem, when set, is called with each problem as it is found.
	OnProblem func(Problem)
}

func (o *Options) defaults() {
	if o.Parallel <= 0 {
		o.Parallel = DefaultParallel
	}
	if o.Memory <= 0 {
		o.Memory = DefaultMemory
	}
	if o.Stats == nil {
		o.Stats = &Stats{}
	}
}

// Summary is what a pull did.
type Summary struct {
	Files        int       `json:"files"`         // output files in place (written now or up to date)
	UpToDate     int       `json:"up_to_date"`    // of which nothing had to change
	Bytes        int64     `json:"bytes"`         // size of those files
	Fetched      int64     `json:"fetched"`       // objects downloaded
	FetchedBytes int64     `json:"fetched_bytes"` // stored bytes downloaded
	HeaderReads  int64     `json:"header_reads"`  // objects opened only for their header
	Reused       int64     `json:"reused_bytes"`  // bytes copied from the previous run's files instead of fetched
	Duplicates   int       `json:"duplicates"`    // objects dropped as duplicates
	Overlap      int64     `json:"overlap"`       // positions trimmed from overlapping objects
	Ignored      int       `json:"ignored"`       // objects that are not logship chunks
	Problems     []Problem `json:"problems"`
}

// Count returns the number of problems of a kind.
func (s *Summary) Count(kind string) int {
	n := 0
	for _, p := range s.Problems {
		if p.Kind == kind {
			n++
		}
	}
	return n
}

// output is one file to write and the steps that make it.
type output struct {
	name     string
	streams  []*Stream
	steps    []*Step
	prev     *fileState
	src      map[segKey]source // steps that the previous run's files hold
	upToDate bool
}

type segKey struct {
	key  string
	size int64
	skip int64
}

type source struct {
	file string // name inside the root
	seg  segment
}

// Pull downloads, verifies and reassembles what the filter selects into
// opt.Out. A re-run resumes: chunks already applied are copied from the
// files of the previous run, not fetched again. The error is for failures
// that stop the run (the archive cannot be listed, Out cannot be written,
// ctx ended); problems with single objects are in the summary.
func Pull(ctx context.Context, a Archive, opt Options) (*Summary, error) {
	opt.defaults()
	if opt.Out == "" {
		return nil, errors.New("pull: no output folder")
	}
	if err := opt.Filter.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opt.Out, 0o755); err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	root, err := os.OpenRoot(opt.Out)
	if err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	defer root.Close()
	ds := &dirs{root: root, ok: map[string]bool{}}
	if err := ds.ensure(partialDir); err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	unlock, err := lock(root)
	if err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	defer unlock()
	ps := &problems{fn: opt.OnProblem}
	st, err := loadState(root)
	if err != nil {
		ps.add(Problem{Kind: KindWrite, File: stateFile, Msg: err.Error()})
	}
	cleanPartials(root, st)

	hr := &headerReader{a: a, par: opt.Parallel, ps: ps}
	sel, err := (&selector{a: a, f: opt.Filter, ps: ps, hr: hr, known: st.Streams}).run(ctx)
	if err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	sum := &Summary{Ignored: sel.ignored}
	outs := planOutputs(root, sel, st, opt.SplitGenerations, ps)
	var fetch []*Step
	for _, o := range outs {
		for _, s := range o.streams {
			sum.Duplicates += s.Duplicates
			sum.Overlap += s.Overlap
			st.Streams[s.key()] = streamInfo{Path: s.Path, First: s.First, Unit: s.Unit}
		}
		if o.upToDate {
			continue
		}
		for _, s := range o.steps {
			if _, ok := o.src[segKeyOf(s)]; !ok {
				fetch = append(fetch, s)
				opt.Stats.BytesTotal.Add(s.C.Size)
			}
		}
	}
	opt.Stats.ObjectsTotal.Add(int64(len(fetch)))

	defer func() {
		sum.Fetched = opt.Stats.Objects.Load()
		sum.FetchedBytes = opt.Stats.Bytes.Load()
		sum.HeaderReads = hr.reads.Load()
		sum.Problems = ps.all()
	}()
	fr := newFetcher(a, opt.Parallel, opt.Memory, opt.Stats)
	w := &writer{root: root, dirs: ds, st: st, ps: ps, fr: fr, outs: outs, sum: sum, stats: opt.Stats, times: map[*Chunk][2]time.Time{}}
	err = fr.run(ctx, fetch, func(ft *fetched) error {
		if w.skip[ft.step] {
			return nil
		}
		if err := w.advance(ctx, ft.step); err != nil {
			return err
		}
		return w.apply(ctx, ft)
	})
	if err == nil {
		err = w.advance(ctx, nil)
	}
	if err != nil {
		w.abort()
		if ctx.Err() != nil {
			err = fmt.Errorf("pull interrupted (re-run to resume): %w", ctx.Err())
		}
		return sum, err
	}
	if err := st.save(root); err != nil {
		return sum, fmt.Errorf("pull: saving state: %w", err)
	}
	return sum, nil
}

func segKeyOf(s *Step) segKey { return segKey{s.C.Key, s.C.Size, s.Skip} }

// planOutputs maps streams to output files and finds what the previous
// run already wrote.
func planOutputs(root *os.Root, sel *selection, st *state, split bool, ps *problems) []*output {
	var outs []*output
	byName := map[string]*output{}
	for _, f := range sel.files {
		for _, s := range f.Streams {
			name, err := outputName(s.App, s.Host, s.Source, s.Path, s.ID, split)
			if err != nil {
				ps.add(Problem{Kind: KindUnsafe, File: s.App + "/" + s.Host + "/" + s.Source + "/" + strconv.Quote(shorten(s.Path)),
					Key: s.Steps[0].C.Key, Msg: err.Error() + "; stream " + s.ID + " not written"})
				continue
			}
			o := byName[name]
			if o == nil {
				o = &output{name: name, prev: st.Files[name], src: map[segKey]source{}}
				byName[name] = o
				outs = append(outs, o)
			}
			o.streams = append(o.streams, s)
		}
	}
	for _, o := range outs {
		// Paths that differ only before sanitising share a file: keep
		// the ingest order across them.
		if len(o.streams) > 1 {
			sortStreams(o.streams)
		}
		for _, s := range o.streams {
			for i := range s.Steps {
				o.steps = append(o.steps, &s.Steps[i])
			}
		}
		if o.prev == nil {
			continue
		}
		if v := o.prev.Partial; v != nil && fileIs(root, partialDir+"/"+v.Name, v.Size, false) {
			for _, sg := range v.Segments {
				o.src[segKey{sg.Key, sg.Size, sg.Skip}] = source{partialDir + "/" + v.Name, sg}
			}
		}
		if v := o.prev.Final; v != nil && fileIs(root, o.name, v.Size, true) {
			same := len(v.Segments) == len(o.steps)
			for i, sg := range v.Segments {
				k := segKey{sg.Key, sg.Size, sg.Skip}
				o.src[k] = source{o.name, sg}
				if same && k != segKeyOf(o.steps[i]) {
					same = false
				}
			}
			o.upToDate = same
		}
	}
	return outs
}

func sortStreams(ss []*Stream) {
	for i := 1; i < len(ss); i++ {
		for j := i; j > 0 && ss[j].First.Before(ss[j-1].First); j-- {
			ss[j], ss[j-1] = ss[j-1], ss[j]
		}
	}
}

// fileIs reports whether name is a regular file of the given size (or
// longer, unless exact: a partial file may hold unrecorded bytes).
func fileIs(root *os.Root, name string, size int64, exact bool) bool {
	fi, err := root.Lstat(name)
	return err == nil && fi.Mode().IsRegular() && (fi.Size() == size || !exact && fi.Size() > size)
}

// writer applies steps in order, output file by output file.
type writer struct {
	root  *os.Root
	dirs  *dirs
	st    *state
	ps    *problems
	fr    *fetcher
	outs  []*output
	sum   *Summary
	stats *Stats
	times map[*Chunk][2]time.Time

	oi, si int // next output, next step in it
	cur    *openOutput
	skip   map[*Step]bool // steps of outputs that could not be opened
}

type openOutput struct {
	o        *output
	f        *os.File
	partial  string // name inside the root
	size     int64
	segs     []segment
	srcs     map[string]*os.File
	sinceCkp int64
}

// checkpointEvery bounds what an interrupted (killed) run must redo in
// one output file.
const checkpointEvery = 256 << 20

// advance applies everything before step (copies from earlier files,
// file boundaries), or everything left when step is nil.
func (w *writer) advance(ctx context.Context, step *Step) error {
	for w.oi < len(w.outs) {
		o := w.outs[w.oi]
		if o.upToDate {
			w.upToDate(o)
			w.oi++
			continue
		}
		if w.cur == nil {
			if err := w.begin(o); err != nil {
				w.ps.add(Problem{Kind: KindWrite, File: o.name, Msg: err.Error()})
				w.skipOutput(o)
				w.oi++
				if w.skip[step] {
					return nil
				}
				continue
			}
		}
		for w.si < len(o.steps) {
			s := o.steps[w.si]
			if s == step {
				return nil
			}
			src, ok := o.src[segKeyOf(s)]
			if !ok {
				return fmt.Errorf("internal: step %s out of order", s.C.Key)
			}
			if err := w.copy(s, src); err != nil {
				return err
			}
			w.si++
		}
		if err := w.end(); err != nil {
			return err
		}
		w.oi++
		w.si = 0
	}
	if step != nil {
		return fmt.Errorf("internal: step %s not planned", step.C.Key)
	}
	return nil
}

// skipOutput drops an output that cannot be written; its fetched steps
// still arrive and are discarded.
func (w *writer) skipOutput(o *output) {
	skipped := map[*Step]bool{}
	for _, s := range o.steps {
		skipped[s] = true
	}
	o.steps = nil
	if w.skip == nil {
		w.skip = map[*Step]bool{}
	}
	for s := range skipped {
		w.skip[s] = true
	}
}

func (w *writer) upToDate(o *output) {
	w.sum.Files++
	w.sum.UpToDate++
	w.sum.Bytes += o.prev.Final.Size
	for _, sg := range o.prev.Final.Segments {
		for _, s := range o.steps {
			if s.C.Key == sg.Key {
				w.times[s.C] = [2]time.Time{sg.First, sg.Last}
			}
		}
	}
	w.reportGaps(o)
}

func (w *writer) begin(o *output) error {
	if err := w.dirs.ensure(path.Dir(o.name)); err != nil {
		return err
	}
	if _, err := regularOrAbsent(w.root, o.name); err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(o.name))
	partial := partialDir + "/" + hex.EncodeToString(sum[:8]) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	f, err := w.root.OpenFile(partial, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	w.cur = &openOutput{o: o, f: f, partial: partial, srcs: map[string]*os.File{}}
	return nil
}

// copy reuses a chunk's bytes from the previous run's file.
func (w *writer) copy(s *Step, src source) error {
	c := w.cur
	f := c.srcs[src.file]
	if f == nil {
		var err error
		if f, err = w.root.Open(src.file); err != nil {
			return err
		}
		c.srcs[src.file] = f
	}
	if _, err := f.Seek(src.seg.Off, io.SeekStart); err != nil {
		return err
	}
	n, err := io.CopyN(c.f, f, src.seg.Len)
	if err != nil {
		return fmt.Errorf("copying %s from %s: %w", s.C.Key, src.file, err)
	}
	w.sum.Reused += n
	sg := src.seg
	sg.Off = c.size
	w.added(s, sg)
	return nil
}

func (w *writer) added(s *Step, sg segment) {
	c := w.cur
	c.size += sg.Len
	c.sinceCkp += sg.Len
	c.segs = append(c.segs, sg)
	w.times[s.C] = [2]time.Time{sg.First, sg.Last}
	w.stats.Written.Add(sg.Len)
}

// apply writes a fetched step (or reports why it cannot).
func (w *writer) apply(ctx context.Context, ft *fetched) error {
	s := ft.step
	if w.skip[s] {
		return nil
	}
	w.si++
	c := w.cur
	var h *archive.Header
	off := c.size
	var n int64
	err := ft.err
	if err == nil && ft.inline {
		cw := &countWriter{w: c.f}
		h, err = w.fr.stream(ctx, s, cw)
		n = cw.n
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if terr := c.f.Truncate(off); terr != nil {
				return terr
			}
			if _, serr := c.f.Seek(off, io.SeekStart); serr != nil {
				return serr
			}
			if errors.Is(err, errWrite) {
				return err
			}
		}
	} else if err == nil {
		h = ft.hdr
		n, err = ft.deliverTo(c.f)
		if err != nil {
			return fmt.Errorf("writing %s: %w", c.partial, err)
		}
	}
	if err != nil {
		w.ps.add(Problem{Kind: classify(err), Key: s.C.Key, File: c.o.name,
			Msg: fmt.Sprintf("%v; %s [%d, %d) of stream %s left out", err, unitName(s), s.C.Start+s.Skip, s.C.End, s.C.Stream)})
		return nil
	}
	w.added(s, segment{Key: s.C.Key, Size: s.C.Size, Skip: s.Skip, Off: off, Len: n, Checksum: h.Checksum, First: h.First, Last: h.Last})
	if c.sinceCkp >= checkpointEvery {
		c.sinceCkp = 0
		if err := w.checkpoint(); err != nil {
			return err
		}
	}
	return nil
}

func unitName(s *Step) string {
	if s.C.Source == archive.KindKmsg {
		return "records"
	}
	return "bytes"
}

// checkpoint makes the partial file and its segments durable.
func (w *writer) checkpoint() error {
	c := w.cur
	if err := c.f.Sync(); err != nil {
		return err
	}
	fs := w.fileState(c.o.name)
	fs.Partial = &version{Name: path.Base(c.partial), Size: c.size, Segments: append([]segment(nil), c.segs...)}
	return w.st.save(w.root)
}

func (w *writer) fileState(name string) *fileState {
	fs := w.st.Files[name]
	if fs == nil {
		fs = &fileState{}
		w.st.Files[name] = fs
	}
	return fs
}

// end puts a finished output in place: fsync, rename over the old one,
// fsync the folder, record it.
func (w *writer) end() error {
	c := w.cur
	w.cur = nil
	for _, f := range c.srcs {
		f.Close()
	}
	if err := c.f.Sync(); err != nil {
		c.f.Close()
		return err
	}
	if err := c.f.Close(); err != nil {
		return err
	}
	o := c.o
	if len(c.segs) == 0 && len(o.steps) > 0 {
		// Nothing could be applied: put no empty file in place.
		w.root.Remove(c.partial)
		w.reportGaps(o)
		return nil
	}
	if _, err := regularOrAbsent(w.root, o.name); err != nil {
		w.ps.add(Problem{Kind: KindWrite, File: o.name, Msg: err.Error()})
		w.root.Remove(c.partial)
		return nil
	}
	if err := w.root.Rename(c.partial, o.name); err != nil {
		return err
	}
	if err := syncDir(w.root, path.Dir(o.name)); err != nil {
		return err
	}
	fs := w.fileState(o.name)
	if fs.Partial != nil && fs.Partial.Name != path.Base(c.partial) {
		w.root.Remove(partialDir + "/" + fs.Partial.Name)
	}
	fs.Partial = nil
	fs.Final = &version{Size: c.size, Segments: c.segs}
	w.sum.Files++
	w.sum.Bytes += c.size
	w.reportGaps(o)
	return w.st.save(w.root)
}

// abort records the output being written as partial, so that a re-run
// reuses it, and saves the state.
func (w *writer) abort() {
	if c := w.cur; c != nil {
		for _, f := range c.srcs {
			f.Close()
		}
		if err := w.checkpoint(); err == nil {
			if prev := w.st.Files[c.o.name]; prev != nil && prev.Partial != nil && prev.Partial.Name != path.Base(c.partial) {
				w.root.Remove(partialDir + "/" + prev.Partial.Name)
			}
		}
		c.f.Close()
		w.cur = nil
	}
	w.st.save(w.root)
}

// reportGaps reports the holes in the middle of each stream of an output.
func (w *writer) reportGaps(o *output) {
	for _, s := range o.streams {
		for _, p := range gapProblems(o.name, s, w.times) {
			w.ps.add(p)
		}
	}
}

// gapProblems describes the gaps of a stream, with the ingest times around
// them where the chunks next to them were read.
func gapProblems(name string, s *Stream, times map[*Chunk][2]time.Time) []Problem {
	var out []Problem
	for _, g := range s.Gaps {
		before, after := "?", "?"
		if !g.Before.IsZero() {
			before = g.Before.UTC().Format(time.RFC3339Nano)
		}
		if !g.After.IsZero() {
			after = g.After.UTC().Format(time.RFC3339Nano)
		}
		if g.next > 0 {
			if t := times[s.Steps[g.next-1].C]; !t[1].IsZero() {
				before = t[1].UTC().Format(time.RFC3339Nano)
			}
		}
		if g.next < len(s.Steps) {
			if t := times[s.Steps[g.next].C]; !t[0].IsZero() {
				after = t[0].UTC().Format(time.RFC3339Nano)
			}
		}
		out = append(out, Problem{Kind: KindGap, File: name, Msg: fmt.Sprintf("stream %s: %s [%d, %d) missing (%d), ingested between %s and %s",
			s.ID, unitName(&s.Steps[0]), g.Start, g.End, g.End-g.Start, before, after)})
	}
	return out
}

var errWrite = errors.New("write failed")

// countWriter counts bytes and marks its own errors, so that a failing
// output is not mistaken for a corrupt object.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil {
		err = fmt.Errorf("%w: %w", errWrite, err)
	}
	return n, err
}
