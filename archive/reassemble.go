package archive

import (
	"bytes"
	"fmt"
	"sort"
	"time"
)

// ChunkRef is a chunk known by its header (from the object, its metadata,
// or its key). Ref is the caller's handle (a key, an index).
type ChunkRef struct {
	Header *Header
	Ref    any
}

// Step is one chunk to apply when rebuilding a stream: write its raw bytes
// after skipping Skip positions (bytes, or records = lines, per the unit).
type Step struct {
	Chunk ChunkRef
	Skip  int64
}

// Gap is a range of a stream that no chunk covers.
type Gap struct {
	Start, End int64
	// Before and After are the ingest times around the gap.
	Before, After time.Time
}

// StreamPlan says how to rebuild one stream from a set of chunks.
type StreamPlan struct {
	App, Host, Source, Path, Stream, Unit string
	Start, End                            int64 // covered range (with gaps)
	First, Last                           time.Time
	Steps                                 []Step
	Gaps                                  []Gap
	Duplicates                            int   // chunks wholly covered by others
	Overlap                               int64 // positions skipped in partially overlapping chunks
	Events                                []string
}

// Plan groups chunks by stream and orders them so that applying the steps
// rebuilds each stream exactly once: duplicated chunks are dropped,
// overlapping ones trimmed, gaps reported. Chunks may come in any order,
// from several agents' retries and restarts. Plans are sorted by app, host,
// source, path, then first ingest time (the generations of a path in
// order).
func Plan(chunks []ChunkRef) []StreamPlan {
	type sk struct{ app, host, source, stream string }
	groups := map[sk][]ChunkRef{}
	for _, c := range chunks {
		h := c.Header
		k := sk{h.App, h.Host, h.Source, h.Stream}
		groups[k] = append(groups[k], c)
	}
	plans := make([]StreamPlan, 0, len(groups))
	for k, cs := range groups {
		// Longest first among equal starts, so shorter ones become
		// duplicates.
		sort.Slice(cs, func(i, j int) bool {
			a, b := cs[i].Header, cs[j].Header
			if a.Start != b.Start {
				return a.Start < b.Start
			}
			return a.End > b.End
		})
		h0 := cs[0].Header
		sp := StreamPlan{App: k.app, Host: k.host, Source: k.source, Stream: k.stream, Path: h0.Path, Unit: h0.Unit,
			Start: h0.Start, First: h0.First, Last: h0.Last}
		cur := h0.Start
		var lastTime time.Time
		events := map[string]bool{}
		for _, c := range cs {
			h := c.Header
			if h.End <= cur && len(sp.Steps) > 0 {
				sp.Duplicates++
				continue
			}
			if h.Start > cur {
				sp.Gaps = append(sp.Gaps, Gap{Start: cur, End: h.Start, Before: lastTime, After: h.First})
			}
			skip := int64(0)
			if h.Start < cur {
				skip = cur - h.Start
				sp.Overlap += skip
			}
			if h.End == h.Start && len(sp.Steps) > 0 {
				continue
			}
			sp.Steps = append(sp.Steps, Step{Chunk: c, Skip: skip})
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
		return a.Stream < b.Stream
	})
	return plans
}

// Apply returns the part of a chunk's raw bytes that a step contributes:
// raw without its first Skip positions (bytes, or lines for records).
func (s Step) Apply(raw []byte) ([]byte, error) {
	if s.Skip == 0 {
		return raw, nil
	}
	if s.Chunk.Header.Unit == UnitBytes {
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
