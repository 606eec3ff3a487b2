package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logship/logship/internal/loggen"
)

// TestBenchJSON runs a small bench into both sinks: every run shipped all
// bytes, reports a realistic ratio (generated Java logs, not repeated
// lines), and the agent's runs are compared with the zstd CLI's.
func TestBenchJSON(t *testing.T) {
	stdout, stderr, code := runLogship(t, nil, "bench", "--size", "8MiB", "--files", "3", "--sink", "dir", "--sink", "osstest", "--rounds", "2", "--pull", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var rep benchReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if strings.Contains(stdout, `\u003e`) {
		t.Error("names escaped for HTML: agent -\\u003e dir")
	}
	if rep.Files != 3 || rep.Bytes < 8<<20 || !strings.Contains(rep.Data, "Java") {
		t.Fatalf("data: %+v", rep)
	}
	_, cli := exec.LookPath("zstd")
	want := map[string]int{"agent -> dir": 2, "agent -> osstest": 2, "pull <- osstest": 2, "Go zstd, 1 goroutine": 2}
	if cli == nil {
		want["zstd -1 -T1 CLI"] = 2
		want["naive: GET + zstd -dc"] = 2
	}
	got := map[string]int{}
	for _, r := range rep.Runs {
		got[r.Name]++
		if r.Bytes != rep.Bytes || r.Stored <= 0 || r.Ratio < 4 || r.Ratio > 9 || r.MBps <= 0 || r.CPUPerGiB <= 0 || r.PeakRSSMiB <= 0 {
			t.Errorf("run %+v", r)
		}
		if (strings.HasPrefix(r.Name, "agent") || strings.HasPrefix(r.Name, "Go zstd")) && cli == nil && (r.ThroughputVsCLI <= 0 || r.CPUVsCLI <= 0) {
			t.Errorf("agent run not compared with the CLI: %+v", r)
		}
		if strings.HasPrefix(r.Name, "pull") && cli == nil && r.SpeedupVsNaive <= 0 {
			t.Errorf("pull not compared with the naive way: %+v", r)
		}
	}
	for name, n := range want {
		if got[name] != n {
			t.Errorf("%d runs of %q, want %d (%v)", got[name], name, n, got)
		}
	}
	if len(rep.Medians) != len(want) {
		t.Errorf("medians: %+v", rep.Medians)
	}
}

// TestBenchRefusesNothingToMeasure: rounds, files or idle files below 1
// are usage errors (--rounds 0 generated the data and measured nothing).
func TestBenchRefusesNothingToMeasure(t *testing.T) {
	for _, args := range [][]string{{"--rounds", "0"}, {"--rounds", "-1"}, {"--files", "0"}, {"--idle", "--idle-files", "0"}} {
		_, stderr, code := runLogship(t, nil, append([]string{"bench", "--size", "1MiB"}, args...)...)
		if code != exitUsage || !strings.Contains(stderr, "must be at least 1") {
			t.Errorf("%v: exit %d\n%s", args, code, stderr)
		}
	}
}

// TestBenchSlowerThanNaive: a pull slower than the naive way says so.
func TestBenchSlowerThanNaive(t *testing.T) {
	f := figure{Name: "pull <- osstest", SpeedupVsNaive: 0.5}
	if l := f.line(); !strings.Contains(l, "2.00x slower than naive") {
		t.Error(l)
	}
	f.SpeedupVsNaive = 1.25
	if l := f.line(); !strings.Contains(l, "1.25x faster than naive") {
		t.Error(l)
	}
}

func TestBenchGenerate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	stdout, stderr, code := runLogship(t, nil, "bench", "--generate", dir, "--size", "1MiB", "--files", "2", "--seed", "9")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for i := range 2 {
		b, err := os.ReadFile(filepath.Join(dir, loggen.FileName(i)))
		if err != nil {
			t.Fatal(err)
		}
		want := make([]byte, len(b))
		loggen.New(9 + uint64(i)).Read(want)
		if len(b) < 512<<10 || string(b) != string(want) {
			t.Errorf("%s: %d bytes, not the log of seed %d", loggen.FileName(i), len(b), 9+i)
		}
	}
	if !strings.Contains(stdout, "2 files") {
		t.Errorf("stdout: %s", stdout)
	}
}

func TestBenchIdle(t *testing.T) {
	stdout, stderr, code := runLogship(t, nil, "bench", "--idle", "--idle-files", "5", "--idle-for", "1s", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var rep benchReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if rep.Idle == nil || rep.Idle.Files != 5 || rep.Idle.Seconds < 1 || rep.Idle.RSSMiB <= 0 || rep.Idle.CPUPercent < 0 {
		t.Fatalf("idle: %+v", rep.Idle)
	}
}
