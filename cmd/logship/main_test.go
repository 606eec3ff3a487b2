package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// binary is the logship binary built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	if mode := os.Getenv("E2E_RUN_CHILD"); mode != "" {
		os.Exit(runChild(mode)) // the test binary as a child of logship run
	}
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

func writeConfig(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "logship.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
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
