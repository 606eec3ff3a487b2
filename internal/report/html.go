package report

import (
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/logship/logship/internal/schema"
)

// pageCSS styles the page: system fonts only, nothing fetched; tables and
// code wrap at any width; charts scroll sideways on narrow screens
// instead of shrinking below reading size.
const pageCSS = `
:root{--fg:#1d2327;--muted:#5f6b73;--line:#dde3e8;--bg:#fff;--soft:#f4f6f8;--err:#c62828;--warn:#e07b00;--info:#7b8b96;--ok:#2e7d32}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;padding:16px;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1200px;margin:0 auto}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:18px;margin:28px 0 8px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:16px 0 6px}
p,li{overflow-wrap:anywhere}
.muted{color:var(--muted)}
.badges{display:flex;flex-wrap:wrap;gap:8px;margin:12px 0}
.badge{border:1px solid var(--line);border-radius:6px;padding:6px 10px;background:var(--soft)}
.badge b{font-size:18px;margin-right:4px}
.badge.bad{border-color:#f0b4b4;background:#fdecec}
.badge.bad b{color:var(--err)}
.chartbox{overflow-x:auto;border:1px solid var(--line);border-radius:6px;background:#fff}
svg.chart{display:block;width:100%;height:auto}
svg.narrow{display:none}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
.tick{font-size:12px;fill:var(--muted)}
.lanelabel{font-size:13px;font-weight:600;fill:var(--fg)}
.lane{fill:var(--soft)}
.grid{stroke:var(--line);stroke-width:1}
.ship{fill:#90a4ae}
.gap{fill:#fff3e0}
.b-err{fill:var(--err)}.b-warn{fill:var(--warn)}.b-info{fill:#90a4ae}.b-debug{fill:#cfd8dc}.b-other{fill:#b0bec5}
.hit{fill:transparent}
.ev{stroke:#fff;stroke-width:1}
.ev .stroke{stroke-width:3;fill:none}
.k-oom{fill:var(--err)}.k-crash .stroke{stroke:var(--err)}.k-exit{fill:#6d4c41}.k-start{fill:var(--ok)}.k-restart{fill:var(--warn)}
.k-snap{fill:#6a1b9a}.k-dump{fill:#3949ab}.k-kernel{fill:#ad1457}.k-climb{fill:var(--warn)}.k-first{fill:var(--err)}
.legend{display:flex;flex-wrap:wrap;gap:6px 14px;margin:6px 0 0;padding:0;list-style:none;font-size:13px;color:var(--muted)}
.legend svg{width:14px;height:14px;vertical-align:-2px;margin-right:4px}
.tw{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{text-align:left;vertical-align:top;padding:5px 8px;border-bottom:1px solid var(--line)}
th{background:var(--soft);font-weight:600;white-space:nowrap}
td.x{overflow-wrap:anywhere;width:60%}
td.n{white-space:nowrap}
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
td.t{white-space:nowrap;font-variant-numeric:tabular-nums}
tr.error td{background:#fdecec}
tr.warn td{background:#fff6e6}
pre,code{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:var(--soft);padding:8px;border-radius:6px;margin:6px 0}
details{margin:4px 0}
summary{cursor:pointer}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:6px 0}
dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
.card{border:1px solid var(--line);border-radius:6px;padding:10px 12px;margin:10px 0}
@media (max-width:600px){
body{padding:10px}
dl{grid-template-columns:1fr}dt{margin-top:6px}
table.rt thead{display:none}
table.rt,table.rt tbody,table.rt tr,table.rt td{display:block;width:auto}
table.rt tr{border-bottom:1px solid var(--line);padding:6px 2px}
table.rt td{border:none;padding:1px 4px;text-align:left;white-space:normal;overflow-wrap:anywhere}
table.rt td::before{content:attr(data-label) ": ";color:var(--muted)}
svg.wide{display:none}svg.narrow{display:block}
}
`

type htmlWriter struct {
	w   io.Writer
	err error
}

func (hw *htmlWriter) p(format string, args ...any) {
	if hw.err == nil {
		_, hw.err = fmt.Fprintf(hw.w, format, args...)
	}
}

// Tables: every cell carries its column's name, so that on a phone each
// row becomes a block of "name: value" lines instead of a grid wider
// than the screen.
type col struct{ name, class string }

func (hw *htmlWriter) tableStart(cols []col) {
	hw.p(`<div class="tw"><table class="rt"><thead><tr>`)
	for _, c := range cols {
		hw.p(`<th>%s</th>`, esc(c.name))
	}
	hw.p(`</tr></thead><tbody>`)
}

// row writes one row; cells are HTML (escape text with esc).
func (hw *htmlWriter) row(cols []col, class string, cells ...string) {
	hw.p(`<tr class="%s">`, class)
	for i, c := range cells {
		hw.p(`<td data-label="%s" class="%s">%s</td>`, esc(cols[i].name), cols[i].class, c)
	}
	hw.p(`</tr>`)
}

func (hw *htmlWriter) tableEnd() { hw.p(`</tbody></table></div>`) }

// WriteHTML renders the result as one self-contained page: inline CSS
// and SVG, no script, no font, nothing fetched (a Content-Security-Policy
// forbids it).
func WriteHTML(w io.Writer, res *Result) error {
	hw := &htmlWriter{w: w}
	hw.p(`<!doctype html><html lang="en"><head><meta charset="utf-8">`)
	hw.p(`<meta name="viewport" content="width=device-width, initial-scale=1">`)
	hw.p(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`)
	hw.p(`<link rel="icon" href="data:,">`)
	hw.p(`<title>logship report: %s</title><style>%s</style></head><body><main>`, esc(path.Base(res.Dir)), pageCSS)
	hw.p(`<h1>logship report</h1><p class="muted">%s</p>`, esc(res.Dir))
	if res.From != "" {
		hw.p(`<p class="muted">pulled from <code>%s</code></p>`, esc(res.From))
	}
	hw.p(`<p>%s</p>`, esc(summaryLine(res)))
	badges(hw, res)
	hw.p(`<h2 id="timeline">Timeline</h2>`)
	if svg := timelineSVG(res, wide); svg != "" {
		hw.p(`<div class="chartbox">%s%s</div>`, svg, timelineSVG(res, narrow))
		legend(hw)
	}
	timelineTable(hw, res)
	hostsHTML(hw, res)
	incidentsHTML(hw, res)
	oomHTML(hw, res)
	crashesHTML(hw, res)
	snapshotsHTML(hw, res)
	kernelHTML(hw, res)
	exceptionsHTML(hw, res)
	templatesHTML(hw, res)
	filesHTML(hw, res)
	if len(res.Problems) > 0 {
		hw.p(`<h2>Problems reading the folder</h2><ul>`)
		for _, p := range res.Problems {
			hw.p(`<li>%s</li>`, esc(p))
		}
		hw.p(`</ul>`)
	}
	hw.p(`<p class="muted">Times are UTC. Written by logship report.</p></main></body></html>`)
	return hw.err
}

func badges(hw *htmlWriter, res *Result) {
	var errs int64
	for _, h := range res.Hosts {
		errs += h.Levels[LevelError]
	}
	restarts := 0
	for _, ev := range res.Timeline {
		if ev.Kind == KindRestart {
			restarts++
		}
	}
	hw.p(`<div class="badges">`)
	for _, b := range []struct {
		n     int64
		label string
		bad   bool
	}{{int64(len(res.Hosts)), "hosts", false}, {int64(len(res.OOMKills)), "OOM kills", true}, {int64(len(res.Crashes)), "JVM crashes", true},
		{int64(restarts), "restarts", true}, {int64(len(res.HeapDumps)), "heap dumps", true}, {int64(len(res.Snapshots)), "snapshots", false},
		{errs, "ERROR records", true}} {
		cls := "badge"
		if b.bad && b.n > 0 {
			cls += " bad"
		}
		hw.p(`<div class="%s"><b>%d</b>%s</div>`, cls, b.n, b.label)
	}
	hw.p(`</div>`)
}

func legend(hw *htmlWriter) {
	hw.p(`<ul class="legend">`)
	for _, k := range []string{KindOOM, KindCrash, KindExit, KindStart, KindRestart, KindSnapshot, KindHeapDump, KindKernel, KindErrors, KindFirstErr} {
		st := kindStyle[k]
		var b svgBuf
		marker(&b, Event{Kind: k}, 7, 7)
		hw.p(`<li><svg viewBox="0 0 14 14" aria-hidden="true">%s</svg>%s</li>`, b.String(), esc(st.label))
	}
	hw.p(`<li><svg viewBox="0 0 14 14" aria-hidden="true"><rect class="b-err" x="2" y="2" width="10" height="10"/></svg>ERROR records</li>`)
	hw.p(`<li><svg viewBox="0 0 14 14" aria-hidden="true"><rect class="b-warn" x="2" y="2" width="10" height="10"/></svg>WARN records</li>`)
	hw.p(`<li><svg viewBox="0 0 14 14" aria-hidden="true"><rect class="ship" x="0" y="5" width="14" height="4"/></svg>shipping</li>`)
	hw.p(`<li><svg viewBox="0 0 14 14" aria-hidden="true"><rect class="gap" x="0" y="0" width="14" height="14"/></svg>nothing shipped</li>`)
	hw.p(`</ul>`)
}

func timelineTable(hw *htmlWriter, res *Result) {
	if len(res.Timeline) == 0 {
		hw.p(`<p>Nothing with a time.</p>`)
		return
	}
	cols := []col{{"time (UTC)", "t"}, {"host", "n"}, {"what", "n"}, {"detail", "x"}}
	hw.tableStart(cols)
	for _, ev := range res.Timeline {
		hw.row(cols, ev.Severity, esc(ev.Time.UTC().Format("2006-01-02 15:04:05.000")), esc(ev.Host), esc(ev.Kind), esc(ev.Text))
	}
	hw.tableEnd()
	if res.TimelineDropped > 0 {
		hw.p(`<p class="muted">%d minor events left out.</p>`, res.TimelineDropped)
	}
}

func hostsHTML(hw *htmlWriter, res *Result) {
	hw.p(`<h2 id="hosts">Hosts</h2><ul class="legend">`)
	for i, name := range []string{"ERROR", "WARN", "INFO", "DEBUG", "no level"} {
		hw.p(`<li><svg viewBox="0 0 14 14" aria-hidden="true"><rect class="%s" x="2" y="2" width="10" height="10"/></svg>%s</li>`, [...]string{"b-err", "b-warn", "b-info", "b-debug", "b-other"}[i], name)
	}
	hw.p(`</ul>`)
	for _, h := range res.Hosts {
		hw.p(`<div class="card"><h3>%s <span class="muted">app %s</span></h3><dl>`, esc(h.Name), esc(h.App))
		if !h.ShipFirst.IsZero() {
			hw.p(`<dt>shipped</dt><dd>%s .. %s</dd>`, when(h.ShipFirst), when(h.ShipLast))
		}
		if !h.SeenFirst.IsZero() {
			hw.p(`<dt>logged</dt><dd>%s .. %s</dd>`, when(h.SeenFirst), when(h.SeenLast))
		}
		hw.p(`<dt>records</dt><dd>%d: ERROR %d, WARN %d, INFO %d, DEBUG %d, no level %d; %d lines, %s</dd>`, h.Records,
			h.Levels[LevelError], h.Levels[LevelWarn], h.Levels[LevelInfo], h.Levels[LevelDebug], h.Levels[LevelOther], h.Lines, schema.HumanBytes(h.Bytes))
		for i, s := range h.Starts {
			what := "start"
			if i > 0 {
				what = "restart"
			}
			hw.p(`<dt>%s</dt><dd>%s, %s: %s</dd>`, what, when(s.Time), esc(s.How), esc(s.Text))
		}
		for _, x := range h.Exits {
			d := fmt.Sprintf("%s, status %d", when(x.Time), x.ExitCode)
			if x.Signal != "" {
				d += ", signal " + x.Signal
			}
			if x.Runtime != "" {
				d += ", ran " + x.Runtime
			}
			if x.Abnormal {
				d += " (abnormal)"
			}
			hw.p(`<dt>exit</dt><dd>%s</dd>`, esc(d))
		}
		for _, g := range h.Gaps {
			hw.p(`<dt>gap</dt><dd>%s .. %s: nothing shipped for %s</dd>`, when(g.From), when(g.To), g.To.Sub(g.From).Round(1e9))
		}
		hw.p(`</dl>`)
		if svg := levelsSVG(res, h, wide); svg != "" {
			hw.p(`<div class="chartbox">%s%s</div>`, svg, levelsSVG(res, h, narrow))
		}
		hw.p(`</div>`)
	}
}

func incidentsHTML(hw *htmlWriter, res *Result) {
	if len(res.Incidents) == 0 {
		return
	}
	hw.p(`<h2 id="incidents">First errors before each crash, OOM kill and abnormal exit</h2>`)
	for _, inc := range res.Incidents {
		hw.p(`<div class="card"><h3>%s %s: %s</h3>`, when(inc.Event.Time), esc(inc.Event.Host), esc(inc.Event.Text))
		if len(inc.Errors) == 0 {
			hw.p(`<p class="muted">No ERROR logged on this host in the time before.</p></div>`)
			continue
		}
		cols := []col{{"time (UTC)", "t"}, {"file", "n"}, {"first line", "x"}}
		hw.tableStart(cols)
		for _, e := range inc.Errors {
			hw.row(cols, "", clock(e.Time), esc(path.Base(e.File)), esc(e.Text))
		}
		hw.tableEnd()
		hw.p(`</div>`)
	}
}

func oomHTML(hw *htmlWriter, res *Result) {
	if len(res.OOMKills) == 0 {
		return
	}
	hw.p(`<h2 id="oom">OOM kills</h2>`)
	cols := []col{{"time (UTC)", "t"}, {"host", "n"}, {"process", "n"}, {"RSS at kill", "x"}, {"cgroup", "x"}, {"usage / limit", "n"}}
	hw.tableStart(cols)
	for _, k := range res.OOMKills {
		proc := k.Process
		if k.PID != 0 {
			proc += fmt.Sprintf(" (pid %d)", k.PID)
		}
		rss := ""
		if k.AnonRSSKB+k.FileRSSKB > 0 {
			rss = fmt.Sprintf("anon %s, file %s, shmem %s", kb(k.AnonRSSKB), kb(k.FileRSSKB), kb(k.ShmemRSSKB))
		}
		lim := ""
		if k.LimitKB > 0 {
			lim = kb(k.UsageKB) + " / " + kb(k.LimitKB)
		}
		hw.row(cols, "error", when(k.Time), esc(k.Host), esc(proc), esc(rss), esc(k.Cgroup+" "+k.Constraint), esc(lim))
	}
	hw.tableEnd()
}

func crashesHTML(hw *htmlWriter, res *Result) {
	if len(res.Crashes) == 0 && len(res.HeapDumps) == 0 {
		return
	}
	hw.p(`<h2 id="crashes">JVM crashes and heap dumps</h2>`)
	for _, c := range res.Crashes {
		what := c.Signal
		if what == "" {
			what = c.Error
		}
		hw.p(`<div class="card"><h3>%s %s: %s</h3><dl>`, when(c.Time), esc(c.Host), esc(what))
		for _, kv := range [][2]string{{"pid", c.PID}, {"problematic frame", c.ProblematicFrame}, {"thread", c.Thread}, {"JRE", c.JREVersion},
			{"command line", c.CommandLine}, {"time in file", c.TimeText}, {"file", c.Path}} {
			if kv[1] != "" {
				hw.p(`<dt>%s</dt><dd><code>%s</code></dd>`, kv[0], esc(kv[1]))
			}
		}
		if len(c.Heap) > 0 {
			hw.p(`<dt>heap at death</dt><dd><pre>%s</pre></dd>`, esc(strings.Join(c.Heap, "\n")))
		}
		hw.p(`</dl></div>`)
	}
	for _, d := range res.HeapDumps {
		hw.p(`<div class="card"><h3>heap dump %s <span class="muted">%s</span></h3><dl><dt>host</dt><dd>%s</dd><dt>time</dt><dd>%s</dd>`,
			esc(path.Base(d.Path)), schema.HumanBytes(d.Size), esc(d.Host), when(d.Time))
		if d.Local != "" {
			hw.p(`<dt>here</dt><dd><code>%s</code></dd>`, esc(d.Local))
		}
		if d.Fetch != "" {
			hw.p(`<dt>fetch</dt><dd><code>%s</code></dd>`, esc(d.Fetch))
		}
		hw.p(`</dl></div>`)
	}
}

func snapshotsHTML(hw *htmlWriter, res *Result) {
	if len(res.Snapshots) == 0 {
		return
	}
	hw.p(`<h2 id="snapshots">Snapshots</h2>`)
	cols := []col{{"time (UTC)", "t"}, {"host", "n"}, {"trigger", "n"}, {"memory", "n"}, {"JVMs", "x"}, {"bundle", "x"}}
	hw.tableStart(cols)
	for _, s := range res.Snapshots {
		mem := ""
		if s.MemLimit > 0 {
			mem = schema.HumanBytes(s.MemUsage) + " of " + schema.HumanBytes(s.MemLimit)
		}
		var jvms []string
		for _, j := range s.JVMs {
			jvms = append(jvms, fmt.Sprintf("pid %d: rss %s, %d threads, %d blocked", j.PID, schema.HumanBytes(j.RSS), j.Threads, j.BlockedThreads))
		}
		bundle := s.Path
		if s.Error != "" {
			bundle += " (unreadable: " + s.Error + ")"
		}
		hw.row(cols, "", when(s.Time), esc(s.Host), esc(s.Trigger), esc(mem), esc(strings.Join(jvms, "; ")), esc(bundle))
	}
	hw.tableEnd()
}

func kernelHTML(hw *htmlWriter, res *Result) {
	if len(res.KernelErrors) == 0 {
		return
	}
	hw.p(`<h2 id="kernel">Kernel messages worth a look</h2>`)
	cols := []col{{"kind", "n"}, {"count", "num"}, {"first .. last (UTC)", "t"}, {"host", "n"}, {"sample", "x"}}
	hw.tableStart(cols)
	for _, k := range res.KernelErrors {
		hw.row(cols, "", esc(k.Kind), fmt.Sprint(k.Count), when(k.First)+" .. "+clock(k.Last), esc(k.Host), "<code>"+esc(k.Sample)+"</code>")
	}
	hw.tableEnd()
}

func exceptionsHTML(hw *htmlWriter, res *Result) {
	if len(res.Exceptions) == 0 {
		return
	}
	hw.p(`<h2 id="exceptions">Top exceptions</h2>`)
	for _, e := range res.Exceptions {
		hw.p(`<details class="card"><summary><b>%d</b> <code>%s</code> <span class="muted">%s .. %s; %s</span></summary>`, e.Count, esc(e.Class), when(e.First), when(e.Last), esc(strings.Join(e.Hosts, ", ")))
		if e.RootCause != "" && e.RootCause != e.Class {
			hw.p(`<p>root cause: <code>%s</code></p>`, esc(e.RootCause))
		}
		hw.p(`<pre>%s</pre></details>`, esc(e.Sample))
	}
}

func templatesHTML(hw *htmlWriter, res *Result) {
	if len(res.Templates) == 0 {
		return
	}
	hw.p(`<h2 id="messages">Top error and warning messages</h2><p class="muted">Grouped by template: numbers, ids, addresses and UUIDs masked.</p>`)
	cols := []col{{"level", "n"}, {"count", "num"}, {"template and a sample", "x"}, {"first .. last (UTC)", "t"}, {"hosts", "x"}}
	hw.tableStart(cols)
	for _, t := range res.Templates {
		hw.row(cols, esc(t.Level), strings.ToUpper(t.Level), fmt.Sprint(t.Count), "<code>"+esc(t.Template)+`</code><br><span class="muted">`+esc(t.Sample)+"</span>",
			when(t.First)+" ..<br>"+when(t.Last), esc(strings.Join(t.Hosts, ", ")))
	}
	hw.tableEnd()
	if res.TemplatesOverflow > 0 {
		hw.p(`<p class="muted">%d records of further templates not grouped (the template table was full).</p>`, res.TemplatesOverflow)
	}
}

func filesHTML(hw *htmlWriter, res *Result) {
	if len(res.Files) == 0 {
		return
	}
	hw.p(`<h2 id="files">Log files</h2>`)
	cols := []col{{"host", "n"}, {"file", "x"}, {"format", "x"}, {"size", "num"}, {"records", "num"}, {"ERROR", "num"}, {"WARN", "num"}}
	hw.tableStart(cols)
	for _, f := range res.Files {
		zone := ""
		if f.Zone != "" {
			zone = `<br><span class="muted">zone-less times: ` + esc(f.Zone) + `</span>`
		}
		hw.row(cols, "", esc(f.Host), "<code>"+esc(f.Path)+`</code> <span class="muted">`+esc(f.Source)+"</span>", esc(f.Format)+zone,
			schema.HumanBytes(f.Bytes), fmt.Sprint(f.Records), fmt.Sprint(f.Levels[LevelError]), fmt.Sprint(f.Levels[LevelWarn]))
	}
	hw.tableEnd()
	if res.FilesDropped > 0 {
		hw.p(`<p class="muted">%d more files.</p>`, res.FilesDropped)
	}
}
