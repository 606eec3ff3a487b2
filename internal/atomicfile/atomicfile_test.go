package atomicfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// leftovers returns the names in dir other than keep.
func leftovers(t *testing.T, dir string, keep ...string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if !slices.Contains(keep, e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	for _, data := range []string{"first", "second, longer than the first", ""} {
		if err := WriteFile(context.Background(), p, []byte(data), 0o640, nil); err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, p); got != data {
			t.Errorf("content %q, want %q", got, data)
		}
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
	if l := leftovers(t, dir, "state.json"); l != nil {
		t.Errorf("temporary files left: %q", l)
	}
}

// A crash between the fsync of the temporary file and the rename leaves
// the old file intact, and the temporary file (named by TempPattern)
// behind for the next start to clean.
func TestCrashBeforeRename(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	if err := WriteFile(context.Background(), p, []byte("old"), 0o600, nil); err != nil {
		t.Fatal(err)
	}
	crash := errors.New("killed")
	var seen string
	opts := &Options{TempPattern: ".tmp-*", BeforeRename: func(tmp string) error {
		seen = tmp
		if got := readFile(t, tmp); got != "new" {
			t.Errorf("temporary file holds %q before the rename", got)
		}
		return crash
	}}
	if err := WriteFile(context.Background(), p, []byte("new"), 0o600, opts); !errors.Is(err, crash) {
		t.Fatalf("error %v, want the hook's", err)
	}
	if got := readFile(t, p); got != "old" {
		t.Errorf("after the crash the file holds %q, want the old content", got)
	}
	l := leftovers(t, dir, "state.json")
	if len(l) != 1 || !strings.HasPrefix(l[0], ".tmp-") || filepath.Join(dir, l[0]) != seen {
		t.Errorf("leftovers %q, want the temporary file %s", l, seen)
	}
}

// A context that ends before the rename abandons the write: the target
// is untouched and nothing is left behind.
func TestCancel(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "obj")
	if err := WriteFile(context.Background(), p, []byte("old"), 0o600, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := WriteFile(ctx, p, []byte("new"), 0o600, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if got := readFile(t, p); got != "old" {
		t.Errorf("file holds %q, want the old content", got)
	}
	if l := leftovers(t, dir, "obj"); l != nil {
		t.Errorf("temporary files left: %q", l)
	}
}

// A File takes its content in pieces, from byte slices and readers.
func TestFilePieces(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "part")
	if err := os.WriteFile(src, []byte("from a file;"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "obj")
	f, err := Create(p, 0o600, &Options{TempPattern: ".tmp-*"})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	if !strings.HasPrefix(filepath.Base(f.Name()), ".tmp-") || filepath.Dir(f.Name()) != dir {
		t.Errorf("temporary file %s not named by the pattern beside the target", f.Name())
	}
	if _, err := f.Write([]byte("bytes;")); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if _, err := f.ReadFrom(in); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadFrom(strings.NewReader("a reader")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("target visible before Commit: %v", err)
	}
	if err := f.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := readFile(t, p), "bytes;from a file;a reader"; got != want {
		t.Errorf("content %q, want %q", got, want)
	}
	f.Abort() // a no-op after Commit
	if got := readFile(t, p); got == "" {
		t.Error("Abort after Commit removed the file")
	}
	if err := f.Commit(context.Background()); err == nil {
		t.Error("second Commit succeeded")
	}
	if l := leftovers(t, dir, "obj", "part"); l != nil {
		t.Errorf("temporary files left: %q", l)
	}
}

func TestAbort(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "obj")
	f, err := Create(p, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("x"))
	f.Abort()
	f.Abort()
	if l := leftovers(t, dir); l != nil {
		t.Errorf("left after Abort: %q", l)
	}
	if err := f.Commit(context.Background()); err == nil {
		t.Error("Commit after Abort succeeded")
	}
	if _, err := Create(filepath.Join(dir, "no", "such", "folder"), 0o600, nil); err == nil {
		t.Error("Create in a missing folder succeeded")
	}
}

func TestMkdirAll(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "a", "b", "c")
	for range 2 { // the second time everything exists
		if err := MkdirAll(deep, 0o755); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(deep); err != nil || !fi.IsDir() {
			t.Fatalf("folder not made: %v", err)
		}
	}
	file := filepath.Join(root, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := MkdirAll(filepath.Join(file, "sub"), 0o755); err == nil {
		t.Error("MkdirAll below a file succeeded")
	}
	if err := SyncDir(filepath.Join(root, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("SyncDir of a missing folder: %v", err)
	}
	if err := SyncDir(root); err != nil {
		t.Error(err)
	}
}
