package main

// The helpers shared by the end-to-end tests: one agent subprocess type,
// the run-as-nobody setup, polling, the rotating writers and /proc reads.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/sinks"
	"github.com/logship/logship/internal/sinks/dir"
)

// syncBuffer is a bytes.Buffer safe for the process's writer goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// agentOpts are the ways an agent subprocess differs from the default.
type agentOpts struct {
	env  []string            // added to the test's environment
	cred *syscall.Credential // run as another user (nil: as the test)
	// log receives the agent's output; it may be shared by the successive
	// agents of a test (nil: a buffer of its own, whose tail is logged
	// when the test fails).
	log *syncBuffer
	// stdout, when set, receives the process's stdout apart from log.
	stdout io.Writer
	dir    string // working folder ("": the test's)
}

// nobody is the credential of the run-as-another-user tests.
var nobody = &syscall.Credential{Uid: 65534, Gid: 65534}

// agentProc is `logship agent -c cfg` running as a subprocess.
type agentProc struct {
	cmd    *exec.Cmd
	log    *syncBuffer // stdout and stderr
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

// startAgent starts the agent; a cleanup kills it if the test leaves it
// running.
func startAgent(t testing.TB, cfg string, o agentOpts) *agentProc {
	t.Helper()
	return startLogship(t, o, "agent", "-c", cfg)
}

// startLogship starts the binary with args, as startAgent does.
func startLogship(t testing.TB, o agentOpts, args ...string) *agentProc {
	t.Helper()
	own := o.log == nil
	if own {
		o.log = &syncBuffer{}
	}
	a := &agentProc{cmd: exec.Command(binary, args...), log: o.log, exited: make(chan struct{})}
	a.cmd.Dir = o.dir
	if o.cred != nil {
		a.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: o.cred}
	}
	for _, kv := range os.Environ() {
		// Test switches, not config keys: the agent refuses unknown LOGSHIP_*.
		if !strings.HasPrefix(kv, "LOGSHIP_E2E_") && !strings.HasPrefix(kv, "LOGSHIP_BENCH_") && !strings.HasPrefix(kv, "LOGSHIP_TORTURE") {
			a.cmd.Env = append(a.cmd.Env, kv)
		}
	}
	a.cmd.Env = append(a.cmd.Env, o.env...)
	a.cmd.Stdout, a.cmd.Stderr = a.log, a.log
	if o.stdout != nil {
		a.cmd.Stdout = o.stdout
	}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.err = a.cmd.Wait(); close(a.exited) }()
	t.Cleanup(func() {
		select {
		case <-a.exited:
		default:
			a.cmd.Process.Kill()
			<-a.exited
		}
		if own && t.Failed() {
			t.Logf("agent log:\n%s", tail(a.log.String(), 6000))
		}
	})
	return a
}

// running reports whether the agent has not exited yet.
func (a *agentProc) running() bool {
	select {
	case <-a.exited:
		return false
	default:
		return true
	}
}

// alive fails the test when the agent exited on its own.
func (a *agentProc) alive(t testing.TB) {
	t.Helper()
	if !a.running() {
		t.Fatalf("agent exited unexpectedly: %v\n%s", a.err, tail(a.log.String(), 4000))
	}
}

func (a *agentProc) send(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := a.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// signal sends sig, waits for the agent to exit and returns how it ended.
func (a *agentProc) signal(t testing.TB, sig syscall.Signal) error {
	t.Helper()
	a.send(t, sig)
	<-a.exited
	return a.err
}

// stop sends sig and fails the test unless the agent exits within a minute.
func (a *agentProc) stop(t testing.TB, sig syscall.Signal) {
	t.Helper()
	a.send(t, sig)
	select {
	case <-a.exited:
	case <-time.After(60 * time.Second):
		t.Fatal("agent did not exit")
	}
}

// waitFor polls cond like waitUntil, failing early if the agent died.
func (a *agentProc) waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	waitUntil(t, d, what, func() bool {
		if cond() {
			return true
		}
		if !a.running() {
			t.Fatalf("agent exited while waiting for %s: %v\n%s", what, a.err, tail(a.log.String(), 4000))
		}
		return false
	})
}

// waitUntil polls cond every 20ms and fails the test after d.
func waitUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// prepareForUser lets an agent running as nobody reach its binary and
// root (where its config is), and creates dirs (its sources, state and
// archive) writable by anyone. It skips the test unless run as root.
func prepareForUser(t *testing.T, root string, dirs ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run the agent as another user")
	}
	for _, d := range []string{filepath.Dir(binary), filepath.Dir(root), root} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o777); err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, 0o777)
	}
}

// startRotWriters starts, under logs, one rotWriter per rotation style
// (logback, jul, copytruncate), each driven by run. The returned stop ends
// them and waits; it runs once, at the latest when the test ends.
func startRotWriters(t *testing.T, logs string, seed uint64, run func(*rotWriter, <-chan struct{})) ([]*rotWriter, func()) {
	t.Helper()
	var writers []*rotWriter
	for i, style := range []string{"logback", "jul", "copytruncate"} {
		d := filepath.Join(logs, style)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		writers = append(writers, &rotWriter{dir: d, style: style, rng: rand.New(rand.NewPCG(seed, uint64(i)))})
	}
	stopc := make(chan struct{})
	var wg sync.WaitGroup
	for _, w := range writers {
		wg.Add(1)
		go func() { defer wg.Done(); run(w, stopc) }()
	}
	stop := sync.OnceFunc(func() { close(stopc); wg.Wait() })
	t.Cleanup(stop)
	return writers, stop
}

// writtenGenerations maps the first line of every generation the writers
// finished to its bytes.
func writtenGenerations(writers []*rotWriter) map[string][]byte {
	want := map[string][]byte{}
	for _, w := range writers {
		for _, g := range w.gens {
			want[string(g[:bytes.IndexByte(g, '\n')+1])] = g
		}
	}
	return want
}

// saveLogOnFailure writes, if the test failed, buf to name in the temp
// folder and returns its path ("" otherwise).
func saveLogOnFailure(t *testing.T, buf *syncBuffer, name string) string {
	if !t.Failed() {
		return ""
	}
	p := filepath.Join(os.TempDir(), name)
	os.WriteFile(p, []byte(buf.String()), 0o644)
	return p
}

// rawChunk is a decoded chunk object.
type rawChunk struct {
	key string
	h   *archive.Header
	raw []byte
}

// dirChunks decodes every chunk of a dir-sink archive.
func dirChunks(t *testing.T, d *dir.Sink) []rawChunk {
	t.Helper()
	var out []rawChunk
	err := d.List(context.Background(), "", func(oi sinks.ObjectInfo) error {
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
		out = append(out, rawChunk{key: oi.Key, h: h, raw: raw})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// reassemble reads every chunk in a dir-sink folder and rebuilds each
// stream; it returns the contents by stream id and the plans.
func reassemble(t *testing.T, root string) (map[string][]byte, []archive.StreamPlan[rawChunk]) {
	t.Helper()
	d, err := dir.New(root)
	if err != nil {
		t.Fatal(err)
	}
	return assemble(t, dirChunks(t, d))
}

// assemble plans the streams of chunks and rebuilds each; it returns the
// contents by stream id and the plans.
func assemble(t *testing.T, chunks []rawChunk) (map[string][]byte, []archive.StreamPlan[rawChunk]) {
	t.Helper()
	plans := archive.Plan(chunks, func(c rawChunk) *archive.Header { return c.h })
	out := map[string][]byte{}
	for _, p := range plans {
		var b []byte
		for _, st := range p.Steps {
			part, err := p.Apply(st, st.Chunk.raw)
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, part...)
		}
		out[p.ID] = b
	}
	return out, plans
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
