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

// shipSpans notes when the agent read the file's chunks (to find gaps).
// Spans closer than the gap threshold are merged as they pile up (that
// changes no gap found), so what is kept grows with the gaps, not the
// chunks.
func (r *run) shipSpans(in *input) {
	h := r.host(in.app, in.host)
	if h.spanLimit == 0 {
		h.spanLimit = spanMerge
	}
	for _, s := range in.segs {
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

func (r *run) inWindow(t time.Time) bool {
	if t.IsZero() {
		return true
	}
	return (r.opt.Since.IsZero() || !t.Before(r.opt.Since)) && (r.opt.Until.IsZero() || !t.After(r.opt.Until))
}

// event adds a timeline event (inside the window).
func (r *run) event(t time.Time, host *Host, kind, sev, text string) Event {
	ev := Event{Time: t, Host: host.Name, Kind: kind, Severity: sev, Text: text}
	if r.inWindow(t) {
		r.events = append(r.events, ev)
	}
	return ev
}

// incident registers an event whose preceding errors are wanted.
func (r *run) incident(ev Event, hostID string) {
	if len(r.incidents) < maxIncidents && !ev.Time.IsZero() && r.inWindow(ev.Time) {
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
