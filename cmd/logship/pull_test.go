package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/sinks"
	"github.com/logship/logship/internal/sinks/dir"
)

// pullArchive writes a small archive through the dir sink: two hosts, a
// file with two generations, a kernel log with an OOM flag, a crash
// artifact, and duplicated and overlapping chunks. It returns the files
// pull must rebuild (relative to --out).
func pullArchive(t *testing.T, root string) map[string][]byte {
	t.Helper()
	d, err := dir.New(root)
	if err != nil {
		t.Fatal(err)
	}
	return writePullArchive(t, d, "")
}

// writePullArchive writes pullArchive's objects through a sink, under a
// key prefix.
func writePullArchive(t *testing.T, d sinks.Sink, prefix string) map[string][]byte {
	t.Helper()
	enc, err := archive.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	t0 := time.Date(2026, 11, 26, 9, 50, 0, 0, time.UTC)
	want := map[string][]byte{}
	put := func(h *archive.Header, raw []byte) {
		h.V, h.RawSize, h.Checksum, h.Lines = archive.Version, int64(len(raw)), archive.Checksum(raw), int64(bytes.Count(raw, []byte{'\n'}))
		if h.Codec == "" {
			h.Codec = archive.CodecZstd
		}
		body, err := enc.Encode(nil, h, raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Put(context.Background(), &sinks.Object{Key: archive.Key(prefix, h), Body: body, Header: h}); err != nil {
			t.Fatal(err)
		}
	}
	type stream struct {
		host, source, path, id, event string
		start                         time.Time
		lines                         int
	}
	for _, s := range []stream{
		{"web-1", "file", "/home/admin/logs/app.log", "app.log-01", "", t0, 120},
		{"web-1", "file", "/home/admin/logs/app.log", "app.log-02", "", t0.Add(40 * time.Minute), 60},
		{"web-2", "file", "/home/admin/logs/app.log", "app.log-03", "", t0.Add(5 * time.Minute), 90},
		{"web-2", "kmsg", "/dev/kmsg", "boot-1", archive.EventOOMKill, t0, 30},
		{"web-2", "crash", "/home/admin/hs_err_pid7.log", "hs_err_pid7.log-1", archive.EventJVMCrash, t0.Add(20 * time.Minute), 40},
	} {
		var lines [][]byte
		for i := range s.lines {
			lines = append(lines, fmt.Appendf(nil, "%s %s %s line %d ERROR=%v\x00\xff\n", s.start.Add(time.Duration(i)*time.Second).Format(time.RFC3339), s.host, s.id, i, i%10 == 0))
		}
		name := "shop/" + s.host + "/" + s.source + s.path
		want[name] = append(want[name], bytes.Join(lines, nil)...)
		unit := archive.UnitBytes
		if s.source == "kmsg" {
			unit = archive.UnitRecords
		}
		pos := func(line int) int64 { // position of a line start
			if unit == archive.UnitRecords {
				return int64(line)
			}
			return int64(len(bytes.Join(lines[:line], nil)))
		}
		n := 10
		if s.source == "crash" {
			n = 1
		}
		step := (len(lines) + n - 1) / n
		for i := 0; i < len(lines); i += step {
			j := min(i+step, len(lines))
			ev := ""
			if j == len(lines) {
				ev = s.event
			}
			first := s.start.Add(time.Duration(i) * time.Second)
			h := &archive.Header{App: "shop", Host: s.host, Source: s.source, Path: s.path, Stream: s.id, Start: pos(i), End: pos(j),
				Unit: unit, First: first, Last: first.Add(time.Second * time.Duration(j-i)), Event: ev}
			if i/step%3 == 1 {
				h.Codec = archive.CodecGzip
			}
			put(h, bytes.Join(lines[i:j], nil))
			// At-least-once: a re-read of [i-2, j+3) lines, later.
			if i > 0 && j+3 <= len(lines) && i/step%2 == 0 {
				first := first.Add(time.Hour)
				put(&archive.Header{App: "shop", Host: s.host, Source: s.source, Path: s.path, Stream: s.id, Start: pos(i - 2), End: pos(j + 3),
					Unit: unit, First: first, Last: first}, bytes.Join(lines[i-2:j+3], nil))
			}
		}
	}
	return want
}

func readOut(t *testing.T, out string) map[string][]byte {
	t.Helper()
	got := map[string][]byte{}
	filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".logship-pull" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(out, p)
			got[filepath.ToSlash(rel)] = b
		}
		return nil
	})
	return got
}

func sameFiles(t *testing.T, got, want map[string][]byte) {
	t.Helper()
	for n, w := range want {
		if !bytes.Equal(got[n], w) {
			t.Errorf("%s: %d bytes, want %d (first difference at %d)", n, len(got[n]), len(w), firstDiff(got[n], w))
		}
	}
	for n := range got {
		if _, ok := want[n]; !ok {
			t.Errorf("unexpected file %s", n)
		}
	}
}

func TestPullCLI(t *testing.T) {
	dir := t.TempDir()
	arch := filepath.Join(dir, "archive")
	want := pullArchive(t, arch)
	out := filepath.Join(dir, "out")
	_, stderr, code := runLogship(t, nil, "pull", "--from", arch, "--out", out)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	sameFiles(t, readOut(t, out), want)
	if !strings.Contains(stderr, "4 files in") || !strings.Contains(stderr, "duplicates dropped") {
		t.Errorf("summary missing:\n%s", stderr)
	}
	// Re-run: nothing fetched.
	stdout, stderr, code := runLogship(t, nil, "pull", "--from", arch, "--out", out, "--json")
	if code != 0 {
		t.Fatalf("re-run exit %d:\n%s", code, stderr)
	}
	var sum struct {
		Fetched  int `json:"fetched"`
		UpToDate int `json:"up_to_date"`
	}
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil || sum.Fetched != 0 || sum.UpToDate != 4 {
		t.Errorf("re-run: %v %+v\n%s", err, sum, stdout)
	}

	// The same archive copied object by object into flat names.
	flat := filepath.Join(dir, "flat")
	os.MkdirAll(flat, 0o755)
	i := 0
	filepath.WalkDir(arch, func(p string, d os.DirEntry, err error) error {
		if d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			i++
			os.WriteFile(filepath.Join(flat, fmt.Sprintf("download-%03d%s", i, filepath.Ext(p))), b, 0o644)
		}
		return nil
	})
	out2 := filepath.Join(dir, "out2")
	if _, stderr, code := runLogship(t, nil, "pull", "--from", flat, "--out", out2, "-j", "3"); code != 0 {
		t.Fatalf("flat: exit %d:\n%s", code, stderr)
	}
	sameFiles(t, readOut(t, out2), want)

	// --split-generations
	out3 := filepath.Join(dir, "out3")
	if _, stderr, code := runLogship(t, nil, "pull", "--from", arch, "--out", out3, "--split-generations", "--host", "web-1"); code != 0 {
		t.Fatalf("split: exit %d:\n%s", code, stderr)
	}
	got := readOut(t, out3)
	if len(got) != 2 || len(got["shop/web-1/file/home/admin/logs/app.log@app.log-01"]) == 0 {
		t.Errorf("split generations: %v", slices.Sorted(mapKeys(got)))
	}
}

func mapKeys(m map[string][]byte) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Damaged and hostile objects: exit 3, each reported, the rest back, and
// nothing written beside --out.
func TestPullCLIHostile(t *testing.T) {
	dir := t.TempDir()
	arch := filepath.Join(dir, "archive")
	want := pullArchive(t, arch)
	// Flip a bit in one web-1 chunk; plant a chunk whose path escapes.
	// The second chunk of web-2's app.log: no re-read covers it.
	sdir := filepath.Join(arch, "app=shop/dt=2026-11-26/hour=09/host=web-2/source=file/app.log-03")
	ents, err := os.ReadDir(sdir)
	if err != nil || len(ents) < 3 {
		t.Fatal(err, ents)
	}
	victim := filepath.Join(sdir, ents[1].Name())
	b, _ := os.ReadFile(victim)
	b[len(b)-10] ^= 1
	os.WriteFile(victim, b, 0o644)
	enc, _ := archive.NewEncoder()
	raw := []byte("root:x:0:0\n")
	h := &archive.Header{V: 1, App: "shop", Host: "web-1", Source: "file", Path: "../../../../etc/passwd", Stream: "evil", End: int64(len(raw)), Unit: "bytes",
		RawSize: int64(len(raw)), Checksum: archive.Checksum(raw), First: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), Codec: "zstd"}
	body, _ := enc.Encode(nil, h, raw)
	enc.Close()
	p := filepath.Join(arch, filepath.FromSlash(archive.Key("", h)))
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, body, 0o644)

	parent := filepath.Join(dir, "p")
	out := filepath.Join(parent, "out")
	_, stderr, code := runLogship(t, nil, "pull", "--from", arch, "--out", out, "--progress", "plain")
	if code != exitProblems {
		t.Fatalf("exit %d, want %d:\n%s", code, exitProblems, stderr)
	}
	for _, w := range []string{"corrupt", filepath.Base(victim), `".." segment`, "1 corrupt", "1 unsafe"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
	got := readOut(t, out)
	for n, w := range want {
		if n == "shop/web-2/file/home/admin/logs/app.log" {
			if len(got[n]) == 0 || len(got[n]) >= len(w) {
				t.Errorf("%s: %d bytes, want the good part of %d", n, len(got[n]), len(w))
			}
			continue
		}
		if !bytes.Equal(got[n], w) {
			t.Errorf("%s differs", n)
		}
	}
	ents, _ = os.ReadDir(parent)
	if len(ents) != 1 {
		t.Errorf("beside --out: %v", ents)
	}
}

func TestLsCLI(t *testing.T) {
	arch := filepath.Join(t.TempDir(), "archive")
	pullArchive(t, arch)
	stdout, stderr, code := runLogship(t, nil, "ls", "--from", arch, "--streams")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	for _, w := range []string{"shop\n  web-1\n    file\n      /home/admin/logs/app.log  2026-11-26T09:50:00Z", "2 generations", "[oom_kill]", "[jvm_crash]",
		"app.log-02", "4 files, "} {
		if !strings.Contains(stdout, w) {
			t.Errorf("ls lacks %q:\n%s", w, stdout)
		}
	}
	stdout, stderr, code = runLogship(t, nil, "ls", "--from", arch, "--json", "--source", "crash")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	var l struct {
		Files []struct {
			Path   string   `json:"path"`
			Events []string `json:"events"`
			Chunks int      `json:"chunks"`
		} `json:"files"`
	}
	if err := json.Unmarshal([]byte(stdout), &l); err != nil || len(l.Files) != 1 || l.Files[0].Path != "/home/admin/hs_err_pid7.log" || l.Files[0].Events[0] != "jvm_crash" {
		t.Errorf("ls --json: %v %+v", err, l)
	}
	// A window after everything: nothing.
	stdout, _, code = runLogship(t, nil, "ls", "--from", arch, "--since", "2026-11-27T00:00:00Z")
	if code != 0 || !strings.HasPrefix(stdout, "0 files") {
		t.Errorf("exit %d:\n%s", code, stdout)
	}
}

func TestCatCLI(t *testing.T) {
	arch := filepath.Join(t.TempDir(), "archive")
	want := pullArchive(t, arch)
	stdout, stderr, code := runLogship(t, nil, "cat", "--from", arch, "--host", "web-1", "--source", "file")
	if code != 0 || stdout != string(want["shop/web-1/file/home/admin/logs/app.log"]) {
		t.Fatalf("exit %d, %d bytes:\n%s", code, len(stdout), stderr)
	}
	stdout, _, code = runLogship(t, nil, "cat", "--from", arch, "--grep", `ERROR=true`, "-H", "--path", "app.log")
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if code != 0 || len(lines) != 12+6+9 {
		t.Fatalf("exit %d, %d lines:\n%s", code, len(lines), stdout)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "shop/web-") || !strings.Contains(l, "ERROR=true") {
			t.Errorf("line %q", l)
		}
	}
}

func TestPullCLIUsage(t *testing.T) {
	arch := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"pull", "--out", t.TempDir()}, exitUsage, "--from is required"},
		{[]string{"pull", "--from", arch}, exitUsage, "--out is required"},
		{[]string{"ls", "--from", arch, "--since", "yesterday"}, exitUsage, "--since"},
		{[]string{"ls", "--from", arch, "--since", "1h", "--until", "2h"}, exitUsage, "before --since"},
		{[]string{"cat", "--from", arch, "--grep", "("}, exitUsage, "--grep"},
		{[]string{"ls", "--from", filepath.Join(arch, "nope")}, exitUsage, "no such file"},
		{[]string{"ls", "--from", "oss://bucket/logs"}, exitUsage, "--region is required"},
		{[]string{"ls", "--from", "oss://bucket/logs", "--endpoint", "ftp://x"}, exitUsage, "scheme must be http or https"},
		{[]string{"pull", "--out", t.TempDir(), "-c", filepath.Join(arch, "none.yaml")}, exitUsage, "none.yaml"},
		{[]string{"ls", "--from", "s3://bucket/logs"}, exitUsage, "unknown scheme"},
	} {
		_, stderr, code := runLogship(t, nil, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}
