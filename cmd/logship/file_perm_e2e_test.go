package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A log file the agent cannot read (root-owned, 0600, the agent running as
// nobody) gives a clear error and is retried while the other files keep
// flowing; once readable, it is shipped whole. A file replaced by a folder
// does not stop the agent either.
func TestFileUnreadableAndReplacedByFolder(t *testing.T) {
	root := t.TempDir()
	logs := filepath.Join(root, "logs")
	prepareForUser(t, root, logs, filepath.Join(root, "state"), filepath.Join(root, "archive"))
	secret := filepath.Join(logs, "secret.log")
	secretData := []byte("root only line 1\nroot only line 2 \x00\xff\n")
	if err := os.WriteFile(secret, secretData, 0o600); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(logs, "open.log")
	if err := os.WriteFile(open, []byte("readable line 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	doomed := filepath.Join(logs, "doomed.log")
	if err := os.WriteFile(doomed, []byte("before it became a folder\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, root, fmt.Sprintf(`app: perm
host: h
sources:
  - type: file
    paths: ["%s/*.log"]
    scan_interval: 50ms
    partial_line_after: 200ms
pipeline:
  max_age: 100ms
  checkpoint_interval: 100ms
  state_dir: %s/state
sink:
  type: dir
  path: %s/archive
`, logs, root, root))
	os.Chmod(cfg, 0o644)

	a := startAgent(t, cfg, agentOpts{cred: nobody})

	archiveDir := filepath.Join(root, "archive")
	byPath := func() map[string][]byte {
		out := map[string][]byte{}
		got, plans := reassemble(t, archiveDir)
		for _, p := range plans {
			out[filepath.Base(p.Path)] = append(out[filepath.Base(p.Path)], got[p.ID]...)
		}
		return out
	}
	a.waitFor(t, 20*time.Second, "the readable files archived and the error logged", func() bool {
		got := byPath()
		return string(got["open.log"]) == "readable line 1\n" && len(got["doomed.log"]) > 0 &&
			strings.Contains(a.log.String(), secret)
	})
	// The file becomes a folder; the others keep flowing.
	if err := os.Remove(doomed); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(doomed, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(open, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("readable line 2\n")
	f.Close()
	a.waitFor(t, 20*time.Second, "more lines after the folder appeared", func() bool {
		return string(byPath()["open.log"]) == "readable line 1\nreadable line 2\n"
	})
	if got := byPath()["secret.log"]; len(got) != 0 {
		t.Fatalf("unreadable file shipped %q", got)
	}
	// Readable now: shipped whole.
	if err := os.Chmod(secret, 0o644); err != nil {
		t.Fatal(err)
	}
	a.waitFor(t, 20*time.Second, "the file archived once readable", func() bool {
		return bytes.Equal(byPath()["secret.log"], secretData)
	})
	if err := a.signal(t, syscall.SIGTERM); err != nil {
		t.Fatalf("agent exit: %v\n%s", err, a.log.String())
	}
	log := a.log.String()
	var errLines []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, secret) && strings.Contains(line, "level=ERROR") {
			errLines = append(errLines, line)
		}
	}
	if len(errLines) != 1 || !strings.Contains(errLines[0], "permission denied") {
		t.Fatalf("want one clear error for the unreadable file, got %d:\n%s", len(errLines), strings.Join(errLines, "\n"))
	}
	t.Logf("the error: %s", errLines[0])
	if got := byPath()["doomed.log"]; string(got) != "before it became a folder\n" {
		t.Fatalf("doomed.log archived as %q", got)
	}
}
