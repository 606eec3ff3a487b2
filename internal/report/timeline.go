package report

import (
	"fmt"
	"reflect"
	"sort"
	"time"
)

// Caps of the result's lists.
const (
	maxTimeline   = 1500
	maxClimbs     = 10 // per host
	topTemplates  = 30
	topExceptions = 20
)

// finish turns the accumulators into the Result.
func (r *run) finish() {
	res := r.res
	for _, id := range r.hostOrder {
		h := r.hosts[id]
		r.hostEvents(h)
		res.Hosts = append(res.Hosts, h.Host)
	}
	sort.SliceStable(res.Hosts, func(i, j int) bool { return res.Hosts[i].ID() < res.Hosts[j].ID() })
	for _, ki := range r.kern {
		res.KernelErrors = append(res.KernelErrors, *ki)
	}
	sort.Slice(res.KernelErrors, func(i, j int) bool {
		a, b := res.KernelErrors[i], res.KernelErrors[j]
		if !a.First.Equal(b.First) {
			return a.First.Before(b.First)
		}
		return a.Sample < b.Sample
	})
	res.Templates = r.tmpl.top(topTemplates)
	res.TemplatesOverflow = r.tmpl.overflow
	res.Exceptions = r.exc.top(topExceptions)
	if !r.incidentsSorted {
		r.sortIncidents()
	}
	for _, inc := range r.incidents {
		res.Incidents = append(res.Incidents, Incident{Event: inc.ev, Errors: inc.errs})
	}
	sortEvents(r.events)
	if len(r.events) > maxTimeline {
		// Keep every error; drop the latest minor events.
		kept := r.events[:0:0]
		minor := maxTimeline
		for _, ev := range r.events {
			if ev.Severity == SevError {
				minor--
			}
		}
		for _, ev := range r.events {
			if ev.Severity != SevError {
				if minor <= 0 {
					res.TimelineDropped++
					continue
				}
				minor--
			}
			kept = append(kept, ev)
		}
		r.events = kept
	}
	res.Timeline = r.events
	for _, ev := range res.Timeline {
		noteSpan(&res.First, &res.Last, ev.Time)
	}
	for _, h := range res.Hosts {
		for _, t := range []time.Time{h.ShipFirst, h.ShipLast, h.SeenFirst, h.SeenLast} {
			noteSpan(&res.First, &res.Last, t)
		}
	}
	sortSlices(res)
	emptyLists(reflect.ValueOf(res))
}

// emptyLists replaces every nil slice reachable from v (through pointers,
// structs, slices and arrays) with an empty one, so that the JSON of the
// result has [] where a list is empty, never null.
func emptyLists(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			emptyLists(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if f := v.Field(i); f.CanSet() {
				emptyLists(f)
			}
		}
	case reflect.Slice:
		if v.IsNil() {
			if v.CanSet() {
				v.Set(reflect.MakeSlice(v.Type(), 0, 0))
			}
			return
		}
		for i := 0; i < v.Len(); i++ {
			emptyLists(v.Index(i))
		}
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			emptyLists(v.Index(i))
		}
	}
}

func sortEvents(evs []Event) {
	sort.SliceStable(evs, func(i, j int) bool {
		a, b := evs[i], evs[j]
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		return a.Kind < b.Kind
	})
}

func sortSlices(res *Result) {
	sort.SliceStable(res.OOMKills, func(i, j int) bool { return res.OOMKills[i].Time.Before(res.OOMKills[j].Time) })
	sort.SliceStable(res.Crashes, func(i, j int) bool { return res.Crashes[i].Time.Before(res.Crashes[j].Time) })
	sort.SliceStable(res.Snapshots, func(i, j int) bool { return res.Snapshots[i].Time.Before(res.Snapshots[j].Time) })
	sort.SliceStable(res.HeapDumps, func(i, j int) bool { return res.HeapDumps[i].Path < res.HeapDumps[j].Path })
	sort.SliceStable(res.Files, func(i, j int) bool {
		a, b := res.Files[i], res.Files[j]
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		return a.Path < b.Path
	})
}

// hostEvents adds a host's shipping span, gaps, starts, exits and error
// climbs to the timeline.
func (r *run) hostEvents(h *hostAcc) {
	switch {
	case !h.ShipFirst.IsZero():
		r.event(h.ShipFirst, h.Host, KindShipStart, SevInfo, "first data shipped")
		r.event(h.ShipLast, h.Host, KindShipStop, SevInfo, "last data shipped")
	case !h.SeenFirst.IsZero(): // a folder without pull's ingest times
		r.event(h.SeenFirst, h.Host, KindShipStart, SevInfo, "first time seen in its data (no ingest times in this folder)")
		r.event(h.SeenLast, h.Host, KindShipStop, SevInfo, "last time seen in its data")
	}
	h.Gaps = gaps(h.spans, r.opt.Gap)
	for _, g := range h.Gaps {
		r.event(g.From, h.Host, KindGap, SevWarn, fmt.Sprintf("nothing shipped for %s (until %s)", g.To.Sub(g.From).Round(time.Second), g.To.UTC().Format("15:04:05")))
	}
	// Starts: a banner in the logs within two minutes after a run start
	// is the same start.
	sort.SliceStable(h.Starts, func(i, j int) bool { return h.Starts[i].Time.Before(h.Starts[j].Time) })
	var starts []Start
	for _, s := range h.Starts {
		if n := len(starts); n > 0 && s.Time.Sub(starts[n-1].Time) < 2*time.Minute && s.How != "run start" {
			continue
		}
		starts = append(starts, s)
	}
	h.Starts = starts
	for i, s := range starts {
		kind, text := KindStart, "started"
		if i > 0 {
			kind, text = KindRestart, "restarted"
		}
		text += " (" + s.How + "): " + s.Text
		sev := SevInfo
		if i > 0 {
			sev = SevWarn
		}
		r.event(s.Time, h.Host, kind, sev, text)
	}
	if !h.firstErr.Time.IsZero() {
		r.event(h.firstErr.Time, h.Host, KindFirstErr, SevWarn, "first ERROR: "+h.firstErr.Text)
	}
	r.climbs(h)
}

// gaps returns the times longer than min in which no span was open.
func gaps(spans [][2]time.Time, min time.Duration) []Gap {
	if len(spans) < 2 {
		return nil
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i][0].Before(spans[j][0]) })
	var out []Gap
	end := spans[0][1]
	for _, s := range spans[1:] {
		if s[0].Sub(end) >= min && len(out) < 100 {
			out = append(out, Gap{From: end, To: s[0]})
		}
		if s[1].After(end) {
			end = s[1]
		}
	}
	return out
}

// climbs finds where a host's error rate jumps: a bucket with at least 10
// errors and four times the mean of the ten before it.
func (r *run) climbs(h *hostAcc) {
	bs := h.Histogram.Buckets()
	if len(bs) == 0 {
		return
	}
	w := h.Histogram.Width()
	var prev []int64 // errors of the buckets before, zeros included
	found, quiet := 0, 0
	at := bs[0].Start
	for i := 0; i < len(bs) && found < maxClimbs; {
		var n int64
		if bs[i].Start.Equal(at) {
			n = bs[i].Counts[LevelError]
			i++
		}
		var sum int64
		for _, p := range prev {
			sum += p
		}
		mean := float64(sum) / float64(max(len(prev), 1))
		if quiet > 0 {
			quiet--
		} else if n >= 10 && float64(n) >= 4*(mean+1) {
			r.event(at, h.Host, KindErrors, SevWarn, fmt.Sprintf("errors climb: %d ERROR records in %s (before: %.1f per %s)", n, w, mean, w))
			found++
			quiet = 10
		}
		prev = append(prev, n)
		if len(prev) > 10 {
			prev = prev[1:]
		}
		at = at.Add(w)
		if i < len(bs) && bs[i].Start.Sub(at) > 11*w { // skip long empty stretches
			at = bs[i].Start.Add(-11 * w)
			prev = prev[:0]
		}
	}
}
