package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/logship/logship/archive"
)

// field returns the value after "name:" on the first such line of out.
func field(t *testing.T, out, name string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %q line in:\n%s", name, out)
	return ""
}

// untar decompresses a bundle with the zstd library and lists its files.
func untar(t *testing.T, b []byte) ([]string, map[string][]byte) {
	t.Helper()
	zr, err := zstd.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	var names []string
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names, files
		}
		if err != nil {
			t.Fatalf("bundle: %v", err)
		}
		data, _ := io.ReadAll(tr)
		names = append(names, h.Name)
		files[h.Name] = data
	}
}

// runPullLine runs the pull command the snapshot printed, into out.
func runPullLine(t *testing.T, env []string, line, out string) {
	t.Helper()
	args := strings.Fields(strings.ReplaceAll(line, "'", ""))
	if args[0] != "logship" || args[len(args)-2] != "--out" {
		t.Fatalf("pull line %q", line)
	}
	args[len(args)-1] = out
	if _, stderr, code := runLogship(t, env, args[1:]...); code != 0 {
		t.Fatalf("%s: exit %d\n%s", line, code, stderr)
	}
}

// TestSnapshotRoundTrip: `logship snapshot` streams the bundle into the
// dir sink and into OSS (osstest); the pull line it prints brings back the
// exact bundle: the same bytes the stored object holds (read through the
// printed file or presigned URL with a plain GET), a valid tar.zst whose
// manifest comes first and whose log tail is the log's bytes.
func TestSnapshotRoundTrip(t *testing.T) {
	for _, kind := range []string{"dir", "oss"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			logs := filepath.Join(dir, "logs")
			os.MkdirAll(logs, 0o755)
			logData := bytes.Repeat([]byte("2026-12-06 10:00:00 INFO order 42 shipped\n"), 5000)
			os.WriteFile(filepath.Join(logs, "app.log"), logData, 0o644)
			sink := fmt.Sprintf("sink:\n  type: dir\n  path: %s\n  prefix: logs/\n", filepath.Join(dir, "archive"))
			var env []string
			if kind == "oss" {
				srv := e2eServer(t)
				sink = fmt.Sprintf("sink:\n  type: oss\n  bucket: %s\n  region: cn-hangzhou\n  endpoint: %s\n  prefix: logs/\n", e2eBucket, srv.Endpoint())
				env = ossEnv(t)
			}
			cfg := writeConfig(t, dir, fmt.Sprintf("app: shop\nhost: box1\nsources:\n  - type: file\n    paths: [%q]\n%spipeline:\n  state_dir: %s\n",
				filepath.Join(logs, "*.log"), sink, filepath.Join(dir, "state")))
			stdout, stderr, code := runLogship(t, env, "snapshot", "-c", cfg, "--note", "slow checkout", "--timeout", "30s")
			if code != 0 {
				t.Fatalf("snapshot: exit %d\n%s\n%s", code, stdout, stderr)
			}
			name := strings.Fields(field(t, stdout, "bundle"))[0]
			key := field(t, stdout, "key")
			if !strings.HasPrefix(key, "logs/app=shop/") || !strings.Contains(key, "/host=box1/source=snapshot/") {
				t.Fatalf("key %q", key)
			}

			// The stored object, fetched as a user without logship would.
			var obj []byte
			if kind == "dir" {
				var err error
				if obj, err = os.ReadFile(strings.Fields(field(t, stdout, "file"))[0]); err != nil {
					t.Fatal(err)
				}
			} else {
				url := field(t, stdout, "url")
				resp, err := http.Get(url)
				if err != nil {
					t.Fatal(err)
				}
				obj, _ = io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("presigned GET: %s\n%s", resp.Status, obj)
				}
				// The signature is checked: a changed one is refused.
				bad := strings.Replace(url, "x-oss-signature=", "x-oss-signature=0", 1)
				if resp, err := http.Get(bad); err != nil || resp.StatusCode != 403 {
					t.Fatalf("tampered URL: %v %v", resp, err)
				} else {
					resp.Body.Close()
				}
			}
			h, raw, err := archive.Decode(obj, archive.Limits{})
			if err != nil {
				t.Fatalf("stored object: %v", err)
			}
			if h.Source != archive.KindSnapshot || h.Path != name || h.Event != archive.EventSnapshot || h.Extra["trigger"] != "manual" || h.Extra["note"] != "slow checkout" {
				t.Errorf("header %+v", h)
			}

			out := filepath.Join(dir, "pulled")
			runPullLine(t, env, field(t, stdout, "pull"), out)
			pulled, err := os.ReadFile(filepath.Join(out, "shop", "box1", "snapshot", name))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pulled, raw) {
				t.Fatalf("pulled bundle (%d bytes) differs from the stored one (%d bytes)", len(pulled), len(raw))
			}
			names, files := untar(t, pulled)
			if names[0] != "manifest.json" || !bytes.Contains(files["manifest.json"], []byte(`"note": "slow checkout"`)) {
				t.Fatalf("bundle files %v", names)
			}
			if !bytes.Equal(files["logs"+filepath.Join(logs, "app.log")], logData) {
				t.Errorf("log tail in the bundle differs from the log")
			}
			if kind == "oss" && !bytes.Contains(files["probes.txt"], []byte("== probe oss-endpoint")) {
				t.Errorf("the OSS endpoint was not probed:\n%s", files["probes.txt"])
			}
		})
	}
}

// TestSnapshotOut: --out - writes the bundle to stdout, and stock
// `zstd -d | tar -x` opens it.
func TestSnapshotOut(t *testing.T) {
	if _, err := exec.LookPath("zstd"); err != nil {
		t.Skip("no zstd CLI")
	}
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf("app: shop\nsources:\n  - type: file\n    paths: [%q]\nsink:\n  type: dir\n  path: %s\n",
		filepath.Join(dir, "*.log"), filepath.Join(dir, "archive")))
	stdout, stderr, code := runLogship(t, nil, "snapshot", "-c", cfg, "--out", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	ex := filepath.Join(dir, "x")
	os.MkdirAll(ex, 0o755)
	cmd := exec.Command("sh", "-c", "zstd -dc | tar -x -C "+ex)
	cmd.Stdin = strings.NewReader(stdout)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("zstd -d | tar -x: %v\n%s", err, out)
	}
	for _, f := range []string{"manifest.json", "ps.txt", "mounts.txt"} {
		if _, err := os.Stat(filepath.Join(ex, f)); err != nil {
			t.Error(err)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "archive")); len(entries) > 0 {
		t.Error("--out uploaded too")
	}
}

// TestSnapshotMemory: a snapshot of a 200 MB log folder, every byte of it
// in the bundle (--log-tail above the file sizes), stays under 64 MiB of
// peak RSS (the child's getrusage maxrss), and stock zstd and tar open
// the bundle to the logs' exact bytes.
func TestSnapshotMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 200 MB")
	}
	if _, err := exec.LookPath("zstd"); err != nil {
		t.Skip("no zstd CLI")
	}
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	const files, size = 20, 10 << 20
	rng := uint64(88172645463325252)
	line := make([]byte, 0, 200)
	for i := range files {
		f, err := os.Create(filepath.Join(logs, fmt.Sprintf("app-%02d.log", i)))
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		for n := 0; n < size; {
			rng ^= rng << 13
			rng ^= rng >> 7
			rng ^= rng << 17
			line = fmt.Appendf(line[:0], "2026-12-06T10:%02d:%02d.%03dZ INFO [worker-%d] order=%d user=%x took %dms\n",
				rng%60, (rng>>8)%60, (rng>>16)%1000, (rng>>24)%32, rng>>20, rng, (rng>>40)%5000)
			w.Write(line)
			n += len(line)
		}
		w.Flush()
		f.Close()
	}
	cfg := writeConfig(t, dir, fmt.Sprintf("app: shop\nsources:\n  - type: file\n    paths: [%q]\nsink:\n  type: dir\n  path: %s\n",
		filepath.Join(logs, "*.log"), filepath.Join(dir, "archive")))
	bundle := filepath.Join(dir, "bundle.tar.zst")
	cmd := exec.Command(binary, "snapshot", "-c", cfg, "--out", bundle, "--log-tail", "1GiB", "--timeout", "5m", "--jcmd", "none")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The peak is the process's own VmHWM, polled until it exits (its
	// getrusage maxrss would count this test's memory: Go starts children
	// with vfork, which shares the parent's pages until exec).
	var peak int64
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	for polling := true; polling; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("snapshot: %v\n%s", err, stderr.String())
			}
			polling = false
		case <-time.After(5 * time.Millisecond):
			if hwm := vmHWM(status); hwm > peak {
				peak = hwm
			}
		}
	}
	t.Logf("peak RSS (VmHWM) %.1f MiB for 200 MB of logs", float64(peak)/(1<<20))
	if peak == 0 || peak >= 64<<20 {
		t.Errorf("peak RSS %d bytes, limit 64 MiB", peak)
	}
	ex := filepath.Join(dir, "x")
	os.MkdirAll(ex, 0o755)
	if out, err := exec.Command("sh", "-c", "zstd -dc "+bundle+" | tar -x -C "+ex).CombinedOutput(); err != nil {
		t.Fatalf("zstd -d | tar -x: %v\n%s", err, out)
	}
	for _, i := range []int{0, files - 1} {
		name := filepath.Join(logs, fmt.Sprintf("app-%02d.log", i))
		want, _ := os.ReadFile(name)
		got, err := os.ReadFile(filepath.Join(ex, "logs", name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes in the bundle, %d in the log (%v)", name, len(got), len(want), err)
		}
	}
}

// TestAgentSnapshotOnJVMCrash: the agent, on its defaults, takes a
// snapshot when its crash source ships an hs_err file; the snapshot's
// header names the trigger and the crash object's key, and ls shows the
// crash file and the snapshot side by side.
func TestAgentSnapshotOnJVMCrash(t *testing.T) {
	hsErr, err := os.ReadFile(filepath.Join("..", "..", "internal", "sources", "crash", "testdata", "hs_err_sigsegv.log"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	crashDir, archiveDir := filepath.Join(dir, "crash"), filepath.Join(dir, "archive")
	os.MkdirAll(crashDir, 0o755)
	cfg := writeConfig(t, dir, fmt.Sprintf(`app: shop
host: web-1
sources:
  - type: crash
    paths: [%q]
    settle: 200ms
sink:
  type: dir
  path: %s
pipeline:
  state_dir: %s
`, filepath.Join(crashDir, "hs_err_pid*.log"), archiveDir, filepath.Join(dir, "state")))
	a := startAgent(t, cfg, agentOpts{})
	if err := os.WriteFile(filepath.Join(crashDir, "hs_err_pid4242.log"), hsErr, 0o644); err != nil {
		t.Fatal(err)
	}
	objects := func(source string) []string {
		m, _ := filepath.Glob(filepath.Join(archiveDir, "app=shop", "*", "*", "host=web-1", "source="+source, "*", "*.zst"))
		return m
	}
	a.waitFor(t, 60*time.Second, "a crash file and a snapshot", func() bool { return len(objects("crash")) == 1 && len(objects("snapshot")) == 1 })
	a.stop(t, syscall.SIGTERM)

	crashKey, _ := filepath.Rel(archiveDir, objects("crash")[0])
	b, _ := os.ReadFile(objects("snapshot")[0])
	h, raw, err := archive.Decode(b, archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if h.Event != archive.EventSnapshot || h.Extra["trigger"] != "jvm_crash" || h.Extra["event_key"] != filepath.ToSlash(crashKey) {
		t.Errorf("snapshot header %+v, crash key %s", h, crashKey)
	}
	names, files := untar(t, raw)
	if names[0] != "manifest.json" || !bytes.Contains(files["manifest.json"], []byte(`"trigger": "jvm_crash"`)) {
		t.Errorf("bundle %v", names)
	}
	if !bytes.Contains(files["crash"+filepath.Join(crashDir, "hs_err_pid4242.log")], []byte("SIGSEGV")) {
		t.Errorf("the hs_err file is not in the snapshot: %v", names)
	}
	stdout, stderr, code := runLogship(t, nil, "ls", "--from", archiveDir)
	if code != 0 || !strings.Contains(stdout, "[jvm_crash]") || !strings.Contains(stdout, "[snapshot]") {
		t.Errorf("ls: exit %d\n%s%s", code, stdout, stderr)
	}
}

// vmHWM reads a process's peak resident set size from /proc/PID/status;
// 0 when it cannot.
func vmHWM(status string) int64 {
	b, err := os.ReadFile(status)
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}
