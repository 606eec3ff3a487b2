package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// quickstartBlocks returns the shell blocks of the README's Quickstart
// section, one slice of command lines a block (comment-only and blank lines
// dropped).
func quickstartBlocks(t *testing.T) [][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	start := strings.Index(s, "\n## Quickstart\n")
	if start < 0 {
		t.Fatal("README has no Quickstart section")
	}
	s = s[start+1:]
	if end := strings.Index(s[3:], "\n## "); end >= 0 {
		s = s[:end+3]
	}
	var blocks [][]string
	for {
		i := strings.Index(s, "```sh\n")
		if i < 0 {
			break
		}
		s = s[i+len("```sh\n"):]
		j := strings.Index(s, "```")
		if j < 0 {
			t.Fatal("README Quickstart: unclosed code block")
		}
		var lines []string
		for _, l := range strings.Split(s[:j], "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
		blocks = append(blocks, lines)
		s = s[j+3:]
	}
	return blocks
}

// TestReadmeQuickstart runs the README's quickstart as written, in an empty
// folder, with `go run ./cmd/logship` standing for the binary built from
// this tree: it must need nothing but the binary (no file from outside the
// clone), and what comes back through pull must be byte-identical.
func TestReadmeQuickstart(t *testing.T) {
	if _, err := exec.LookPath("zstd"); err != nil {
		t.Skip("the quickstart uses the zstd CLI: not installed")
	}
	blocks := quickstartBlocks(t)
	if len(blocks) != 2 {
		t.Fatalf("README Quickstart: want 2 shell blocks (the two set-up commands, then the demo), got %d", len(blocks))
	}
	const goRun = "go run ./cmd/logship"
	setup := blocks[0]
	if len(setup) != 2 || setup[0] != goRun+" agent" {
		t.Fatalf("README Quickstart: the first block must be the two commands (agent, tests), got %q", setup)
	}
	// The second command is the test command CI runs: .ci/run must exist
	// and run the go test command the README names.
	if setup[1] != "bash .ci/run" {
		t.Fatalf("README Quickstart: the test command is %q, want bash .ci/run", setup[1])
	}
	ci, err := os.ReadFile(filepath.Join("..", "..", ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ci), "go vet ./... && go test -race -timeout 25m ./...") {
		t.Fatal(".ci/run does not run the test command the README names")
	}

	dir := t.TempDir()
	agent := exec.Command(binary, strings.Fields(strings.TrimPrefix(setup[0], goRun))...)
	agent.Dir = dir
	agent.Env = append(cleanEnv(), "PWD="+dir)
	var log syncBuffer
	agent.Stdout, agent.Stderr = &log, &log
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{}) // closed once waitErr is set
	var waitErr error
	go func() { waitErr = agent.Wait(); close(exited) }()
	defer func() {
		select {
		case <-exited:
		default:
			agent.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("agent log:\n%s", tail(log.String(), 4000))
		}
	}()

	sh := func(script string) (string, error) {
		c := exec.Command("bash", "-c", strings.ReplaceAll(script, goRun, binary))
		c.Dir = dir
		c.Env = append(cleanEnv(), "PWD="+dir)
		out, err := c.CombinedOutput()
		return string(out), err
	}
	// Lines that write the demo's logs run once (running them again would
	// rewrite the files); the rest is what a user would repeat on a slow
	// machine: it must succeed within the deadline.
	var rest []string
	for _, l := range blocks[1] {
		if strings.Contains(l, "--generate") {
			if out, err := sh(l); err != nil {
				t.Fatalf("%s: %v\n%s", l, err, out)
			}
			continue
		}
		rest = append(rest, l)
	}
	if len(rest) == len(blocks[1]) {
		t.Fatal("README Quickstart: no line generates the demo logs")
	}
	script := strings.Join(rest, "\n")
	var out string
	deadline := time.Now().Add(90 * time.Second)
	for {
		out, err = sh(script)
		if err == nil && strings.Contains(out, "byte-identical") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the quickstart's demo did not end in byte-identical files: %v\n%s", err, tail(out, 3000))
		}
	}
	if err := agent.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("the agent did not stop cleanly on Ctrl-C: %v", waitErr)
		}
	case <-time.After(30 * time.Second):
		agent.Process.Signal(syscall.SIGQUIT) // its goroutines, into the log below
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
		t.Fatalf("the agent did not stop within 30s of Ctrl-C; its log:\n%s", tail(log.String(), 20000))
	}
}

// cleanEnv is the test's environment without the test switches the agent
// would refuse as unknown LOGSHIP_* keys.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LOGSHIP_") {
			env = append(env, kv)
		}
	}
	return env
}
