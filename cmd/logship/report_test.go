package main

import (
	"bytes"
	"context"
	be "encoding/binary"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/loggen"
	"github.com/logship/logship/internal/sinks"
	"github.com/logship/logship/internal/sinks/dir"
)

const incidentDir = "../../internal/report/testdata/incident"

func runReport(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	oldOut, oldErr := os.Stdout, os.Stderr
	ro, wo, _ := os.Pipe()
	re, we, _ := os.Pipe()
	os.Stdout, os.Stderr = wo, we
	outc, errc := make(chan string), make(chan string)
	go func() { var b bytes.Buffer; b.ReadFrom(ro); outc <- b.String() }()
	go func() { var b bytes.Buffer; b.ReadFrom(re); errc <- b.String() }()
	code = run(args)
	wo.Close()
	we.Close()
	os.Stdout, os.Stderr = oldOut, oldErr
	return code, <-outc, <-errc
}

// timelineOf returns the timeline section of a text report.
func timelineOf(s string) string {
	_, after, _ := strings.Cut(s, "Timeline (UTC)\n")
	tl, _, _ := strings.Cut(after, "\n\n")
	return tl
}

// TestReportCLI: `logship report DIR` on a folder with two hosts, an OOM
// kill, a JVM crash, an exit event and a snapshot prints the story in
// order.
func TestReportCLI(t *testing.T) {
	code, out, errOut := runReport(t, "report", incidentDir, "--color", "never")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	tl := timelineOf(out)
	last := -1
	for _, want := range []string{"web-1  start", "web-1  errors-climb", "web-1  oom-kill", "web-1  exit", "web-1  snapshot", "web-1  restart", "web-2  jvm-crash", "web-2  heap-dump"} {
		i := strings.Index(tl, want)
		if i < 0 || i < last {
			t.Fatalf("%q missing or out of order in the timeline:\n%s", want, tl)
		}
		last = i
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("colour with --color never")
	}
	html := filepath.Join(t.TempDir(), "r.html")
	if code, _, errOut := runReport(t, "report", incidentDir, "--html", html); code != 0 {
		t.Fatalf("--html: exit %d: %s", code, errOut)
	}
	if b, err := os.ReadFile(html); err != nil || !bytes.Contains(b, []byte("<svg")) {
		t.Fatalf("--html wrote %d bytes (%v)", len(b), err)
	}
	code, out, _ = runReport(t, "report", incidentDir, "--json")
	var res struct {
		Timeline []struct{ Kind string }
		OOMKills []struct{ PID int } `json:"oom_kills"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res.OOMKills) != 1 || len(res.Timeline) < 10 {
		t.Fatalf("--json: exit %d, %d OOM kills, %d events", code, len(res.OOMKills), len(res.Timeline))
	}
	for _, bad := range [][]string{{"report"}, {"report", incidentDir, "--from", incidentDir}, {"report", incidentDir, "--tz", "Mars/Olympus"}, {"report", incidentDir, "--color", "pink"}, {"report", incidentDir + "/nothing-here"}} {
		if code, _, _ := runReport(t, bad...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", bad, code, exitUsage)
		}
	}
}

// archiveIncident writes the incident folder into a dir-sink archive, a
// chunk per segment pull recorded, plus a heap dump of 3 MiB.
func archiveIncident(t *testing.T, root string) {
	t.Helper()
	d, err := dir.New(root)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Files map[string]struct {
			Final struct {
				Segments []struct {
					Off, Len    int64
					First, Last time.Time
				}
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(incidentDir, ".logship-pull/state.json"))
	if err != nil || json.Unmarshal(b, &st) != nil {
		t.Fatalf("state: %v", err)
	}
	enc, err := archive.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	put := func(h *archive.Header, raw []byte) {
		h.V, h.RawSize, h.Checksum, h.Lines, h.Codec = archive.Version, int64(len(raw)), archive.Checksum(raw), int64(bytes.Count(raw, []byte{'\n'})), archive.CodecZstd
		body, err := enc.Encode(nil, h, raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Put(context.Background(), &sinks.Object{Key: archive.Key("", h), Body: body, Header: h}); err != nil {
			t.Fatal(err)
		}
	}
	for name, f := range st.Files {
		parts := strings.SplitN(name, "/", 4)
		data, err := os.ReadFile(filepath.Join(incidentDir, name))
		if err != nil {
			t.Fatal(err)
		}
		unit := archive.UnitBytes
		if parts[2] == "kmsg" {
			unit = archive.UnitRecords
		}
		for _, s := range f.Final.Segments {
			raw := data[s.Off : s.Off+s.Len]
			start, end := s.Off, s.Off+s.Len
			if unit == archive.UnitRecords {
				start = int64(bytes.Count(data[:s.Off], []byte{'\n'}))
				end = start + int64(bytes.Count(raw, []byte{'\n'}))
			}
			put(&archive.Header{App: parts[0], Host: parts[1], Source: parts[2], Path: "/" + parts[3], Stream: filepath.Base(parts[3]) + "-1",
				Start: start, End: end, Unit: unit, First: s.First, Last: s.Last}, raw)
		}
	}
	at := time.Date(2026, 12, 6, 6, 50, 50, 0, time.UTC)
	dump := make([]byte, 3<<20)
	n := copy(dump, "JAVA PROFILE 1.0.2\x00")
	be.BigEndian.PutUint32(dump[n:], 8)
	be.BigEndian.PutUint64(dump[n+4:], uint64(at.UnixMilli()))
	put(&archive.Header{App: "shop", Host: "web-2", Source: "crash", Path: "/home/admin/logs/dump/java_pid99.hprof", Stream: "java_pid99.hprof-1",
		Start: 0, End: int64(len(dump)), Unit: archive.UnitBytes, First: at, Last: at}, dump)
}

// TestReportFrom: --from pulls into the cache (heap dumps left in the
// archive, listed with the pull command that fetches them), reports the
// same timeline as on the pulled folder, and a second run fetches nothing.
func TestReportFrom(t *testing.T) {
	arch := t.TempDir()
	archiveIncident(t, arch)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	code, out, errOut := runReport(t, "report", "--from", arch, "--color", "never")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	_, direct, _ := runReport(t, "report", incidentDir, "--color", "never")
	// Heap dumps stay in the archive: they are listed at their ingest
	// time, and the host's last shipping is the last thing pulled; the
	// rest of the story is the same.
	strip := func(tl string) (kept []string, dumps int) {
		for _, l := range strings.Split(tl, "\n") {
			switch {
			case strings.Contains(l, "heap-dump"):
				dumps++
			case !strings.Contains(l, "shipping-stop"):
				kept = append(kept, l)
			}
		}
		return kept, dumps
	}
	from, fromDumps := strip(timelineOf(out))
	want, wantDumps := strip(timelineOf(direct))
	if strings.Join(from, "\n") != strings.Join(want, "\n") || fromDumps != wantDumps+1 {
		t.Errorf("timeline from the archive (%d heap dumps):\n%s\nfrom the folder (%d):\n%s", fromDumps, timelineOf(out), wantDumps, timelineOf(direct))
	}
	if !strings.Contains(out, "heap dump java_pid99.hprof (3.0 MiB)") {
		t.Errorf("the heap dump left in the archive is not listed:\n%s", out)
	}
	wantFetch := "fetch: logship pull --from " + arch + " --app shop --host web-2 --source crash --path 'java_pid99.hprof' --out DIR"
	if !strings.Contains(out, wantFetch) {
		t.Errorf("no %q in:\n%s", wantFetch, out)
	}
	cache, _ := os.UserCacheDir()
	var hprofs []string
	filepath.WalkDir(cache, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, "java_pid99.hprof") {
			hprofs = append(hprofs, p)
		}
		return nil
	})
	if len(hprofs) != 0 {
		t.Errorf("heap dump pulled into the cache: %q", hprofs)
	}
	// One line for the pull (it is two pulls: all but crash, then the
	// hs_err files), with the files in the cache and every chunk fetched.
	var pulled, chunks int
	filepath.WalkDir(cache, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.Contains(p, ".logship-pull") {
			pulled++
		}
		return nil
	})
	filepath.WalkDir(arch, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.HasSuffix(filepath.Dir(p), ".hprof-1") {
			chunks++
		}
		return nil
	})
	wantLine := fmt.Sprintf(": %d files (0 up to date), fetched %d objects (", pulled, chunks)
	if n := strings.Count(errOut, "logship: pulled into"); n != 1 || !strings.Contains(errOut, wantLine) {
		t.Errorf("first run: %d 'pulled into' lines, want one with %q; stderr:\n%s", n, wantLine, errOut)
	}
	code, _, errOut = runReport(t, "report", "--from", arch)
	wantLine = fmt.Sprintf(": %d files (%d up to date), fetched 0 objects (0 B)\n", pulled, pulled)
	if n := strings.Count(errOut, "logship: pulled into"); code != 0 || n != 1 || !strings.Contains(errOut, wantLine) {
		t.Errorf("second run: exit %d, %d 'pulled into' lines, want one with %q; stderr:\n%s", code, n, wantLine, errOut)
	}
}

// TestReportMemory measures `logship report` on a pulled folder of
// LOGSHIP_REPORT_BYTES (e.g. 1GiB) of realistic Java logs (internal/loggen:
// logback lines, stack traces) on 4 hosts: time and peak RSS (the child's
// maxrss). It fails above 256 MiB. Skipped unless the variable is set.
func TestReportMemory(t *testing.T) {
	v := os.Getenv("LOGSHIP_REPORT_BYTES")
	if v == "" {
		t.Skip("set LOGSHIP_REPORT_BYTES=1GiB to measure")
	}
	size, err := parseSizeArg(v)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	for h := range 4 {
		logs := filepath.Join(out, "shop", fmt.Sprintf("web-%d", h), "file", "home", "admin", "logs")
		if _, _, err := loggen.WriteFiles(logs, loggen.Options{Size: size / 4, Files: 4, Seed: uint64(h * 10)}); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(t.TempDir(), "logship")
	if b, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	cmd := exec.Command(bin, "report", out, "--json")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	rss := ru.Maxrss * 1024
	var res struct {
		Hosts []struct{ Records, Lines int64 }
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	var lines int64
	for _, h := range res.Hosts {
		lines += h.Lines
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	t.Logf("report of %s (%d lines, %d hosts): %s wall, %s CPU, %.0f MB/s, peak RSS %.1f MiB (GOMAXPROCS %d)",
		v, lines, len(res.Hosts), took.Round(time.Millisecond), cpu.Round(time.Millisecond), float64(size)/1e6/took.Seconds(), float64(rss)/(1<<20), runtime.GOMAXPROCS(0))
	if rss > 256<<20 {
		t.Errorf("peak RSS %.1f MiB > 256 MiB", float64(rss)/(1<<20))
	}
}

func parseSizeArg(v string) (int64, error) {
	for _, u := range []struct {
		suf string
		n   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}} {
		if n, ok := strings.CutSuffix(v, u.suf); ok {
			f, err := strconv.ParseFloat(n, 64)
			return int64(f * float64(u.n)), err
		}
	}
	return strconv.ParseInt(v, 10, 64)
}

// TestReportFromOSS: --from oss:// pulls through the OSS reader into the
// cache under XDG_CACHE_HOME and reports both hosts; a re-run fetches
// nothing new.
func TestReportFromOSS(t *testing.T) {
	srv, want := ossPullArchive(t)
	cache := t.TempDir()
	env := append(ossEnv(t), "XDG_CACHE_HOME="+cache)
	args := append([]string{"report"}, ossFlags(srv)...)
	stdout, stderr, code := runLogship(t, env, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res struct {
		Hosts []struct {
			Host  string
			Lines int64
		}
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	var lines, wantLines int64
	for _, h := range res.Hosts {
		lines += h.Lines
	}
	for name, b := range want {
		if strings.Contains(name, "/file/") {
			wantLines += int64(bytes.Count(b, []byte{'\n'}))
		}
	}
	if len(res.Hosts) != 2 || lines != wantLines {
		t.Errorf("hosts %+v: %d log lines, want %d", res.Hosts, lines, wantLines)
	}
	if _, stderr, code := runLogship(t, env, args...); code != 0 || !strings.Contains(stderr, "fetched 0 objects") {
		t.Errorf("re-run: exit %d: %s", code, stderr)
	}
	if ents, _ := os.ReadDir(filepath.Join(cache, "logship", "report")); len(ents) != 1 {
		t.Errorf("%d cache folders", len(ents))
	}
}

// TestReportArchiveAsFolder: an archive given as the folder (instead of
// with --from) is a usage error that says to use --from, whether it is
// the dir sink's layout or chunk objects copied into one folder; a folder
// of pull's layout without pull's state is still read.
func TestReportArchiveAsFolder(t *testing.T) {
	arch := t.TempDir()
	archiveIncident(t, arch)
	flat := t.TempDir()
	n := 0
	filepath.WalkDir(arch, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && n < 2 {
			b, _ := os.ReadFile(p)
			os.WriteFile(filepath.Join(flat, d.Name()), b, 0o644)
			n++
		}
		return nil
	})
	for _, dir := range []string{arch, flat} {
		code, out, errOut := runReport(t, "report", dir)
		if code != exitUsage || !strings.Contains(errOut, "is an archive") || !strings.Contains(errOut, "use logship report --from "+dir) {
			t.Errorf("report %s: exit %d, stdout:\n%s\nstderr:\n%s", dir, code, out, errOut)
		}
	}
	if code, _, errOut := runReport(t, "report", "../../internal/report/testdata/formats"); code != 0 {
		t.Errorf("a pulled folder without pull's state: exit %d: %s", code, errOut)
	}
}

// TestReportFromSince: the README's "the filters are pull's": --since
// selects the archive by ingest time and the report covers what was
// pulled, although the logs were written (dated) days before they were
// shipped, as the demo's generated logs are.
func TestReportFromSince(t *testing.T) {
	arch := t.TempDir()
	d, err := dir.New(arch)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := archive.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	var start int64
	put := func(ingest time.Time, raw string) {
		h := &archive.Header{V: archive.Version, App: "demo", Host: "vm", Source: archive.KindFile, Path: "/logs/app.log", Stream: "app.log-1",
			Start: start, End: start + int64(len(raw)), Unit: archive.UnitBytes, First: ingest, Last: ingest.Add(time.Second),
			RawSize: int64(len(raw)), Checksum: archive.Checksum([]byte(raw)), Lines: int64(strings.Count(raw, "\n")), Codec: archive.CodecZstd}
		start += int64(len(raw))
		body, err := enc.Encode(nil, h, []byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Put(context.Background(), &sinks.Object{Key: archive.Key("", h), Body: body, Header: h}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	put(now.Add(-5*time.Hour), "2026-11-26 07:00:00.000 ERROR [main] com.example.A - shipped long ago\n")
	put(now.Add(-30*time.Minute), "2026-11-26 08:00:00.000 ERROR [main] com.example.A - shipped lately\n"+
		"2026-11-26 08:00:01.000 INFO [main] com.example.A - shipped lately too\n")
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	code, out, errOut := runReport(t, "report", "--from", arch, "--app", "demo", "--since", "2h", "--json")
	var res struct {
		Hosts []struct{ Records int64 }
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res.Hosts) != 1 || res.Hosts[0].Records != 2 {
		t.Fatalf("exit %d, hosts %+v (want one with the 2 records shipped in the last 2h); stderr:\n%s", code, res.Hosts, errOut)
	}
	// The cache holds what an earlier run without --since pulled too: the
	// window still selects by ingest time.
	if code, _, errOut := runReport(t, "report", "--from", arch, "--app", "demo"); code != 0 {
		t.Fatalf("without --since: exit %d: %s", code, errOut)
	}
	code, out, errOut = runReport(t, "report", "--from", arch, "--app", "demo", "--since", "2h", "--json")
	res.Hosts = nil
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res.Hosts) != 1 || res.Hosts[0].Records != 2 {
		t.Fatalf("after a full pull: exit %d, hosts %+v (want the 2 records shipped in the last 2h); stderr:\n%s", code, res.Hosts, errOut)
	}
}
