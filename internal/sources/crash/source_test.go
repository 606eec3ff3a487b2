package crash

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/artifact"
	"github.com/logship/logship/internal/pipeline"
	"github.com/logship/logship/internal/pipeline/pipelinetest"
	"github.com/logship/logship/internal/schema"
)

const waitLimit = 20 * time.Second

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), sub)
}

func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

type fixture struct {
	t     *testing.T
	dir   string
	proc  string
	s     *Source
	up    *pipelinetest.Artifacts // where the source ships to
	clk   *clock
	logs  *logBuffer
	mu    sync.Mutex
	alive map[int]bool
}

// newFixture returns a source watching dir with a settle of 1s on a
// manual clock, a fake /proc (empty) and no process alive. The clock runs
// an hour behind the file times, so that files written by the test never
// look older than the settle period by their modification time.
func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, dir: t.TempDir(), proc: t.TempDir(), clk: &clock{t: time.Now().Add(-time.Hour)}, logs: &logBuffer{}, alive: map[int]bool{}}
	cfg := Config{Paths: []string{f.dir + "/hs_err_pid*.log", f.dir + "/**/*.hprof"},
		Exclude: []string{"*.tmp.hprof"}, Settle: schema.Duration(time.Second)}
	f.up = pipelinetest.NewArtifacts()
	s, err := New("crash", cfg, f.up, slog.New(slog.NewTextHandler(f.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	s.ScanInterval = 2 * time.Millisecond
	s.Now = f.clk.Now
	s.ProcRoot = f.proc
	s.PidAlive = func(pid int) bool { f.mu.Lock(); defer f.mu.Unlock(); return f.alive[pid] }
	f.s = s
	return f
}

func (f *fixture) setAlive(pid int, alive bool) {
	f.mu.Lock()
	f.alive[pid] = alive
	f.mu.Unlock()
}

// start runs the source until the test ends (or stop is called).
func (f *fixture) start(em pipeline.Emitter) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.s.Run(ctx, em) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(waitLimit):
				err = errors.New("Run did not return")
			}
		})
		return err
	}
	f.t.Cleanup(func() { stop() })
	return stop
}

// pass lets the source see the files as they are now (two scans: one
// surely started after this call), then moves the clock on by d.
func (f *fixture) pass(d time.Duration) {
	f.t.Helper()
	f.scans(2)
	f.clk.Add(d)
}

// scans waits for n more scans.
func (f *fixture) scans(n int) {
	f.t.Helper()
	target := f.s.scans.Load() + int64(n)
	f.waitFor(fmt.Sprintf("%d scans", n), func() bool { return f.s.scans.Load() >= target })
}

func (f *fixture) waitFor(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			f.t.Fatalf("timed out waiting for %s; log:\n%s", what, f.logs.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (f *fixture) write(name string, data []byte) string {
	f.t.Helper()
	p := filepath.Join(f.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		f.t.Fatal(err)
	}
	return p
}

func hsErr(t *testing.T) []byte {
	b, err := os.ReadFile("testdata/hs_err_sigsegv.log")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNew(t *testing.T) {
	wd, _ := os.Getwd()
	s, err := New("", Config{}, pipelinetest.NewArtifacts(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "crash" || s.settle != DefaultSettle || len(s.globs.Patterns) != len(DefaultPaths) || s.ScanInterval != time.Second {
		t.Fatalf("defaults: %+v", s)
	}
	if got := s.globs.Patterns[0].Root(); got != wd {
		t.Fatalf("relative default path rooted at %s, want the working directory %s", got, wd)
	}
	_, err = New("c", Config{Paths: []string{"/a/[", "/b/**"}, Exclude: []string{"["}, Settle: -1, RateLimit: -5}, pipelinetest.NewArtifacts(), nil)
	for _, want := range []string{"paths[0]", "paths[1]", "ends with **", "exclude[0]", "settle", "rate_limit"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestNoUploader(t *testing.T) {
	if _, err := New("", Config{}, nil, nil); err == nil || !strings.Contains(err.Error(), "no artifact uploader") {
		t.Fatalf("got %v", err)
	}
}

// A crash file ships once, whole, after it settled and its writer is
// gone, with its parsed summary; a restart does not ship it again.
func TestShipsOnceWhenComplete(t *testing.T) {
	f := newFixture(t)
	f.setAlive(27324, true)
	f.s.ProcRoot = "" // whether pid 27324 holds the file cannot be known
	sh := pipelinetest.New()
	stop := f.start(sh)
	data := hsErr(t)
	p := f.write("hs_err_pid27324.log", data)

	f.scans(3)
	if n := f.up.Count(p); n != 0 {
		t.Fatal("shipped before it settled")
	}
	f.pass(1500 * time.Millisecond)
	// Settled, but pid 27324 runs and may hold the file: nothing until
	// the writer is gone.
	f.scans(3)
	if n := f.up.Count(p); n != 0 {
		t.Fatal("shipped while its writer may run")
	}
	f.setAlive(27324, false)
	f.waitFor("shipped", func() bool { return f.up.Count(p) == 1 })
	f.scans(5)
	if n := f.up.Count(p); n != 1 {
		t.Fatalf("shipped %d times", n)
	}
	got := f.up.All()[0]
	if !bytes.Equal(got.Data, data) || got.Artifact.Size != int64(len(data)) {
		t.Fatal("bytes differ")
	}
	a := got.Artifact
	if a.Event != archive.EventJVMCrash || a.Extra["signal"] != "SIGSEGV" || a.Extra["pid"] != "27324" ||
		a.Extra["problematic_frame"] != "V  [libjvm.so+0xed2f94]  Unsafe_PutLong+0x124" || a.Extra["artifact"] != KindHsErr {
		t.Fatalf("artifact %+v", a)
	}
	info := sh.Streams()[a.ID].Info()
	if a.Kind != archive.KindCrash || info.Kind != archive.KindCrash || info.Unit != archive.UnitBytes || !strings.HasPrefix(a.ID, "hs_err_pid27324.log-") || archive.CheckName(a.ID) != nil {
		t.Fatalf("artifact %s %s, stream %+v", a.Kind, a.ID, info)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// Restart: the checkpoint says shipped.
	f2 := newFixture(t)
	f2.dir = f.dir
	f2.s.globs = f.s.globs
	sh2 := sh.Restart()
	f2.start(sh2)
	f2.pass(time.Hour)
	f2.scans(10)
	if n := len(f2.up.All()); n != 0 {
		t.Fatalf("shipped again after restart (%d)", n)
	}
}

// A file found at start whose last change is older than the settle period
// ships at once; one still changing waits.
func TestSettle(t *testing.T) {
	f := newFixture(t)
	old := f.write("hs_err_pid1.log", hsErr(t))
	past := f.clk.Now().Add(-time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	sh := pipelinetest.New()
	f.start(sh)
	f.waitFor("old file shipped", func() bool { return f.up.Count(old) == 1 })

	growing := f.write("dumps/java_pid2.hprof", hprofHeader(1))
	for i := range 5 {
		f.pass(600 * time.Millisecond) // less than settle between changes
		fh, err := os.OpenFile(growing, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(fh, "record %d\n", i)
		fh.Close()
		f.scans(2)
		if f.up.Count(growing) != 0 {
			t.Fatalf("shipped while it grew (step %d); log:\n%s", i, f.logs.String())
		}
	}
	f.pass(1100 * time.Millisecond)
	f.waitFor("settled file shipped", func() bool { return f.up.Count(growing) == 1 })
	if a := f.up.All()[1].Artifact; a.Event != archive.EventHeapDump || a.Extra["artifact"] != KindHeapDump || a.Extra["id_size"] != "8" {
		t.Fatalf("heap dump artifact %+v", a)
	}
	// Excluded files never ship.
	ex := f.write("x.tmp.hprof", []byte("partial"))
	f.pass(time.Hour)
	f.scans(5)
	if f.up.Count(ex) != 0 {
		t.Fatal("excluded file shipped")
	}
}

// The JVM may survive an OutOfMemoryError after writing its heap dump:
// with its pid alive, the dump ships once no process holds it open.
func TestWriterHoldsFileOpen(t *testing.T) {
	f := newFixture(t)
	f.setAlive(77, true)
	p := f.write("java_pid77.hprof", append(hprofHeader(5), bytes.Repeat([]byte("heap"), 1000)...))
	fdDir := filepath.Join(f.proc, "77", "fd")
	if err := os.MkdirAll(fdDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(p, filepath.Join(fdDir, "5")); err != nil {
		t.Fatal(err)
	}
	sh := pipelinetest.New()
	f.start(sh)
	f.pass(time.Hour)
	f.scans(5)
	if f.up.Count(p) != 0 {
		t.Fatal("shipped while held open")
	}
	if err := os.Remove(filepath.Join(fdDir, "5")); err != nil {
		t.Fatal(err)
	}
	f.waitFor("shipped once closed", func() bool { return f.up.Count(p) == 1 })
}

// Where the writer cannot be checked (no /proc), a long quiet period
// stands in for it.
func TestUncertainWriterWaitsLonger(t *testing.T) {
	f := newFixture(t)
	f.s.ProcRoot = ""
	p := f.write("sub/heap.hprof", hprofHeader(9)) // no pid in the name
	sh := pipelinetest.New()
	f.start(sh)
	f.pass(2 * time.Second)
	f.scans(5)
	if f.up.Count(p) != 0 {
		t.Fatal("shipped after the settle period alone")
	}
	f.pass(uncertainQuiet)
	f.waitFor("shipped after the quiet period", func() bool { return f.up.Count(p) == 1 })
}

// A file that cannot be read is reported once with a hint, retried, and
// does not hold up the others.
func TestUnreadableFile(t *testing.T) {
	f := newFixture(t)
	locked := f.write("java_pid5.hprof", hprofHeader(3))
	ok := f.write("hs_err_pid6.log", hsErr(t))
	var mu sync.Mutex
	deny := true
	f.s.OpenFile = func(name string) (*os.File, error) {
		mu.Lock()
		defer mu.Unlock()
		if deny && name == locked {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
		}
		return os.Open(name)
	}
	sh := pipelinetest.New()
	f.start(sh)
	f.pass(2 * time.Second)
	f.waitFor("readable file shipped", func() bool { return f.up.Count(ok) == 1 })
	f.scans(20)
	if n := f.logs.count("cannot read crash file"); n != 1 {
		t.Fatalf("%d error lines, want 1:\n%s", n, f.logs.String())
	}
	for _, want := range []string{locked, "permission denied", "run logship as the JVM's user", "mode 0644"} {
		if !strings.Contains(f.logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, f.logs.String())
		}
	}
	mu.Lock()
	deny = false
	mu.Unlock()
	f.waitFor("shipped once readable", func() bool { return f.up.Count(locked) == 1 })
	if !strings.Contains(f.logs.String(), "readable now") {
		t.Errorf("recovery not logged:\n%s", f.logs.String())
	}
}

// A failed shipment is retried after a backoff; others keep flowing.
func TestShipFailureRetried(t *testing.T) {
	f := newFixture(t)
	p := f.write("hs_err_pid8.log", hsErr(t))
	sh := pipelinetest.New()
	var mu sync.Mutex
	fails := 1
	f.up.Fail = func(a artifact.Artifact) error {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			return errors.New("injected refusal")
		}
		return nil
	}
	f.start(sh)
	f.pass(2 * time.Second)
	f.waitFor("failure logged", func() bool { return f.logs.count("shipping crash file failed") == 1 })
	f.scans(5)
	if f.up.Count(p) != 0 {
		t.Fatal("retried before the backoff")
	}
	f.pass(3 * time.Second)
	f.waitFor("shipped on retry", func() bool { return f.up.Count(p) == 1 })
}

// An error report does not wait behind a heap dump being uploaded.
func TestErrorReportNotBehindHeapDump(t *testing.T) {
	f := newFixture(t)
	f.s.SmallArtifact = 8192
	big := f.write("java_pid10.hprof", append(hprofHeader(1), make([]byte, 10000)...))
	sh := pipelinetest.New()
	release := f.up.Hold(8192)
	stop := f.start(sh)
	f.pass(2 * time.Second)
	f.waitFor("heap dump shipping", func() bool { return f.up.Waiting() == 1 })
	small := f.write("hs_err_pid10.log", hsErr(t))
	f.pass(2 * time.Second)
	f.waitFor("error report shipped", func() bool { return f.up.Count(small) == 1 })
	if f.up.Count(big) != 0 {
		t.Fatal("heap dump done while gated")
	}
	release()
	f.waitFor("heap dump shipped", func() bool { return f.up.Count(big) == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// Stopping while a heap dump ships returns promptly, leaving it unshipped
// (the next start resumes it).
func TestStopWhileShipping(t *testing.T) {
	f := newFixture(t)
	f.s.SmallArtifact = 10
	p := f.write("java_pid11.hprof", append(hprofHeader(1), make([]byte, 100)...))
	sh := pipelinetest.New()
	f.up.Hold(10)
	stop := f.start(sh)
	f.pass(2 * time.Second)
	f.waitFor("shipping", func() bool { return f.up.Waiting() == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// A restart ships it.
	f2 := newFixture(t)
	f2.s.globs = f.s.globs
	sh2 := sh.Restart()
	f2.start(sh2)
	f2.pass(2 * time.Second)
	f2.waitFor("shipped after restart", func() bool { return f2.up.Count(p) == 1 })
}

// New content at the same path (a reused pid) is a new artifact; the
// entry of the old one is dropped.
func TestNewContentSamePath(t *testing.T) {
	f := newFixture(t)
	p := f.write("hs_err_pid12.log", hsErr(t))
	sh := pipelinetest.New()
	f.start(sh)
	f.pass(2 * time.Second)
	f.waitFor("first shipped", func() bool { return f.up.Count(p) == 1 })
	first := f.up.All()[0].Artifact.ID
	f.write("hs_err_pid12.log", append(hsErr(t), "# another crash\n"...))
	f.pass(500 * time.Millisecond)
	f.scans(3)
	f.pass(2 * time.Second)
	f.waitFor("second shipped", func() bool { return f.up.Count(p) == 2 })
	second := f.up.All()[1].Artifact.ID
	if first == second {
		t.Fatal("same stream id for other content")
	}
	f.waitFor("old entry forgotten", func() bool {
		r := sh.Restart()
		cps, _ := r.Checkpoints()
		return len(cps) == 1 && cps[0].Info.ID == second
	})
	// Deleted: its entry goes too.
	os.Remove(p)
	f.waitFor("entry of deleted file forgotten", func() bool {
		cps, _ := sh.Restart().Checkpoints()
		return len(cps) == 0
	})
}

// The stream id depends on content, not on device and inode: a copy with
// the same name, time and bytes is the same artifact.
func TestStreamIDFromContent(t *testing.T) {
	a := identity{V: 1, Size: 10, MTime: 5, FP: "ab", Dev: 1, Ino: 2, Path: "/x/hs_err_pid1.log"}
	b := a
	b.Dev, b.Ino, b.Path = 9, 9, "/y/hs_err_pid1.log"
	if a.streamID() != b.streamID() {
		t.Fatal("id depends on device, inode or folder")
	}
	for _, c := range []func(*identity){func(i *identity) { i.Size++ }, func(i *identity) { i.MTime++ }, func(i *identity) { i.FP = "cd" }, func(i *identity) { i.Path = "/x/hs_err_pid2.log" }} {
		d := a
		c(&d)
		if d.streamID() == a.streamID() {
			t.Errorf("id ignores a change: %+v", d)
		}
	}
	long := identity{Path: "/" + strings.Repeat("é", 100) + ".hprof"}
	if err := archive.CheckName(long.streamID()); err != nil {
		t.Fatal(err)
	}
}

func TestPidOf(t *testing.T) {
	for p, want := range map[string]int{
		"/a/hs_err_pid123.log": 123, "/tmp/java_pid4567.hprof": 4567, "/x/heap.hprof": 0,
		"/x/hs_err_pid0.log": 0, "/x/hs_err_pid99999999999.log": 0, "/x/app_pid77_crash.log": 77,
	} {
		if got := pidOf(p); got != want {
			t.Errorf("pidOf(%s) = %d, want %d", p, got, want)
		}
	}
}

func TestScanOpen(t *testing.T) {
	proc := t.TempDir()
	target := filepath.Join(t.TempDir(), "a.hprof")
	os.WriteFile(target, nil, 0o644)
	for pid, links := range map[string][]string{"10": {target, "/dev/null"}, "11": {"/etc/passwd"}, "self-ish": {target}} {
		d := filepath.Join(proc, pid, "fd")
		os.MkdirAll(d, 0o755)
		for i, l := range links {
			os.Symlink(l, filepath.Join(d, fmt.Sprint(i)))
		}
	}
	of := scanOpen(proc, map[string]bool{target: true, "/other": true})
	if !of.listed || !of.held[target] || of.held["/other"] {
		t.Fatalf("%+v", of)
	}
	if of := scanOpen(filepath.Join(proc, "missing"), map[string]bool{target: true}); of.listed {
		t.Fatal("missing proc listed")
	}
	// Our own pid is real and alive; a pid that cannot exist is not.
	alive := pidAlive("/proc")
	if !alive(os.Getpid()) || alive(1<<30) {
		t.Fatal("pidAlive")
	}
}
