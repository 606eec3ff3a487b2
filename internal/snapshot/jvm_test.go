package snapshot

import (
	"bytes"
	"context"
	"fmt"
	"github.com/logship/logship/internal/schema"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const sleeperJava = `public class Sleeper {
    public static void main(String[] args) throws Exception {
        System.out.println("ready");
        System.out.flush();
        Thread.sleep(600000);
    }
}
`

// startJVM starts a real JVM (Java's single-file source launcher) with
// the given -D options and environment, its stdout going to a file the
// test owns (as `logship run` spools its child's stdout). It returns the
// pid and the stdout file once the JVM has printed "ready".
func startJVM(t *testing.T, props []string, env []string) (int, string) {
	t.Helper()
	java, err := exec.LookPath("java")
	if err != nil {
		t.Skip("no java on PATH (.ci/run installs a JDK)")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "Sleeper.java")
	if err := os.WriteFile(src, []byte(sleeperJava), 0o644); err != nil {
		t.Fatal(err)
	}
	spool := filepath.Join(dir, "stdout.spool")
	out, err := os.Create(spool)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(java, append(append([]string{"-Xmx64m", "-XX:+UseSerialGC"}, props...), src)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := os.ReadFile(spool)
		if bytes.Contains(b, []byte("ready\n")) {
			return cmd.Process.Pid, spool
		}
		if time.Now().After(deadline) {
			t.Fatalf("the JVM did not start: %s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// secrets planted by the tests below: none may be in a bundle.
var (
	secretEnv    = "envS3cretValue-8842"
	secretToken  = "tok-Zq81hhQ02"
	secretProp   = "propP4ssw0rd-7716"
	secretConfig = "cfgAccessKeySecret-55Xy"
)

// TestNoSecretInBundle plants secrets in the environment of a real JVM
// (DB_PASSWORD, API_TOKEN), in its system properties (-Dpassword=...),
// and in the config (the sink's access_key_secret, which also shows up in
// a log line), then greps the decompressed bundle for each: none is there,
// while the files they would be in are.
func TestNoSecretInBundle(t *testing.T) {
	pid, _ := startJVM(t, []string{"-Dpassword=" + secretProp, "-Dapp.mode=test"},
		[]string{"DB_PASSWORD=" + secretEnv, "API_TOKEN=" + secretToken, "PLAIN_SETTING=visible-value"})
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	os.WriteFile(log, []byte("starting\nconnecting with secret "+secretConfig+" to oss\nuser password="+secretProp+"\n"), 0o644)
	b, _ := takeBundle(t, Options{App: "a", Host: "h", AppPID: pid, Secrets: []string{secretConfig},
		Logs: []Globs{{Paths: []string{log}}}, Config: Config{Timeout: schema.Duration(90 * time.Second)}}, Request{})
	m := b.manifest(t)
	for _, s := range []string{secretEnv, secretToken, secretProp, secretConfig} {
		if i := bytes.Index(b.raw, []byte(s)); i >= 0 {
			t.Errorf("secret %q is in the bundle: ...%s...", s, b.raw[max(0, i-200):i+len(s)])
		}
	}
	// The secrets were there to leak: the files that held them are in.
	env := string(b.files["env.txt"])
	if !strings.Contains(env, "DB_PASSWORD="+strings.Repeat("*", len(secretEnv))) || !strings.Contains(env, "PLAIN_SETTING=visible-value") {
		t.Errorf("env.txt:\n%s", env)
	}
	props := string(b.files[fmt.Sprintf("jvm/%d/system_properties.txt", pid)])
	if !strings.Contains(props, "app.mode=test") || !strings.Contains(props, "password=*") {
		t.Errorf("system properties (jcmd) missing or unmasked:\n%.2000s\nmanifest: %+v", props, m.Collectors)
	}
	if !bytes.Contains(b.files["ps.txt"], []byte("-Dpassword=*")) {
		t.Errorf("ps.txt does not show the JVM's masked option")
	}
	if !bytes.Contains(b.files["logs"+log], []byte("connecting with secret ")) {
		t.Errorf("log tail missing")
	}
	if len(m.Facts.JVM) == 0 || m.Facts.JVM[0].PID != pid || m.Facts.JVM[0].ThreadDump != DumpJcmd || m.Facts.JVM[0].Threads < 2 {
		t.Errorf("jvm facts: %+v", m.Facts.JVM)
	}
	if !bytes.Contains(b.files[fmt.Sprintf("jvm/%d/thread_dump.txt", pid)], []byte(`"main"`)) {
		t.Errorf("no thread dump of the main thread")
	}
}

// TestThreadDumpWithoutJcmd: with no jcmd, the dump comes from SIGQUIT and
// the JVM's stdout file (the hook `logship run` wires), and the manifest
// says so.
func TestThreadDumpWithoutJcmd(t *testing.T) {
	pid, spool := startJVM(t, []string{"-Dpassword=" + secretProp}, nil)
	b, _ := takeBundle(t, Options{App: "a", Host: "h", AppPID: pid, Jcmd: "-", ThreadDumpFrom: SigquitFrom(pid, spool),
		Collectors: []Collector{{Name: "jvm", Run: collectJVM}}, Config: Config{Timeout: schema.Duration(60 * time.Second)}}, Request{})
	m := b.manifest(t)
	if len(m.Facts.JVM) == 0 || m.Facts.JVM[0].ThreadDump != DumpSigquit {
		t.Fatalf("jvm facts %+v, collectors %+v", m.Facts.JVM, m.Collectors)
	}
	dump := b.files[fmt.Sprintf("jvm/%d/thread_dump.txt", pid)]
	for _, want := range []string{"Full thread dump", `"main"`, "java.lang.Thread.State: TIMED_WAITING", "JNI global refs"} {
		if !bytes.Contains(dump, []byte(want)) {
			t.Errorf("thread dump lacks %q:\n%.3000s", want, dump)
		}
	}
	if bytes.Contains(dump, []byte("ready\n")) {
		t.Error("the dump holds app output from before the signal")
	}
	if bytes.Contains(b.raw, []byte(secretProp)) {
		t.Error("secret in the bundle")
	}
	// And without the hook: recorded as none, with the reason.
	b, _ = takeBundle(t, Options{App: "a", Host: "h", AppPID: pid, Jcmd: "-",
		Collectors: []Collector{{Name: "jvm", Run: collectJVM}}}, Request{})
	m = b.manifest(t)
	if len(m.Facts.JVM) == 0 || m.Facts.JVM[0].ThreadDump != DumpNone || !strings.Contains(m.Facts.JVM[0].ThreadDumpNote, "logship run") {
		t.Fatalf("jvm facts without hook: %+v", m.Facts.JVM)
	}
}

// TestSigquitDumpCut: the dump ends when the context does if the JVM never
// prints one (a process that ignores SIGQUIT).
func TestSigquitDumpNoJVM(t *testing.T) {
	spool := filepath.Join(t.TempDir(), "out")
	os.WriteFile(spool, nil, 0o644)
	cmd := exec.Command("sh", "-c", "trap '' QUIT; sleep 60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := SigquitDump(ctx, cmd.Process.Pid, spool); err == nil || !strings.Contains(err.Error(), "no thread dump") {
		t.Fatalf("err = %v", err)
	}
}
