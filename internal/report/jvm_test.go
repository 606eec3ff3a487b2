package report

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRealJVMCrashAndHeapDump makes a real JVM crash (Unsafe.putAddress(0,
// 0): SIGSEGV, an hs_err file) and run out of heap (-Xmx16m with
// -XX:+HeapDumpOnOutOfMemoryError: an .hprof), puts both where pull
// would, and checks what the report says about them.
func TestRealJVMCrashAndHeapDump(t *testing.T) {
	java, err := exec.LookPath("java")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("java is not installed; CI must run this test")
		}
		t.Skip("java is not installed (apt-get install -y default-jdk-headless)")
	}
	src := t.TempDir()
	out := t.TempDir()
	crashDir := filepath.Join(out, "shop", "jvm-1", "crash", "app")
	if err := os.MkdirAll(crashDir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) string {
		p := filepath.Join(src, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	crash := write("Crash.java", `import java.lang.reflect.Field;
public class Crash {
  public static void main(String[] a) throws Exception {
    Field f = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
    f.setAccessible(true);
    ((sun.misc.Unsafe) f.get(null)).putAddress(0, 0);
  }
}`)
	oom := write("Oom.java", `public class Oom {
  public static void main(String[] a) {
    java.util.List<long[]> l = new java.util.ArrayList<>();
    while (true) l.add(new long[1024]);
  }
}`)
	start := time.Now().Add(-time.Second)
	// Java 11+ runs a single source file; both runs end in failure.
	_ = exec.Command(java, "-Xmx16m", "-XX:-CreateCoredumpOnCrash", "-XX:ErrorFile="+filepath.Join(crashDir, "hs_err_pid%p.log"), crash).Run()
	_ = exec.Command(java, "-Xmx16m", "-XX:+HeapDumpOnOutOfMemoryError", "-XX:HeapDumpPath="+crashDir, oom).Run()
	res := build(t, out, Options{})
	if len(res.Crashes) != 1 {
		t.Fatalf("%d crashes (files: %v)", len(res.Crashes), ls(crashDir))
	}
	c := res.Crashes[0]
	if c.Signal != "SIGSEGV" || !strings.Contains(c.ProblematicFrame, "Unsafe") || !strings.Contains(c.CommandLine, "Crash") ||
		c.JREVersion == "" || !strings.Contains(c.Thread, `"main"`) || len(c.Heap) == 0 {
		t.Errorf("crash %+v", c)
	}
	if c.Time.Before(start.Truncate(time.Second)) || c.Time.After(time.Now()) {
		t.Errorf("crash time %v not in [%v, now]", c.Time, start)
	}
	if len(res.HeapDumps) != 1 {
		t.Fatalf("%d heap dumps (files: %v)", len(res.HeapDumps), ls(crashDir))
	}
	d := res.HeapDumps[0]
	if d.Size < 1<<20 || d.Time.Before(start) || d.Time.After(time.Now()) || d.Local == "" {
		t.Errorf("heap dump %+v", d)
	}
	if len(res.Incidents) != 1 || res.Incidents[0].Event.Kind != KindCrash {
		t.Errorf("incidents %+v", res.Incidents)
	}
}

func ls(dir string) []string {
	es, _ := os.ReadDir(dir)
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}
