package report

import (
	"fmt"
	"html"
	"strings"
	"time"
)

// The charts are inline SVG drawn on a 1000-unit wide view box; the page
// scales them to its width (and lets them scroll sideways on a phone
// rather than shrink below reading size).

const (
	laneH = 86.0 // label, three marker rows, bars, shipping bar
	axisH = 30.0
)

// size is one drawing of a chart: wide for screens, narrow for phones
// (the page shows one of the two), so that text and markers keep their
// size instead of shrinking with the width.
type size struct {
	w    float64
	bins int
	cls  string
}

var (
	wide   = size{1000, 120, "wide"}
	narrow = size{400, 50, "narrow"}
)

// kindStyle is how an event kind is drawn: shape and CSS class.
var kindStyle = map[string]struct{ shape, class, label string }{
	KindOOM:      {"diamond", "k-oom", "OOM kill"},
	KindCrash:    {"cross", "k-crash", "JVM crash"},
	KindExit:     {"square", "k-exit", "exit"},
	KindStart:    {"up", "k-start", "start"},
	KindRestart:  {"up", "k-restart", "restart"},
	KindSnapshot: {"circle", "k-snap", "snapshot"},
	KindHeapDump: {"circle", "k-dump", "heap dump"},
	KindKernel:   {"down", "k-kernel", "kernel error"},
	KindErrors:   {"down", "k-climb", "errors climb"},
	KindFirstErr: {"tick", "k-first", "first ERROR"},
}

type svgBuf struct{ strings.Builder }

func (b *svgBuf) f(format string, args ...any) { fmt.Fprintf(&b.Builder, format, args...) }

func esc(s string) string { return html.EscapeString(s) }

// timeAxis maps instants to x.
type timeAxis struct {
	from, to time.Time
	x0, x1   float64
}

func (a timeAxis) x(t time.Time) float64 {
	span := a.to.Sub(a.from)
	if span <= 0 {
		return a.x0
	}
	return a.x0 + (a.x1-a.x0)*float64(t.Sub(a.from))/float64(span)
}

// ticks draws up to 6 time labels along the bottom.
func (a timeAxis) ticks(b *svgBuf, y, top float64) {
	span := a.to.Sub(a.from)
	most := time.Duration(max(2, int((a.x1-a.x0)/110)))
	steps := []time.Duration{time.Second, 5 * time.Second, 15 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute,
		time.Hour, 3 * time.Hour, 6 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour, 365 * 24 * time.Hour}
	step := steps[len(steps)-1]
	for _, s := range steps {
		if span/s <= most {
			step = s
			break
		}
	}
	layout := "15:04:05"
	if step >= time.Minute {
		layout = "15:04"
	}
	if step >= 24*time.Hour || span > 36*time.Hour {
		layout = "01-02 15:04"
	}
	for t := a.from.Truncate(step); !t.After(a.to); t = t.Add(step) {
		if t.Before(a.from) {
			continue
		}
		x := a.x(t)
		b.f(`<line class="grid" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, x, top, x, y-20)
		b.f(`<text class="tick" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x, y, esc(t.UTC().Format(layout)))
	}
}

// marker draws one event symbol centred at x, y with a tooltip.
func marker(b *svgBuf, ev Event, x, y float64) {
	st, ok := kindStyle[ev.Kind]
	if !ok {
		return
	}
	b.f(`<g class="ev %s"><title>%s</title>`, st.class, esc(clock(ev.Time)+" "+ev.Host+": "+ev.Text))
	switch st.shape {
	case "diamond":
		b.f(`<path d="M%.1f %.1fl7 7-7 7-7-7z"/>`, x, y-7)
	case "cross":
		b.f(`<path d="M%.1f %.1fl10 10m0-10l-10 10" class="stroke"/>`, x-5, y-5)
	case "square":
		b.f(`<rect x="%.1f" y="%.1f" width="10" height="10"/>`, x-5, y-5)
	case "up":
		b.f(`<path d="M%.1f %.1fl6 10h-12z"/>`, x, y-6)
	case "down":
		b.f(`<path d="M%.1f %.1fl6-10h-12z"/>`, x, y+5)
	case "tick":
		b.f(`<rect x="%.1f" y="%.1f" width="3" height="14"/>`, x-1.5, y-7)
	default:
		b.f(`<circle cx="%.1f" cy="%.1f" r="5"/>`, x, y)
	}
	b.f(`</g>`)
}

// timelineSVG is the first chart: one lane per host (its name on top)
// with its shipping span, gaps, ERROR/WARN bars and event markers on one
// time axis. Markers that would overlap are stacked.
func timelineSVG(res *Result, sz size) string {
	var b svgBuf
	if res.First.IsZero() || len(res.Hosts) == 0 {
		return ""
	}
	from, to := res.First, res.Last
	if !to.After(from) {
		from, to = from.Add(-time.Minute), to.Add(time.Minute)
	}
	pad := to.Sub(from) / 40
	from, to = from.Add(-pad), to.Add(pad)
	chartW, histBins := sz.w, sz.bins
	ax := timeAxis{from: from, to: to, x0: 12, x1: chartW - 12}
	h := float64(len(res.Hosts))*laneH + axisH + 4
	b.f(`<svg class="chart timeline %s" viewBox="0 0 %.0f %.0f" role="img" aria-label="timeline of all hosts">`, sz.cls, chartW, h)
	lane := map[string]float64{}
	for i, host := range res.Hosts {
		y := 2 + float64(i)*laneH
		lane[host.Name] = y
		b.f(`<rect class="lane" x="0" y="%.1f" width="%.0f" height="%.0f"/>`, y, chartW, laneH-4)
		for _, g := range host.Gaps {
			x0, x1 := ax.x(g.From), ax.x(g.To)
			b.f(`<rect class="gap" x="%.1f" y="%.1f" width="%.1f" height="%.0f"><title>%s</title></rect>`, x0, y, max(x1-x0, 2), laneH-4,
				esc("nothing shipped "+when(g.From)+" .. "+when(g.To)))
		}
		b.f(`<text class="lanelabel" x="8" y="%.1f">%s</text>`, y+17, esc(shorten(host.Name, int(chartW/20))))
		if !host.ShipFirst.IsZero() {
			x0, x1 := ax.x(host.ShipFirst), ax.x(host.ShipLast)
			b.f(`<rect class="ship" x="%.1f" y="%.1f" width="%.1f" height="4"><title>%s</title></rect>`, x0, y+laneH-10, max(x1-x0, 2),
				esc("shipped "+when(host.ShipFirst)+" .. "+when(host.ShipLast)))
		}
		bins := host.Histogram.Rebucket(from, to, histBins)
		var top int64
		for _, c := range bins {
			top = max(top, c[LevelError]+c[LevelWarn])
		}
		if top > 0 {
			const barH = 24.0
			bw := (ax.x1 - ax.x0) / float64(histBins)
			base := y + laneH - 14
			for j, c := range bins {
				e, w := c[LevelError], c[LevelWarn]
				if e+w == 0 {
					continue
				}
				x := ax.x0 + float64(j)*bw
				he := barH * float64(e) / float64(top)
				hw := barH * float64(w) / float64(top)
				b.f(`<g><title>%s: %d ERROR, %d WARN</title>`, esc(when(from.Add(time.Duration(float64(to.Sub(from))*float64(j)/float64(histBins))))), e, w)
				if e > 0 {
					b.f(`<rect class="b-err" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, x, base-he, max(bw-0.8, 0.6), he)
				}
				if w > 0 {
					b.f(`<rect class="b-warn" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, x, base-he-hw, max(bw-0.8, 0.6), hw)
				}
				b.f(`</g>`)
			}
		}
	}
	// Markers: a row per lane, stacked up to three high where they would
	// touch; the rest share the top row.
	lastX := map[string][3]float64{}
	for _, ev := range res.Timeline {
		y, ok := lane[ev.Host]
		if !ok || ev.Kind == KindShipStart || ev.Kind == KindShipStop || ev.Kind == KindGap {
			continue
		}
		x := ax.x(ev.Time)
		rows := lastX[ev.Host]
		row := 0
		for row < 2 && rows[row] != 0 && x-rows[row] < 16 {
			row++
		}
		rows[row] = x
		lastX[ev.Host] = rows
		marker(&b, ev, x, y+14+float64(row)*14)
	}
	ax.ticks(&b, h-8, 2)
	b.f(`</svg>`)
	return b.String()
}

// levelsSVG draws one host's records per level over time as stacked bars.
func levelsSVG(res *Result, host *Host, sz size) string {
	if res.First.IsZero() || !res.Last.After(res.First) {
		return ""
	}
	const h, top0 = 150.0, 8.0
	chartW, histBins := sz.w, sz.bins
	ax := timeAxis{from: res.First, to: res.Last, x0: 50, x1: chartW - 10}
	bins := host.Histogram.Rebucket(res.First, res.Last, histBins)
	var top int64
	for _, c := range bins {
		var s int64
		for _, v := range c {
			s += v
		}
		top = max(top, s)
	}
	if top == 0 {
		return ""
	}
	var b svgBuf
	b.f(`<svg class="chart levels %s" viewBox="0 0 %.0f %.0f" role="img" aria-label="records per level over time on %s">`, sz.cls, chartW, h, esc(host.Name))
	base := h - axisH
	b.f(`<text class="tick" x="44" y="%.1f" text-anchor="end">%d</text>`, top0+10, top)
	b.f(`<line class="grid" x1="50" y1="%.1f" x2="%.0f" y2="%.1f"/>`, base, chartW-10, base)
	bw := (ax.x1 - ax.x0) / float64(histBins)
	classes := [numLevels]string{"b-err", "b-warn", "b-info", "b-debug", "b-other"}
	for j, c := range bins {
		y := base
		x := ax.x0 + float64(j)*bw
		var parts []string
		for l := numLevels - 1; l >= 0; l-- {
			if c[l] == 0 {
				continue
			}
			hh := (base - top0) * float64(c[l]) / float64(top)
			y -= hh
			b.f(`<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, classes[l], x, y, max(bw-0.6, 0.6), hh)
			parts = append(parts, fmt.Sprintf("%s %d", LevelNames[l], c[l]))
		}
		if len(parts) > 0 {
			t := res.First.Add(time.Duration(float64(res.Last.Sub(res.First)) * float64(j) / float64(histBins)))
			b.f(`<rect class="hit" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %s</title></rect>`, x, top0, bw, base-top0, esc(when(t)), esc(strings.Join(parts, ", ")))
		}
	}
	ax.ticks(&b, h-6, top0)
	b.f(`</svg>`)
	return b.String()
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
