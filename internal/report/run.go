package report

import (
	"bytes"
	"fmt"
	"sort"
	"time"
)

// Caps of what a run keeps.
const (
	maxHosts       = 2000
	maxProblems    = 200
	spanMerge      = 4096 // shipping spans per host before they are merged
	maxErrorsKept  = 5    // errors kept per incident
	maxIncidents   = 500
	maxStarts      = 200 // per host
	maxKernelKinds = 500
)

// run is the state of one Build.
type run struct {
	opt             Options
	loc             *time.Location
	res             *Result
	hosts           map[string]*hostAcc
	hostOrder       []string
	tmpl            templates
	exc             exceptions
	kern            map[string]*KernelIssue
	incidents       []*incidentAcc
	incidentsSorted bool
	events          []Event
	filesSkipped    int
	oomDropped      int
	problems        int
	buf             []byte
}

type hostAcc struct {
	*Host
	spans     [][2]time.Time // ingest spans of its chunks
	spanLimit int
	firstErr  ErrorLine
}

type incidentAcc struct {
	ev     Event
	hostID string
	errs   []ErrorLine // earliest first
}

func newRun(opt Options, loc *time.Location) *run {
	return &run{opt: opt, loc: loc, res: &Result{}, hosts: map[string]*hostAcc{}, kern: map[string]*KernelIssue{}}
}

func (r *run) problem(format string, args ...any) {
	r.problems++
	if len(r.res.Problems) < maxProblems {
		r.res.Problems = append(r.res.Problems, fmt.Sprintf(format, args...))
	}
}

// host returns the accumulator of app/host, created on first use. Past
// the cap every further host shares one named "(other hosts)".
func (r *run) host(app, name string) *hostAcc {
	id := app + "/" + name
	if h := r.hosts[id]; h != nil {
		return h
	}
	if len(r.hosts) >= maxHosts {
		return r.host("", "(other hosts)")
	}
	h := &hostAcc{Host: &Host{App: app, Name: name}}
	r.hosts[id] = h
	r.hostOrder = append(r.hostOrder, id)
	return h
}

// shipSpans notes when the agent read a file's chunks (to find gaps).
// Spans closer than the gap threshold are merged as they pile up (that
// changes no gap found), so what is kept grows with the gaps, not the
// chunks.
func (r *run) shipSpans(h *hostAcc, segs []segment) {
	if h.spanLimit == 0 {
		h.spanLimit = spanMerge
	}
	for _, s := range segs {
		h.spans = append(h.spans, [2]time.Time{s.First, s.Last})
		if len(h.spans) >= h.spanLimit {
			h.spans = mergeSpans(h.spans, r.opt.Gap)
			if len(h.spans) > h.spanLimit/2 {
				h.spanLimit *= 2
			}
		}
	}
}

// mergeSpans sorts spans and joins those less than gap apart.
func mergeSpans(spans [][2]time.Time, gap time.Duration) [][2]time.Time {
	sort.Slice(spans, func(i, j int) bool { return spans[i][0].Before(spans[j][0]) })
	out := spans[:1]
	for _, s := range spans[1:] {
		last := &out[len(out)-1]
		if s[0].Sub(last[1]) < gap {
			if s[1].After(last[1]) {
				last[1] = s[1]
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// The window (--since, --until) selects as pull does: by ingest time, a
// chunk when its [first, last] ingest times overlap [Since, Until]. A
// file's chunks are known from pull's state; what sits in a chunk not
// selected is left out, and a file with none selected is not read (pull
// would not have pulled it). Only a file without ingest times (a folder
// not written by pull) falls back to the times in its data.

func (r *run) windowed() bool { return !r.opt.Since.IsZero() || !r.opt.Until.IsZero() }

// chunkSelected is pull's rule for one chunk (retrieve.Filter).
func (r *run) chunkSelected(s segment) bool {
	return (r.opt.Since.IsZero() || !s.Last.Before(r.opt.Since)) && (r.opt.Until.IsZero() || !s.First.After(r.opt.Until))
}

// selectChunks returns the chunks of a file the window selects: all
// without a window, none for a file without ingest times.
func (r *run) selectChunks(segs []segment) []segment {
	if !r.windowed() {
		return segs
	}
	var out []segment
	for _, s := range segs {
		if r.chunkSelected(s) {
			out = append(out, s)
		}
	}
	return out
}

// inWindow is the fallback for what has no ingest time: its own time
// inside the window (an unknown time is kept).
func (r *run) inWindow(t time.Time) bool {
	if t.IsZero() {
		return true
	}
	return (r.opt.Since.IsZero() || !t.Before(r.opt.Since)) && (r.opt.Until.IsZero() || !t.After(r.opt.Until))
}

// wholeSelected says whether the window keeps a file read as one item (an
// hs_err file, a heap dump, a snapshot) whose own time is t: a file with
// ingest times was selected by them before it was read.
func (r *run) wholeSelected(in *input, t time.Time) bool {
	return len(in.segs) > 0 || r.inWindow(t)
}

// lineSelector says, as a file is read forward, whether the window keeps
// the line or record that starts at a byte offset.
type lineSelector struct {
	r    *run
	segs []segment
	i    int
}

// at reports whether what starts at off (its own time t) is selected: by
// the chunk holding off (past the last, the last), else by t.
func (ls *lineSelector) at(off int64, t time.Time) bool {
	if !ls.r.windowed() {
		return true
	}
	if len(ls.segs) == 0 {
		return ls.r.inWindow(t)
	}
	for ls.i < len(ls.segs)-1 && off >= ls.segs[ls.i].Off+ls.segs[ls.i].Len {
		ls.i++
	}
	return ls.r.chunkSelected(ls.segs[ls.i])
}

// event adds a timeline event; what it comes from was selected already.
func (r *run) event(t time.Time, host *Host, kind, sev, text string) Event {
	ev := Event{Time: t, Host: host.Name, Kind: kind, Severity: sev, Text: text}
	r.events = append(r.events, ev)
	return ev
}

// incident registers an event whose preceding errors are wanted.
func (r *run) incident(ev Event, hostID string) {
	if len(r.incidents) < maxIncidents && !ev.Time.IsZero() {
		r.incidents = append(r.incidents, &incidentAcc{ev: ev, hostID: hostID})
		r.incidentsSorted = false
	}
}

// sortIncidents orders the incidents by time and drops an exit within a
// minute after an OOM kill or crash of its host: the same incident, its
// errors are listed once.
func (r *run) sortIncidents() {
	sort.SliceStable(r.incidents, func(i, j int) bool { return r.incidents[i].ev.Time.Before(r.incidents[j].ev.Time) })
	kept := r.incidents[:0]
	for _, inc := range r.incidents {
		dup := false
		if inc.ev.Kind == KindExit {
			for _, k := range kept {
				if k.hostID == inc.hostID && k.ev.Kind != KindExit && inc.ev.Time.Sub(k.ev.Time) <= time.Minute {
					dup = true
				}
			}
		}
		if !dup {
			kept = append(kept, inc)
		}
	}
	r.incidents = kept
	r.incidentsSorted = true
}

// noteError offers an error record to the incidents it precedes.
func (r *run) noteError(hostID string, t time.Time, file string, text []byte) {
	if t.IsZero() {
		return
	}
	// Incidents are sorted by time: find those in [t, t+Before].
	i := sort.Search(len(r.incidents), func(i int) bool { return !r.incidents[i].ev.Time.Before(t) })
	for ; i < len(r.incidents) && !r.incidents[i].ev.Time.After(t.Add(r.opt.Before)); i++ {
		inc := r.incidents[i]
		if inc.hostID != hostID {
			continue
		}
		n := len(inc.errs)
		if n == maxErrorsKept && !t.Before(inc.errs[n-1].Time) {
			continue
		}
		el := ErrorLine{Time: t, File: file, Text: sample(text)}
		j := sort.Search(n, func(k int) bool { return t.Before(inc.errs[k].Time) })
		if n < maxErrorsKept {
			inc.errs = append(inc.errs, ErrorLine{})
		}
		copy(inc.errs[j+1:], inc.errs[j:])
		inc.errs[j] = el
	}
}

// startBanner names the application start a record's first line
// announces, or "".
func startBanner(msg []byte) string {
	switch {
	case bytes.Contains(msg, []byte("Starting ")) && bytes.Contains(msg, []byte(" using Java ")):
		return "Spring Boot start"
	case bytes.Contains(msg, []byte(":: Spring Boot ::")):
		return "Spring Boot banner"
	case bytes.Contains(msg, []byte("[info][gc")) && bytes.Contains(msg, []byte("] Using ")):
		return "JVM start (GC log)"
	}
	return ""
}
