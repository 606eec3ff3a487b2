package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A SIGKILL after a new file's first chunk is stored but before the next
// checkpoint save, then a JUL rotation (app.log.0 → app.log.1) while the
// agent is down: the restarted agent must continue the same stream, not
// ship the generation again under the new name. (checkpoint_interval is
// an hour: only the saves the pipeline owes a new stream happen.) This is
// how TestAgentSurvivesRotationAndKill9 once shipped a JUL generation as
// two streams (seed 1796541175993041913).
func TestNewStreamKilledThenRenamed(t *testing.T) {
	root := t.TempDir()
	logs, archiveDir := filepath.Join(root, "logs"), filepath.Join(root, "archive")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, root, fmt.Sprintf(`app: e2e
host: test-host
sources:
  - type: file
    paths: ["%s/app.log.*"]
    scan_interval: 50ms
pipeline:
  max_age: 100ms
  checkpoint_interval: 1h
  state_dir: %s/state
sink:
  type: dir
  path: %s
`, logs, root, archiveDir))
	first := []byte("GEN 1 begins\n")
	data := append(append([]byte(nil), first...), logLines("jul", 200)...)
	if err := os.WriteFile(filepath.Join(logs, "app.log.0"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, cfg, agentOpts{})
	a.waitFor(t, 20*time.Second, "the file archived", func() bool {
		got, _ := reassemble(t, archiveDir)
		return len(got) == 1 && len(got[firstKey(got)]) == len(data)
	})
	a.signal(t, syscall.SIGKILL)
	if err := os.Rename(filepath.Join(logs, "app.log.0"), filepath.Join(logs, "app.log.1")); err != nil {
		t.Fatal(err)
	}
	more := logLines("after", 50)
	f, err := os.OpenFile(filepath.Join(logs, "app.log.1"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(more)
	f.Close()
	data = append(data, more...)
	a = startAgent(t, cfg, agentOpts{})
	a.waitFor(t, 20*time.Second, "the rest archived", func() bool {
		got, _ := reassemble(t, archiveDir)
		n := 0
		for _, b := range got {
			n += len(b)
		}
		return n >= len(data)
	})
	if err := a.signal(t, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	got, _ := reassemble(t, archiveDir)
	if len(got) != 1 {
		var ids []string
		for id, b := range got {
			ids = append(ids, fmt.Sprintf("%s (%d bytes)", id, len(b)))
		}
		t.Fatalf("the generation was shipped as %d streams: %v\n%s", len(got), ids, tail(a.log.String(), 3000))
	}
	if b := got[firstKey(got)]; string(b) != string(data) {
		t.Fatalf("archived %d bytes, written %d; first difference at %d", len(b), len(data), firstDiff(b, data))
	}
}

func firstKey(m map[string][]byte) string {
	for k := range m {
		return k
	}
	return ""
}
