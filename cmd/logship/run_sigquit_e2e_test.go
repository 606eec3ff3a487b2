package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// jdkWithoutJcmd makes a JDK home under dir whose bin holds only a copy of
// the java launcher (its lib and conf are links to the real ones), so that
// a JVM started from it has no jcmd beside its binary, as in an image with
// a JRE only. It returns the java to run.
func jdkWithoutJcmd(t *testing.T, dir string) string {
	t.Helper()
	java, err := exec.LookPath("java")
	if err != nil {
		t.Skip("no java on PATH")
	}
	real, err := filepath.EvalSymlinks(java)
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Dir(filepath.Dir(real))
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"lib", "conf"} {
		if _, err := os.Stat(filepath.Join(home, d)); err == nil {
			if err := os.Symlink(filepath.Join(home, d), filepath.Join(dir, d)); err != nil {
				t.Fatal(err)
			}
		}
	}
	b, err := os.ReadFile(real)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(bin, "java")
	if err := os.WriteFile(out, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

// Issue 10: with no jcmd in the image, a remote snapshot of a JVM run by
// logship run gets its thread dump by SIGQUIT, read from the stdout that
// logship run spools; the manifest says so, and the archived stdout is
// still the passed-through one (the dump is in both).
func TestRunSnapshotThreadDumpBySIGQUIT(t *testing.T) {
	root := t.TempDir()
	app := filepath.Join(root, "app")
	os.MkdirAll(app, 0o755)
	javaTools(t, app) // compiles Hook: prints "ready", then sleeps
	java := jdkWithoutJcmd(t, filepath.Join(root, "jre"))
	cfg := runConfig(t, root, `snapshot:
  timeout: 30s
  remote:
    poll_interval: 50ms
    max_backoff: 200ms
`)
	// No jcmd on logship's PATH either (nor beside the JVM's binary).
	noTools := filepath.Join(root, "empty-path")
	os.MkdirAll(noTools, 0o755)
	out := &syncBuffer{}
	p := startLogship(t, agentOpts{stdout: out, dir: app, env: []string{"PATH=" + noTools}},
		"run", "-c", cfg, "--", java, "-cp", app, "Hook")
	p.waitFor(t, time.Minute, "the JVM to start", func() bool { return strings.Contains(out.String(), "ready\n") })
	started := regexp.MustCompile(`msg="run: started" pid=(\d+)`).FindStringSubmatch(p.log.String())
	if started == nil {
		t.Fatalf("no child pid in the log:\n%s", p.log.String())
	}
	pid, _ := strconv.Atoi(started[1])

	ex := filepath.Join(root, "extract")
	stdout, stderr, code := runLogship(t, nil, "snapshot", "--remote", "--from", filepath.Join(root, "archive"),
		"--app", "run-e2e", "--host", "test-host", "--poll", "100ms", "--wait", "1m", "--progress", "plain", "--extract", ex)
	if code != 0 {
		t.Fatalf("snapshot --remote: exit %d\nstdout: %s\nstderr: %s\nrun: %s", code, stdout, stderr, tail(p.log.String(), 4000))
	}
	b, err := os.ReadFile(filepath.Join(ex, "test-host", "manifest.json"))
	if err != nil {
		t.Fatalf("%v\nstdout: %s", err, stdout)
	}
	var m struct {
		Trigger string
		Facts   struct {
			JVM []struct {
				PID            int
				ThreadDump     string `json:"thread_dump"`
				ThreadDumpNote string `json:"thread_dump_note"`
			}
		}
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	// Other JVMs of the machine may be in the facts too: the app's is first.
	if m.Trigger != "remote" || len(m.Facts.JVM) == 0 || m.Facts.JVM[0].PID != pid || m.Facts.JVM[0].ThreadDump != "sigquit" {
		t.Fatalf("manifest: trigger %q, jvm facts %+v; want the child's (pid %d) first, with thread_dump sigquit", m.Trigger, m.Facts.JVM, pid)
	}
	if note := m.Facts.JVM[0].ThreadDumpNote; !strings.Contains(note, "no jcmd") {
		t.Errorf("thread_dump_note %q does not say jcmd is missing", note)
	}
	dump, err := os.ReadFile(filepath.Join(ex, "test-host", "jvm", strconv.Itoa(pid), "thread_dump.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"Full thread dump", `"main"`, "at Hook.main(Hook.java"} {
		if !bytes.Contains(dump, []byte(w)) {
			t.Errorf("thread_dump.txt lacks %q:\n%.2000s", w, dump)
		}
	}

	got := termAndPull(t, p, root, out)["stdout/stdout"]
	if !bytes.Contains(got, []byte("Full thread dump")) {
		t.Error("the archived stdout lacks the thread dump")
	}
}
