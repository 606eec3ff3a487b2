package crash

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Every testdata/hs_err_*.log parses to testdata/NAME.golden.json. The
// SIGSEGV and crash-on-OOM files were written by the Java 17 of the build
// machine (the rest of their body cut); the others follow JDK 8 and
// Temurin 17 reports.
func TestParseHsErrGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/hs_err_*.log")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			h, ok := ParseHsErr(b)
			if !ok {
				t.Fatal("not recognised")
			}
			got, _ := json.MarshalIndent(h.Extra(), "", "  ")
			got = append(got, '\n')
			golden := strings.TrimSuffix(f, ".log") + ".golden.json"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestParseHsErrFields(t *testing.T) {
	b, err := os.ReadFile("testdata/hs_err_sigsegv.log")
	if err != nil {
		t.Fatal(err)
	}
	h, _ := ParseHsErr(b)
	want := HsErr{
		Signal: "SIGSEGV", PC: "0x00007f3162ed2f94", PID: "27324", TID: "27325",
		JREVersion:       "OpenJDK Runtime Environment (17.0.15+6) (build 17.0.15+6-Debian-1deb12u1)",
		JavaVM:           "OpenJDK 64-Bit Server VM (17.0.15+6-Debian-1deb12u1, mixed mode, sharing, tiered, compressed oops, compressed class ptrs, g1 gc, linux-amd64)",
		ProblematicFrame: "V  [libjvm.so+0xed2f94]  Unsafe_PutLong+0x124",
		Thread:           `JavaThread "main" [_thread_in_vm, id=27325, stack(0x00007f3161e20000,0x00007f3161f20000)]`,
		Time:             "Thu Nov 26 12:48:42 2026 UTC",
		Elapsed:          "0.101450",
		CommandLine:      "-Xshare:auto -XX:-CreateCoredumpOnCrash -XX:ErrorFile=/tmp/jv/hs_err_pid%p.log Crash",
	}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("got  %+v\nwant %+v", h, want)
	}
}

// TestHsErrCommandLineRedacted: a JVM started with a password on its
// command line (-Dspring.datasource.password=..., --db-password VALUE)
// has it in its hs_err file; the summary that goes into archive headers,
// ls and report hides it, as the events of logship run do.
func TestHsErrCommandLineRedacted(t *testing.T) {
	b, err := os.ReadFile("testdata/hs_err_sigsegv_full.log")
	if err != nil {
		t.Fatal(err)
	}
	const orig = "Command Line: -Xmx16m -XX:-CreateCoredumpOnCrash -XX:ErrorFile=/tmp/r11/jvm/hs_err_pid%p.log Crash"
	if !bytes.Contains(b, []byte(orig)) {
		t.Fatal("testdata changed")
	}
	b = bytes.Replace(b, []byte(orig), []byte("Command Line: -Xmx64m -Dspring.datasource.password=hunter2 -Daliyun.accessKeySecret=Zx9 Crash --db-password s3cr3t --port 8080"), 1)
	for name, h := range map[string]HsErr{"head": must(ParseHsErr(b)), "whole": mustRead(t, b)} {
		want := "-Xmx64m -Dspring.datasource.password=[redacted] -Daliyun.accessKeySecret=[redacted] Crash --db-password [redacted] --port 8080"
		if h.CommandLine != want {
			t.Errorf("%s: command line %q, want %q", name, h.CommandLine, want)
		}
		for k, v := range h.Extra() {
			for _, s := range []string{"hunter2", "Zx9", "s3cr3t"} {
				if strings.Contains(v, s) {
					t.Errorf("%s: header fact %s holds the secret %q: %q", name, k, s, v)
				}
			}
		}
	}
}

func must(h HsErr, ok bool) HsErr {
	if !ok {
		panic("not an hs_err file")
	}
	return h
}

func mustRead(t *testing.T, b []byte) HsErr {
	h, ok, err := ReadHsErr(bytes.NewReader(b), 1<<20)
	if err != nil || !ok {
		t.Fatalf("ok %v err %v", ok, err)
	}
	return h
}

// TestReadHsErrHeap: reading the whole file (a complete report the Java 17
// of the build machine wrote for Unsafe.putAddress(0, 0)) finds the heap
// summary at death, which lies past the head ParseHsErr reads, and the
// same facts as the head.
func TestReadHsErrHeap(t *testing.T) {
	b, err := os.ReadFile("testdata/hs_err_sigsegv_full.log")
	if err != nil {
		t.Fatal(err)
	}
	h, ok, err := ReadHsErr(bytes.NewReader(b), 1<<20)
	if err != nil || !ok {
		t.Fatalf("ok %v err %v", ok, err)
	}
	want := []string{
		"garbage-first heap   total 16384K, used 948K [0x00000000ff000000, 0x0000000100000000)",
		"region size 1024K, 1 young (1024K), 0 survivors (0K)",
		"Metaspace       used 123K, committed 320K, reserved 1114112K",
		"class space    used 6K, committed 128K, reserved 1048576K",
	}
	if !reflect.DeepEqual(h.Heap, want) {
		t.Errorf("heap %q, want %q", h.Heap, want)
	}
	head, _ := ParseHsErr(b)
	head.Heap = h.Heap
	if !reflect.DeepEqual(h, head) {
		t.Errorf("ReadHsErr %+v\nParseHsErr %+v", h, head)
	}
	if h, _, _ := ReadHsErr(bytes.NewReader(b), 4096); h.Heap != nil || h.Signal != "SIGSEGV" {
		t.Errorf("limited to 4 KiB: heap %q signal %q", h.Heap, h.Signal)
	}
}

func TestParseHsErrRefusesOthers(t *testing.T) {
	for _, in := range []string{"", "hello\n", "# comment\n# another\n", "2026-11-26 ERROR at pc=1 pid=2\n"} {
		if h, ok := ParseHsErr([]byte(in)); ok {
			t.Errorf("%q recognised as %+v", in, h)
		}
	}
}

// hprofHeader builds the start of a heap dump.
func hprofHeader(ms int64) []byte {
	b := append([]byte("JAVA PROFILE 1.0.2"), 0)
	b = binary.BigEndian.AppendUint32(b, 8)
	b = binary.BigEndian.AppendUint64(b, uint64(ms))
	return append(b, 0x01, 0, 0, 0, 0)
}

func TestParseHprof(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 48, 42, 123e6, time.UTC)
	h, ok := ParseHprof(hprofHeader(at.UnixMilli()))
	if !ok || h.Format != "JAVA PROFILE 1.0.2" || h.IDSize != 8 || !h.Time.Equal(at) {
		t.Fatalf("%+v %v", h, ok)
	}
	if e := h.Extra(); e["time"] != "2026-11-26T12:48:42.123Z" || e["id_size"] != "8" {
		t.Fatalf("extra %v", e)
	}
	for _, in := range [][]byte{nil, []byte("JAVA PROFILE 1.0.2"), []byte("JAVA PROFILE 1.0.2\x00\x00\x00"), []byte("PK\x03\x04")} {
		if _, ok := ParseHprof(in); ok {
			t.Errorf("%q recognised", in)
		}
	}
}

func TestClassify(t *testing.T) {
	hs, _ := os.ReadFile("testdata/hs_err_sigsegv.log")
	for _, c := range []struct {
		path        string
		head        []byte
		kind, event string
		pid         string
	}{
		{"/app/hs_err_pid27324.log", hs, KindHsErr, "jvm_crash", "27324"},
		{"/logs/crash.log", hs, KindHsErr, "jvm_crash", "27324"}, // -XX:ErrorFile with another name
		{"/app/hs_err_pid99.log", nil, KindHsErr, "jvm_crash", "99"},
		{"/tmp/java_pid42.hprof", hprofHeader(1), KindHeapDump, "heap_dump", "42"},
		{"/dumps/oom.hprof", hprofHeader(1), KindHeapDump, "heap_dump", ""},
		{"/dumps/truncated.hprof", []byte("JAV"), KindHeapDump, "heap_dump", ""},
		{"/dumps/core.1", []byte("\x7fELF"), KindFile, "", ""},
	} {
		got := classify(c.path, c.head)
		if got.kind != c.kind || got.event != c.event || got.extra["pid"] != c.pid || got.extra["artifact"] != c.kind {
			t.Errorf("%s: %+v", c.path, got)
		}
	}
}

func FuzzParseHsErr(f *testing.F) {
	files, _ := filepath.Glob("testdata/*")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("#  SIGSEGV (0xb) at pc=, pid=, tid=\n# Problematic frame:"))
	f.Add([]byte("#  Internal Error (x), pid=1, tid=2"))
	f.Add([]byte("Time: \xff\xfe elapsed time:"))
	f.Add(hprofHeader(-1))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, _ := ParseHsErr(b)
		for k, v := range h.Extra() {
			if v == "" || len(v) > maxValue || !utf8.ValidString(v) || strings.ContainsAny(v, "\r\n\x00") {
				t.Fatalf("%s = %q", k, v)
			}
		}
		if p, ok := ParseHprof(b); ok {
			if len(p.Format) > maxValue || !utf8.ValidString(p.Format) {
				t.Fatalf("format %q", p.Format)
			}
		}
		classify("/x/hs_err_pid1.log", b)
	})
}
