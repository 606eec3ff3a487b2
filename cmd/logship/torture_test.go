package main

// The torture run of issue 12: the real agent binary ships five files,
// written at different rates and rotated in every way the file source
// supports, into osstest, while it is SIGKILLed and restarted, OSS fails in
// every way osstest can (outages, resets, throttling, slow answers, a slow
// link) and the state folder's disk fills up. Then bytes are abandoned on
// purpose (max_rotated_open exceeded). Every run ends with `logship pull`
// and a comparison with what the writers wrote.
//
//	go test -run Torture ./cmd/logship/                        # the short run (~30s of disturbances)
//	LOGSHIP_TORTURE=10m go test -run Torture -timeout 60m ./cmd/logship/
//	LOGSHIP_TORTURE_SEED=N ...                                 # replay a run's schedule

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logship/logship/internal/loggen"
	"github.com/logship/logship/internal/osstest"
)

// torture is one run: the agent, the bucket, and the gates between the
// writers' lossy steps and the killer.
type torture struct {
	t        *testing.T
	seed     uint64
	root     string
	state    string // the agent's pipeline.state_dir
	cfg      string
	metrics  string // host:port of the agent's metrics
	env      []string
	srv      *osstest.Server
	idx      *durableIndex
	logbuf   *syncBuffer
	start    time.Time
	deadline time.Duration // longest wait for a gate

	// life: a writer deleting a file the agent holds takes it for
	// reading; a kill takes it for writing, after the deleted generations
	// (pending) are archived.
	life    sync.RWMutex
	agentMu sync.Mutex
	agent   *agentProc
	lives   int // agents started
	pendMu  sync.Mutex
	pending map[*generation]int
}

func (r *torture) logf(format string, a ...any) {
	r.t.Logf("%8.3fs "+format, append([]any{time.Since(r.start).Seconds()}, a...)...)
}

func (r *torture) current() *agentProc {
	r.agentMu.Lock()
	defer r.agentMu.Unlock()
	return r.agent
}

func (r *torture) startAgent() {
	r.agentMu.Lock()
	defer r.agentMu.Unlock()
	if r.lives > 0 {
		r.logbuf.Write([]byte("---- restart ----\n"))
	}
	r.lives++
	r.agent = startAgent(r.t, r.cfg, agentOpts{env: r.env, log: r.logbuf})
}

// durable implements gates.
func (r *torture) durable(g *generation) int {
	n, err := r.idx.durable(g.first)
	if err != nil {
		r.t.Error(err)
	}
	return n
}

// waitDurable implements gates.
func (r *torture) waitDurable(g *generation, n int) error {
	end := time.Now().Add(r.deadline)
	for r.durable(g) < n {
		if time.Now().After(end) {
			return fmt.Errorf("generation %d of %s: %d of %d bytes archived after %v", g.n, g.writer, r.durable(g), n, r.deadline)
		}
		time.Sleep(20 * time.Millisecond) // poll
	}
	return nil
}

// waitCheckpointed implements gates.
func (r *torture) waitCheckpointed(g *generation, n int) error {
	end := time.Now().Add(r.deadline)
	for {
		ids, err := r.idx.streams(g.first)
		if err != nil {
			return err
		}
		if checkpointed(r.state, ids) >= int64(n) {
			return nil
		}
		if time.Now().After(end) {
			return fmt.Errorf("generation %d of %s: %d of %d bytes in the checkpoint after %v", g.n, g.writer, checkpointed(r.state, ids), n, r.deadline)
		}
		time.Sleep(20 * time.Millisecond) // poll
	}
}

// deleteHeld implements gates.
func (r *torture) deleteHeld(path string, g *generation, del func() error, n func() int) error {
	end := time.Now().Add(r.deadline)
	for {
		r.life.RLock()
		if a := r.current(); a != nil && a.running() && holds(a.cmd.Process.Pid, path) {
			err := del()
			r.pendMu.Lock()
			r.pending[g] = n()
			r.pendMu.Unlock()
			r.life.RUnlock()
			return err
		}
		r.life.RUnlock()
		if time.Now().After(end) {
			return fmt.Errorf("the agent did not open %s within %v", path, r.deadline)
		}
		time.Sleep(10 * time.Millisecond) // poll
	}
}

// holds reports whether process pid has path's inode open.
func holds(pid int, path string) bool {
	want, err := os.Stat(path)
	if err != nil {
		return false
	}
	fds, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return false
	}
	for _, fd := range fds {
		fi, err := os.Stat("/proc/" + strconv.Itoa(pid) + "/fd/" + fd.Name())
		if err == nil && os.SameFile(fi, want) {
			return true
		}
	}
	return false
}

// kill SIGKILLs the agent once the deleted files it holds are archived,
// and restarts it after down.
func (r *torture) kill(down time.Duration) {
	r.life.Lock()
	began := time.Now()
	end := began.Add(r.deadline)
	for {
		r.pendMu.Lock()
		for g, n := range r.pending {
			if r.durable(g) >= n {
				delete(r.pending, g)
			}
		}
		left := len(r.pending)
		r.pendMu.Unlock()
		if left == 0 {
			break
		}
		if time.Now().After(end) {
			r.life.Unlock()
			r.t.Errorf("deleted generations still not archived after %v: cannot kill without losing them", r.deadline)
			return
		}
		time.Sleep(20 * time.Millisecond) // poll
	}
	if w := time.Since(began); w > 2*time.Second {
		r.logf("the kill waited %v for deleted files to be archived; %s", w.Round(time.Millisecond), retrySummary(r.logbuf.String()))
	}
	a := r.current()
	a.alive(r.t)
	a.signal(r.t, syscall.SIGKILL)
	r.life.Unlock()
	time.Sleep(down) // the files go on changing while it is down
	r.startAgent()
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// tortureSettings reads LOGSHIP_TORTURE (the length of the disturbances)
// and LOGSHIP_TORTURE_SEED.
func tortureSettings(t *testing.T) (time.Duration, uint64) {
	length := 30 * time.Second
	if v := os.Getenv("LOGSHIP_TORTURE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 10*time.Second {
			t.Fatalf("LOGSHIP_TORTURE=%q: want a duration of at least 10s, e.g. 10m", v)
		}
		length = d
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("LOGSHIP_TORTURE_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("LOGSHIP_TORTURE_SEED=%q: %v", v, err)
		}
		seed = s
	}
	return length, seed
}

func TestTorture(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute long")
	}
	length, seed := tortureSettings(t)
	t.Logf("seed %d, disturbances for %v; replay: LOGSHIP_TORTURE_SEED=%d LOGSHIP_TORTURE=%v go test -run Torture -timeout 60m ./cmd/logship/",
		seed, length, seed, length)
	r := &torture{t: t, seed: seed, root: t.TempDir(), srv: e2eServer(t), env: ossEnv(t), logbuf: &syncBuffer{},
		pending: map[*generation]int{}, deadline: 90 * time.Second, metrics: freePort(t)}
	r.idx = newDurableIndex(r.srv)
	defer func() {
		if t.Failed() {
			p := filepath.Join(os.TempDir(), fmt.Sprintf("logship-torture-%d.log", seed))
			os.WriteFile(p, []byte(r.logbuf.String()), 0o644)
			t.Logf("FAILED with seed %d: replay with LOGSHIP_TORTURE_SEED=%d LOGSHIP_TORTURE=%v; agent logs of all runs: %s",
				seed, seed, length, p)
		}
	}()
	r.state = filepath.Join(r.root, "state")
	state := r.state
	disk := mountSmallDisk(t, state)
	logs, abandonDir := filepath.Join(r.root, "logs"), filepath.Join(r.root, "abandon")
	for _, d := range []string{logs, abandonDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r.cfg = writeConfig(t, r.root, fmt.Sprintf(`app: torture
host: test-host
metrics_addr: %s
sources:
  - type: file
    name: app
    paths: ["%s/**/*.log*"]
    scan_interval: 50ms
    partial_line_after: 300ms
    max_line_bytes: 64KiB
  - type: file
    name: abandon
    paths: ["%s/*.log"]
    scan_interval: 20ms
    partial_line_after: 300ms
    max_rotated_open: 1
    max_line_bytes: 64KiB
pipeline:
  max_bytes: 256KiB
  max_age: 200ms
  max_in_flight: 4
  checkpoint_interval: 100ms
  state_dir: %s
sink:
  type: oss
  bucket: %s
  region: cn-hangzhou
  endpoint: %s
  prefix: logs/
  timeout: 3s
shutdown_timeout: 30s
`, r.metrics, logs, abandonDir, state, e2eBucket, r.srv.Endpoint()))

	r.start = time.Now()
	r.startAgent()
	writers, stopWriters, errc := r.startWriters(logs)
	r.disturb(length, disk, errc)
	r.logf("disturbances over: %d agents started; requests %v", r.lives, r.srv.Counts())
	r.srv.ClearFaults()
	disk.free()
	stopWriters()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
	gens := r.abandonScenario(abandonDir)
	for _, w := range writers {
		gens = append(gens, w.gens...)
	}
	r.finish(gens)
}

// startWriters starts the five writers, each in its folder under logs.
func (r *torture) startWriters(logs string) ([]*tortureWriter, func(), chan error) {
	errc := make(chan error, 8)
	specs := []struct {
		style        string
		pace         time.Duration
		burst        int
		rotMin, rotM time.Duration
	}{
		{styleRename, 3 * time.Millisecond, 3, time.Second, 3 * time.Second},
		{styleJUL, 7 * time.Millisecond, 5, 500 * time.Millisecond, 2500 * time.Millisecond},
		{styleCopy, 15 * time.Millisecond, 8, time.Second, 3 * time.Second},
		{styleTruncate, 30 * time.Millisecond, 10, time.Second, 4 * time.Second},
		{styleRecreate, 60 * time.Millisecond, 20, time.Second, 3 * time.Second},
	}
	var ws []*tortureWriter
	for i, s := range specs {
		d := filepath.Join(logs, s.style)
		if err := os.MkdirAll(d, 0o755); err != nil {
			r.t.Fatal(err)
		}
		ws = append(ws, &tortureWriter{name: s.style, style: s.style, dir: d, pace: s.pace, burst: s.burst, keep: 3,
			rotateMin: s.rotMin, rotateMax: s.rotM, rng: rand.New(rand.NewPCG(r.seed, uint64(i))),
			gen: loggen.New(r.seed + uint64(i)), gates: r, errc: errc})
	}
	stopc := make(chan struct{})
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() { defer wg.Done(); w.run(stopc) }()
	}
	stop := sync.OnceFunc(func() { close(stopc); wg.Wait() })
	r.t.Cleanup(stop)
	return ws, stop, errc
}

// abandonScenario makes the agent abandon bytes on purpose: three files
// of the abandon source (max_rotated_open: 1) are opened by the agent,
// then, while OSS is down and the pipeline full, 8 MiB are appended to
// each and all three deleted. Once OSS is back the agent holds three
// deleted files with bytes unread: it keeps one and abandons the others'
// unread bytes, which it must count.
func (r *torture) abandonScenario(dir string) []*generation {
	t := r.t
	var gens []*generation
	var files []*os.File
	gen := loggen.New(r.seed + 100)
	for i := range 3 {
		p := filepath.Join(dir, fmt.Sprintf("a%d.log", i))
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		g := &generation{writer: "abandon", n: i + 1, first: fmt.Sprintf("GEN abandon %d begins\n", i+1), abandonable: true}
		g.data = append([]byte(g.first), gen.Append(nil)...)
		if _, err := f.Write(g.data); err != nil {
			t.Fatal(err)
		}
		gens, files = append(gens, g), append(files, f)
	}
	for _, g := range gens { // the agent has a stream for each
		if err := r.waitDurable(g, len(g.data)); err != nil {
			t.Fatal(err)
		}
	}
	r.logf("abandonment: OSS down, 3 x 8 MiB appended to files then deleted")
	// The outage lasts until the files have been deleted for a while,
	// however long writing them takes (under load it outlasted a fixed
	// 3s, and the agent read everything: nothing was abandoned).
	outage := r.srv.Outage(0)
	defer func() {
		time.Sleep(1500 * time.Millisecond) // scans see the deleted files, the pipeline still full
		r.srv.Remove(outage)
	}()
	time.Sleep(1500 * time.Millisecond) // the outage has begun: uploads fail, the pipeline fills
	for i, f := range files {
		var b []byte
		for len(b) < 8<<20 {
			b = gen.Append(b)
		}
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
		gens[i].data = append(gens[i].data, b...)
		f.Close()
		if err := os.Remove(f.Name()); err != nil {
			t.Fatal(err)
		}
	}
	return gens
}

// finish waits until the archive holds what it must, stops the agent with
// SIGTERM, pulls with the real command and compares.
func (r *torture) finish(gens []*generation) {
	t := r.t
	a := r.current()
	want := func(g *generation, byPath map[string]int64) int {
		if !g.abandonable {
			return len(g.data)
		}
		return len(g.data) - int(byPath[filepath.Join(r.root, "abandon", fmt.Sprintf("a%d.log", g.n-1))])
	}
	a.waitFor(t, r.deadline, "the archive to hold every generation", func() bool {
		_, byPath := abandonedInLogs(r.logbuf.String())
		for _, g := range gens {
			if r.durable(g) < want(g, byPath) {
				return false
			}
		}
		return true
	})
	r.logf("archive complete; %s", retrySummary(r.logbuf.String()))
	scraped, err := scrapeAbandoned(r.metrics)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.signal(t, syscall.SIGTERM); err != nil {
		t.Fatalf("agent exit after SIGTERM: %v\n%s", err, tail(r.logbuf.String(), 4000))
	}
	logged, _ := abandonedInLogs(r.logbuf.String())
	lastLife := r.logbuf.String()
	if i := strings.LastIndex(lastLife, "---- restart ----\n"); i >= 0 {
		lastLife = lastLife[i:]
	}
	loggedLast, _ := abandonedInLogs(lastLife)

	out := filepath.Join(r.root, "pulled")
	began := time.Now()
	stdout, stderr, code := runLogship(t, r.env, "pull", "--from", "oss://"+e2eBucket+"/logs", "--endpoint", r.srv.Endpoint(),
		"--region", "cn-hangzhou", "--out", out, "--split-generations", "--json", "--progress", "none")
	r.logf("logship pull: exit %d in %v: %s", code, time.Since(began).Round(time.Millisecond), lastLine(stderr))
	sum, err := parsePullJSON(stdout)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readPulled(out)
	if err != nil {
		t.Fatal(err)
	}
	v := compare(gens, got, sum)
	if code != 0 && len(sum.Problems) == 0 {
		v.problems = append(v.problems, fmt.Sprintf("pull exit %d: %s", code, stderr))
	}
	if v.abandoned != logged {
		v.problems = append(v.problems, fmt.Sprintf("really abandoned %d bytes; the agent's logs say %d", v.abandoned, logged))
	}
	if scraped != loggedLast {
		v.problems = append(v.problems, fmt.Sprintf("logship_file_bytes_abandoned_total is %d; the last agent's logs say %d", scraped, loggedLast))
	}
	if v.abandoned == 0 {
		v.problems = append(v.problems, "the abandonment scenario abandoned nothing: it tested nothing")
	}
	for _, p := range v.problems {
		t.Error(p)
	}
	r.logf("%d generations, %d bytes written; %d objects, %d duplicates dropped by pull; abandoned %d bytes (counter %d, logs %d); %d problems",
		v.generations, v.bytes, len(r.srv.Objects(e2eBucket)), sum.Duplicates, v.abandoned, scraped, logged, len(v.problems))
}

func lastLine(s string) string {
	for len(s) > 0 && s[len(s)-1] == '\n' {
		s = s[:len(s)-1]
	}
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		return s[i+1:]
	}
	return s
}
