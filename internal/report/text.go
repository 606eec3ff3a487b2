package report

import (
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/logship/logship/internal/schema"
)

// TextOptions tune the terminal rendering.
type TextOptions struct {
	Color bool // ANSI colours (only on a terminal)
}

const (
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiBold   = "\x1b[1m"
	ansiReset  = "\x1b[0m"
)

type textWriter struct {
	w     io.Writer
	color bool
	err   error
}

func (tw *textWriter) printf(format string, args ...any) {
	if tw.err == nil {
		_, tw.err = fmt.Fprintf(tw.w, format, args...)
	}
}

func (tw *textWriter) paint(code, s string) string {
	if !tw.color || code == "" {
		return s
	}
	return code + s + ansiReset
}

func (tw *textWriter) section(title string) {
	tw.printf("\n%s\n", tw.paint(ansiBold, title))
}

func sevColor(sev string) string {
	switch sev {
	case SevError:
		return ansiRed
	case SevWarn:
		return ansiYellow
	}
	return ""
}

// stamp formats an instant in UTC to the millisecond, without the date.
func clock(t time.Time) string {
	if t.IsZero() {
		return "--:--:--"
	}
	return t.UTC().Format("15:04:05.000")
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

func when(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// WriteText renders the result for a terminal: the timeline first, then
// each finding with its facts. Times are UTC.
func WriteText(w io.Writer, res *Result, o TextOptions) error {
	tw := &textWriter{w: w, color: o.Color}
	tw.printf("%s\n", tw.paint(ansiBold, "logship report: "+res.Dir))
	tw.printf("%s\n", summaryLine(res))
	tw.section("Timeline (UTC)")
	if len(res.Timeline) == 0 {
		tw.printf("  nothing with a time\n")
	}
	hw := 4
	for _, ev := range res.Timeline {
		hw = max(hw, min(len(ev.Host), 24))
	}
	lastDay := ""
	for _, ev := range res.Timeline {
		if d := day(ev.Time); d != lastDay {
			tw.printf("  %s\n", d)
			lastDay = d
		}
		line := fmt.Sprintf("    %s  %-*s  %-14s %s", clock(ev.Time), hw, ev.Host, ev.Kind, ev.Text)
		tw.printf("%s\n", tw.paint(sevColor(ev.Severity), line))
	}
	if res.TimelineDropped > 0 {
		tw.printf("    (%d minor events left out)\n", res.TimelineDropped)
	}
	writeHostsText(tw, res)
	if len(res.OOMKills) > 0 {
		tw.section("OOM kills")
		for _, k := range res.OOMKills {
			tw.printf("  %s  %s  %s\n", when(k.Time), k.Host, tw.paint(ansiRed, oomText(k)))
		}
	}
	if len(res.Crashes) > 0 {
		tw.section("JVM crashes")
		for _, c := range res.Crashes {
			what := c.Signal
			if what == "" {
				what = c.Error
			}
			tw.printf("  %s  %s  %s (pid %s)\n", when(c.Time), c.Host, tw.paint(ansiRed, what), c.PID)
			for _, kv := range [][2]string{{"frame", c.ProblematicFrame}, {"thread", c.Thread}, {"JRE", c.JREVersion},
				{"command line", c.CommandLine}, {"time in file", c.TimeText}, {"file", c.Path}} {
				if kv[1] != "" {
					tw.printf("      %-13s %s\n", kv[0]+":", kv[1])
				}
			}
			for i, l := range c.Heap {
				label := ""
				if i == 0 {
					label = "heap:"
				}
				tw.printf("      %-13s %s\n", label, l)
			}
		}
	}
	if len(res.HeapDumps) > 0 {
		tw.section("Heap dumps")
		for _, hd := range res.HeapDumps {
			tw.printf("  %s  %s  %s  %s\n", when(hd.Time), hd.Host, hd.Path, schema.HumanBytes(hd.Size))
			if hd.Local != "" {
				tw.printf("      here: %s\n", hd.Local)
			}
			if hd.Fetch != "" {
				tw.printf("      fetch: %s\n", hd.Fetch)
			}
		}
	}
	if len(res.Snapshots) > 0 {
		tw.section("Snapshots")
		for _, s := range res.Snapshots {
			tw.printf("  %s  %s  %s\n", when(s.Time), s.Host, snapshotText(s))
			tw.printf("      %s\n", s.Path)
			if len(s.Collectors) > 0 {
				tw.printf("      collectors not ok: %s\n", strings.Join(s.Collectors, ", "))
			}
		}
	}
	if len(res.KernelErrors) > 0 {
		tw.section("Kernel messages worth a look")
		for _, k := range res.KernelErrors {
			tw.printf("  %-11s x%-5d %s .. %s  %s  %s\n", k.Kind, k.Count, when(k.First), clock(k.Last), k.Host, k.Sample)
		}
	}
	if len(res.Incidents) > 0 {
		tw.section("First errors before each crash, OOM kill and abnormal exit")
		for _, inc := range res.Incidents {
			tw.printf("  %s  %s  %s\n", when(inc.Event.Time), inc.Event.Host, tw.paint(ansiRed, inc.Event.Text))
			if len(inc.Errors) == 0 {
				tw.printf("      no ERROR logged on this host in the time before\n")
			}
			for _, e := range inc.Errors {
				tw.printf("      %s  %s  %s\n", clock(e.Time), path.Base(e.File), e.Text)
			}
		}
	}
	if len(res.Exceptions) > 0 {
		tw.section("Top exceptions")
		for _, e := range res.Exceptions {
			tw.printf("  %6d  %s  (%s .. %s; %s)\n", e.Count, tw.paint(ansiBold, e.Class), when(e.First), when(e.Last), strings.Join(e.Hosts, ", "))
			if e.RootCause != "" && e.RootCause != e.Class {
				tw.printf("          root cause: %s\n", e.RootCause)
			}
			lines := strings.Split(strings.TrimRight(e.Sample, "\n"), "\n")
			for i, l := range lines {
				if i == 6 {
					tw.printf("          ... (%d more lines in the sample)\n", len(lines)-6)
					break
				}
				tw.printf("          %s\n", l)
			}
		}
	}
	if len(res.Templates) > 0 {
		tw.section("Top error and warning messages (numbers, ids, addresses masked)")
		for _, t := range res.Templates {
			tw.printf("  %-5s %6d  %s\n", strings.ToUpper(t.Level), t.Count, tw.paint(sevColor(t.Level), t.Template))
			tw.printf("               %s .. %s; %s\n", when(t.First), when(t.Last), strings.Join(t.Hosts, ", "))
		}
		if res.TemplatesOverflow > 0 {
			tw.printf("  (%d records of further templates not grouped: the template table was full)\n", res.TemplatesOverflow)
		}
	}
	writeLevelsText(tw, res)
	if len(res.Files) > 0 {
		tw.section("Files")
		for _, f := range res.Files {
			tw.printf("  %s  %s %s  %s, %d lines, %d records: ERROR %d, WARN %d\n", f.Host, f.Source, f.Path, schema.HumanBytes(f.Bytes), f.Lines, f.Records, f.Levels[LevelError], f.Levels[LevelWarn])
			tw.printf("      format %s", f.Format)
			if f.Untimed > 0 {
				tw.printf("; %d records without a time (no date in the lines and no ingest times)", f.Untimed)
			}
			if f.Zone != "" {
				tw.printf("; zone-less times read as %s", f.Zone)
			}
			tw.printf("\n")
		}
		if res.FilesDropped > 0 {
			tw.printf("  (%d more files)\n", res.FilesDropped)
		}
	}
	if len(res.Problems) > 0 {
		tw.section("Problems reading the folder")
		for _, p := range res.Problems {
			tw.printf("  %s\n", p)
		}
	}
	return tw.err
}

func summaryLine(res *Result) string {
	span := "no times"
	if !res.First.IsZero() {
		span = when(res.First) + " .. " + when(res.Last) + " UTC"
	}
	var recs, errs int64
	for _, h := range res.Hosts {
		recs += h.Records
		errs += h.Levels[LevelError]
	}
	return fmt.Sprintf("%d hosts, %s; %d log records, %d ERROR; %d OOM kills, %d JVM crashes, %d heap dumps, %d snapshots",
		len(res.Hosts), span, recs, errs, len(res.OOMKills), len(res.Crashes), len(res.HeapDumps), len(res.Snapshots))
}

func oomText(k OOMKill) string {
	var b strings.Builder
	if k.Process != "" {
		fmt.Fprintf(&b, "%s (pid %d) killed", k.Process, k.PID)
	} else {
		b.WriteString("a process killed")
	}
	if k.AnonRSSKB > 0 || k.FileRSSKB > 0 {
		fmt.Fprintf(&b, ": anon-rss %s, file-rss %s, shmem-rss %s", kb(k.AnonRSSKB), kb(k.FileRSSKB), kb(k.ShmemRSSKB))
	}
	if k.Cgroup != "" {
		fmt.Fprintf(&b, "; cgroup %s", k.Cgroup)
	}
	if k.LimitKB > 0 {
		fmt.Fprintf(&b, "; usage %s of limit %s", kb(k.UsageKB), kb(k.LimitKB))
		if k.Failcnt > 0 {
			fmt.Fprintf(&b, " (failcnt %d)", k.Failcnt)
		}
	}
	if k.Constraint != "" {
		fmt.Fprintf(&b, "; %s", k.Constraint)
	}
	fmt.Fprintf(&b, " [%s]", k.Source)
	return b.String()
}

func writeHostsText(tw *textWriter, res *Result) {
	tw.section("Hosts")
	for _, h := range res.Hosts {
		tw.printf("  %s (app %s)\n", tw.paint(ansiBold, h.Name), h.App)
		if !h.ShipFirst.IsZero() {
			tw.printf("      shipped   %s .. %s\n", when(h.ShipFirst), when(h.ShipLast))
		}
		if !h.SeenFirst.IsZero() {
			tw.printf("      logged    %s .. %s\n", when(h.SeenFirst), when(h.SeenLast))
		}
		tw.printf("      records   %d (ERROR %d, WARN %d, INFO %d, DEBUG %d, no level %d) in %d lines, %s\n", h.Records,
			h.Levels[LevelError], h.Levels[LevelWarn], h.Levels[LevelInfo], h.Levels[LevelDebug], h.Levels[LevelOther], h.Lines, schema.HumanBytes(h.Bytes))
		for i, s := range h.Starts {
			what := "start  "
			if i > 0 {
				what = "restart"
			}
			tw.printf("      %s   %s  %s: %s\n", what, when(s.Time), s.How, s.Text)
		}
		for _, x := range h.Exits {
			line := fmt.Sprintf("      exit      %s  status %d", when(x.Time), x.ExitCode)
			if x.Signal != "" {
				line += ", signal " + x.Signal
			}
			if x.Runtime != "" {
				line += ", ran " + x.Runtime
			}
			sev := SevInfo
			if x.Abnormal {
				sev = SevError
				line += " (abnormal)"
			}
			tw.printf("%s\n", tw.paint(sevColor(sev), line))
		}
		for _, g := range h.Gaps {
			tw.printf("      gap       %s .. %s: nothing shipped for %s\n", when(g.From), when(g.To), g.To.Sub(g.From).Round(time.Second))
		}
	}
}

// sparks draws counts as a row of block characters.
func sparks(counts []int64) string {
	const blocks = " ▁▂▃▄▅▆▇█"
	var top int64
	for _, c := range counts {
		top = max(top, c)
	}
	rs := []rune(blocks)
	var b strings.Builder
	for _, c := range counts {
		i := 0
		if top > 0 && c > 0 {
			i = 1 + int(float64(c)/float64(top)*float64(len(rs)-2))
		}
		b.WriteRune(rs[min(i, len(rs)-1)])
	}
	return b.String()
}

func writeLevelsText(tw *textWriter, res *Result) {
	if res.First.IsZero() || !res.Last.After(res.First) {
		return
	}
	const n = 60
	tw.section(fmt.Sprintf("ERROR and WARN over time (%s .. %s UTC, %d columns of %s)", when(res.First), when(res.Last), n, roundDur(res.Last.Sub(res.First)/n)))
	for _, h := range res.Hosts {
		if h.Levels[LevelError]+h.Levels[LevelWarn] == 0 {
			continue
		}
		bs := h.Histogram.Rebucket(res.First, res.Last, n)
		errs, warns := make([]int64, n), make([]int64, n)
		for i, b := range bs {
			errs[i], warns[i] = b[LevelError], b[LevelWarn]
		}
		tw.printf("  %-16s ERROR |%s| %d\n", h.Name, tw.paint(ansiRed, sparks(errs)), h.Levels[LevelError])
		tw.printf("  %-16s WARN  |%s| %d\n", "", tw.paint(ansiYellow, sparks(warns)), h.Levels[LevelWarn])
	}
}

// roundDur rounds a duration to what a reader needs: seconds under an
// hour, minutes under a day, hours beyond.
func roundDur(d time.Duration) time.Duration {
	switch {
	case d < time.Minute:
		return d.Round(time.Millisecond)
	case d < time.Hour:
		return d.Round(time.Second)
	case d < 24*time.Hour:
		return d.Round(time.Minute)
	}
	return d.Round(time.Hour)
}
