package crash

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// maxDepth bounds how many folders a "**" descends.
const maxDepth = 16

// pattern is one path glob made absolute (relative ones are taken from
// the working directory at start). Segments match with path.Match, "**"
// matches any number of folders.
type pattern struct {
	raw  string
	root string   // the folder before the first segment with a wildcard
	segs []string // segments below root; the last names files
}

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
	if parts[len(parts)-1] == "**" {
		return pattern{}, fmt.Errorf("%q ends with **: add a file name pattern, e.g. %s/hs_err_pid*.log", p, abs)
	}
	i := 0
	for i < len(parts)-1 && !strings.ContainsAny(parts[i], `*?[\`) {
		i++
	}
	return pattern{raw: p, root: "/" + strings.Join(parts[:i], "/"), segs: parts[i:]}, nil
}

// exclude matches the base name, or the full path (a relative pattern may
// match any trailing part of it).
type exclude struct {
	raw  string
	full []string
}

func compileExclude(p string) (exclude, error) {
	if strings.TrimSpace(p) == "" {
		return exclude{}, errors.New("empty pattern")
	}
	full := p
	if !strings.HasPrefix(p, "/") {
		full = "**/" + p
	}
	segs := strings.Split(strings.TrimPrefix(path.Clean(full), "/"), "/")
	for _, s := range append(segs, p) {
		if _, err := path.Match(s, ""); err != nil {
			return exclude{}, fmt.Errorf("%q: %w", p, err)
		}
	}
	return exclude{raw: p, full: segs}, nil
}

func (e exclude) match(name string) bool {
	if ok, _ := path.Match(e.raw, path.Base(name)); ok {
		return true
	}
	return matchSegs(e.full, strings.Split(strings.TrimPrefix(name, "/"), "/"))
}

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

// globber lists the files matching its patterns.
type globber struct {
	pats     []pattern
	excludes []exclude
	// onErr sees folders that exist but cannot be listed.
	onErr func(dir string, err error)
}

// files returns the matching, not excluded paths, sorted, deduplicated.
func (g *globber) files() []string {
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

func (g *globber) walk(dir string, segs []string, depth int, add func(string), visited map[string]bool) {
	key := fmt.Sprint(dir, "\x00", len(segs))
	if visited[key] || depth > maxDepth {
		return
	}
	visited[key] = true
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) && g.onErr != nil {
			g.onErr(dir, err)
		}
		return
	}
	seg := segs[0]
	if seg == "**" {
		g.walkHere(dir, entries, segs[1:], depth, add, visited)
		for _, e := range entries {
			if e.IsDir() {
				g.walk(join(dir, e.Name()), segs, depth+1, add, visited)
			}
		}
		return
	}
	g.walkHere(dir, entries, segs, depth, add, visited)
}

func (g *globber) walkHere(dir string, entries []os.DirEntry, segs []string, depth int, add func(string), visited map[string]bool) {
	if segs[0] == "**" {
		g.walk(dir, segs, depth, add, visited)
		return
	}
	for _, e := range entries {
		if ok, _ := path.Match(segs[0], e.Name()); !ok {
			continue
		}
		name := join(dir, e.Name())
		if len(segs) == 1 {
			add(name)
			continue
		}
		if fi, err := os.Stat(name); err == nil && fi.IsDir() {
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
