package file

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/logship/logship/archive"
)

func TestPatternMatch(t *testing.T) {
	tests := []struct {
		pattern string
		path    string
		want    bool
	}{
		{"/logs/*.log", "/logs/app.log", true},
		{"/logs/*.log", "/logs/sub/app.log", false},
		{"/logs/**/*.log", "/logs/app.log", true},
		{"/logs/**/*.log", "/logs/a/b/c/app.log", true},
		{"/logs/**/*.log", "/other/app.log", false},
		{"/logs/**/x/*.log", "/logs/x/app.log", true},
		{"/logs/**/x/*.log", "/logs/a/x/app.log", true},
		{"/logs/**/x/*.log", "/logs/a/y/app.log", false},
		{"/logs/app.log*", "/logs/app.log.1", true},
		{"/logs/app.[0-9].log", "/logs/app.3.log", true},
		{"/logs/app.[0-9].log", "/logs/app.x.log", false},
		{"/logs/*/*.log", "/logs/a/app.log", true},
		{"/logs/*/*.log", "/logsx/a/app.log", false},
		{"/*.log", "/app.log", true},
	}
	for _, tt := range tests {
		p, err := compilePattern(tt.pattern)
		if err != nil {
			t.Fatalf("%s: %v", tt.pattern, err)
		}
		if got := p.match(tt.path); got != tt.want {
			t.Errorf("%s matches %s = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
}

func TestPatternRoot(t *testing.T) {
	tests := []struct {
		pattern, root string
		segs          []string
	}{
		{"/a/b/*.log", "/a/b", []string{"*.log"}},
		{"/a/**/b/*.log", "/a", []string{"**", "b", "*.log"}},
		{"/a/b/c.log", "/a/b", []string{"c.log"}},
		{"/*.log", "/", []string{"*.log"}},
		{"/a/./b/../c/*.log", "/a/c", []string{"*.log"}},
	}
	for _, tt := range tests {
		p, err := compilePattern(tt.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if p.root != tt.root || !reflect.DeepEqual(p.segs, tt.segs) {
			t.Errorf("%s: root %q segs %q, want %q %q", tt.pattern, p.root, p.segs, tt.root, tt.segs)
		}
	}
}

func TestExcludeMatch(t *testing.T) {
	tests := []struct {
		exclude, path string
		want          bool
	}{
		{"*.gz", "/logs/a.log.gz", true}, // base name
		{"*.gz", "/logs/a.log", false},   //
		{"debug-*", "/logs/x/debug-1.log", true},
		{"/logs/old/**", "/logs/old/a/b.log", true}, // full path
		{"/logs/old/**", "/logs/new/b.log", false},
		{"old/*.log", "/var/logs/old/b.log", true}, // relative with a slash: any trailing part
		{"old/*.log", "/var/logs/new/b.log", false},
	}
	for _, tt := range tests {
		e, err := compileExclude(tt.exclude)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.match(tt.path); got != tt.want {
			t.Errorf("exclude %s on %s = %v, want %v", tt.exclude, tt.path, got, tt.want)
		}
	}
}

func TestGlobberCandidates(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.log", "x/b.log", "x/y/c.log", "x/y/z/d.txt", "skip/e.log", "linked/f.log"} {
		writeFile(t, filepath.Join(dir, f), nil)
	}
	// A link to a folder is not followed by ** (no loops), a link to a
	// file is listed.
	if err := os.Symlink(dir, filepath.Join(dir, "x", "loop")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "a.log"), filepath.Join(dir, "x", "alias.log")); err != nil {
		t.Fatal(err)
	}
	p, _ := compilePattern(filepath.Join(dir, "**", "*.log"))
	ex, _ := compileExclude("skip/*")
	var dirs []string
	g := globber{pats: []pattern{p, p}, excludes: []exclude{ex}, onDir: func(d string) { dirs = append(dirs, d) }}
	got := g.candidates()
	want := []string{
		filepath.Join(dir, "a.log"),
		filepath.Join(dir, "linked/f.log"),
		filepath.Join(dir, "x/alias.log"),
		filepath.Join(dir, "x/b.log"),
		filepath.Join(dir, "x/y/c.log"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("candidates\n got %q\nwant %q", got, want)
	}
	if len(dirs) == 0 {
		t.Error("no folders reported for watching")
	}
}

func TestIdentity(t *testing.T) {
	k := fileKey{dev: 1, ino: 2}
	a := streamID("/logs/app.log", k, []byte("first\n"), 0)
	if a != streamID("/other/app.log", k, []byte("first\n"), 0) {
		t.Error("id depends on the folder")
	}
	for _, other := range []string{
		streamID("/logs/app.log", k, []byte("first\n"), 1),
		streamID("/logs/app.log", fileKey{1, 3}, []byte("first\n"), 0),
		streamID("/logs/app.log", k, []byte("other\n"), 0),
	} {
		if other == a {
			t.Errorf("ids collide: %s", a)
		}
	}
	if got := streamID("/logs/we ird name!.log", k, nil, 0); !strings.HasPrefix(got, "we_ird_name_.log-") || len(got) != len("we_ird_name_.log-")+16 {
		t.Errorf("id %q: want the safe base name and 16 hex digits", got)
	}
	for _, name := range []string{".hidden.log", strings.Repeat("long", 100) + ".log", "日志.log", "a b\x00c"} {
		if id := streamID("/logs/"+name, k, nil, 0); archive.CheckName(id) != nil {
			t.Errorf("id %q for %q: %v", id, name, archive.CheckName(id))
		}
	}
	if got := idBytes([]byte("line one\nline two\n")); string(got) != "line one\n" {
		t.Errorf("idBytes = %q", got)
	}
	id := identity{V: metaVersion, FPLen: 5, FP: fingerprint([]byte("hello"))}
	if !id.matches([]byte("hello world")) || id.matches([]byte("hell")) || id.matches([]byte("jello world")) {
		t.Error("fingerprint prefix matching is wrong")
	}
	back, ok := parseIdentity(id.json())
	if !ok || back != id {
		t.Errorf("identity round trip: %+v %v", back, ok)
	}
	if _, ok := parseIdentity([]byte(`{"v":99}`)); ok {
		t.Error("unknown identity version accepted")
	}
	rel := []struct {
		cand, known string
		want        headRelation
	}{
		{"abcdef", "abc", headContains},
		{"ab", "abc", headIsPrefix},
		{"abx", "abc", headDiffers},
		{"", "abc", headDiffers},
	}
	for _, r := range rel {
		if got := compareHeads([]byte(r.cand), []byte(r.known)); got != r.want {
			t.Errorf("compareHeads(%q, %q) = %v, want %v", r.cand, r.known, got, r.want)
		}
	}
}
