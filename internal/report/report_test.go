package report

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update to accept); got:\n%s", name, got)
	}
}

func build(t *testing.T, dir string, opt Options) *Result {
	t.Helper()
	res, err := Build(context.Background(), dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestIncidentGolden: two hosts, an OOM kill, a JVM crash (a real hs_err
// file), a heap dump (a real one's head), an exit event and a snapshot:
// the text report and the JSON result match their golden files.
func TestIncidentGolden(t *testing.T) {
	res := build(t, "testdata/incident", Options{})
	var txt bytes.Buffer
	if err := WriteText(&txt, res, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	golden(t, "incident.golden.txt", txt.Bytes())
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "incident.golden.json", append(js, '\n'))
}

// TestIncidentTimelineOrder: the merged timeline tells the story in order.
func TestIncidentTimelineOrder(t *testing.T) {
	res := build(t, "testdata/incident", Options{})
	want := []struct{ host, kind string }{
		{"web-1", KindStart}, {"web-1", KindErrors}, {"web-1", KindOOM}, {"web-1", KindExit},
		{"web-1", KindSnapshot}, {"web-1", KindRestart}, {"web-2", KindFirstErr}, {"web-2", KindCrash}, {"web-2", KindHeapDump},
	}
	i := 0
	for _, ev := range res.Timeline {
		if i < len(want) && ev.Host == want[i].host && ev.Kind == want[i].kind {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("timeline lacks %v in order (matched %d); got:\n%s", want[i], i, timelineText(res))
	}
	for j := 1; j < len(res.Timeline); j++ {
		if res.Timeline[j].Time.Before(res.Timeline[j-1].Time) {
			t.Errorf("event %d out of order: %v before %v", j, res.Timeline[j-1], res.Timeline[j])
		}
	}
}

func timelineText(res *Result) string {
	var b strings.Builder
	for _, ev := range res.Timeline {
		b.WriteString(ev.Time.Format("15:04:05.000 ") + ev.Host + " " + ev.Kind + " " + ev.Text + "\n")
	}
	return b.String()
}

// TestIncidentFacts checks the facts a reader relies on, one by one.
func TestIncidentFacts(t *testing.T) {
	res := build(t, "testdata/incident", Options{})
	if len(res.OOMKills) != 1 {
		t.Fatalf("%d OOM kills", len(res.OOMKills))
	}
	k := res.OOMKills[0]
	if k.Process != "java" || k.PID != 4242 || k.AnonRSSKB != 2064384 || k.FileRSSKB != 12288 || k.LimitKB != 2097152 ||
		k.Cgroup != "/kubepods/burstable/pod1234/shop" || k.Failcnt != 4242 || k.Constraint != "CONSTRAINT_MEMCG" {
		t.Errorf("OOM kill %+v", k)
	}
	if len(res.Crashes) != 1 || res.Crashes[0].Signal != "SIGSEGV" || len(res.Crashes[0].Heap) != 4 || res.Crashes[0].Time.Format("15:04:05") != "06:50:36" {
		t.Errorf("crashes %+v", res.Crashes)
	}
	if len(res.HeapDumps) != 1 || res.HeapDumps[0].Size != 4096 || res.HeapDumps[0].Time.IsZero() {
		t.Errorf("heap dumps %+v", res.HeapDumps)
	}
	if len(res.Snapshots) != 1 || res.Snapshots[0].Trigger != "oom_kill" || res.Snapshots[0].MemLimit != 2147483648 ||
		len(res.Snapshots[0].JVMs) != 1 || res.Snapshots[0].JVMs[0].BlockedThreads != 4 {
		t.Errorf("snapshots %+v", res.Snapshots)
	}
	var web1 *Host
	for _, h := range res.Hosts {
		if h.Name == "web-1" {
			web1 = h
		}
	}
	if web1 == nil || len(web1.Exits) != 1 || web1.Exits[0].ExitCode != 137 || web1.Exits[0].Signal != "SIGKILL" || len(web1.Starts) != 2 {
		t.Fatalf("web-1 %+v", web1)
	}
	// The Spring Boot log is in UTC+08:00 without a zone: its start line
	// must land a second after the run's start event, not 8 hours off.
	for _, f := range res.Files {
		if f.Host == "web-1" && !strings.HasPrefix(f.Zone, "UTC+08:00") {
			t.Errorf("zone of %s: %q", f.Path, f.Zone)
		}
	}
	if got := web1.SeenLast.Format("15:04:05"); got != "06:47:04" {
		t.Errorf("web-1 logged until %s, want 06:47:04 (zone guessed wrong?)", got)
	}
	if len(res.Incidents) != 2 || len(res.Incidents[0].Errors) != maxErrorsKept || res.Incidents[0].Errors[0].Time.Format("15:04:05") != "06:45:30" {
		t.Errorf("incidents %+v", res.Incidents)
	}
	if len(res.Exceptions) < 3 || res.Exceptions[0].Class != "org.springframework.dao.DataAccessResourceFailureException" ||
		res.Exceptions[0].Count != 20 || res.Exceptions[0].RootCause != "java.sql.SQLTransientConnectionException" {
		t.Errorf("exceptions %+v", res.Exceptions)
	}
	if len(res.Templates) == 0 || res.Templates[0].Count != 20 || !strings.Contains(res.Templates[0].Template, "Could not save order <N> after <N> ms") {
		t.Errorf("templates %+v", res.Templates)
	}
}

// TestFormatsGolden: each supported format is detected, records are
// assembled (stack traces kept with their record, JUL's two lines one
// record) and counted per level; unknown, binary and empty files do not
// break anything.
func TestFormatsGolden(t *testing.T) {
	res := build(t, "testdata/formats", Options{})
	js, err := json.MarshalIndent(res.Files, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "formats.golden.json", append(js, '\n'))
	want := map[string]string{"zookeeper.log": FormatLog4j, "hadoop.log": FormatLog4j, "hdfs.log": FormatCompact, "jul.log": FormatJUL,
		"logback-time.log": FormatLogback, "app.json": FormatJSON, "iso.log": FormatISO, "plain.txt": FormatUnknown,
		"random.bin": FormatBinary, "empty.log": FormatEmpty, "copytruncated.log": FormatLogback}
	for _, f := range res.Files {
		if w := want[filepath.Base(f.Path)]; w != f.Format {
			t.Errorf("%s: format %s, want %s", f.Path, f.Format, w)
		}
	}
}

// TestHTMLSelfContained: the page holds its charts and nothing that
// would fetch anything.
func TestHTMLSelfContained(t *testing.T) {
	res := build(t, "testdata/incident", Options{})
	var b bytes.Buffer
	if err := WriteHTML(&b, res); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"<script", "http://", "https://", "src=", "url(", "@import", "user-select"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	for _, want := range []string{"Content-Security-Policy", `<svg class="chart timeline wide"`, "SIGSEGV", "OOM kill", "java.sql.SQLTransientConnectionException"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// TestHTMLInChromium renders the incident page in headless Chromium at
// desktop and phone widths: no console error, no network request, the
// charts drawn, text selectable, nothing wider than the screen.
// Screenshots stay in $TMPDIR/logship-report-screenshots.
func TestHTMLInChromium(t *testing.T) {
	res := build(t, "testdata/incident", Options{})
	file := filepath.Join(t.TempDir(), "report.html")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(f, res); err != nil {
		t.Fatal(err)
	}
	f.Close()
	checks := renderInChromium(t, file, screenshotDir(t), []int{1280, 390})
	for w, pc := range checks {
		if len(pc.Problems) > 0 {
			t.Errorf("width %d: %s", w, strings.Join(pc.Problems, "\n"))
		}
		if pc.Charts < 2*(1+len(res.Hosts)) || pc.SVGShapes < 20 {
			t.Errorf("width %d: %d charts with %d shapes", w, pc.Charts, pc.SVGShapes)
		}
		if pc.ScrollWidth > pc.InnerWidth {
			t.Errorf("width %d: page is %v px wide in a %v px window", w, pc.ScrollWidth, pc.InnerWidth)
		}
		if pc.UserSelectNone > 0 || pc.Selected < 1000 {
			t.Errorf("width %d: %d elements with user-select:none, %d characters selectable", w, pc.UserSelectNone, pc.Selected)
		}
		if pc.SmallText > 0 || pc.SmallSVGText > 0 {
			t.Errorf("width %d: %d text elements under 11 px, %d chart labels under 10 px", w, pc.SmallText, pc.SmallSVGText)
		}
	}
}

// TestChromiumCheckerCatches: the browser checks see what they must
// refuse: a request for an image, a console error, an unselectable
// element and a page wider than the screen.
func TestChromiumCheckerCatches(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bad.html")
	page := `<!doctype html><html><head><meta name="viewport" content="width=device-width"></head><body><main>
<p style="user-select:none">hidden from selection</p><img src="http://192.0.2.1/x.png"><div style="width:2000px">wide</div>
<script>console.error("boom")</script></main></body></html>`
	if err := os.WriteFile(file, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	pc := renderInChromium(t, file, t.TempDir(), []int{390})[390]
	joined := strings.Join(pc.Problems, "\n")
	if !strings.Contains(joined, "network request: http://192.0.2.1/x.png") || !strings.Contains(joined, "console error") {
		t.Errorf("problems not seen: %q", pc.Problems)
	}
	if pc.UserSelectNone == 0 || pc.ScrollWidth <= pc.InnerWidth {
		t.Errorf("checks missed: %+v", pc)
	}
}

// TestNoIngestTimes: a folder without pull's state still says when each
// host was first and last seen, from the times in its data.
func TestNoIngestTimes(t *testing.T) {
	res := build(t, "testdata/formats", Options{})
	var kinds []string
	for _, ev := range res.Timeline {
		kinds = append(kinds, ev.Kind)
	}
	if len(res.Hosts) != 1 || res.Hosts[0].SeenFirst.IsZero() || !strings.Contains(strings.Join(kinds, " "), KindShipStart) {
		t.Errorf("hosts %+v, timeline %v", res.Hosts, kinds)
	}
}
