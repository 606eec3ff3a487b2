package retrieve

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/logship/logship/archive"
)

// Step is one chunk to apply when rebuilding a stream: its raw bytes
// without the first Skip positions (bytes, or lines for record streams).
type Step = archive.Step[*Chunk]

// Stream is one generation of one source, planned: the steps that rebuild
// it exactly once, in order (archive.Plan's, with the chunks typed), and
// what the headers read so far say about it.
type Stream struct {
	App, Host, Source, ID string
	Path                  string    // original path (from the header of its first chunk)
	Unit                  string    // archive.UnitBytes or UnitRecords
	First, Last           time.Time // ingest time of its first chunk; of its last known one
	Start, End            int64     // covered positions; Start > 0 is not a gap (read_from: end, or a window)
	Steps                 []Step
	Gaps                  []archive.Gap // in the middle; times from the headers read (zero when unknown)
	all                   []*Chunk      // every object, duplicates included
	Chunks                int           // objects, duplicates included
	Stored                int64         // stored bytes of those objects
	Duplicates            int           // objects wholly covered by others
	Overlap               int64         // positions trimmed from partly overlapping objects
}

func (s *Stream) key() string { return s.App + "/" + s.Host + "/" + s.Source + "/" + s.ID }

// File is one original file: the generations (streams) of one path, in
// ingest order.
type File struct {
	App, Host, Source, Path string
	Streams                 []*Stream
}

// streamInfo is what a stream's first header says that its keys do not.
type streamInfo struct {
	Path  string    `json:"path"`
	First time.Time `json:"first"`
	Unit  string    `json:"unit"`
}

// selection is the result of listing, filtering and planning.
type selection struct {
	files   []*File
	objects int // chunks of the files selected (duplicates included)
	ignored int // objects that are not logship chunks
	listed  []string
}

type selector struct {
	a     Store
	f     Filter
	ps    *problems
	hr    *headerReader
	known map[string]streamInfo // by stream key, from an earlier run
}

// run lists and plans. Header reads are limited to unplaced objects, the
// boundary hours of a window, and the first chunk of each stream whose
// path is not already known.
func (s *selector) run(ctx context.Context) (*selection, error) {
	l := &lister{a: s.a, f: s.f, ps: s.ps}
	cs, err := l.list(ctx)
	if err != nil {
		return nil, err
	}
	var need []*Chunk
	for _, c := range cs {
		if c.Header == nil && (!c.Placed || (s.f.windowed() && !s.f.hourInside(c.Hour))) {
			need = append(need, c)
		}
	}
	if err := s.hr.read(ctx, need); err != nil {
		return nil, err
	}
	sel := &selection{listed: l.listed, ignored: l.ignored}
	kept := cs[:0]
	for _, c := range cs {
		if c.ignored {
			sel.ignored++
			continue
		}
		if c.bad || !s.f.matchKey(c.App, c.Host, c.Source) {
			continue
		}
		if c.Header != nil && s.f.windowed() && !s.f.inWindow(c.Header.First, c.Header.Last) {
			continue
		}
		kept = append(kept, c)
	}
	var streams []*Stream
	for {
		streams = plan(kept)
		need = need[:0]
		for _, st := range streams {
			c := st.Steps[0].Chunk
			if _, ok := s.known[st.key()]; !ok && c.Header == nil {
				need = append(need, c)
			}
		}
		if len(need) == 0 {
			break
		}
		if err := s.hr.read(ctx, need); err != nil {
			return nil, err
		}
		kept = slices.DeleteFunc(kept, func(c *Chunk) bool { return c.bad })
	}
	files := map[[4]string]*File{}
	for _, st := range streams {
		if h := st.Steps[0].Chunk.Header; h != nil {
			st.Path, st.First, st.Unit = h.Path, h.First, h.Unit
		} else {
			in := s.known[st.key()]
			st.Path, st.First, st.Unit = in.Path, in.First, in.Unit
		}
		st.noteTimes()
		if !s.f.matchPath(st.Path) {
			continue
		}
		sel.objects += st.Chunks
		k := [4]string{st.App, st.Host, st.Source, st.Path}
		f := files[k]
		if f == nil {
			f = &File{App: st.App, Host: st.Host, Source: st.Source, Path: st.Path}
			files[k] = f
			sel.files = append(sel.files, f)
		}
		f.Streams = append(f.Streams, st)
	}
	for _, f := range sel.files {
		slices.SortFunc(f.Streams, func(a, b *Stream) int {
			return cmp.Or(a.First.Compare(b.First), cmp.Compare(a.ID, b.ID))
		})
	}
	slices.SortFunc(sel.files, func(a, b *File) int {
		return cmp.Or(cmp.Compare(a.App, b.App), cmp.Compare(a.Host, b.Host), cmp.Compare(a.Source, b.Source), cmp.Compare(a.Path, b.Path))
	})
	return sel, nil
}

// plan groups chunks by stream and plans each with archive.Plan: duplicates
// dropped, overlaps trimmed, gaps found.
func plan(cs []*Chunk) []*Stream {
	all := map[string][]*Chunk{}
	for _, c := range cs {
		all[c.streamKey()] = append(all[c.streamKey()], c)
	}
	plans := archive.Plan(cs, (*Chunk).planHeader)
	out := make([]*Stream, 0, len(plans))
	for _, p := range plans {
		if len(p.Steps) == 0 {
			continue
		}
		st := &Stream{App: p.App, Host: p.Host, Source: p.Source, ID: p.ID, Unit: p.Unit,
			Start: p.Start, End: p.End, Duplicates: p.Duplicates, Overlap: p.Overlap,
			Steps: p.Steps, Gaps: p.Gaps}
		st.all = all[st.key()]
		st.Chunks = len(st.all)
		for _, c := range st.all {
			st.Stored += c.Size
		}
		out = append(out, st)
	}
	return out
}

// noteTimes sets Last and the times around gaps from the headers read so
// far (the plan saw headers built from keys for the others).
func (st *Stream) noteTimes() {
	st.Last = time.Time{}
	for _, s := range st.Steps {
		if h := s.Chunk.Header; h != nil {
			if h.Last.After(st.Last) {
				st.Last = h.Last
			}
		}
	}
	for i := range st.Gaps {
		g := &st.Gaps[i]
		g.Before, g.After = time.Time{}, time.Time{}
		if g.Next > 0 {
			if h := st.Steps[g.Next-1].Chunk.Header; h != nil {
				g.Before = h.Last
			}
		}
		if g.Next < len(st.Steps) {
			if h := st.Steps[g.Next].Chunk.Header; h != nil {
				g.After = h.First
			}
		}
	}
}
