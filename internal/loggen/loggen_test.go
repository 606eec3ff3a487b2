package loggen

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// sample returns at least n bytes (whole events) of the log of seed.
func sample(seed uint64, n int) []byte {
	g := New(seed)
	var b []byte
	for len(b) < n {
		b = g.Append(b)
	}
	return b
}

func TestHead(t *testing.T) {
	h, long := Head(4, 100000), sample(4, 200000)
	if len(h) > 100000 || len(h) < 90000 || h[len(h)-1] != '\n' || !bytes.HasPrefix(long, h) || long[len(h)-1] != '\n' {
		t.Fatalf("Head: %d bytes, not whole events of the log", len(h))
	}
}

func TestDeterministic(t *testing.T) {
	a, b, c := sample(7, 1<<20), sample(7, 1<<20), sample(8, 1<<20)
	if !bytes.Equal(a, b) {
		t.Fatal("the same seed gave two logs")
	}
	if bytes.Equal(a[:4096], c[:4096]) {
		t.Fatal("seeds 7 and 8 gave the same log")
	}
	// Read is the same stream as Append, cut anywhere.
	r := io.LimitReader(New(7), int64(len(a)))
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, a) {
		t.Fatalf("Read differs from Append (err %v)", err)
	}
}

var (
	headRE  = regexp.MustCompile(`^2026-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (TRACE|DEBUG|INFO |WARN |ERROR) \[[^\]]+\] [\w.$]+ \[[0-9a-f]{16},[0-9a-f]{6}\] - .+$`)
	frameRE = regexp.MustCompile(`^\tat [\w.$/<>]+\([\w.<>]+(:\d+)?\)$`)
	moreRE  = regexp.MustCompile(`^\t\.\.\. (\d+) more$`)
)

// TestShape checks what the package promises: logback lines, about 150
// bytes on average, about 10% of lines in stack traces with a cause and
// a consistent "... N more", time moving forward.
func TestShape(t *testing.T) {
	lines := bytes.Split(bytes.TrimSuffix(sample(1, 16<<20), []byte("\n")), []byte("\n"))
	var inTrace, causes, traces, size int
	var frames int    // frames since the exception line
	var enclosing int // frames of the exception when its cause began
	var last string
	for i, l := range lines {
		size += len(l) + 1
		s := string(l)
		switch {
		case headRE.MatchString(s):
			if ts := s[:23]; ts < last {
				t.Fatalf("line %d: time went back from %s to %s", i, last, ts)
			} else {
				last = ts
			}
			frames = -1
		case frameRE.MatchString(s):
			inTrace++
			frames++
		case bytes.HasPrefix(l, []byte("Caused by: ")):
			inTrace++
			causes++
			enclosing = frames
		case moreRE.MatchString(s):
			inTrace++
			traces++
			if n, _ := strconv.Atoi(moreRE.FindStringSubmatch(s)[1]); n <= 0 || n >= enclosing {
				t.Fatalf("line %d: %q after %d frames", i, s, enclosing)
			}
		case frames == -1 && bytes.Contains(l, []byte("Exception: ")):
			inTrace++
			frames = 0
		default:
			t.Fatalf("line %d is none of head, frame, cause, more: %q", i, s)
		}
	}
	avg := float64(size) / float64(len(lines))
	frac := float64(inTrace) / float64(len(lines))
	t.Logf("%d lines, %.0f bytes a line, %.1f%% in %d stack traces", len(lines), avg, 100*frac, traces)
	if avg < 130 || avg > 175 {
		t.Errorf("%.0f bytes a line, want about 150", avg)
	}
	if frac < 0.07 || frac > 0.13 {
		t.Errorf("%.1f%% of lines in stack traces, want about 10%%", 100*frac)
	}
	if causes != traces || traces < 100 {
		t.Errorf("%d traces, %d causes", traces, causes)
	}
}

// TestZstdRatio runs the stock zstd CLI at level 1, as the benchmarks
// do: the ratio must be that of real application logs (5-8), not that
// of repeated lines.
func TestZstdRatio(t *testing.T) {
	if _, err := exec.LookPath("zstd"); err != nil {
		t.Skip("no zstd CLI")
	}
	dir := t.TempDir()
	paths, n, err := WriteFiles(dir, Options{Size: 64 << 20, Files: 4, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("zstd", append([]string{"-1", "-T1", "-c"}, paths...)...).Output()
	if err != nil {
		t.Fatal(err)
	}
	ratio := float64(n) / float64(len(out))
	t.Logf("zstd -1: %d -> %d bytes, ratio %.2f", n, len(out), ratio)
	if ratio < 5 || ratio > 8 {
		t.Errorf("zstd -1 ratio %.2f, want 5-8", ratio)
	}
}

func TestWriteFiles(t *testing.T) {
	dir := t.TempDir()
	paths, n, err := WriteFiles(dir, Options{Size: 1 << 20, Files: 3, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 3 || n < 1<<20 || n > 1<<20+64<<10 {
		t.Fatalf("%d files, %d bytes", len(paths), n)
	}
	var total int64
	for i, p := range paths {
		if p != filepath.Join(dir, FileName(i)) {
			t.Errorf("path %d is %s", i, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		total += int64(len(b))
		if want := sample(5+uint64(i), len(b)); !bytes.Equal(b, want) {
			t.Errorf("%s is not the log of seed %d", p, 5+i)
		}
	}
	if total != n {
		t.Errorf("files hold %d bytes, WriteFiles said %d", total, n)
	}
	if _, _, err := WriteFiles(dir, Options{}); err == nil {
		t.Error("size 0 accepted")
	}
}

func BenchmarkAppend(b *testing.B) {
	g := New(1)
	var buf []byte
	n := 0
	for b.Loop() {
		buf = g.Append(buf[:0])
		n += len(buf)
	}
	b.SetBytes(int64(n / max(b.N, 1)))
}
