package retrieve

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resident is the share of the pages of [off, off+n) of f in the page
// cache.
func resident(t *testing.T, f *os.File, off, n int64) float64 {
	t.Helper()
	m, err := unix.Mmap(int(f.Fd()), off, int(n), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	pages := make([]byte, (n+int64(os.Getpagesize())-1)/int64(os.Getpagesize()))
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&pages[0]))); errno != 0 {
		t.Fatal(errno)
	}
	in := 0
	for _, p := range pages {
		in += int(p & 1)
	}
	return float64(in) / float64(len(pages))
}

// Write-behind leaves in the page cache only the last windows written:
// the pages of the earlier ones, written back (here by an fdatasync, so
// that the test does not depend on the disk's pace), are dropped.
func TestWriteBehindDropsWrittenPages(t *testing.T) {
	dir := t.TempDir()
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	if fs.Type == unix.TMPFS_MAGIC {
		t.Skip("the temporary folder is a tmpfs: its pages are the file")
	}
	f, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := writeBehindWindow
	buf := bytes.Repeat([]byte("2026-12-06 12:00:00.000 INFO  [main] c.e.App - line\n"), int(w)/52+1)[:w]
	b := writeBehind{f: f}
	for i := range int64(4) {
		if _, err := f.Write(buf); err != nil {
			t.Fatal(err)
		}
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			t.Fatal(err)
		}
		b.wrote((i + 1) * w)
	}
	for i, want := range []bool{false, false, true, true} {
		r := resident(t, f, int64(i)*w, w)
		if want && r < 0.9 || !want && r > 0.1 {
			t.Errorf("window %d: %.0f%% of its pages in the page cache, want them %s", i, 100*r, map[bool]string{true: "kept", false: "dropped"}[want])
		}
	}
}

// A pull uses write-behind on the files it writes.
func TestPullWritesBehind(t *testing.T) {
	prev := writeBehindWindow
	writeBehindWindow = 4 << 10
	t.Cleanup(func() { writeBehindWindow = prev })
	dir := t.TempDir()
	fx := buildPlain(t, filepath.Join(dir, "archive"))
	out := filepath.Join(dir, "out")
	before := cacheDrops.Load()
	if sum, err := Pull(context.Background(), openDir(t, fx.root), Options{Out: out}); err != nil || len(sum.Problems) > 0 {
		t.Fatalf("%v\n%s", err, problemsText(sum.Problems))
	}
	compareTrees(t, readTree(t, out), fx.want)
	if cacheDrops.Load() == before {
		t.Error("the pull dropped no window of what it wrote from the page cache")
	}
}

// BenchmarkWriteBehind writes 256 MiB in 4 MiB writes, as pull's lanes do,
// plainly and with write-behind, and reports the system time per GiB: the
// kernel's cost of putting the bytes into the page cache. The file is
// removed after each write, and the plain writes go first: on a virtual
// machine whose host takes back free memory, their pages are new ones
// (go test -run '^$' -bench WriteBehind -benchtime 4x ./internal/retrieve/).
func BenchmarkWriteBehind(b *testing.B) {
	const size, chunk = 256 << 20, 4 << 20
	buf := bytes.Repeat([]byte("2026-12-06 12:00:00.000 INFO  [main] c.e.App - line\n"), chunk/52+1)[:chunk]
	for _, behind := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "write-behind"}[behind], func(b *testing.B) {
			var sys time.Duration
			for b.Loop() {
				f, err := os.Create(filepath.Join(b.TempDir(), "out"))
				if err != nil {
					b.Fatal(err)
				}
				wb := writeBehind{f: f}
				before := sysTime()
				for off := int64(0); off < size; off += chunk {
					if _, err := f.Write(buf); err != nil {
						b.Fatal(err)
					}
					if behind {
						wb.wrote(off + chunk)
					}
				}
				sys += sysTime() - before
				f.Close()
				os.Remove(f.Name())
			}
			b.SetBytes(size)
			b.ReportMetric(sys.Seconds()/float64(b.N)/(size/float64(1<<30)), "sys-s/GiB")
		})
	}
}

func sysTime() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Stime.Nano())
}
