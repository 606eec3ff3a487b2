package retrieve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/logship/logship/archive"
)

// Defaults of Options.
const (
	DefaultParallel = 8
	DefaultMemory   = 64 << 20 // 32 MiB of chunk buffers; 32 and 128 MiB pulled 1 GiB from osstest no faster on 2 cores
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
	// Memory bounds the memory of a pull (default DefaultMemory): the
	// buffers of fetched and decoded chunks, kept for reuse, take half of
	// it; set the Go memory limit to it. Chunks larger than a quarter of it (at most 32 MiB) are streamed
	// one at a time instead.
	Memory int64
	// SplitGenerations writes each generation of a path to its own file,
	// PATH@STREAM, instead of concatenating them in ingest order.
	SplitGenerations bool
	// Fsync makes every file durable (fsync) before it is put in place.
	// Without it, files are not fsynced: a re-run after a reboot checks
	// them (see currentBoot). Where the boot cannot be told, pull fsyncs.
	Fsync bool
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
	for _, o := range outs {
		for _, s := range o.streams {
			sum.Duplicates += s.Duplicates
			sum.Overlap += s.Overlap
			st.Streams[s.key()] = streamInfo{Path: s.Path, First: s.First, Unit: s.Unit}
		}
	}
	perLane, fetch, laneOf := schedule(outs, lanes())
	for _, s := range fetch {
		opt.Stats.BytesTotal.Add(s.Chunk.Size)
	}
	opt.Stats.ObjectsTotal.Add(int64(len(fetch)))

	defer func() {
		sum.Fetched = opt.Stats.Objects.Load()
		sum.FetchedBytes = opt.Stats.Bytes.Load()
		sum.HeaderReads = hr.reads.Load()
		sum.Problems = ps.all()
	}()
	w := &writer{root: root, dirs: ds, st: st, ps: ps, fr: newFetcher(a, opt.Parallel, opt.Memory, opt.Stats), sum: sum,
		stats: opt.Stats, times: map[*Chunk][2]time.Time{}, boot: currentBoot()}
	if opt.Fsync {
		w.boot = ""
	}
	for _, o := range outs {
		if o.upToDate {
			w.upToDate(o)
		}
	}
	if err := w.untrust(outs); err != nil {
		return sum, fmt.Errorf("pull: saving state: %w", err)
	}
	if err := w.run(ctx, perLane, fetch, laneOf); err != nil {
		w.st.save(root, w.boot == "")
		if ctx.Err() != nil {
			err = fmt.Errorf("pull interrupted (re-run to resume): %w", ctx.Err())
		}
		return sum, err
	}
	if err := st.save(root, w.boot == ""); err != nil {
		return sum, fmt.Errorf("pull: saving state: %w", err)
	}
	return sum, nil
}

// run fetches the steps and has the lanes write them; the first error
// (a lane's, or the fetcher's) stops all.
func (w *writer) run(ctx context.Context, perLane [][]*output, fetch []*Step, laneOf map[*Step]int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	steps := make([]int, len(perLane))
	for _, i := range laneOf {
		steps[i]++
	}
	ls := make([]*lane, len(perLane))
	for i, outs := range perLane {
		ls[i] = &lane{w: w, outs: outs, in: make(chan *fetched, steps[i])}
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
		cancel()
	}
	for _, l := range ls {
		wg.Go(func() {
			if err := l.run(ctx); err != nil {
				fail(err)
			}
			for ft := range l.in { // after an error: what still arrives
				ft.release()
			}
		})
	}
	err := w.fr.run(ctx, fetch, func(ft *fetched) error {
		ft.held = true
		ls[laneOf[ft.step]].in <- ft // room for every step: never blocks
		return nil
	})
	if err != nil {
		fail(err)
	}
	for _, l := range ls {
		close(l.in)
	}
	wg.Wait()
	return first
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
		if v := o.prev.Partial; v != nil {
			file := partialDir + "/" + v.Name
			for _, sg := range usable(root, file, v, false) {
				o.src[segKey{sg.Key, sg.Size, sg.Skip}] = source{file, sg}
			}
		}
		if v := o.prev.Final; v != nil {
			segs := usable(root, o.name, v, true)
			same := len(segs) == len(v.Segments) && len(v.Segments) == len(o.steps) && fileIs(root, o.name, v.Size, true)
			for i, sg := range segs {
				k := segKey{sg.Key, sg.Size, sg.Skip}
				o.src[k] = source{o.name, sg}
				if same && k != segKeyOf(o.steps[i]) {
					same = false
				}
			}
			if o.upToDate = same; same && v.unsure() {
				v.Boot = "" // checked after a reboot: read from the disk
			}
		}
	}
	return outs
}

// usable returns the segments of a previous run's file that can be
// reused. A file written in this boot (or fsynced) is as the state says
// when it has the recorded size (or is longer, unless exact: a partial
// file may hold unrecorded bytes). One written without fsync before a
// reboot may have lost any part, its size included: each segment is read
// back and kept only if its CRC-32C matches.
func usable(root *os.Root, name string, v *version, exact bool) []segment {
	if !v.unsure() {
		if fileIs(root, name, v.Size, exact) {
			return v.Segments
		}
		return nil
	}
	if _, err := regularOrAbsent(root, name); err != nil {
		return nil
	}
	f, err := root.Open(name)
	if err != nil {
		return nil
	}
	defer f.Close()
	var ok []segment
	buf := make([]byte, 1<<20)
	for _, sg := range v.Segments {
		if crc, err := crcOf(f, sg.Off, sg.Len, buf); err == nil && crc == sg.crc() {
			ok = append(ok, sg)
		}
	}
	return ok
}

// crcOf is the CRC-32C of n bytes of f at off, as archive.Checksum
// formats it.
func crcOf(f io.ReaderAt, off, n int64, buf []byte) (string, error) {
	var crc uint32
	for n > 0 {
		k, err := f.ReadAt(buf[:min(n, int64(len(buf)))], off)
		crc = archive.UpdateChecksum(crc, buf[:k])
		off, n = off+int64(k), n-int64(k)
		if err != nil && n > 0 {
			return "", err // io.EOF: the file is shorter
		}
	}
	return archive.FormatChecksum(crc), nil
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
