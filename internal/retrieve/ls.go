package retrieve

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/logship/logship/archive"
)

// Listing is what List found.
type Listing struct {
	Files    []FileEntry `json:"files"`
	Objects  int         `json:"objects"` // chunk objects selected
	Ignored  int         `json:"ignored"` // objects that are not logship chunks
	Problems []Problem   `json:"problems"`
	// Prefixes are the key prefixes listed ("" is everything).
	Prefixes    []string `json:"-"`
	HeaderReads int64    `json:"-"`
}

// FileEntry is one original file: the generations of one path.
type FileEntry struct {
	App         string        `json:"app"`
	Host        string        `json:"host"`
	Source      string        `json:"source"`
	Path        string        `json:"path"`
	First       time.Time     `json:"first"`
	Last        time.Time     `json:"last"`
	Generations int           `json:"generations"`
	Chunks      int           `json:"chunks"`
	Duplicates  int           `json:"duplicates"`
	Raw         int64         `json:"raw_bytes"`
	Stored      int64         `json:"stored_bytes"`
	Events      []string      `json:"events,omitempty"`
	Gaps        int           `json:"gaps"`
	Streams     []StreamEntry `json:"streams"`
}

// StreamEntry is one generation.
type StreamEntry struct {
	ID         string    `json:"id"`
	Unit       string    `json:"unit"`
	Start      int64     `json:"start"`
	End        int64     `json:"end"`
	First      time.Time `json:"first"`
	Last       time.Time `json:"last"`
	Chunks     int       `json:"chunks"`
	Duplicates int       `json:"duplicates"`
	Raw        int64     `json:"raw_bytes"`
	Stored     int64     `json:"stored_bytes"`
	Events     []string  `json:"events,omitempty"`
	Gaps       []Problem `json:"gaps,omitempty"`
}

// List says what the filter selects: per file, its time span, chunks, raw
// and stored bytes, event flags and gaps. It reads object headers only
// where the keys do not say enough: the first and last chunk of each
// stream, the chunks next to a gap, every chunk of the kmsg, crash and
// snapshot sources (they carry the event flags), unplaced objects, and the
// boundary hours of a window.
func List(ctx context.Context, a Store, f Filter, parallel int) (*Listing, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	parallel = max(parallel, 1)
	ps := &problems{}
	hr := &headerReader{a: a, par: parallel, ps: ps}
	sel, err := (&selector{a: a, f: f, ps: ps, hr: hr}).run(ctx)
	if err != nil {
		return nil, fmt.Errorf("ls: %w", err)
	}
	var need []*Chunk
	for _, fl := range sel.files {
		for _, s := range fl.Streams {
			if s.Source != archive.KindFile {
				need = append(need, s.all...) // event flags may sit on any of them
				continue
			}
			need = append(need, s.Steps[len(s.Steps)-1].Chunk)
			for _, g := range s.Gaps {
				if g.Next > 0 {
					need = append(need, s.Steps[g.Next-1].Chunk)
				}
				if g.Next < len(s.Steps) {
					need = append(need, s.Steps[g.Next].Chunk)
				}
			}
		}
	}
	if err := hr.read(ctx, need); err != nil {
		return nil, err
	}
	l := &Listing{Objects: sel.objects, Ignored: sel.ignored, Prefixes: sel.listed}
	for _, fl := range sel.files {
		e := FileEntry{App: fl.App, Host: fl.Host, Source: fl.Source, Path: fl.Path, Generations: len(fl.Streams)}
		for _, s := range fl.Streams {
			s.noteTimes()
			se := StreamEntry{ID: s.ID, Unit: s.Unit, Start: s.Start, End: s.End, First: s.First, Last: s.Last,
				Chunks: s.Chunks, Duplicates: s.Duplicates, Stored: s.Stored}
			for _, st := range s.Steps {
				h := st.Chunk.Header
				if s.Unit == archive.UnitBytes || h == nil {
					se.Raw += st.Chunk.End - st.Chunk.Start - st.Skip
				} else {
					se.Raw += h.RawSize
				}
			}
			for _, c := range s.all {
				if h := c.Header; h != nil && h.Event != "" && !slices.Contains(se.Events, h.Event) {
					se.Events = append(se.Events, h.Event)
				}
			}
			name := fl.App + "/" + fl.Host + "/" + fl.Source + "/" + fl.Path
			se.Gaps = gapProblems(name, s, nil)
			if e.First.IsZero() || se.First.Before(e.First) {
				e.First = se.First
			}
			if se.Last.After(e.Last) {
				e.Last = se.Last
			}
			e.Chunks += se.Chunks
			e.Duplicates += se.Duplicates
			e.Raw += se.Raw
			e.Stored += se.Stored
			e.Gaps += len(se.Gaps)
			for _, ev := range se.Events {
				if !slices.Contains(e.Events, ev) {
					e.Events = append(e.Events, ev)
				}
			}
			e.Streams = append(e.Streams, se)
		}
		l.Files = append(l.Files, e)
	}
	l.Problems = ps.all()
	l.HeaderReads = hr.reads.Load()
	return l, nil
}
