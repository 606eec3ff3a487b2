package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// rotWriter appends known lines to one log file and rotates it in one of
// three styles, recording the exact bytes of every file generation.
type rotWriter struct {
	dir, style string
	rng        *rand.Rand

	mu   sync.Mutex
	gens [][]byte // finished generations
	cur  *bytes.Buffer
	f    *os.File
	n    int // generation counter
	line int
	rot  int
}

func (w *rotWriter) path(i int) string {
	switch w.style {
	case "jul":
		return filepath.Join(w.dir, fmt.Sprintf("app.%d.log", i))
	default:
		if i == 0 {
			return filepath.Join(w.dir, "app.log")
		}
		return filepath.Join(w.dir, fmt.Sprintf("app.log.%d", i))
	}
}

func (w *rotWriter) open() {
	f, err := os.OpenFile(w.path(0), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		panic(err)
	}
	w.f = f
	w.cur = &bytes.Buffer{}
	w.n++
	w.write(fmt.Sprintf("GEN %s %d %d begins\n", w.style, w.n, time.Now().UnixNano()))
}

func (w *rotWriter) write(s string) {
	if _, err := w.f.WriteString(s); err != nil {
		panic(err)
	}
	w.cur.WriteString(s)
}

// step writes a burst of lines; some carry NUL and invalid UTF-8.
func (w *rotWriter) step() {
	for i := 0; i < 1+w.rng.IntN(20); i++ {
		w.line++
		pad := strings.Repeat("x", w.rng.IntN(200))
		extra := ""
		if w.line%97 == 0 {
			extra = " \x00\xff\xfe"
		}
		w.write(fmt.Sprintf("%s %s line %d gen %d %s%s\n", time.Now().Format("2006-01-02 15:04:05.000"), w.style, w.line, w.n, pad, extra))
	}
}

func (w *rotWriter) rotate() {
	w.rot++
	switch w.style {
	case "logback": // rename to a new name; the app writes a little more to the old fd
		if err := os.Rename(w.path(0), w.path(w.rot)); err != nil {
			panic(err)
		}
		w.step()
		w.f.Close()
		w.gens = append(w.gens, w.cur.Bytes())
		w.open()
	case "jul": // app.(n).log -> app.(n+1).log, ..., app.0.log -> app.1.log
		for i := w.rot; i >= 0; i-- {
			if _, err := os.Stat(w.path(i)); err == nil {
				if err := os.Rename(w.path(i), w.path(i+1)); err != nil {
					panic(err)
				}
			}
		}
		w.f.Close()
		w.gens = append(w.gens, w.cur.Bytes())
		w.open()
	case "copytruncate": // copy, then truncate in place; the app keeps its fd (O_APPEND)
		data, err := os.ReadFile(w.path(0))
		if err != nil {
			panic(err)
		}
		if err := os.WriteFile(w.path(w.rot), data, 0o644); err != nil {
			panic(err)
		}
		if err := os.Truncate(w.path(0), 0); err != nil {
			panic(err)
		}
		w.gens = append(w.gens, w.cur.Bytes())
		w.cur = &bytes.Buffer{}
		w.n++
		w.write(fmt.Sprintf("GEN %s %d %d begins\n", w.style, w.n, time.Now().UnixNano()))
	}
}

func (w *rotWriter) run(stop <-chan struct{}) {
	w.mu.Lock()
	w.open()
	w.mu.Unlock()
	next := time.Now().Add(time.Duration(200+w.rng.IntN(300)) * time.Millisecond)
	for {
		select {
		case <-stop:
			w.mu.Lock()
			w.f.Close()
			w.gens = append(w.gens, w.cur.Bytes())
			w.mu.Unlock()
			return
		default:
		}
		w.mu.Lock()
		w.step()
		if time.Now().After(next) {
			w.rotate()
			next = time.Now().Add(time.Duration(200+w.rng.IntN(300)) * time.Millisecond)
		}
		w.mu.Unlock()
		time.Sleep(time.Millisecond) // pacing of the writer, not a wait for a result
	}
}

// The acceptance test of issue 2: writers append known lines to several
// files while logback-style renames, JUL-style renaming chains and
// copytruncate happen; the agent is killed with SIGKILL at random moments
// and restarted; finally SIGTERM. Reassembling the archive gives, for every
// generation of every file, exactly the bytes written.
func TestAgentSurvivesRotationAndKill9(t *testing.T) {
	root := t.TempDir()
	logs := filepath.Join(root, "logs")
	archiveDir := filepath.Join(root, "archive")
	cfg := writeConfig(t, root, fmt.Sprintf(`app: e2e
host: test-host
sources:
  - type: file
    paths: ["%s/**/*.log*"]
    read_from: beginning
    scan_interval: 50ms
    partial_line_after: 300ms
    max_line_bytes: 64KiB
pipeline:
  max_bytes: 256KiB
  max_age: 200ms
  checkpoint_interval: 100ms
  state_dir: %s/state
sink:
  type: dir
  path: %s
shutdown_timeout: 20s
`, logs, root, archiveDir))

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	writers, stopWriters := startRotWriters(t, logs, seed, (*rotWriter).run)

	rng := rand.New(rand.NewPCG(seed, 99))
	logbuf := &syncBuffer{}
	defer func() {
		if p := saveLogOnFailure(t, logbuf, "logship-e2e-agent.log"); p != "" {
			t.Logf("agent logs of all runs: %s", p)
		}
	}()
	a := startAgent(t, cfg, agentOpts{log: logbuf})
	for kill := 0; kill < 3; kill++ {
		time.Sleep(time.Duration(400+rng.IntN(900)) * time.Millisecond) // a random moment
		a.alive(t)
		a.signal(t, syscall.SIGKILL)
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond) // rotations go on while it is down
		logbuf.Write([]byte("---- restart after SIGKILL ----\n"))
		a = startAgent(t, cfg, agentOpts{log: logbuf})
	}
	time.Sleep(500 * time.Millisecond)
	stopWriters()

	want := writtenGenerations(writers) // first line -> generation bytes
	check := func() (bool, string) {
		got, plans := reassemble(t, archiveDir)
		return compareGenerations(got, plans, want)
	}
	deadline := time.Now().Add(60 * time.Second)
	var why string
	for {
		ok, w := check()
		if ok {
			break
		}
		why = w
		a.alive(t)
		if time.Now().After(deadline) {
			a.signal(t, syscall.SIGTERM)
			t.Fatalf("archive incomplete after 60s: %s\nagent log tail:\n%s", why, tail(a.log.String(), 4000))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := a.signal(t, syscall.SIGTERM); err != nil {
		t.Fatalf("agent exit after SIGTERM: %v\n%s", err, tail(a.log.String(), 4000))
	}
	if ok, why := check(); !ok {
		t.Fatalf("after SIGTERM: %s", why)
	}
	t.Logf("%d generations verified byte for byte", len(want))
}

func firstDiff(a, b []byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
