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
	chartW     = 1000.0
	laneLabelW = 150.0
	laneH      = 46.0
	axisH      = 26.0
	histBins   = 120
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
	steps := []time.Duration{time.Second, 5 * time.Second, 15 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute,
		time.Hour, 3 * time.Hour, 6 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour, 365 * 24 * time.Hour}
	step := steps[len(steps)-1]
	for _, s := range steps {
		if span/s <= 6 {
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
		b.f(`<line class="grid" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, x, top, x, y-14)
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

// timelineSVG is the first chart: one lane per host with its shipping
// span, gaps, ERROR/WARN bars and event markers on one time axis.
func timelineSVG(res *Result) string {
	var b svgBuf
	if res.First.IsZero() || len(res.Hosts) == 0 {
		return ""
	}
	from, to := res.First, res.Last
	if !to.After(from) {
		from, to = from.Add(-time.Minute), to.Add(time.Minute)
	}
	pad := to.Sub(from) / 50
	from, to = from.Add(-pad), to.Add(pad)
	ax := timeAxis{from: from, to: to, x0: laneLabelW, x1: chartW - 10}
	h := float64(len(res.Hosts))*laneH + axisH + 8
	b.f(`<svg class="chart timeline" viewBox="0 0 %.0f %.0f" role="img" aria-label="timeline of all hosts">`, chartW, h)
	lane := map[string]float64{}
	for i, host := range res.Hosts {
		y := 4 + float64(i)*laneH
		lane[host.Name] = y
		b.f(`<rect class="lane" x="0" y="%.1f" width="%.0f" height="%.0f"/>`, y, chartW, laneH-4)
		b.f(`<text class="lanelabel" x="6" y="%.1f">%s</text>`, y+laneH/2+2, esc(shorten(host.Name, 20)))
		if !host.ShipFirst.IsZero() {
			x0, x1 := ax.x(host.ShipFirst), ax.x(host.ShipLast)
			b.f(`<rect class="ship" x="%.1f" y="%.1f" width="%.1f" height="4"><title>%s</title></rect>`, x0, y+laneH-12, max(x1-x0, 2),
				esc("shipped "+when(host.ShipFirst)+" .. "+when(host.ShipLast)))
		}
		for _, g := range host.Gaps {
			x0, x1 := ax.x(g.From), ax.x(g.To)
			b.f(`<rect class="gap" x="%.1f" y="%.1f" width="%.1f" height="%.0f"><title>%s</title></rect>`, x0, y, max(x1-x0, 2), laneH-4,
				esc("nothing shipped "+when(g.From)+" .. "+when(g.To)))
		}
		bins := host.Histogram.Rebucket(from, to, histBins)
		var top int64
		for _, c := range bins {
			top = max(top, c[LevelError]+c[LevelWarn])
		}
		if top > 0 {
			bw := (ax.x1 - ax.x0) / histBins
			for j, c := range bins {
				e, w := c[LevelError], c[LevelWarn]
				if e+w == 0 {
					continue
				}
				x := ax.x0 + float64(j)*bw
				he := (laneH - 16) * float64(e) / float64(top)
				hw := (laneH - 16) * float64(w) / float64(top)
				base := y + laneH - 14
				b.f(`<g><title>%s: %d ERROR, %d WARN</title>`, esc(when(from.Add(time.Duration(float64(to.Sub(from))*float64(j)/histBins)))), e, w)
				if e > 0 {
					b.f(`<rect class="b-err" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, x, base-he, max(bw-0.6, 0.6), he)
				}
				if w > 0 {
					b.f(`<rect class="b-warn" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, x, base-he-hw, max(bw-0.6, 0.6), hw)
				}
				b.f(`</g>`)
			}
		}
	}
	for _, ev := range res.Timeline {
		y, ok := lane[ev.Host]
		if !ok || ev.Kind == KindShipStart || ev.Kind == KindShipStop || ev.Kind == KindGap {
			continue
		}
		marker(&b, ev, ax.x(ev.Time), y+14)
	}
	ax.ticks(&b, h-6, 4)
	b.f(`</svg>`)
	return b.String()
}

// levelsSVG draws one host's records per level over time as stacked bars.
func levelsSVG(res *Result, host *Host) string {
	if res.First.IsZero() || !res.Last.After(res.First) {
		return ""
	}
	const h, top0 = 150.0, 8.0
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
	b.f(`<svg class="chart levels" viewBox="0 0 %.0f %.0f" role="img" aria-label="records per level over time on %s">`, chartW, h, esc(host.Name))
	base := h - axisH
	b.f(`<text class="tick" x="44" y="%.1f" text-anchor="end">%d</text>`, top0+10, top)
	b.f(`<line class="grid" x1="50" y1="%.1f" x2="%.0f" y2="%.1f"/>`, base, chartW-10, base)
	bw := (ax.x1 - ax.x0) / histBins
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
			t := res.First.Add(time.Duration(float64(res.Last.Sub(res.First)) * float64(j) / histBins))
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
