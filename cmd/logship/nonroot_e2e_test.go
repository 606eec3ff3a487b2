package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logship/logship/internal/agent"
)

// An agent running as a user who cannot write /var/lib (nobody, as in a
// non-root container) and whose config names no state_dir keeps its
// checkpoints in ~/.local/state/logship, says so at start, and ships. One
// whose config names a state_dir it cannot create stops with a message
// that names the key and the fix. (The choice itself is unit-tested in
// internal/pipeline without needing root; this runs only as root.)
func TestNonRootStateDir(t *testing.T) {
	root := t.TempDir()
	logs, home, archiveDir := filepath.Join(root, "logs"), filepath.Join(root, "home"), filepath.Join(root, "archive")
	prepareForUser(t, root, logs, home, archiveDir)
	if err := os.WriteFile(filepath.Join(logs, "app.log"), []byte("hello from nobody\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`app: nonroot
host: h
sources:
  - type: file
    paths: ["%s/*.log"]
pipeline:
  max_age: 100ms
  checkpoint_interval: 100ms
sink:
  type: dir
  path: %s
`, logs, archiveDir)
	cfg := writeConfig(t, root, body)
	os.Chmod(cfg, 0o644)
	env := []string{"HOME=" + home, "XDG_STATE_HOME="}

	a := startAgent(t, cfg, agentOpts{cred: nobody, env: env})
	stateDir := filepath.Join(home, ".local", "state", "logship")
	a.waitFor(t, 20*time.Second, "the line shipped and the checkpoint saved in the home state folder", func() bool {
		got, _ := reassemble(t, archiveDir)
		shipped := false
		for _, data := range got {
			shipped = shipped || string(data) == "hello from nobody\n"
		}
		_, err := os.Stat(filepath.Join(stateDir, "checkpoints.json"))
		return shipped && err == nil
	})
	a.stop(t, syscall.SIGTERM)
	if log := a.log.String(); !strings.Contains(log, "state dir chosen") || !strings.Contains(log, stateDir) {
		t.Errorf("the start log does not say which state dir was chosen:\n%s", tail(log, 2000))
	}

	// A state_dir this user cannot create: the key, the cause and the fix.
	denied := filepath.Join("/var/lib", fmt.Sprintf("logship-e2e-%d", os.Getpid()))
	t.Cleanup(func() { os.RemoveAll(denied) })
	cfg = writeConfig(t, root, strings.Replace(body, "pipeline:\n", "pipeline:\n  state_dir: "+denied+"\n", 1))
	os.Chmod(cfg, 0o644)
	b := startAgent(t, cfg, agentOpts{cred: nobody, env: env})
	waitUntil(t, 20*time.Second, "the agent to stop", func() bool { return !b.running() })
	want := "pipeline.state_dir: mkdir " + denied + ": permission denied: set pipeline.state_dir"
	if log := b.log.String(); b.err == nil || !strings.Contains(log, want) {
		t.Errorf("agent with an unwritable state_dir: err %v, output:\n%s\nwant it to contain %q", b.err, log, want)
	}
}

// TestStatusUnreadable: a file the agent may not open and a folder it may
// not list are problems in logship status (exit 3), named with the cause,
// until the agent reads them again. (Runs only as root: the agent runs as
// nobody, for whom the permissions hold.)
func TestStatusUnreadable(t *testing.T) {
	root := t.TempDir()
	logs, state, archiveDir := filepath.Join(root, "logs"), filepath.Join(root, "state"), filepath.Join(root, "archive")
	prepareForUser(t, root, logs, state, archiveDir)
	secret, closed := filepath.Join(logs, "secret.log"), filepath.Join(logs, "closed")
	os.WriteFile(filepath.Join(logs, "app.log"), []byte("hello\n"), 0o644)
	os.WriteFile(secret, []byte("for root only\n"), 0o600)
	os.Mkdir(closed, 0o700)
	os.WriteFile(filepath.Join(closed, "x.log"), []byte("behind a closed door\n"), 0o644)
	cfg := writeConfig(t, root, fmt.Sprintf(`app: unreadable
host: h
sources:
  - type: file
    paths: ["%[1]s/*.log", "%[1]s/closed/*.log"]
    scan_interval: 100ms
pipeline:
  max_age: 100ms
  checkpoint_interval: 100ms
  state_dir: %[2]s
sink:
  type: dir
  path: %[3]s
`, logs, state, archiveDir))
	os.Chmod(cfg, 0o644)
	a := startAgent(t, cfg, agentOpts{cred: nobody})
	var r agent.Report
	var code int
	a.waitFor(t, 20*time.Second, "status to name the unreadable file and folder", func() bool {
		r, code = status(t, cfg, nil)
		all := strings.Join(r.Problems, "\n")
		return strings.Contains(all, secret+": cannot open file") && strings.Contains(all, closed+": cannot list folder")
	})
	if code != exitProblems || !strings.Contains(strings.Join(r.Problems, "\n"), "permission denied") {
		t.Fatalf("exit %d, problems %q", code, r.Problems)
	}
	os.Chmod(secret, 0o644)
	os.Chmod(closed, 0o755)
	a.waitFor(t, 20*time.Second, "the problems to clear once readable", func() bool {
		r, code = status(t, cfg, nil)
		return code == 0 && len(r.Problems) == 0
	})
	a.stop(t, syscall.SIGTERM)
}
