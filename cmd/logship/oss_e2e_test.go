package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/loggen"
	"github.com/logship/logship/internal/osstest"
)

const (
	e2eAK     = "LTAI5tE2eAgentKey0007"
	e2eSK     = "e2e-Secret-must-not-leak"
	e2eBucket = "e2e-logs"
)

// ossArchive reassembles, from what osstest holds, every stream: decoded
// chunks are cached by key and ETag, since the test asks many times.
type ossArchive struct {
	srv   *osstest.Server
	cache map[string]cachedChunk
}

type cachedChunk struct {
	etag string
	h    *archive.Header
	raw  []byte
}

func (a *ossArchive) reassemble(t *testing.T) (map[string][]byte, []archive.StreamPlan[rawChunk]) {
	t.Helper()
	if a.cache == nil {
		a.cache = map[string]cachedChunk{}
	}
	var chunks []rawChunk
	for _, o := range a.srv.Objects(e2eBucket) {
		c, ok := a.cache[o.Key]
		if !ok || c.etag != o.ETag {
			body, meta, ok := a.srv.Get(e2eBucket, o.Key)
			if !ok {
				continue // deleted meanwhile
			}
			h, raw, err := archive.Decode(body, archive.Limits{})
			if err != nil {
				t.Fatalf("%s: %v", o.Key, err)
			}
			if meta["logship-checksum"] != h.Checksum || meta["logship-stream"] != h.Stream {
				t.Fatalf("%s: x-oss-meta-* %v does not mirror the header", o.Key, meta)
			}
			if o.ContentType != "application/zstd" {
				t.Fatalf("%s: Content-Type %q", o.Key, o.ContentType)
			}
			c = cachedChunk{etag: o.ETag, h: h, raw: raw}
			a.cache[o.Key] = c
		}
		chunks = append(chunks, rawChunk{key: o.Key, h: c.h, raw: c.raw})
	}
	return assemble(t, chunks)
}

// compare checks that every written generation was archived exactly once
// and byte for byte.
func compareGenerations(got map[string][]byte, plans []archive.StreamPlan[rawChunk], want map[string][]byte) (bool, string) {
	for _, p := range plans {
		if len(p.Gaps) > 0 {
			return false, fmt.Sprintf("stream %s (%s) has gaps %+v", p.ID, p.Path, p.Gaps)
		}
	}
	byFirst := map[string]string{}
	for id, b := range got {
		first := string(b[:bytes.IndexByte(b, '\n')+1])
		if other, dup := byFirst[first]; dup {
			return false, fmt.Sprintf("generation %q shipped as two streams %s and %s", first, other, id)
		}
		byFirst[first] = id
	}
	for first, g := range want {
		id, ok := byFirst[first]
		if !ok {
			return false, fmt.Sprintf("generation %q not archived", strings.TrimSpace(first))
		}
		if !bytes.Equal(got[id], g) {
			return false, fmt.Sprintf("generation %q (stream %s): archived %d bytes, written %d; first difference at %d",
				strings.TrimSpace(first), id, len(got[id]), len(g), firstDiff(got[id], g))
		}
	}
	if len(got) != len(want) {
		return false, fmt.Sprintf("%d streams archived, %d generations written", len(got), len(want))
	}
	return true, ""
}

// runWriters appends and rotates like rotWriter.run, at a slower pace
// (the test runs for a minute, a good part of it with OSS down).
func runWriters(w *rotWriter, stop <-chan struct{}) {
	w.mu.Lock()
	w.open()
	w.mu.Unlock()
	next := time.Now().Add(time.Duration(2000+w.rng.IntN(2000)) * time.Millisecond)
	tick := time.NewTicker(5 * time.Millisecond) // the application's pace
	defer tick.Stop()
	for {
		select {
		case <-stop:
			w.mu.Lock()
			w.f.Close()
			w.gens = append(w.gens, w.cur.Bytes())
			w.mu.Unlock()
			return
		case <-tick.C:
		}
		w.mu.Lock()
		w.step()
		if time.Now().After(next) {
			w.rotate()
			next = time.Now().Add(time.Duration(2000+w.rng.IntN(2000)) * time.Millisecond)
		}
		w.mu.Unlock()
	}
}

// The acceptance test of issue 3: the agent ships to osstest over HTTP
// while writers append and rotate (logback, JUL, copytruncate) and OSS
// misbehaves in turn: bursts of 500 and 503 SlowDown, connection resets
// (some after the write was durable), an AccessDenied period that is then
// lifted (the agent keeps the data and says which permission is missing),
// a SIGKILL and restart, and a 30-second outage during which the agent's
// memory is sampled and must stay bounded. Finally SIGTERM; what is in
// the bucket reassembles to exactly the bytes written, every generation.
func TestAgentOSSFaultsAndOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute long")
	}
	const outage = 30 * time.Second
	memBound := int64(64 << 20)
	if os.Getenv("E2E_RACE") != "" {
		memBound = 512 << 20 // the race detector's shadow memory; the bound is for real builds
	}
	srv := e2eServer(t)
	root := t.TempDir()
	logs := filepath.Join(root, "logs")
	cfg := writeConfig(t, root, fmt.Sprintf(`app: e2e
host: test-host
sources:
  - type: file
    paths: ["%s/**/*.log*"]
    read_from: beginning
    scan_interval: 50ms
    partial_line_after: 300ms
    max_rotated_open: 128
    max_line_bytes: 64KiB
pipeline:
  max_bytes: 256KiB
  max_age: 200ms
  checkpoint_interval: 100ms
  retry_refused: 1s
  state_dir: %s/state
sink:
  type: oss
  bucket: %s
  region: cn-hangzhou
  endpoint: %s
  prefix: logs/
  timeout: 5s
shutdown_timeout: 20s
`, logs, root, e2eBucket, srv.Endpoint()))
	env := ossEnv(t)

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	writers, stopWriters := startRotWriters(t, logs, seed, runWriters)

	logbuf := &syncBuffer{}
	defer func() {
		if p := saveLogOnFailure(t, logbuf, "logship-oss-e2e-agent.log"); p != "" {
			t.Logf("agent logs: %s\ncounts: %v", p, srv.Counts())
		}
	}()
	start := time.Now()
	a := startAgent(t, cfg, agentOpts{env: env, log: logbuf})
	puts := func() int { return srv.Count("PutObject") }
	// waitPuts waits until n more PutObject requests arrived (the faults
	// injected before were met).
	waitPuts := func(what string, n int) {
		t.Helper()
		from := puts()
		a.waitFor(t, 20*time.Second, what, func() bool { return puts() >= from+n })
	}
	a.waitFor(t, 10*time.Second, "first chunks", func() bool { return len(srv.Objects(e2eBucket)) >= 3 })

	// Bursts of 500 and 503 SlowDown.
	srv.Inject(osstest.Fault{Op: "PutObject", Times: 6, Status: 500})
	srv.Throttle("PutObject", 6)
	waitPuts("500 and 503 bursts", 14)
	// Connection resets, before and after the write is durable.
	srv.Inject(osstest.Fault{Op: "PutObject", Times: 4, Reset: true})
	srv.Inject(osstest.Fault{Op: "PutObject", Times: 3, Reset: true, AfterOp: true})
	waitPuts("connection resets", 9)
	t.Logf("after bursts and resets: %d objects, counts %v", len(srv.Objects(e2eBucket)), srv.Counts())

	// An AccessDenied period, then lifted: the agent reports it with the
	// permission to grant and keeps the data.
	denied := srv.Inject(osstest.Fault{Op: osstest.WriteOp, Status: 403, Code: "AccessDenied", Message: "You have no right to access this object."})
	a.waitFor(t, 20*time.Second, "the AccessDenied report", func() bool {
		return strings.Contains(logbuf.String(), "AccessDenied: the RAM policy of this key lacks oss:PutObject on acs:oss:*:*:"+e2eBucket+"/logs/*")
	})
	srv.Remove(denied)
	// Lifted: the agent recovers on its own, at the pace of retry_refused.
	waitPuts("uploads after AccessDenied is lifted", 3)

	// SIGKILL and restart.
	a.signal(t, syscall.SIGKILL)
	logbuf.Write([]byte("---- restart after SIGKILL ----\n"))
	a = startAgent(t, cfg, agentOpts{env: env, log: logbuf})
	t.Logf("%v: AccessDenied reported and lifted; SIGKILL and restart", time.Since(start).Round(time.Millisecond))
	waitPuts("uploads after the restart", 3)

	// The outage: memory stays bounded while the files are the buffer.
	before, putsBefore := len(srv.Objects(e2eBucket)), puts()
	t.Logf("%v: outage starts", time.Since(start).Round(time.Millisecond))
	srv.Outage(outage)
	end := time.Now().Add(outage)
	var peakRSS, hwm int64
	for time.Now().Before(end) {
		a.alive(t)
		rss, h, err := memory(a.cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		peakRSS, hwm = max(peakRSS, rss), h
		if rss > memBound {
			t.Fatalf("agent RSS %d MiB during the outage, bound %d MiB", rss>>20, memBound>>20)
		}
		time.Sleep(200 * time.Millisecond) // sampling period
	}
	t.Logf("during the %v outage: peak VmRSS %.1f MiB, VmHWM %.1f MiB; %d PutObject refused", outage,
		float64(peakRSS)/(1<<20), float64(hwm)/(1<<20), puts()-putsBefore)
	if hwm > memBound {
		t.Fatalf("agent VmHWM %d MiB, bound %d MiB", hwm>>20, memBound>>20)
	}
	a.waitFor(t, 40*time.Second, "uploads after the outage", func() bool { return len(srv.Objects(e2eBucket)) > before })
	t.Logf("%v: uploads again", time.Since(start).Round(time.Millisecond))
	time.Sleep(time.Second) // writers go on a little after the outage
	stopWriters()

	want := writtenGenerations(writers) // first line → generation bytes
	arch := &ossArchive{srv: srv}
	deadline := time.Now().Add(45 * time.Second)
	for {
		got, plans := arch.reassemble(t)
		ok, why := compareGenerations(got, plans, want)
		if ok {
			t.Logf("%v: archive complete", time.Since(start).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("archive incomplete 45s after the writers stopped: %s\nagent log tail:\n%s", why, tail(logbuf.String(), 4000))
		}
		time.Sleep(250 * time.Millisecond) // poll
	}
	if err := a.signal(t, syscall.SIGTERM); err != nil {
		t.Fatalf("agent exit after SIGTERM: %v\n%s", err, tail(logbuf.String(), 4000))
	}
	got, plans := arch.reassemble(t)
	if ok, why := compareGenerations(got, plans, want); !ok {
		t.Fatalf("after SIGTERM: %s", why)
	}
	if strings.Contains(logbuf.String(), e2eSK) {
		t.Fatal("the secret appears in the agent's output")
	}
	t.Logf("%d generations verified byte for byte from %d objects; requests %v", len(want), len(srv.Objects(e2eBucket)), srv.Counts())
}

// A wrong secret: osstest answers SignatureDoesNotMatch, the agent says
// what is wrong and keeps the data, check fails with the diagnosis, and
// the secret is in no output (validate --print included).
func TestOSSWrongSecretBinary(t *testing.T) {
	const wrong = "wrong-Secret-value-0123"
	srv := e2eServer(t)
	root := t.TempDir()
	logs := filepath.Join(root, "logs")
	os.MkdirAll(logs, 0o755)
	os.WriteFile(filepath.Join(logs, "app.log"), []byte("hello\nworld\n"), 0o644)
	body := fmt.Sprintf(`app: e2e
log_level: debug
sources:
  - type: file
    paths: ["%s/*.log"]
    scan_interval: 50ms
pipeline:
  max_age: 100ms
  state_dir: %s/state
sink:
  type: oss
  bucket: %s
  region: cn-hangzhou
  endpoint: %s
  prefix: logs/
shutdown_timeout: 1s
`, logs, root, e2eBucket, srv.Endpoint())
	cfg := writeConfig(t, root, body)
	env := []string{"OSS_ACCESS_KEY_ID=" + e2eAK, "OSS_ACCESS_KEY_SECRET=" + wrong, "OSS_SDK_LOG_LEVEL=debug"}

	logbuf := &syncBuffer{}
	a := startAgent(t, cfg, agentOpts{env: env, log: logbuf})
	a.waitFor(t, 20*time.Second, "the SignatureDoesNotMatch report", func() bool {
		return strings.Contains(logbuf.String(), "SignatureDoesNotMatch: the access key secret is wrong")
	})
	// The data never became durable before shutdown_timeout: exit 1, as
	// the README's exit codes say.
	var ee *exec.ExitError
	if err := a.signal(t, syscall.SIGTERM); !errors.As(err, &ee) || ee.ExitCode() != exitFailure {
		t.Errorf("agent stopped with %v, want exit %d (drain deadline passed)", err, exitFailure)
	}
	agentOut := logbuf.String()
	for _, w := range []string{"LTAI****0007", "OSS_ACCESS_KEY_SECRET", "keeping the data"} {
		if !strings.Contains(agentOut, w) {
			t.Errorf("agent output lacks %q", w)
		}
	}
	if len(srv.Objects(e2eBucket)) != 0 {
		t.Fatal("objects stored with a wrong secret")
	}

	stdout, stderr, code := runLogship(t, env, "check", "-c", cfg)
	if code != exitProblems || !strings.Contains(stdout, "SignatureDoesNotMatch: the access key secret is wrong") {
		t.Fatalf("check: exit %d\n%s%s", code, stdout, stderr)
	}
	checkOut := stdout + stderr

	// The secret in the config file is redacted by validate --print.
	cfg2 := writeConfig(t, t.TempDir(), strings.Replace(body, "shutdown_timeout:", "  access_key_id: "+e2eAK+"\n  access_key_secret: "+wrong+"\nshutdown_timeout:", 1))
	vout, verr, vcode := runLogship(t, nil, "validate", "--print", "-c", cfg2)
	if vcode != exitOK {
		t.Fatalf("validate: %d %s", vcode, verr)
	}
	for name, out := range map[string]string{"agent": agentOut, "check": checkOut, "validate": vout + verr} {
		if strings.Contains(out, wrong) || strings.Contains(out, e2eSK) {
			t.Fatalf("the secret appears in the output of %s:\n%s", name, out)
		}
	}
}

// benchLogs writes about size bytes of generated Java application logs
// (internal/loggen, the data of `logship bench`) in 8 files, once, into a
// folder of the temp folder, and returns the glob of the files and their
// total size.
func benchLogs(b *testing.B, size int64) (string, int64) {
	b.Helper()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("logship-bench-java-%d", size))
	glob := filepath.Join(dir, "*.log")
	if paths, _ := filepath.Glob(glob); len(paths) == 8 {
		var n int64
		for _, p := range paths {
			fi, err := os.Stat(p)
			if err != nil {
				b.Fatal(err)
			}
			n += fi.Size()
		}
		if n >= size {
			return glob, n
		}
	}
	os.RemoveAll(dir)
	_, n, err := loggen.WriteFiles(dir, loggen.Options{Size: size, Files: 8, Seed: 1, Sync: true})
	if err != nil {
		b.Fatal(err)
	}
	return glob, n
}

// BenchmarkAgentOSS measures the whole path: `logship agent` (file source,
// batcher, zstd, oss sink) shipping 1 GiB of generated Java application
// logs in 8 files to osstest over loopback HTTP. The agent is a subprocess, so its CPU time (getrusage of
// the child) and peak RSS (its VmHWM just before it is stopped) exclude
// osstest, which runs in the test process on the same two cores. Reported: raw MB/s from start to the
// last byte stored, CPU seconds per GiB, peak RSS. Defaults apply but for
// max_age (100ms instead of 5s, so that the file's last, partial chunk
// does not wait 5 seconds). LOGSHIP_BENCH_BYTES changes the size. With
// -benchtime Nx the agent ships the file N times, each to a new server, and
// the figures are the median run's (by CPU), with the lowest and highest
// CPU beside it: this machine's speed drifts from minute to minute.
//
//	go test ./cmd/logship -run XXX -bench AgentOSS -benchtime 5x
func BenchmarkAgentOSS(b *testing.B) {
	size := int64(1 << 30)
	if v, err := strconv.ParseInt(os.Getenv("LOGSHIP_BENCH_BYTES"), 10, 64); err == nil && v > 0 {
		size = v
	}
	logFile, size := benchLogs(b, size)
	var runs []benchRun
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		srv := osstest.New(osstest.Options{AccessKeyID: e2eAK, AccessKeySecret: e2eSK, Buckets: []string{e2eBucket}})
		root := b.TempDir()
		cfg := filepath.Join(root, "logship.yaml")
		os.WriteFile(cfg, []byte(fmt.Sprintf(`app: bench
host: bench-host
sources:
  - type: file
    paths: [%q]
    read_from: beginning
pipeline:
  compression: zstd
  max_age: 100ms
  state_dir: %s/state
sink:
  type: oss
  bucket: %s
  region: cn-hangzhou
  endpoint: %s
  prefix: logs/
`, logFile, root, e2eBucket, srv.Endpoint())), 0o600)
		var logbuf syncBuffer
		start := time.Now()
		a := startAgent(b, cfg, agentOpts{env: ossEnv(b), log: &logbuf})
		stored := func() (raw int64) {
			for _, o := range srv.Objects(e2eBucket) {
				n, _ := strconv.ParseInt(o.Meta["logship-raw-size"], 10, 64)
				raw += n
			}
			return raw
		}
		deadline := time.Now().Add(5 * time.Minute)
		for stored() < size {
			if !a.running() {
				b.Fatalf("agent exited: %v\n%s", a.err, tail(logbuf.String(), 3000))
			}
			if time.Now().After(deadline) {
				a.cmd.Process.Kill()
				b.Fatalf("only %d of %d bytes stored after 5 minutes\n%s", stored(), size, tail(logbuf.String(), 3000))
			}
			time.Sleep(20 * time.Millisecond) // poll
		}
		elapsed := time.Since(start)
		// The agent's own peak: VmHWM of its address space. ru_maxrss is
		// not that: Go starts children with vfork, and the child's
		// maxrss starts at this (test) process's high-water mark.
		_, hwm, err := memory(a.cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		if err := a.signal(b, syscall.SIGTERM); err != nil {
			b.Fatalf("agent: %v\n%s", err, tail(logbuf.String(), 3000))
		}
		ru := a.cmd.ProcessState.SysUsage().(*syscall.Rusage)
		gib := float64(size) / (1 << 30)
		var compressed int64
		for _, o := range srv.Objects(e2eBucket) {
			compressed += o.Size
		}
		runs = append(runs, benchRun{
			mbps: float64(size) / 1e6 / elapsed.Seconds(),
			cpu:  float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9 / gib,
			user: float64(ru.Utime.Nano()) / 1e9 / gib,
			rss:  float64(hwm) / (1 << 20), ratio: float64(size) / float64(compressed),
		})
		srv.Close()
	}
	b.StopTimer()
	sort.Slice(runs, func(i, j int) bool { return runs[i].cpu < runs[j].cpu })
	m := runs[(len(runs)-1)/2]
	b.ReportMetric(m.mbps, "MB/s")
	b.ReportMetric(m.cpu, "cpu-s/GiB")
	b.ReportMetric(m.user, "user-s/GiB")
	b.ReportMetric(m.rss, "peak-RSS-MiB")
	b.ReportMetric(m.ratio, "ratio")
	if len(runs) > 1 {
		b.ReportMetric(runs[0].cpu, "min-cpu-s/GiB")
		b.ReportMetric(runs[len(runs)-1].cpu, "max-cpu-s/GiB")
	}
}

// benchRun is one shipment of BenchmarkAgentOSS.
type benchRun struct{ mbps, cpu, user, rss, ratio float64 }
