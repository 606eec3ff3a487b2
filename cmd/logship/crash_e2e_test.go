package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/osstest"
	"github.com/logship/logship/internal/sinks"
	"github.com/logship/logship/internal/sinks/dir"
)

// crashConfig is an agent config with one crash source and a dir sink.
func crashConfig(t *testing.T, root string, paths []string, extra string) string {
	t.Helper()
	q := make([]string, len(paths))
	for i, p := range paths {
		q[i] = strconv.Quote(p)
	}
	return writeConfig(t, root, fmt.Sprintf(`app: e2e
host: test-host
log_format: json
sources:
  - type: crash
    paths: [%s]
    settle: 300ms
%spipeline:
  state_dir: %s/state
  checkpoint_interval: 100ms
sink:
  type: dir
  path: %s/archive
shutdown_timeout: 20s
`, strings.Join(q, ", "), extra, root, root))
}

// crashKeys lists the crash objects in a dir-sink archive.
func crashKeys(t *testing.T, archiveDir string) []string {
	t.Helper()
	d, err := dir.New(archiveDir)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	err = d.List(context.Background(), "", func(oi sinks.ObjectInfo) error {
		if strings.Contains(oi.Key, "/source=crash/") {
			keys = append(keys, oi.Key)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// decoded is an object read back through archive.NewReader.
type decoded struct {
	h      *archive.Header
	sum    [32]byte
	raw    int64
	stored int64
}

func decodeObject(t *testing.T, r io.Reader) decoded {
	t.Helper()
	cr := &countingReader{r: r}
	ar, err := archive.NewReader(cr, archive.Limits{MaxRaw: 8 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer ar.Close()
	h := sha256.New()
	n, err := io.Copy(h, ar)
	if err != nil {
		t.Fatalf("decoding: %v", err)
	}
	d := decoded{h: ar.Header, raw: n, stored: cr.n}
	copy(d.sum[:], h.Sum(nil))
	return d
}

func decodeFile(t *testing.T, path string) decoded {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return decodeObject(t, bufio.NewReaderSize(f, 1<<20))
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

// stockZstd checks that `zstd -d` decodes an object to the file's bytes.
func stockZstd(t *testing.T, object, original string) {
	t.Helper()
	bin, err := exec.LookPath("zstd")
	if err != nil {
		t.Log("zstd CLI not installed; stock decoder not checked")
		return
	}
	cmd := exec.Command(bin, "-d", "-c", "-q", object)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	io.Copy(h, out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("zstd -d %s: %v", object, err)
	}
	var s [32]byte
	copy(s[:], h.Sum(nil))
	if s != fileSum(t, original) {
		t.Fatalf("zstd -d %s differs from %s", object, original)
	}
}

// deadPid returns the pid of a process that has exited (for file names
// whose writer is gone).
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// writeHeapLike writes size bytes that compress about like a heap dump:
// log lines (strings on the heap), object records with pointer-like ids,
// noise and zeroed arrays. It returns the SHA-256 of what it wrote.
func writeHeapLike(t *testing.T, path string, size int64, seed uint64) [32]byte {
	t.Helper()
	var lines [][]byte
	for _, name := range []string{"Zookeeper_2k.log", "HDFS_2k.log", "Hadoop_2k.log"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "testdata", "loghub", name))
		if err != nil {
			continue
		}
		lines = append(lines, bytes.SplitAfter(b, []byte("\n"))...)
	}
	if len(lines) == 0 {
		lines = [][]byte{[]byte("2026-11-26 12:00:00,000 INFO [main] com.example.OrderService: order 42 done\n")}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	rng := rand.New(rand.NewPCG(seed, 1))
	w.Write(append([]byte("JAVA PROFILE 1.0.2\x00\x00\x00\x00\x08"), make([]byte, 8)...))
	var rec [24]byte
	zeros := make([]byte, 1024)
	noise := make([]byte, 128)
	for n := int64(31); n < size; {
		var chunk []byte
		switch k := rng.IntN(20); {
		case k < 9:
			chunk = lines[rng.IntN(len(lines))]
		case k < 14:
			rec[0] = 0x21
			for i := 1; i < len(rec); i += 8 {
				v := 0x00007f0000000000 | rng.Uint64()&0xffffff8
				for j := 0; j < 8 && i+j < len(rec); j++ {
					rec[i+j] = byte(v >> (8 * j))
				}
			}
			chunk = rec[:]
		case k < 19:
			chunk = noise[:8+rng.IntN(120)]
			for i := 0; i < len(chunk); i += 8 {
				v := rng.Uint64()
				for j := 0; j < 8 && i+j < len(chunk); j++ {
					chunk[i+j] = byte(v >> (8 * j))
				}
			}
		default:
			chunk = zeros[:rng.IntN(len(zeros))]
		}
		if int64(len(chunk)) > size-n {
			chunk = chunk[:size-n]
		}
		w.Write(chunk)
		n += int64(len(chunk))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

// javaTools compiles the test programs, or skips when no JDK is here.
func javaTools(t *testing.T, dir string) string {
	t.Helper()
	java, err1 := exec.LookPath("java")
	javac, err2 := exec.LookPath("javac")
	if err1 != nil || err2 != nil {
		t.Skip("java/javac not installed: the real JVM crash tests need a JDK (CI installs OpenJDK 17)")
	}
	src := map[string]string{
		"Crash.java": `import java.lang.reflect.Field;
public class Crash {
    public static void main(String[] a) throws Exception {
        Field f = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
        f.setAccessible(true);
        sun.misc.Unsafe u = (sun.misc.Unsafe) f.get(null);
        u.putAddress(0, 0);
    }
}
`,
		"RunCrash.java": `import java.lang.reflect.Field;
public class RunCrash {
    public static void main(String[] a) throws Exception {
        for (int i = 0; i < 2000; i++) System.out.println("line " + i + " before the crash");
        System.out.print("a partial line, then the crash");
        System.out.flush();
        Field f = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
        f.setAccessible(true);
        ((sun.misc.Unsafe) f.get(null)).putAddress(0, 0);
    }
}
`,
		"Hook.java": `public class Hook {
    public static void main(String[] a) throws Exception {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> System.out.println("shutdown hook ran")));
        System.out.println("ready");
        Thread.sleep(600000);
    }
}
`,
		"Oom.java": `import java.util.*;
public class Oom {
    public static void main(String[] a) {
        List<Object> l = new ArrayList<>();
        for (long i = 0; ; i++) l.add("object " + i + " of a heap that fills up");
    }
}
`,
	}
	var files []string
	for name, body := range src {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	if out, err := exec.Command(javac, append([]string{"-nowarn", "-d", dir}, files...)...).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	return java
}

var crashFileRE = regexp.MustCompile(`^(hs_err|java)_pid(\d+)\.(log|hprof)$`)

// The acceptance test of the crash source with a real JVM: a JVM that
// writes to address 0 through sun.misc.Unsafe leaves an hs_err file, and a
// JVM with -Xmx16m -XX:+HeapDumpOnOutOfMemoryError a heap dump. Each is
// archived once, whole, compressed, with its parsed summary in the header;
// both decode (archive.NewReader and stock zstd) to the files' bytes. A
// restarted agent does not archive them again.
func TestCrashRealJVM(t *testing.T) {
	root := t.TempDir()
	app := filepath.Join(root, "app")
	if err := os.MkdirAll(app, 0o755); err != nil {
		t.Fatal(err)
	}
	java := javaTools(t, app)
	cfg := crashConfig(t, root, []string{app + "/hs_err_pid*.log", app + "/java_pid*.hprof"}, "")
	a := startAgent(t, cfg, agentOpts{})

	crash := exec.Command(java, "-XX:-CreateCoredumpOnCrash", "-XX:ErrorFile="+app+"/hs_err_pid%p.log", "-cp", app, "Crash")
	crash.Dir = app
	if out, err := crash.CombinedOutput(); err == nil {
		t.Fatalf("the JVM did not crash:\n%s", out)
	}
	oom := exec.Command(java, "-Xmx16m", "-XX:+HeapDumpOnOutOfMemoryError", "-XX:HeapDumpPath="+app, "-cp", app, "Oom")
	oom.Dir = app
	if out, err := oom.CombinedOutput(); err == nil || !bytes.Contains(out, []byte("Heap dump file created")) {
		t.Fatalf("no heap dump (%v):\n%s", err, out)
	}
	files := map[string]string{} // kind -> path
	ents, _ := os.ReadDir(app)
	for _, e := range ents {
		if m := crashFileRE.FindStringSubmatch(e.Name()); m != nil {
			files[m[1]] = filepath.Join(app, e.Name())
		}
	}
	if files["hs_err"] == "" || files["java"] == "" {
		t.Fatalf("crash files missing: %v", files)
	}
	archiveDir := filepath.Join(root, "archive")
	a.waitFor(t, 60*time.Second, "two crash objects", func() bool { return len(crashKeys(t, archiveDir)) == 2 })

	for _, key := range crashKeys(t, archiveDir) {
		obj := filepath.Join(archiveDir, filepath.FromSlash(key))
		d := decodeFile(t, obj)
		h := d.h
		path := h.Path
		if path != files["hs_err"] && path != files["java"] {
			t.Fatalf("%s: unexpected path %q", key, path)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if d.sum != fileSum(t, path) || d.raw != fi.Size() || h.Start != 0 || h.End != fi.Size() {
			t.Fatalf("%s does not hold %s whole", key, path)
		}
		if !h.First.Equal(fi.ModTime().UTC()) || h.Source != archive.KindCrash {
			t.Fatalf("header %+v", h)
		}
		stockZstd(t, obj, path)
		pid := crashFileRE.FindStringSubmatch(filepath.Base(path))[2]
		if path == files["hs_err"] {
			t.Logf("hs_err: %d bytes -> %d stored; extra %v", d.raw, d.stored, h.Extra)
			if h.Event != archive.EventJVMCrash || h.Extra["signal"] != "SIGSEGV" || h.Extra["pid"] != pid ||
				!strings.Contains(h.Extra["problematic_frame"], "Unsafe") || !strings.Contains(h.Extra["jre_version"], "17.") ||
				!strings.Contains(h.Extra["thread"], `"main"`) || h.Extra["time"] == "" || h.Extra["artifact"] != "hs_err" {
				t.Fatalf("hs_err header: event %q extra %v", h.Event, h.Extra)
			}
		} else {
			t.Logf("heap dump: %d bytes -> %d stored; extra %v", d.raw, d.stored, h.Extra)
			if h.Event != archive.EventHeapDump || h.Extra["pid"] != pid || h.Extra["hprof_format"] != "JAVA PROFILE 1.0.2" {
				t.Fatalf("heap dump header: event %q extra %v", h.Event, h.Extra)
			}
			if d.stored >= d.raw/2 {
				t.Fatalf("heap dump stored in %d bytes for %d: not compressed", d.stored, d.raw)
			}
		}
	}
	a.stop(t, syscall.SIGTERM)
	if n := strings.Count(a.log.String(), "crash: archived crash file"); n != 2 {
		t.Fatalf("%d artifacts archived, want 2", n)
	}

	// Restart, then crash another JVM: once its file is archived, the
	// scans have passed the first two many times without archiving them.
	a2 := startAgent(t, cfg, agentOpts{})
	crash2 := exec.Command(java, "-XX:-CreateCoredumpOnCrash", "-XX:ErrorFile="+app+"/hs_err_pid%p.log", "-cp", app, "Crash")
	crash2.Run()
	a2.waitFor(t, 60*time.Second, "the third crash object", func() bool { return len(crashKeys(t, archiveDir)) == 3 })
	a2.stop(t, syscall.SIGTERM)
	if n := strings.Count(a2.log.String(), "crash: archived crash file"); n != 1 {
		t.Fatalf("the restarted agent archived %d artifacts, want 1:\n%s", n, a2.log.String())
	}
}

// shippedLine finds the pipeline's "artifact shipped" log record.
func shippedLine(t *testing.T, log string) map[string]any {
	t.Helper()
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, `"msg":"artifact shipped"`) {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatalf("no artifact shipped line in:\n%s", tail(log, 4000))
	return nil
}

// A 300 MB artifact whose upload is interrupted by SIGKILL resumes after a
// restart from the parts already stored (dir sink: durable part files)
// without sending them again, and the object is byte-identical.
func TestCrashResumeAfterKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 300 MB")
	}
	root := t.TempDir()
	app := filepath.Join(root, "app")
	os.MkdirAll(app, 0o755)
	size := int64(300 << 20)
	path := filepath.Join(app, fmt.Sprintf("java_pid%d.hprof", deadPid(t)))
	sum := writeHeapLike(t, path, size, 1)
	_, parts := artifactParts(size)

	// Slow enough (rate_limit) to be killed in the middle.
	slow := crashConfig(t, root, []string{app + "/*.hprof"}, "    rate_limit: 60MiB\n")
	a := startAgent(t, slow, agentOpts{})
	uploads := filepath.Join(root, "archive", ".uploads")
	stored := func() int {
		m, _ := filepath.Glob(filepath.Join(uploads, "*", ".tmp-part-*"))
		return len(m)
	}
	a.waitFor(t, 60*time.Second, "a third of the parts stored", func() bool { return stored() >= parts/3 })
	a.stop(t, syscall.SIGKILL)
	kept := stored()
	if kept >= parts {
		t.Fatalf("all %d parts stored before the kill", kept)
	}
	t.Logf("killed with %d of %d parts stored", kept, parts)

	fast := crashConfig(t, root, []string{app + "/*.hprof"}, "")
	a2 := startAgent(t, fast, agentOpts{})
	archiveDir := filepath.Join(root, "archive")
	a2.waitFor(t, 120*time.Second, "the object", func() bool { return len(crashKeys(t, archiveDir)) == 1 })
	a2.waitFor(t, 10*time.Second, "the shipped record", func() bool { return strings.Contains(a2.log.String(), `"msg":"artifact shipped"`) })
	m := shippedLine(t, a2.log.String())
	if int(m["parts_resumed"].(float64)) != kept || int(m["parts_uploaded"].(float64)) != parts-kept || int(m["parts"].(float64)) != parts {
		t.Fatalf("resumed %v, uploaded %v of %v parts; %d were stored", m["parts_resumed"], m["parts_uploaded"], m["parts"], kept)
	}
	a2.stop(t, syscall.SIGTERM)
	d := decodeFile(t, filepath.Join(archiveDir, filepath.FromSlash(crashKeys(t, archiveDir)[0])))
	if d.sum != sum || d.raw != size {
		t.Fatal("the resumed object does not decode to the file's bytes")
	}
	t.Logf("%d bytes stored for %d raw", d.stored, d.raw)
	if _, err := os.Stat(uploads); err == nil {
		if m, _ := filepath.Glob(filepath.Join(uploads, "*", "*")); len(m) != 0 {
			t.Fatalf("upload leftovers: %v", m)
		}
	}
}

// artifactParts mirrors artifact.Layout for the default part size.
func artifactParts(size int64) (int64, int) {
	const part = 8 << 20
	return part, int((size + part - 1) / part)
}

// Shipping a 1 GiB heap dump keeps the agent's peak RSS under 64 MiB
// (about 10 s here; E2E_ARTIFACT_MIB=256 makes the dump smaller).
func TestCrashHeapDumpMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 1 GiB file")
	}
	size := int64(1 << 30)
	if v, err := strconv.Atoi(os.Getenv("E2E_ARTIFACT_MIB")); err == nil && v > 0 {
		size = int64(v) << 20
	}
	const bound = 64 << 20
	root := t.TempDir()
	app := filepath.Join(root, "app")
	os.MkdirAll(app, 0o755)
	path := filepath.Join(app, fmt.Sprintf("java_pid%d.hprof", deadPid(t)))
	start := time.Now()
	sum := writeHeapLike(t, path, size, 2)
	t.Logf("wrote %d MiB in %v", size>>20, time.Since(start).Round(time.Millisecond))

	a := startAgent(t, crashConfig(t, root, []string{app + "/*.hprof"}, ""), agentOpts{})
	archiveDir := filepath.Join(root, "archive")
	start = time.Now()
	var peak int64
	a.waitFor(t, 300*time.Second, "the heap dump object", func() bool {
		if _, hwm, err := memory(a.cmd.Process.Pid); err == nil {
			peak = max(peak, hwm)
		}
		return len(crashKeys(t, archiveDir)) == 1
	})
	took := time.Since(start)
	if _, hwm, err := memory(a.cmd.Process.Pid); err == nil {
		peak = max(peak, hwm)
	}
	a.stop(t, syscall.SIGTERM)
	d := decodeFile(t, filepath.Join(archiveDir, filepath.FromSlash(crashKeys(t, archiveDir)[0])))
	if d.sum != sum || d.raw != size {
		t.Fatal("the object does not decode to the file's bytes")
	}
	t.Logf("%d MiB heap dump shipped in %v (%d MiB stored); agent peak RSS (VmHWM) %.1f MiB",
		size>>20, took.Round(time.Millisecond), d.stored>>20, float64(peak)/(1<<20))
	if os.Getenv("E2E_RACE") != "" {
		t.Log("race-enabled binary: memory bound not checked")
	} else if peak > bound {
		t.Fatalf("peak RSS %d MiB, bound %d MiB", peak>>20, bound>>20)
	}
}

const (
	crashAK     = "LTAI5tCrashE2eKey0042"
	crashSK     = "crash-e2e-secret"
	crashBucket = "crash-e2e"
)

// The OSS variant of the resume test: osstest counts UploadPart calls.
// UploadPart is slowed down so that the agent is killed with some parts
// stored; after the restart exactly the missing parts are uploaded and the
// object decodes to the file's bytes.
func TestCrashResumeOSS(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 300 MB")
	}
	srv := osstest.New(osstest.Options{AccessKeyID: crashAK, AccessKeySecret: crashSK, Buckets: []string{crashBucket}})
	defer srv.Close()
	root := t.TempDir()
	app := filepath.Join(root, "app")
	os.MkdirAll(app, 0o755)
	size := int64(300 << 20)
	path := filepath.Join(app, fmt.Sprintf("java_pid%d.hprof", deadPid(t)))
	sum := writeHeapLike(t, path, size, 3)
	_, parts := artifactParts(size)
	cfg := writeConfig(t, root, fmt.Sprintf(`app: e2e
host: test-host
log_format: json
sources:
  - type: crash
    paths: [%q]
    settle: 300ms
pipeline:
  state_dir: %s/state
  checkpoint_interval: 100ms
sink:
  type: oss
  bucket: %s
  region: cn-hangzhou
  endpoint: %s
  prefix: logs/
  timeout: 30s
shutdown_timeout: 20s
`, app+"/*.hprof", root, crashBucket, srv.Endpoint()))
	env := []string{"OSS_ACCESS_KEY_ID=" + crashAK, "OSS_ACCESS_KEY_SECRET=" + crashSK}

	slow := srv.Inject(osstest.Fault{Op: "UploadPart", Latency: 150 * time.Millisecond})
	a := startAgent(t, cfg, agentOpts{env: env})
	storedParts := func() int {
		n := 0
		for _, u := range srv.Uploads(crashBucket) {
			n += u.Parts
		}
		return n
	}
	a.waitFor(t, 120*time.Second, "a third of the parts uploaded", func() bool { return storedParts() >= parts/3 })
	a.stop(t, syscall.SIGKILL)
	srv.Remove(slow)
	// A part the agent sent before it died may still be stored: count once
	// the server has finished what it was serving.
	waitUntil(t, 10*time.Second, "osstest to finish the requests in flight at the kill", srv.Idle)
	kept := storedParts()
	before := srv.Count("UploadPart")
	if kept >= parts {
		t.Fatalf("all %d parts stored before the kill", kept)
	}
	t.Logf("killed with %d of %d parts stored (%d UploadPart calls)", kept, parts, before)

	a2 := startAgent(t, cfg, agentOpts{env: env})
	var key string
	a2.waitFor(t, 120*time.Second, "the object", func() bool {
		for _, o := range srv.Objects(crashBucket) {
			if strings.Contains(o.Key, "/source=crash/") {
				key = o.Key
				return true
			}
		}
		return false
	})
	a2.stop(t, syscall.SIGTERM)
	if after := srv.Count("UploadPart") - before; after != parts-kept {
		t.Fatalf("the restarted agent sent %d parts, want the %d missing (%d of %d were stored)", after, parts-kept, kept, parts)
	}
	if n := srv.Count("CompleteMultipartUpload"); n != 1 {
		t.Fatalf("%d CompleteMultipartUpload calls", n)
	}
	body, _, ok := srv.Get(crashBucket, key)
	if !ok {
		t.Fatal("object vanished")
	}
	d := decodeObject(t, bytes.NewReader(body))
	if d.sum != sum || d.raw != size {
		t.Fatal("the resumed object does not decode to the file's bytes")
	}
	if len(srv.Uploads(crashBucket)) != 0 {
		t.Fatalf("uploads left: %+v", srv.Uploads(crashBucket))
	}
}

// A heap dump the agent cannot read (root-owned, 0600, the agent running
// as nobody) gives one clear error with a hint and is retried: once made
// readable, it ships. Meanwhile a readable error report ships at once.
func TestCrashUnreadableHeapDump(t *testing.T) {
	root := t.TempDir()
	// The agent runs as nobody: it needs to reach its binary, config,
	// state and archive.
	app := filepath.Join(root, "app")
	prepareForUser(t, root, app, filepath.Join(root, "state"), filepath.Join(root, "archive"))
	pid := deadPid(t)
	dump := filepath.Join(app, fmt.Sprintf("java_pid%d.hprof", pid))
	writeHeapLike(t, dump, 3<<20, 4)
	if err := os.Chmod(dump, 0o600); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(app, fmt.Sprintf("hs_err_pid%d.log", pid))
	hs, err := os.ReadFile(filepath.Join("..", "..", "internal", "sources", "crash", "testdata", "hs_err_sigsegv.log"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(report, hs, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := crashConfig(t, root, []string{app + "/*.hprof", app + "/hs_err_pid*.log"}, "")
	os.Chmod(cfg, 0o644)
	a := startAgent(t, cfg, agentOpts{cred: nobody})
	archiveDir := filepath.Join(root, "archive")
	a.waitFor(t, 30*time.Second, "the error report archived", func() bool { return len(crashKeys(t, archiveDir)) == 1 })
	a.waitFor(t, 30*time.Second, "the unreadable file reported", func() bool {
		return strings.Contains(a.log.String(), "cannot read crash file")
	})
	// Let it retry a while (many scans: settle 300ms, scans every 150ms)
	// by waiting for another file to be archived.
	other := filepath.Join(app, fmt.Sprintf("hs_err_pid%d.log", deadPid(t)))
	if err := os.WriteFile(other, append(hs, "# another\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	a.waitFor(t, 30*time.Second, "a second error report archived", func() bool { return len(crashKeys(t, archiveDir)) == 2 })
	if err := os.Chmod(dump, 0o644); err != nil {
		t.Fatal(err)
	}
	a.waitFor(t, 30*time.Second, "the heap dump archived once readable", func() bool { return len(crashKeys(t, archiveDir)) == 3 })
	a.stop(t, syscall.SIGTERM)
	log := a.log.String()
	if n := strings.Count(log, "cannot read crash file"); n != 1 {
		t.Fatalf("%d error records for the unreadable file, want 1:\n%s", n, log)
	}
	for _, want := range []string{dump, "permission denied", "logship runs as uid 65534", "owned by uid 0, mode 0600", "readable now"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "cannot read crash file") {
			t.Logf("the error: %s", line)
		}
	}
}
