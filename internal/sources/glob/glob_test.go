package glob

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
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
		p, err := ParsePattern(tt.pattern, "*.log")
		if err != nil {
			t.Fatalf("%s: %v", tt.pattern, err)
		}
		if got := p.Match(tt.path); got != tt.want {
			t.Errorf("%s matches %s = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
}

func TestPatternRoot(t *testing.T) {
	tests := []struct {
		pattern, root string
		segs          []string
		str           string
	}{
		{"/a/b/*.log", "/a/b", []string{"*.log"}, "/a/b/*.log"},
		{"/a/**/b/*.log", "/a", []string{"**", "b", "*.log"}, "/a/**/b/*.log"},
		{"/a/b/c.log", "/a/b", []string{"c.log"}, "/a/b/c.log"},
		{"/*.log", "/", []string{"*.log"}, "/*.log"},
		{"/a/./b/../c/*.log", "/a/c", []string{"*.log"}, "/a/c/*.log"},
	}
	for _, tt := range tests {
		p, err := ParsePattern(tt.pattern, "*.log")
		if err != nil {
			t.Fatal(err)
		}
		if p.Root() != tt.root || !reflect.DeepEqual(p.segs, tt.segs) {
			t.Errorf("%s: root %q segs %q, want %q %q", tt.pattern, p.root, p.segs, tt.root, tt.segs)
		}
		if p.String() != tt.str {
			t.Errorf("%s: String() = %q, want %q", tt.pattern, p.String(), tt.str)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, pattern string
		exclude       bool
		want          string
	}{
		{"empty path", " ", false, "empty path"},
		{"bad segment", "/a/[/b.log", false, `bad segment "["`},
		{"trailing **", "/x/**", false, `"/x/**" ends with **: add a file name pattern, e.g. /x/**/hs_err_pid*.log`},
		{"empty exclude", "", true, "empty pattern"},
		{"bad exclude", "[z", true, `"[z": syntax error in pattern`},
		{"bad exclude segment", "a/[/b", true, `"a/[/b": syntax error in pattern`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.exclude {
				_, err = ParseExclude(tt.pattern)
			} else {
				_, err = ParsePattern(tt.pattern, "hs_err_pid*.log")
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to say %q", err, tt.want)
			}
		})
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
		e, err := ParseExclude(tt.exclude)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Match(tt.path); got != tt.want {
			t.Errorf("exclude %s on %s = %v, want %v", tt.exclude, tt.path, got, tt.want)
		}
	}
}

// Compile reports every bad entry with its config key and keeps the good
// ones.
func TestCompile(t *testing.T) {
	s, errs := Compile([]string{"/a/[", "/ok/*.log", "/b/**"}, []string{"*.gz", "["}, "*.log")
	var keys []string
	for _, e := range errs {
		keys = append(keys, e.Key)
		if !strings.HasPrefix(e.Error(), e.Key+": ") || e.Unwrap() == nil {
			t.Errorf("error %q does not start with its key %s", e, e.Key)
		}
	}
	if want := []string{"paths[0]", "paths[2]", "exclude[1]"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
	if len(s.Patterns) != 1 || s.Patterns[0].String() != "/ok/*.log" || len(s.Excludes) != 1 {
		t.Errorf("kept %v %v", s.Patterns, s.Excludes)
	}
	if !s.Excluded("/ok/x.gz") || s.Excluded("/ok/x.log") {
		t.Error("Excluded is wrong")
	}
}

func TestPaths(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.log", "x/b.log", "x/y/c.log", "x/y/z/d.txt", "skip/e.log", "linked/f.log"} {
		writeFile(t, filepath.Join(dir, f))
	}
	// A link to a folder is not followed by ** (no loops), a link to a
	// file is listed.
	if err := os.Symlink(dir, filepath.Join(dir, "x", "loop")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "a.log"), filepath.Join(dir, "x", "alias.log")); err != nil {
		t.Fatal(err)
	}
	p, _ := ParsePattern(filepath.Join(dir, "**", "*.log"), "*.log")
	ex, _ := ParseExclude("skip/*")
	var dirs []string
	s := Set{Patterns: []Pattern{p, p}, Excludes: []Exclude{ex}, OnDir: func(d string) { dirs = append(dirs, d) }}
	got := s.Paths()
	want := []string{
		filepath.Join(dir, "a.log"),
		filepath.Join(dir, "linked/f.log"),
		filepath.Join(dir, "x/alias.log"),
		filepath.Join(dir, "x/b.log"),
		filepath.Join(dir, "x/y/c.log"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Paths\n got %q\nwant %q", got, want)
	}
	if len(dirs) == 0 {
		t.Error("no folders reported for watching")
	}
}

// A segment that names a link to a folder follows it; a link back up is
// walked only as deep as the pattern has segments.
func TestPathsNamedLink(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "real", "a.log"))
	if err := os.Symlink(filepath.Join(dir, "real"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dir, filepath.Join(dir, "real", "up")); err != nil {
		t.Fatal(err)
	}
	p, _ := ParsePattern(filepath.Join(dir, "*", "*.log"), "*.log")
	s := Set{Patterns: []Pattern{p}}
	want := []string{filepath.Join(dir, "link/a.log"), filepath.Join(dir, "real/a.log")}
	if got := s.Paths(); !reflect.DeepEqual(got, want) {
		t.Errorf("Paths\n got %q\nwant %q", got, want)
	}
}

func TestMaxDepth(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "0.log"))
	writeFile(t, filepath.Join(dir, "1", "1.log"))
	writeFile(t, filepath.Join(dir, "1", "2", "2.log"))
	writeFile(t, filepath.Join(dir, "1", "2", "3", "3.log"))
	p, _ := ParsePattern(filepath.Join(dir, "**", "*.log"), "*.log")
	tests := []struct {
		max  int
		want int
	}{
		{1, 2},
		{2, 3},
		{0, 4}, // DefaultMaxDepth
	}
	for _, tt := range tests {
		s := Set{Patterns: []Pattern{p}, MaxDepth: tt.max}
		if got := s.Paths(); len(got) != tt.want {
			t.Errorf("MaxDepth %d: %q, want %d paths", tt.max, got, tt.want)
		}
	}
}

// A missing folder is skipped silently; one that cannot be listed is
// reported to OnErr and skipped, the other patterns still walked.
func TestOnErr(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "file"))
	writeFile(t, filepath.Join(dir, "ok", "a.log"))
	writeFile(t, filepath.Join(dir, "locked", "sub", "b.log"))
	pats := []string{
		filepath.Join(dir, "missing", "*.log"),
		filepath.Join(dir, "file", "*.log"), // the root is not a folder
		filepath.Join(dir, "ok", "*.log"),
	}
	locked := os.Geteuid() != 0 // root lists any folder
	if locked {
		pats = append(pats, filepath.Join(dir, "locked", "*", "*.log"))
		if err := os.Chmod(filepath.Join(dir, "locked"), 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(filepath.Join(dir, "locked"), 0o755) })
	}
	s, errs := Compile(pats, nil, "*.log")
	if errs != nil {
		t.Fatal(errs)
	}
	failed := map[string]error{}
	s.OnErr = func(d string, err error) { failed[d] = err }
	if got, want := s.Paths(), []string{filepath.Join(dir, "ok", "a.log")}; !reflect.DeepEqual(got, want) {
		t.Errorf("Paths %q, want %q", got, want)
	}
	if err := failed[filepath.Join(dir, "file")]; !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("root that is a file: OnErr got %v", err)
	}
	if err := failed[filepath.Join(dir, "locked")]; locked && !errors.Is(err, os.ErrPermission) {
		t.Errorf("unreadable folder: OnErr got %v", err)
	}
	if _, ok := failed[filepath.Join(dir, "missing")]; ok {
		t.Error("a missing folder was reported")
	}
}

func writeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestMatchPath(t *testing.T) {
	for _, tc := range []struct {
		pat, name string
		want      bool
	}{
		{"/var/log/*.log", "/var/log/a.log", true},
		{"var/log/*.log", "/var/log/a.log", true},
		{"/var/**/a.log", "/var/log/x/y/a.log", true},
		{"/var/**/a.log", "/var/a.log", true},
		{"/var/*/a.log", "/var/log/x/a.log", false},
		{"/home/**", "/home/admin/logs/app.log", true},
		{"/var/log/*.log", "/var/log/a.log.1", false},
	} {
		if got := MatchPath(tc.pat, tc.name); got != tc.want {
			t.Errorf("MatchPath(%q, %q) = %v, want %v", tc.pat, tc.name, got, tc.want)
		}
	}
}

func TestMatchFilter(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"", "/any/thing.log", true},
		{"app.log", "/home/admin/logs/app.log", true},       // no "/": the base name
		{"*.log", "/home/admin/logs/gc.log", true},          // no "/": the base name
		{"app.log", "/home/admin/logs/app.log.1", false},    // the whole base name
		{"logs/app.log", "/home/admin/logs/app.log", false}, // with "/": the whole path
		{"/home/**/app.log", "/home/admin/logs/app.log", true},
		{"/home/*/app.log", "/home/admin/logs/app.log", false},
	} {
		if got := MatchFilter(c.pattern, c.name); got != c.want {
			t.Errorf("MatchFilter(%q, %q) = %v, want %v", c.pattern, c.name, got, c.want)
		}
	}
}
