package retrieve

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/logship/logship/archive"
)

// The sanitiser never returns a path that could leave the folder it is
// joined to, and refuses rather than rewrites what it cannot keep.
func FuzzSafePath(f *testing.F) {
	for _, s := range []string{"/home/admin/logs/app.log", "../../etc/passwd", "a/../b", "/", "", ".", "a//b/./c", "a\x00b",
		`a\b`, "/dev/kmsg", strings.Repeat("x", 300), strings.Repeat("a/", 600), "héllo/wörld.log", "\xff\xfe.log", "C:/x", "a/.", "./.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, err := archive.SafePath(p)
		if err != nil {
			if got != "" {
				t.Fatalf("SafePath(%q) = %q with error %v", p, got, err)
			}
			return
		}
		if !filepath.IsLocal(got) || got == "" || strings.HasPrefix(got, "/") {
			t.Fatalf("SafePath(%q) = %q: not local", p, got)
		}
		if strings.ContainsAny(got, "\x00\\") || len(got) > archive.MaxPathBytes {
			t.Fatalf("SafePath(%q) = %q", p, got)
		}
		for _, seg := range strings.Split(got, "/") {
			if seg == "" || seg == "." || seg == ".." || len(seg) > archive.MaxSegmentBytes {
				t.Fatalf("SafePath(%q) = %q: segment %q", p, got, seg)
			}
			for _, r := range seg {
				if r < 0x20 || r == 0x7f {
					t.Fatalf("SafePath(%q) = %q: control character", p, got)
				}
			}
		}
		// Only empty and "." segments and leading slashes are dropped.
		if want := strings.Trim(p, "/"); !strings.Contains(p, "//") && !strings.Contains(p, "./") && !strings.HasSuffix(p, "/.") && got != want {
			t.Fatalf("SafePath(%q) = %q, want %q", p, got, want)
		}
		if o, err := outputName("app", "host", "file", p, "s", true); err == nil && !filepath.IsLocal(o) {
			t.Fatalf("outputName(%q) = %q", p, o)
		}
		_ = utf8.ValidString(got)
	})
}
