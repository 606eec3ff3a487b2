package retrieve

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/logship/logship/archive"
)

// Defaults of Options.
const (
	DefaultParallel = 8
	DefaultMemory   = 128 << 20 // 256 MiB pulled no faster on 2 cores (bench --pull --pull-max-memory), and peaked 60 MiB higher
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
	// DefaultMemory). Chunks larger than a quarter of it (at most 32 MiB) are
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
	HeaderReads  int64     `json:"header_reads"`  // objects whose header was read on its own (HeadObject metadata, or the object's first bytes)
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
func Pull(ctx context.Context, a Store, opt Options) (*Summary, error) {
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
				opt.Stats.BytesTotal.Add(s.Chunk.Size)
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

func segKeyOf(s *Step) segKey { return segKey{s.Chunk.Key, s.Chunk.Size, s.Skip} }

// planOutputs maps streams to output files and finds what the previous
// run already wrote.
func planOutputs(root *os.Root, sel *selection, st *state, split bool, ps *problems) []*output {
	var outs []*output
	byName := map[string]*output{}
	for _, f := range sel.files {
		for _, s := range f.Streams {
			name, err := outputName(s.App, s.Host, s.Source, s.Path, s.ID, split)
			if err != nil {
				ps.add(Problem{Kind: KindUnsafe, File: s.App + "/" + s.Host + "/" + s.Source + "/" + strconv.Quote(archive.Shorten(s.Path)),
					Key: s.Steps[0].Chunk.Key, Msg: err.Error() + "; stream " + s.ID + " not written"})
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
	slices.SortStableFunc(ss, func(a, b *Stream) int { return a.First.Compare(b.First) })
}

// fileIs reports whether name is a regular file of the given size (or
// longer, unless exact: a partial file may hold unrecorded bytes).
func fileIs(root *os.Root, name string, size int64, exact bool) bool {
	fi, err := root.Lstat(name)
	return err == nil && fi.Mode().IsRegular() && (fi.Size() == size || !exact && fi.Size() > size)
}
