package main

// End-to-end tests of `logship run -- CMD` with real processes: a JVM that
// crashes, a JVM stopped by SIGTERM after a SIGQUIT thread dump, shells
// that trap signals and leave orphans, and the test binary itself writing
// 100 MB while OSS is down.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/config"
	"github.com/logship/logship/internal/sinks/dir"
)

// runChild is the test binary run as the child of logship run
// (E2E_RUN_CHILD=write): it writes E2E_RUN_SIZE bytes of genOutput to its
// stdout, then creates the file E2E_RUN_DONE.
func runChild(mode string) int {
	if mode != "write" {
		fmt.Fprintln(os.Stderr, "unknown E2E_RUN_CHILD", mode)
		return 2
	}
	seed, _ := strconv.ParseUint(os.Getenv("E2E_RUN_SEED"), 10, 64)
	size, _ := strconv.ParseInt(os.Getenv("E2E_RUN_SIZE"), 10, 64)
	if err := genOutput(seed, size, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := os.WriteFile(os.Getenv("E2E_RUN_DONE"), nil, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// genOutput writes size pseudo-random bytes (binary, a newline every 256
// bytes on average, an unterminated end) in writes of random sizes.
func genOutput(seed uint64, size int64, w io.Writer) error {
	r := rand.New(rand.NewPCG(seed, 1))
	buf := make([]byte, 64<<10)
	for size > 0 {
		n := min(int64(1+r.IntN(len(buf))), size)
		b := buf[:n]
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		size -= n
	}
	return nil
}

// runConfig is a config for logship run with the dir sink under root.
func runConfig(t *testing.T, root, extra string) string {
	t.Helper()
	return writeConfig(t, root, fmt.Sprintf(`app: run-e2e
host: test-host
sources:
  - type: crash
    paths: ["%[1]s/app/hs_err_pid*.log"]
pipeline:
  max_age: 300ms
  checkpoint_interval: 100ms
  state_dir: %[1]s/state
sink:
  type: dir
  path: %[1]s/archive
run:
  crash_wait: 1s
  final_flush_timeout: 20s
%[2]s`, root, extra))
}

// runExit waits for logship run to end and returns its exit code.
func runExit(t *testing.T, p *agentProc, d time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(d):
		t.Fatalf("logship run did not exit within %v:\n%s", d, tail(p.log.String(), 4000))
	}
	return p.cmd.ProcessState.ExitCode()
}

// pulled runs logship pull with args into a new folder and returns the
// files below OUT/APP/HOST, by their path there (stdout/stdout,
// event/events.jsonl, crash/...).
func pulled(t *testing.T, env []string, apphost string, args ...string) map[string][]byte {
	t.Helper()
	out := t.TempDir()
	if _, stderr, code := runLogship(t, env, append([]string{"pull", "--out", out, "--progress", "none"}, args...)...); code != 0 {
		t.Fatalf("pull: exit %d\n%s", code, stderr)
	}
	files := map[string][]byte{}
	base := filepath.Join(out, apphost)
	filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(base, p)
			files[filepath.ToSlash(rel)] = b
		}
		return nil
	})
	return files
}

// termAndPull stops logship run (whose config is runConfig's under root)
// running a JVM with SIGTERM, checks that it exits 143 and that the
// archived stdout is the passed-through out, and returns pulled's files.
func termAndPull(t *testing.T, p *agentProc, root string, out *syncBuffer) map[string][]byte {
	t.Helper()
	p.send(t, syscall.SIGTERM)
	if code := runExit(t, p, time.Minute); code != 143 {
		t.Fatalf("exit %d, want 143\n%s", code, tail(p.log.String(), 4000))
	}
	files := pulled(t, nil, "run-e2e/test-host", "--from", filepath.Join(root, "archive"))
	if got := files["stdout/stdout"]; !bytes.Equal(got, []byte(out.String())) {
		t.Fatalf("archived stdout (%d bytes) differs from the passed-through (%d)", len(got), len(out.String()))
	}
	return files
}

// runEvents decodes events.jsonl.
func runEvents(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var evs []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("events.jsonl line %q: %v", sc.Text(), err)
		}
		evs = append(evs, m)
	}
	return evs
}

// exitOf returns the one exit event.
func exitOf(t *testing.T, evs []map[string]any) map[string]any {
	t.Helper()
	var ex []map[string]any
	for _, e := range evs {
		if e["event"] == "exit" {
			ex = append(ex, e)
		}
	}
	if len(ex) != 1 || len(evs) < 2 || evs[0]["event"] != "start" {
		t.Fatalf("events %v: want a start and one exit", evs)
	}
	if v, _ := evs[0]["logship_version"].(string); v == "" {
		t.Fatalf("start event %v: no logship_version (a build without one says dev)", evs[0])
	}
	return ex[0]
}

// The acceptance test with a real JVM that crashes (SIGSEGV through
// Unsafe, hs_err written, then abort), run as configs/java-app.yaml says
// (LOGSHIP_CONFIG=... logship run -- java ...), against osstest: the
// status 134 is passed on; before logship run exits, the hs_err file, the
// child's stdout byte for byte (its last lines and a partial line) and the
// exit event are in the archive.
func TestRunJVMCrash(t *testing.T) {
	root := t.TempDir()
	app := filepath.Join(root, "app")
	if err := os.MkdirAll(app, 0o755); err != nil {
		t.Fatal(err)
	}
	java := javaTools(t, app)
	srv := e2eServer(t)
	cfgPath, err := filepath.Abs("../../configs/java-app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env := append(ossEnv(t), "LOGSHIP_CONFIG="+cfgPath, "LOGSHIP_HOST=test-host", "LOGSHIP_SINK_BUCKET="+e2eBucket,
		"LOGSHIP_SINK_ENDPOINT="+srv.Endpoint(), "LOGSHIP_PIPELINE_STATE_DIR="+filepath.Join(root, "state"))
	cfg, err := config.Resolve("", append(os.Environ(), env...), nil)
	if err != nil {
		t.Fatal(err)
	}
	passed := &syncBuffer{}
	p := startLogship(t, agentOpts{env: env, stdout: passed, dir: app},
		"run", "--", java, "-XX:ErrorFile=hs_err_pid%p.log", "-cp", app, "RunCrash")
	code := runExit(t, p, 2*time.Minute)
	exited := time.Now()
	if code != 134 {
		t.Fatalf("exit %d, want 134 (SIGABRT after the JVM's crash report)\n%s", code, tail(p.log.String(), 4000))
	}
	files := pulled(t, ossEnv(t), "order-service/test-host", ossFlags(srv)...)

	stdout := []byte(passed.String())
	if !bytes.Contains(stdout, []byte("line 1999 before the crash\na partial line, then the crash")) ||
		!bytes.Contains(stdout, []byte("A fatal error has been detected by the Java Runtime Environment")) {
		t.Fatalf("passed-through stdout lacks the last lines:\n%s", tail(string(stdout), 2000))
	}
	if !bytes.Equal(files["stdout/stdout"], stdout) {
		t.Fatalf("archived stdout (%d bytes) differs from what was passed through (%d bytes) at %d", len(files["stdout/stdout"]), len(stdout),
			firstDiff(files["stdout/stdout"], stdout))
	}
	var hsErr string
	for name := range files {
		if strings.HasPrefix(name, "crash/") && strings.HasPrefix(filepath.Base(name), "hs_err_pid") {
			hsErr = name
		}
	}
	if hsErr == "" {
		t.Fatalf("no hs_err file in the archive: %v", keysOf(files))
	}
	local, err := os.ReadFile(filepath.Join(app, filepath.Base(hsErr)))
	if err != nil || !bytes.Equal(local, files[hsErr]) {
		t.Fatalf("archived %s differs from the file (%v)", hsErr, err)
	}
	ex := exitOf(t, runEvents(t, files["event/events.jsonl"]))
	pid := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(hsErr), "hs_err_pid"), ".log")
	if ex["exit_code"] != 134.0 || ex["signal"] != "SIGABRT" || ex["abnormal"] != true || fmt.Sprint(ex["pid"]) != pid || ex["cmd"].([]any)[0] != java {
		t.Fatalf("exit event %v (the JVM's pid %s)", ex, pid)
	}
	ts, err := time.Parse(time.RFC3339Nano, ex["ts"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if limit := cfg.Run.CrashWait.Std() + cfg.Run.FinalFlushTimeout.Std(); exited.Sub(ts) > limit {
		t.Fatalf("logship run exited %v after its child, beyond crash_wait + final_flush_timeout (%v)", exited.Sub(ts), limit)
	}
	var exitChunk bool
	for _, o := range srv.Objects(e2eBucket) {
		if strings.Contains(o.Key, "/source=event/") {
			body, _, _ := srv.Get(e2eBucket, o.Key)
			exitChunk = exitChunk || decodeObject(t, bytes.NewReader(body)).h.Event == archive.EventExit
		}
	}
	if !exitChunk {
		t.Error("no event chunk has the header event exit")
	}
	// The automatic snapshot after the abnormal exit is stored before
	// logship run exits, and the exit event names it.
	key, _ := ex["snapshot_key"].(string)
	if _, _, ok := srv.Get(e2eBucket, key); key == "" || !ok || !strings.Contains(key, "/source=snapshot/") {
		t.Errorf("exit event snapshot_key %q: no snapshot object", key)
	}
}

func keysOf(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// SIGQUIT and SIGTERM to logship run reach the JVM: a thread dump appears
// in the archived stdout, the shutdown hook runs and its output is
// archived, the status (143) is passed on, and the exit is not abnormal.
func TestRunJVMThreadDumpAndSIGTERM(t *testing.T) {
	root := t.TempDir()
	app := filepath.Join(root, "app")
	if err := os.MkdirAll(app, 0o755); err != nil {
		t.Fatal(err)
	}
	java := javaTools(t, app)
	cfg := runConfig(t, root, "")
	out := &syncBuffer{}
	p := startLogship(t, agentOpts{stdout: out, dir: app}, "run", "-c", cfg, "--", java, "-cp", app, "Hook")
	p.waitFor(t, time.Minute, "the JVM to start", func() bool { return strings.Contains(out.String(), "ready\n") })
	p.send(t, syscall.SIGQUIT)
	p.waitFor(t, time.Minute, "a thread dump", func() bool { return strings.Contains(out.String(), "Full thread dump") })
	files := termAndPull(t, p, root, out)
	got := files["stdout/stdout"]
	for _, w := range []string{"Full thread dump", `"main"`, "at Hook.main(Hook.java", "shutdown hook ran\n"} {
		if !bytes.Contains(got, []byte(w)) {
			t.Errorf("archived stdout lacks %q", w)
		}
	}
	ex := exitOf(t, runEvents(t, files["event/events.jsonl"]))
	if ex["exit_code"] != 143.0 || ex["abnormal"] != false {
		t.Fatalf("exit event %v", ex)
	}
	// The headers as FORMATS.md has them.
	for _, c := range kindChunks(t, filepath.Join(root, "archive"), archive.KindStdout) {
		if c.h.Path != "stdout" && c.h.Path != "stderr" || c.h.Unit != archive.UnitBytes {
			t.Errorf("stdout chunk header %+v", c.h)
		}
	}
	evs := kindChunks(t, filepath.Join(root, "archive"), archive.KindEvent)
	if len(evs) == 0 || evs[len(evs)-1].h.Path != "events.jsonl" || evs[len(evs)-1].h.Event != archive.EventExit {
		t.Errorf("event chunks %v", evs)
	}
}

// Every forwarded signal reaches the child: a shell that traps it exits 7
// after saying so, and logship run exits 7 with it. Without forwarding
// the shell would run until the test's deadline.
func TestRunForwardsSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGQUIT} {
		name := strings.TrimPrefix(signalNameOf(sig), "SIG")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			cfg := runConfig(t, root, "")
			out := &syncBuffer{}
			script := fmt.Sprintf(`trap 'echo got %[1]s; exit 7' %[1]s; echo ready; while :; do sleep 0.05; done`, name)
			p := startLogship(t, agentOpts{stdout: out}, "run", "-c", cfg, "--", "sh", "-c", script)
			p.waitFor(t, 30*time.Second, "the shell", func() bool { return strings.Contains(out.String(), "ready\n") })
			p.send(t, sig)
			if code := runExit(t, p, 30*time.Second); code != 7 {
				t.Fatalf("exit %d, want 7\n%s", code, tail(p.log.String(), 3000))
			}
			if !strings.Contains(out.String(), "got "+name+"\n") {
				t.Fatalf("stdout %q", out.String())
			}
		})
	}
}

func signalNameOf(s syscall.Signal) string {
	return map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT", syscall.SIGHUP: "SIGHUP",
		syscall.SIGUSR1: "SIGUSR1", syscall.SIGUSR2: "SIGUSR2", syscall.SIGQUIT: "SIGQUIT"}[s]
}

// zombieOf reports whether pid is a zombie whose parent is ppid.
func zombieOf(pid, ppid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(f) > 1 && f[0] == "Z" && f[1] == strconv.Itoa(ppid)
}

// As a subreaper (run.subreaper, what PID 1 does by nature), logship run
// reaps an orphan that its child left while the child still runs, and the
// child's own status (5) is not taken by the reaper.
func TestRunReapsOrphansAsSubreaper(t *testing.T) {
	root := t.TempDir()
	cfg := runConfig(t, root, "  subreaper: true\n")
	orphan, stop := filepath.Join(root, "orphan.pid"), filepath.Join(root, "stop")
	// The inner shell starts sleep in the background and exits at once:
	// sleep is an orphan, handed to the nearest subreaper.
	script := fmt.Sprintf(`sh -c 'sleep 1 & echo $! > %s'; while [ ! -e %s ]; do sleep 0.05; done; exit 5`, orphan, stop)
	p := startLogship(t, agentOpts{}, "run", "-c", cfg, "--", "sh", "-c", script)
	var pid int
	p.waitFor(t, 30*time.Second, "the orphan's pid", func() bool {
		b, _ := os.ReadFile(orphan)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return pid > 0
	})
	// It is handed to logship run (not to init) while it sleeps...
	p.waitFor(t, 30*time.Second, "the orphan to be handed to logship run", func() bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		f := strings.Fields(string(b[max(bytes.LastIndexByte(b, ')'), 0):]))
		return len(f) > 2 && f[2] == strconv.Itoa(p.cmd.Process.Pid)
	})
	// ...and when it exits it is reaped, while the child still runs.
	p.waitFor(t, 30*time.Second, "the orphan to be reaped", func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
		return os.IsNotExist(err)
	})
	if zombieOf(pid, p.cmd.Process.Pid) {
		t.Fatal("the orphan is a zombie of logship run")
	}
	if err := os.WriteFile(stop, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := runExit(t, p, 30*time.Second); code != 5 {
		t.Fatalf("exit %d, want 5\n%s", code, tail(p.log.String(), 3000))
	}
}

// As PID 1 of a new PID namespace (unshare), logship run reaps orphans
// without being asked: the child finds no zombie after its orphan ended,
// and its status (5) is passed on. Skipped where user namespaces are not
// allowed.
func TestRunReapsOrphansAsPID1(t *testing.T) {
	if err := exec.Command("unshare", "--user", "--map-root-user", "--pid", "--fork", "--mount", "--mount-proc", "true").Run(); err != nil {
		t.Skipf("cannot create a user and PID namespace here: %v", err)
	}
	root := t.TempDir()
	cfg := runConfig(t, root, "")
	script := `for i in 1 2 3 4 5; do sh -c 'sleep 0.1 &'; done; sleep 1
for f in /proc/[0-9]*/stat; do read -r l < $f 2>/dev/null; case "$l" in *") Z "*) echo "zombie: $l";; esac; done
echo "checked as pid $$ under $PPID"; exit 5`
	out, err := exec.Command("unshare", "--user", "--map-root-user", "--pid", "--fork", "--mount", "--mount-proc",
		binary, "run", "-c", cfg, "--", "sh", "-c", script).Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != 5 || !strings.Contains(string(out), " under 1\n") || strings.Contains(string(out), "zombie") {
		t.Fatalf("exit %d, stdout:\n%s", code, out)
	}
}

// The child writes 100 MB of binary output (partial lines included) while
// OSS refuses every request: it finishes writing while the outage still
// lasts (the pass-through never waits for the archive), and once OSS is
// back (30 s after the start) everything is archived: the pulled stdout
// is what the child wrote, byte for byte, as is the passed-through one.
func TestRunPassThroughDuringOSSOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("30 seconds of outage")
	}
	const size, outage = 100_000_000, 30 * time.Second
	srv := e2eServer(t)
	root := t.TempDir()
	cfg := writeConfig(t, root, fmt.Sprintf(`app: run-e2e
host: test-host
sources:
  - type: crash
    paths: ["%[1]s/none/hs_err_pid*.log"]
pipeline:
  max_age: 300ms
  checkpoint_interval: 100ms
  retry_refused: 1s
  state_dir: %[1]s/state
sink:
  type: oss
  bucket: %[2]s
  region: cn-hangzhou
  endpoint: %[3]s
  prefix: logs/
  timeout: 5s
run:
  crash_wait: 1s
  final_flush_timeout: 3m
  spool_max_bytes: 256MiB
`, root, e2eBucket, srv.Endpoint()))
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	want := sha256.New()
	if err := genOutput(seed, size, want); err != nil {
		t.Fatal(err)
	}
	passed, err := os.Create(filepath.Join(root, "passed"))
	if err != nil {
		t.Fatal(err)
	}
	defer passed.Close()
	done := filepath.Join(root, "child.done")
	start := time.Now()
	down := srv.Outage(0)
	p := startLogship(t, agentOpts{stdout: passed, env: append(ossEnv(t), "E2E_RUN_CHILD=write", "E2E_RUN_SEED="+strconv.FormatUint(seed, 10),
		"E2E_RUN_SIZE="+strconv.Itoa(size), "E2E_RUN_DONE="+done)}, "run", "-c", cfg, "--", os.Args[0])
	p.waitFor(t, 2*time.Minute, "the child to write 100 MB", func() bool { _, err := os.Stat(done); return err == nil })
	for _, o := range srv.Objects(e2eBucket) {
		if strings.Contains(o.Key, "/source=stdout/") {
			t.Fatalf("%s stored during the outage", o.Key)
		}
	}
	refused := srv.Count("PutObject")
	t.Logf("the child wrote %d bytes after %v, %d PutObject refused meanwhile", size, time.Since(start).Round(time.Millisecond), refused)
	if refused == 0 {
		t.Fatal("the agent did not try to upload during the outage")
	}
	time.Sleep(time.Until(start.Add(outage))) // the outage lasts 30 s, whatever the child did
	srv.Remove(down)
	if code := runExit(t, p, 4*time.Minute); code != 0 {
		t.Fatalf("exit %d\n%s", code, tail(p.log.String(), 4000))
	}
	files := pulled(t, ossEnv(t), "run-e2e/test-host", ossFlags(srv)...)
	if got := sha256.Sum256(files["stdout/stdout"]); !bytes.Equal(got[:], want.Sum(nil)) {
		t.Fatalf("archived stdout: %d bytes, not what the child wrote (%d bytes)", len(files["stdout/stdout"]), size)
	}
	b, err := os.ReadFile(passed.Name())
	if err != nil {
		t.Fatal(err)
	}
	if got := sha256.Sum256(b); !bytes.Equal(got[:], want.Sum(nil)) {
		t.Fatalf("passed-through stdout: %d bytes, not what the child wrote", len(b))
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "state", "run")); len(ents) != 0 {
		t.Errorf("spool left after a complete flush: %v", ents)
	}
}

// With no config file, LOGSHIP_* variables are enough: the app is named
// after the command, the sink is OSS.
func TestRunEnvOnly(t *testing.T) {
	srv := e2eServer(t)
	root := t.TempDir()
	env := append(ossEnv(t), "LOGSHIP_SINK_TYPE=oss", "LOGSHIP_SINK_BUCKET="+e2eBucket, "LOGSHIP_SINK_REGION=cn-hangzhou",
		"LOGSHIP_SINK_ENDPOINT="+srv.Endpoint(), "LOGSHIP_SINK_PREFIX=logs/", "LOGSHIP_HOST=test-host",
		"LOGSHIP_PIPELINE_STATE_DIR="+filepath.Join(root, "state"), "LOGSHIP_CONFIG=")
	out := &syncBuffer{}
	p := startLogship(t, agentOpts{stdout: out, env: env, dir: root}, "run", "--", "sh", "-c", "echo from the child; exit 3")
	if code := runExit(t, p, time.Minute); code != 3 {
		t.Fatalf("exit %d\n%s", code, tail(p.log.String(), 3000))
	}
	files := pulled(t, ossEnv(t), "sh/test-host", ossFlags(srv)...)
	if string(files["stdout/stdout"]) != "from the child\n" || out.String() != "from the child\n" {
		t.Fatalf("stdout %q, archived %q", out.String(), files["stdout/stdout"])
	}
}

// A dir-sink archive's chunks of one source kind, for header checks.
func kindChunks(t *testing.T, archiveDir, kind string) []rawChunk {
	t.Helper()
	d, err := dir.New(archiveDir)
	if err != nil {
		t.Fatal(err)
	}
	var out []rawChunk
	for _, c := range dirChunks(t, d) {
		if c.h.Source == kind {
			out = append(out, c)
		}
	}
	return out
}

// OSS down when the child ends: logship run still exits with the child's
// status by crash_wait + final_flush_timeout, and the next logship run
// with the same state folder ships what the first could not, before its
// own output.
func TestRunOutageAtExitShippedByNextRun(t *testing.T) {
	srv := e2eServer(t)
	root := t.TempDir()
	cfg := writeConfig(t, root, fmt.Sprintf(`app: run-e2e
host: test-host
sources:
  - type: crash
    paths: ["%[1]s/none/hs_err_pid*.log"]
pipeline:
  max_age: 200ms
  checkpoint_interval: 100ms
  retry_refused: 1s
  state_dir: %[1]s/state
sink:
  type: oss
  bucket: %[2]s
  region: cn-hangzhou
  endpoint: %[3]s
  prefix: logs/
  timeout: 2s
run:
  crash_wait: 500ms
  final_flush_timeout: 3s
`, root, e2eBucket, srv.Endpoint()))
	down := srv.Outage(0)
	start := time.Now()
	p := startLogship(t, agentOpts{env: ossEnv(t)}, "run", "-c", cfg, "--", "sh", "-c", "echo first run; exit 9")
	if code := runExit(t, p, time.Minute); code != 9 {
		t.Fatalf("exit %d, want 9\n%s", code, tail(p.log.String(), 3000))
	}
	// A bound, not a speed: the child runs for milliseconds.
	if took, limit := time.Since(start), 3500*time.Millisecond+5*time.Second; took > limit {
		t.Fatalf("logship run took %v with OSS down, beyond crash_wait + final_flush_timeout", took)
	}
	if len(srv.Objects(e2eBucket)) != 0 {
		t.Fatal("objects stored during the outage")
	}
	srv.Remove(down)
	p2 := startLogship(t, agentOpts{env: ossEnv(t)}, "run", "-c", cfg, "--", "sh", "-c", "echo second run")
	if code := runExit(t, p2, time.Minute); code != 0 {
		t.Fatalf("second run: exit %d\n%s", code, tail(p2.log.String(), 3000))
	}
	files := pulled(t, ossEnv(t), "run-e2e/test-host", ossFlags(srv)...)
	if got := string(files["stdout/stdout"]); got != "first run\nsecond run\n" {
		t.Fatalf("archived stdout %q", got)
	}
	if evs := runEvents(t, files["event/events.jsonl"]); len(evs) != 4 || evs[1]["exit_code"] != 9.0 || evs[3]["exit_code"] != 0.0 {
		t.Fatalf("events %v", evs)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "state", "run")); len(ents) != 0 {
		t.Errorf("spools left: %v", ents)
	}
}

// The run: keys are config keys like any other: in the file, as LOGSHIP_RUN_*
// variables, validated with the key path.
func TestRunConfigKeys(t *testing.T) {
	root := t.TempDir()
	cfg := runConfig(t, root, "  spool_file_bytes: 64MiB\n")
	_, stderr, code := runLogship(t, []string{"LOGSHIP_RUN_SPOOL_MAX_BYTES=100MiB", "LOGSHIP_RUN_SUBREAPER=true"}, "validate", "-c", cfg)
	if code != exitUsage || !strings.Contains(stderr, "run.spool_max_bytes") || !strings.Contains(stderr, "less than two spool files") {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	out, stderr, code := runLogship(t, []string{"LOGSHIP_RUN_CRASH_WAIT=5s", "LOGSHIP_RUN_SUBREAPER=true"}, "validate", "--print", "-c", cfg)
	if code != 0 || !strings.Contains(out, "crash_wait: 5s") || !strings.Contains(out, "subreaper: true") || !strings.Contains(out, "final_flush_timeout: 20s") {
		t.Fatalf("exit %d:\n%s\n%s", code, out, stderr)
	}
}

// TestRunAgentFailureSaidAtOnce: when the archiving agent cannot start
// (its state folder cannot be made: a file is in the way), the command
// still runs, and logship run says so at once, not when the command ends
// (days later, for an app).
func TestRunAgentFailureSaidAtOnce(t *testing.T) {
	root := t.TempDir()
	cfg := runConfig(t, root, "")
	if err := os.WriteFile(filepath.Join(root, "state"), []byte("not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	stop := filepath.Join(root, "stop")
	script := fmt.Sprintf(`echo started; while [ ! -e %s ]; do sleep 0.05; done`, stop)
	p := startLogship(t, agentOpts{env: []string{"LOGSHIP_PIPELINE_STATE_DIR=" + filepath.Join(root, "state", "sub")}}, "run", "-c", cfg, "--", "sh", "-c", script)
	p.waitFor(t, 30*time.Second, "the agent's failure to be logged while the command runs", func() bool {
		return strings.Contains(p.log.String(), "the archiving agent stopped; the command runs on")
	})
	if err := os.WriteFile(stop, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := runExit(t, p, 30*time.Second); code != 0 {
		t.Fatalf("exit %d, want the command's 0\n%s", code, tail(p.log.String(), 3000))
	}
	if n := strings.Count(p.log.String(), "archiving agent"); n != 1 {
		t.Fatalf("the agent's failure logged %d times\n%s", n, tail(p.log.String(), 3000))
	}
}

// TestRunMetricsAddrTaken: a metrics_addr in use does not keep the
// command from running (it exited 1 before starting it).
func TestRunMetricsAddrTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	root := t.TempDir()
	cfg := runConfig(t, root, "")
	out := &syncBuffer{}
	p := startLogship(t, agentOpts{stdout: out, env: []string{"LOGSHIP_METRICS_ADDR=" + ln.Addr().String()}}, "run", "-c", cfg, "--", "sh", "-c", "echo ran; exit 5")
	if code := runExit(t, p, 30*time.Second); code != 5 || !strings.Contains(out.String(), "ran") || !strings.Contains(p.log.String(), "metrics_addr") {
		t.Fatalf("exit %d, want the command's 5\nstdout: %s\nlog: %s", code, out.String(), tail(p.log.String(), 2000))
	}
}
