package file

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// maxGlobDepth bounds how many folders a "**" may descend.
const maxGlobDepth = 32

// pattern is one compiled path glob. Segments are matched with path.Match,
// except "**", which matches any number of folders (zero included).
type pattern struct {
	raw  string
	root string   // the folder before the first segment with a wildcard
	segs []string // the segments below root; the last one names files
}

// compilePattern makes p absolute and clean and checks its syntax.
func compilePattern(p string) (pattern, error) {
	if strings.TrimSpace(p) == "" {
		return pattern{}, errors.New("empty path")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return pattern{}, fmt.Errorf("%q: %w", p, err)
	}
	abs = filepath.ToSlash(filepath.Clean(abs))
	parts := strings.Split(strings.TrimPrefix(abs, "/"), "/")
	for _, s := range parts {
		if _, err := path.Match(s, ""); err != nil {
			return pattern{}, fmt.Errorf("%q: bad segment %q: %w", p, s, err)
		}
	}
	i := 0
	for i < len(parts)-1 && !hasMeta(parts[i]) {
		i++
	}
	if parts[len(parts)-1] == "**" {
		return pattern{}, fmt.Errorf("%q ends with **: add a file name pattern, e.g. %s/*.log", p, abs)
	}
	return pattern{raw: p, root: "/" + strings.Join(parts[:i], "/"), segs: parts[i:]}, nil
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// match reports whether the absolute, clean path name matches.
func (p pattern) match(name string) bool {
	prefix := p.root + "/"
	if p.root == "/" {
		prefix = "/"
	}
	rel, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return false
	}
	return matchSegs(p.segs, strings.Split(rel, "/"))
}

// matchSegs matches path segments against pattern segments, "**" standing
// for any number of segments.
func matchSegs(segs, parts []string) bool {
	for len(segs) > 0 {
		if segs[0] == "**" {
			for i := 0; i <= len(parts); i++ {
				if matchSegs(segs[1:], parts[i:]) {
					return true
				}
			}
			return false
		}
		if len(parts) == 0 {
			return false
		}
		if ok, _ := path.Match(segs[0], parts[0]); !ok {
			return false
		}
		segs, parts = segs[1:], parts[1:]
	}
	return len(parts) == 0
}

// exclude is one exclude glob: it is matched against the base name, and
// against the full path (relative patterns with a slash may match any
// trailing part of the path).
type exclude struct {
	raw  string
	full []string // segments matched against the full path
}

func compileExclude(p string) (exclude, error) {
	if strings.TrimSpace(p) == "" {
		return exclude{}, errors.New("empty pattern")
	}
	if _, err := path.Match(p, ""); err != nil {
		return exclude{}, fmt.Errorf("%q: %w", p, err)
	}
	full := p
	if !strings.HasPrefix(p, "/") {
		full = "**/" + p
	}
	full = path.Clean(full)
	for _, s := range strings.Split(strings.TrimPrefix(full, "/"), "/") {
		if _, err := path.Match(s, ""); err != nil {
			return exclude{}, fmt.Errorf("%q: %w", p, err)
		}
	}
	return exclude{raw: p, full: strings.Split(strings.TrimPrefix(full, "/"), "/")}, nil
}

func (e exclude) match(name string) bool {
	if ok, _ := path.Match(e.raw, path.Base(name)); ok {
		return true
	}
	return matchSegs(e.full, strings.Split(strings.TrimPrefix(name, "/"), "/"))
}

// globber expands patterns by walking the folders they name. It reports
// every entry whose name matches the last segment (files, folders and
// links alike: the caller stats them) and every folder it listed (for
// watches).
type globber struct {
	pats     []pattern
	excludes []exclude
	// onDir is called for every folder listed.
	onDir func(dir string)
	// onErr is called when a folder below a root cannot be listed.
	onErr func(dir string, err error)
}

// candidates returns the matching, not excluded paths, sorted and
// deduplicated.
func (g *globber) candidates() []string {
	seen := map[string]bool{}
	var out []string
	add := func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		for _, e := range g.excludes {
			if e.match(name) {
				return
			}
		}
		out = append(out, name)
	}
	for _, p := range g.pats {
		g.walk(p.root, p.segs, 0, add, map[string]bool{})
	}
	sort.Strings(out)
	return out
}

// walk lists dir and follows segs. visited guards against listing one
// folder twice for one pattern (several "**" can reach it).
func (g *globber) walk(dir string, segs []string, depth int, add func(string), visited map[string]bool) {
	key := fmt.Sprint(dir, "\x00", len(segs))
	if visited[key] || depth > maxGlobDepth {
		return
	}
	visited[key] = true
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && g.onErr != nil {
			g.onErr(dir, err)
		}
		return
	}
	if g.onDir != nil {
		g.onDir(dir)
	}
	g.walkEntries(dir, entries, segs, depth, add, visited)
}

func (g *globber) walkEntries(dir string, entries []os.DirEntry, segs []string, depth int, add func(string), visited map[string]bool) {
	seg := segs[0]
	if seg == "**" {
		// Zero folders: the rest of the pattern applies here.
		g.walkEntries(dir, entries, segs[1:], depth, add, visited)
		// One or more: descend into real folders (not links: no loops).
		for _, e := range entries {
			if e.IsDir() {
				g.walk(join(dir, e.Name()), segs, depth+1, add, visited)
			}
		}
		return
	}
	for _, e := range entries {
		if ok, _ := path.Match(seg, e.Name()); !ok {
			continue
		}
		name := join(dir, e.Name())
		if len(segs) == 1 {
			add(name)
			continue
		}
		isDir := e.IsDir()
		if e.Type()&fs.ModeSymlink != 0 {
			if fi, err := os.Stat(name); err == nil && fi.IsDir() {
				isDir = true
			}
		}
		if isDir {
			g.walk(name, segs[1:], depth+1, add, visited)
		}
	}
}

func join(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}
