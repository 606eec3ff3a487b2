package main

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runAgent is callable without cobra: it ships a line into a dir sink and
// returns nil when its context ends.
func TestRunAgent(t *testing.T) {
	dir := t.TempDir()
	logs, arch := filepath.Join(dir, "logs"), filepath.Join(dir, "archive")
	os.MkdirAll(logs, 0o755)
	os.WriteFile(filepath.Join(logs, "app.log"), []byte("hello\n"), 0o644)
	cfg := writeConfig(t, dir, "app: demo\nsources:\n  - type: file\n    paths: [\""+logs+"/*.log\"]\n    read_from: beginning\npipeline:\n  max_age: 100ms\n  state_dir: "+
		filepath.Join(dir, "state")+"\nsink:\n  type: dir\n  path: "+arch+"\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logw syncBuffer
	done := make(chan error, 1)
	go func() { done <- runAgent(ctx, &agentOptions{cf: configFlags{path: cfg}, logw: &logw}) }()
	defer func() {
		if t.Failed() {
			t.Log(logw.String())
		}
	}()
	waitUntil(t, 30*time.Second, "a chunk in the archive", func() bool {
		select {
		case err := <-done:
			t.Fatalf("runAgent returned early: %v", err)
		default:
		}
		found := false
		filepath.WalkDir(arch, func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".log.zst") {
				found = true
			}
			return nil
		})
		return found
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("runAgent: %v\n%s", err, logw.String())
	}
	if !bytes.Contains([]byte(logw.String()), []byte("agent stopped")) {
		t.Fatalf("log:\n%s", logw.String())
	}
}
