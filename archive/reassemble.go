package archive

import (
	"bytes"
	"fmt"
	"sort"
	"time"
)

// Step is one chunk to apply when rebuilding a stream: its raw bytes
// without the first Skip positions (bytes, or records = lines, per the
// unit; see StreamPlan.Apply). Chunk is the caller's own value for the
// chunk (a key, a struct), as handed to Plan.
type Step[C any] struct {
	Chunk C
	Skip  int64
}

// Gap is a range of a stream that no chunk covers.
type Gap struct {
	Start, End int64
	// Before and After are the ingest times around the gap, as the
	// headers seen by Plan say (zero when unknown).
	Before, After time.Time
	// Next is the index in Steps of the step right after the gap.
	Next int
}

// StreamPlan says how to rebuild one stream from a set of chunks of type C.
type StreamPlan[C any] struct {
	App, Host, Source, Path, Unit string
	ID                            string // the stream id (Header.Stream)
	Start, End                    int64  // covered range (with gaps)
	First, Last                   time.Time
	Steps                         []Step[C]
	Gaps                          []Gap
	Duplicates                    int   // chunks wholly covered by others
	Overlap                       int64 // positions skipped in partially overlapping chunks
	Events                        []string
}

// Plan groups chunks by stream and orders them so that applying the steps
// rebuilds each stream exactly once: duplicated chunks are dropped,
// overlapping ones trimmed, gaps reported. Chunks may come in any order,
// from several agents' retries and restarts. Plans are sorted by app, host,
// source, path, then first ingest time (the generations of a path in
// order).
//
// header returns what is known of a chunk: the header read from it, or one
// built from its key (identity and range, see ParseKey); it is called
// during Plan only. The chunks ride along in the steps, typed.
func Plan[C any](chunks []C, header func(C) *Header) []StreamPlan[C] {
	type sk struct{ app, host, source, stream string }
	type hc struct {
		h *Header
		c C
	}
	groups := map[sk][]hc{}
	for _, c := range chunks {
		h := header(c)
		k := sk{h.App, h.Host, h.Source, h.Stream}
		groups[k] = append(groups[k], hc{h, c})
	}
	plans := make([]StreamPlan[C], 0, len(groups))
	for k, cs := range groups {
		// Longest first among equal starts, so shorter ones become
		// duplicates.
		sort.Slice(cs, func(i, j int) bool {
			a, b := cs[i].h, cs[j].h
			if a.Start != b.Start {
				return a.Start < b.Start
			}
			return a.End > b.End
		})
		h0 := cs[0].h
		sp := StreamPlan[C]{App: k.app, Host: k.host, Source: k.source, ID: k.stream, Path: h0.Path, Unit: h0.Unit,
			Start: h0.Start, First: h0.First, Last: h0.Last}
		cur := h0.Start
		var lastTime time.Time
		events := map[string]bool{}
		for _, c := range cs {
			h := c.h
			if h.End <= cur && len(sp.Steps) > 0 {
				sp.Duplicates++
				continue
			}
			if h.Start > cur {
				sp.Gaps = append(sp.Gaps, Gap{Start: cur, End: h.Start, Before: lastTime, After: h.First, Next: len(sp.Steps)})
			}
			skip := int64(0)
			if h.Start < cur {
				skip = cur - h.Start
				sp.Overlap += skip
			}
			if h.End == h.Start && len(sp.Steps) > 0 {
				continue
			}
			sp.Steps = append(sp.Steps, Step[C]{Chunk: c.c, Skip: skip})
			cur = max(cur, h.End)
			lastTime = h.Last
			if h.First.Before(sp.First) {
				sp.First = h.First
			}
			if h.Last.After(sp.Last) {
				sp.Last = h.Last
			}
			if h.Event != "" && !events[h.Event] {
				events[h.Event] = true
				sp.Events = append(sp.Events, h.Event)
			}
		}
		sp.End = cur
		plans = append(plans, sp)
	}
	sort.Slice(plans, func(i, j int) bool {
		a, b := plans[i], plans[j]
		switch {
		case a.App != b.App:
			return a.App < b.App
		case a.Host != b.Host:
			return a.Host < b.Host
		case a.Source != b.Source:
			return a.Source < b.Source
		case a.Path != b.Path:
			return a.Path < b.Path
		case !a.First.Equal(b.First):
			return a.First.Before(b.First)
		}
		return a.ID < b.ID
	})
	return plans
}

// Apply returns the part of a chunk's raw bytes that step s of the plan
// contributes: raw without its first Skip positions (bytes, or lines for
// records).
func (p *StreamPlan[C]) Apply(s Step[C], raw []byte) ([]byte, error) {
	if s.Skip == 0 {
		return raw, nil
	}
	if p.Unit == UnitBytes {
		if s.Skip > int64(len(raw)) {
			return nil, fmt.Errorf("archive: skip %d beyond %d raw bytes", s.Skip, len(raw))
		}
		return raw[s.Skip:], nil
	}
	// Records: one record per line.
	rest := raw
	for n := int64(0); n < s.Skip; n++ {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return nil, fmt.Errorf("archive: skip %d records beyond the chunk", s.Skip)
		}
		rest = rest[i+1:]
	}
	return rest, nil
}
