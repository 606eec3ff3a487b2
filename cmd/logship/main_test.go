package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/sinks"
	"github.com/logship/logship/sinks/dir"
)

// binary is the logship binary built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "logship-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(tmp, "logship")
	args := []string{"build", "-o", binary}
	if os.Getenv("E2E_RACE") != "" {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building logship: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// runLogship runs the binary to completion and returns stdout, stderr and
// the exit code.
func runLogship(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// reassemble reads every chunk in a dir-sink folder and rebuilds each
// stream; it returns the contents by stream id and the plans.
func reassemble(t *testing.T, root string) (map[string][]byte, []archive.StreamPlan) {
	t.Helper()
	d, err := dir.New(root)
	if err != nil {
		t.Fatal(err)
	}
	var refs []archive.ChunkRef
	raws := map[string][]byte{}
	err = d.List(context.Background(), "", func(oi sinks.ObjectInfo) error {
		rc, _, err := d.Get(context.Background(), oi.Key)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
		h, raw, err := archive.Decode(b, archive.Limits{})
		if err != nil {
			return fmt.Errorf("%s: %w", oi.Key, err)
		}
		raws[oi.Key] = raw
		refs = append(refs, archive.ChunkRef{Header: h, Ref: oi.Key})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	plans := archive.Plan(refs)
	out := map[string][]byte{}
	for _, p := range plans {
		var b []byte
		for _, st := range p.Steps {
			part, err := st.Apply(raws[st.Chunk.Ref.(string)])
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, part...)
		}
		out[p.Stream] = b
	}
	return out, plans
}

func writeConfig(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "logship.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestValidateMisspeltKey(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "app: demo\nsources:\n  - type: file\n    paths: [\"/tmp/x/*.log\"]\n    red_from: end\npipeline:\n  max_age: 30\nsink:\n  type: dir\n  path: "+dir+"\n")
	_, stderr, code := runLogship(t, nil, "validate", "-c", cfg)
	if code != exitUsage {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitUsage, stderr)
	}
	for _, want := range []string{"logship.yaml:5:", "red_from", "did you mean read_from", "logship.yaml:7:", "write 30s"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}
