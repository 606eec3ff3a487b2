package control

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func tarZst(t *testing.T, hs ...*tar.Header) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range hs {
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		mustf(t, tw.WriteHeader(h), "header %s", h.Name)
		if h.Typeflag == tar.TypeReg {
			tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
		}
	}
	mustf(t, tw.Close(), "tar")
	return zstdBytes(b.Bytes())
}

// Extract writes only files and folders below DIR, within bounds; what a
// hostile bundle tries is refused with the reason.
func TestExtractRefuses(t *testing.T) {
	cases := []struct {
		name string
		hs   []*tar.Header
		lim  ExtractLimits
		want string
	}{
		{"dot dot", []*tar.Header{{Name: "../evil", Size: 1}}, ExtractLimits{}, `".." segment`},
		{"deep dot dot", []*tar.Header{{Name: "jvm/../../evil", Size: 1}}, ExtractLimits{}, `".." segment`},
		{"symlink", []*tar.Header{{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "/etc"}}, ExtractLimits{}, "only files and folders"},
		{"hard link", []*tar.Header{{Name: "link", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"}}, ExtractLimits{}, "only files and folders"},
		{"device", []*tar.Header{{Name: "dev", Typeflag: tar.TypeChar}}, ExtractLimits{}, "only files and folders"},
		{"too big", []*tar.Header{{Name: "a", Size: 600}, {Name: "b", Size: 600}}, ExtractLimits{MaxBytes: 1000}, "over the limit"},
		{"too many", []*tar.Header{{Name: "a", Size: 1}, {Name: "b", Size: 1}, {Name: "c", Size: 1}}, ExtractLimits{MaxFiles: 2}, "more than 2 files"},
		{"twice", []*tar.Header{{Name: "a", Size: 1}, {Name: "./a", Size: 1}}, ExtractLimits{}, "exists"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "out")
			mustf(t, os.Mkdir(dir, 0o755), "mkdir")
			_, _, err := Extract(bytes.NewReader(tarZst(t, c.hs...)), dir, c.lim)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
			if _, err := os.Lstat(filepath.Join(parent, "evil")); err == nil {
				t.Fatal("a file was written outside DIR")
			}
		})
	}
}

// A symbolic link already in DIR cannot lead a write out of it.
func TestExtractStaysInDirThroughSymlinks(t *testing.T) {
	parent := t.TempDir()
	dir, outside := filepath.Join(parent, "out"), filepath.Join(parent, "outside")
	mustf(t, os.Mkdir(dir, 0o755), "mkdir")
	mustf(t, os.Mkdir(outside, 0o755), "mkdir")
	mustf(t, os.Symlink(outside, filepath.Join(dir, "jvm")), "symlink")
	_, _, err := Extract(bytes.NewReader(tarZst(t, &tar.Header{Name: "jvm/1/thread_dump.txt", Size: 3})), dir, ExtractLimits{})
	if err == nil {
		t.Fatal("extracted through a symbolic link")
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("wrote outside DIR: %v", ents)
	}
}

func TestExtractWrites(t *testing.T) {
	dir := t.TempDir()
	files, n, err := Extract(bytes.NewReader(tarZst(t, &tar.Header{Name: "manifest.json", Size: 2},
		&tar.Header{Name: "jvm/", Typeflag: tar.TypeDir}, &tar.Header{Name: "/jvm/1/thread_dump.txt", Size: 5})), dir, ExtractLimits{})
	mustf(t, err, "extract")
	if files != 2 || n != 7 {
		t.Fatalf("%d files, %d bytes", files, n)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "jvm", "1", "thread_dump.txt")); string(b) != "xxxxx" {
		t.Fatalf("thread_dump.txt: %q", b)
	}
}

// DecodeRequest takes outside input: it must not panic, and what it
// accepts is valid and names no path.
func FuzzDecodeRequest(f *testing.F) {
	f.Add(`{"v":1,"id":"abcdef12","app":"shop","host":"*","created":"2026-12-06T10:00:00Z","expires":"2026-12-06T10:10:00Z"}`)
	f.Add(`{"v":1,"id":"abcdef12","app":"shop","host":"h1","note":"x","heap_dumps":true,"created":"2026-12-06T10:00:00Z","expires":"2026-12-06T10:10:00Z"}`)
	f.Add(`{"v":1,"paths":["/"]}`)
	f.Fuzz(func(t *testing.T, s string) {
		q, err := DecodeRequest(strings.NewReader(s))
		if err != nil {
			return
		}
		if err := q.Validate(); err != nil {
			t.Fatalf("accepted an invalid request: %v", err)
		}
		if strings.ContainsAny(q.App+q.Host, "/\\") && q.Host != AllHosts {
			t.Fatalf("accepted a name with a path separator: %q %q", q.App, q.Host)
		}
	})
}
