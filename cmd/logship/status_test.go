package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logship/logship/configs"
	"github.com/logship/logship/internal/agent"
	"github.com/logship/logship/internal/config"
)

// status runs `logship status --json` and decodes its report.
func status(t *testing.T, cfg string, env []string, args ...string) (agent.Report, int) {
	t.Helper()
	stdout, stderr, code := runLogship(t, env, append([]string{"status", "-c", cfg, "--json"}, args...)...)
	var r agent.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("status: %v (exit %d)\n%s\n%s", err, code, stdout, stderr)
	}
	return r, code
}

// TestStatus: while the agent runs, status reads its state (no lock
// fight) and says healthy once the file is archived; after it stopped,
// bytes written since show as lag, and lag older than --max-lag is exit 3.
func TestStatus(t *testing.T) {
	root := t.TempDir()
	logs := filepath.Join(root, "logs")
	os.MkdirAll(logs, 0o755)
	app := filepath.Join(logs, "app.log")
	line := "2026-11-26 08:00:00.000 INFO  [main] c.e.App - started\n"
	os.WriteFile(app, []byte(strings.Repeat(line, 100)), 0o644)
	cfg := writeConfig(t, root, fmt.Sprintf("app: st\nhost: h\nsources:\n  - type: file\n    paths: [%q]\n    scan_interval: 50ms\npipeline:\n  max_age: 100ms\n  checkpoint_interval: 100ms\n  state_dir: %s/state\nsink:\n  type: dir\n  path: %s/archive\n", filepath.Join(logs, "*.log"), root, root))

	if r, code := status(t, cfg, nil); code != exitProblems || len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "no checkpoint") {
		t.Fatalf("before any run: exit %d, %+v", code, r)
	}
	a := startAgent(t, cfg, agentOpts{})
	size := int64(100 * len(line))
	var r agent.Report
	var code int
	a.waitFor(t, 20*time.Second, "status to show the file archived", func() bool {
		r, code = status(t, cfg, nil)
		// The status file is written after the checkpoint, in the same
		// tick: wait for both.
		return len(r.Streams) == 1 && r.Streams[0].Archived == size && !r.Status.LastUpload.IsZero()
	})
	s := r.Streams[0]
	if code != 0 || !r.Running || r.Status.PID != a.cmd.Process.Pid || !s.Found || s.Size != size || s.LagBytes != 0 || s.Path != app ||
		!strings.Contains(s.Identity, "gen 0") || r.Status.LastUpload.IsZero() || r.Status.LastError != nil {
		t.Fatalf("while running: exit %d, %+v", code, r)
	}
	a.stop(t, syscall.SIGTERM)

	// Stopped: 3 more lines are lag.
	f, _ := os.OpenFile(app, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(strings.Repeat(line, 3))
	f.Close()
	r, code = status(t, cfg, nil)
	s = r.Streams[0]
	if code != 0 || r.Running || s.LagBytes != int64(3*len(line)) || s.Archived != size || s.LagSeconds < 0 {
		t.Fatalf("stopped, 3 lines written: exit %d, %+v", code, r)
	}
	r, code = status(t, cfg, nil, "--max-lag", "1ms")
	if code != exitProblems || len(r.Problems) != 1 || !strings.Contains(r.Problems[0], fmt.Sprintf("%d bytes waiting", 3*len(line))) {
		t.Fatalf("lag beyond --max-lag: exit %d, %+v", code, r)
	}
	text, _, _ := runLogship(t, nil, "status", "-c", cfg)
	for _, want := range []string{"not running", app, fmt.Sprintf("archived %d of %d  lag %d bytes", size, size+int64(3*len(line)), 3*len(line))} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
}

// TestStatusFailing: an agent whose uploads are refused reports the error
// in its status file; status exits 3 and names it.
func TestStatusFailing(t *testing.T) {
	srv := e2eServer(t)
	root := t.TempDir()
	logs := filepath.Join(root, "logs")
	os.MkdirAll(logs, 0o755)
	os.WriteFile(filepath.Join(logs, "app.log"), []byte("one line\n"), 0o644)
	cfg := writeConfig(t, root, fmt.Sprintf("app: st\nhost: h\nsources:\n  - type: file\n    paths: [%q]\n    scan_interval: 50ms\npipeline:\n  max_age: 100ms\n  checkpoint_interval: 100ms\n  state_dir: %s/state\nsink:\n  type: oss\n  bucket: %s\n  region: cn-hangzhou\n  endpoint: %s\n  prefix: logs/\nshutdown_timeout: 1s\n",
		filepath.Join(logs, "*.log"), root, e2eBucket, srv.Endpoint()))
	env := []string{"OSS_ACCESS_KEY_ID=" + e2eAK, "OSS_ACCESS_KEY_SECRET=wrong-secret", "HOME=" + root}
	a := startAgent(t, cfg, agentOpts{env: env})
	var r agent.Report
	var code int
	a.waitFor(t, 20*time.Second, "status to report the refusal", func() bool {
		r, code = status(t, cfg, env)
		return r.Status.LastError != nil
	})
	if code != exitProblems || !r.Running || r.Status.Failures < 1 || !strings.Contains(r.Status.LastError.Error, "SignatureDoesNotMatch") ||
		len(r.Problems) == 0 || !strings.Contains(strings.Join(r.Problems, "\n"), "last upload failed") {
		t.Fatalf("exit %d, %+v", code, r)
	}
	if strings.Contains(fmt.Sprint(r), "wrong-secret") {
		t.Fatal("the secret is in the status")
	}
}

// TestStatusArtifactParts: while a heap dump is uploaded in parts, status
// shows how many parts are stored; once it is complete, done.
func TestStatusArtifactParts(t *testing.T) {
	root := t.TempDir()
	dumps := filepath.Join(root, "dumps")
	os.MkdirAll(dumps, 0o755)
	const size = 24 << 20 // 3 parts of 8 MiB, read at 6 MiB/s
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i * 7 / 5)
	}
	os.WriteFile(filepath.Join(dumps, "java_pid42.hprof"), b, 0o644)
	cfg := writeConfig(t, root, fmt.Sprintf("app: st\nhost: h\nsources:\n  - type: crash\n    paths: [%q]\n    settle: 200ms\n    rate_limit: 6MiB\npipeline:\n  checkpoint_interval: 100ms\n  state_dir: %s/state\nsink:\n  type: dir\n  path: %s/archive\n",
		filepath.Join(dumps, "*.hprof"), root, root))
	a := startAgent(t, cfg, agentOpts{})
	var r agent.Report
	a.waitFor(t, 30*time.Second, "status to show a part of 3 stored", func() bool {
		r, _ = status(t, cfg, nil)
		return len(r.Artifacts) == 1 && r.Artifacts[0].State == "uploading" && r.Artifacts[0].PartsDone > 0
	})
	if got := r.Artifacts[0]; got.Parts != 3 || got.PartsDone >= 3 || got.Size != size {
		t.Fatalf("uploading: %+v", got)
	}
	text, _, _ := runLogship(t, nil, "status", "-c", cfg)
	if !strings.Contains(text, "of 3 parts (24.0 MiB)") {
		t.Errorf("text lacks the parts:\n%s", text)
	}
	a.waitFor(t, 30*time.Second, "status to show the dump done", func() bool {
		r, _ = status(t, cfg, nil)
		return len(r.Artifacts) == 1 && r.Artifacts[0].State == "done"
	})
	if got := r.Artifacts[0]; got.Size != size || got.Parts != 0 {
		t.Fatalf("done: %+v", got)
	}
	a.stop(t, syscall.SIGTERM)
}

// TestStatusOfRun: the state of `logship run -- CMD` without a config is
// found without one (it lies where configs/run.yaml says, not where the
// default config says), and its output and event streams are shown as
// streams, not as files gone from their paths.
func TestStatusOfRun(t *testing.T) {
	root := t.TempDir()
	state := filepath.Join(root, "state")
	env := []string{"LOGSHIP_PIPELINE_STATE_DIR=" + state}
	p := startLogship(t, agentOpts{env: env, dir: root}, "run", "--", "sh", "-c", "echo hello; echo oops >&2")
	if code := runExit(t, p, time.Minute); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, p.log.String())
	}
	stdout, stderr, code := runLogship(t, env, "status")
	if code != 0 || strings.Contains(stdout, "not at its path") ||
		!regexp.MustCompile(`(?m)^stdout stdout +archived 6 bytes`).MatchString(stdout) ||
		!regexp.MustCompile(`(?m)^event +events.jsonl +archived [1-9][0-9]* bytes`).MatchString(stdout) {
		t.Fatalf("status: exit %d\n%s\n%s", code, stdout, stderr)
	}

	// Without a config named, the default's empty state folder gives way
	// to run's.
	resolve := func(def []byte, dir string) *config.Config {
		c, err := config.ResolveDefault("", def, nil, []string{"pipeline.state_dir=" + dir})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	def, run := resolve(configs.Default(), filepath.Join(root, "none")), resolve(configs.Run(), state)
	if r, err := statusOf(def, run, time.Now(), time.Minute); err != nil || r.StateDir != state || len(r.Streams) < 3 || len(r.Problems) != 0 {
		t.Fatalf("default state empty, run's default given: %v %+v", err, r)
	}
	if r, err := statusOf(def, nil, time.Now(), time.Minute); err != nil || r.StateDir == state || len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "no checkpoint") {
		t.Fatalf("a config named (no fallback): %v %+v", err, r)
	}
}
