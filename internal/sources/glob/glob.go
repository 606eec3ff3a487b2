// Package glob expands the path globs of a source's config (`paths` and
// `exclude`) by walking the folders they name.
//
// A path pattern is made absolute (a relative one is taken from the
// working directory) and clean; its segments match with path.Match,
// except "**", which matches any number of folders, zero included. An
// exclude glob is matched against the base name and against the full path
// (a relative one against any trailing part of it).
package glob

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/logship/logship/internal/schema"
)

// DefaultMaxDepth bounds how many folders a walk descends below the root
// of a pattern when Set.MaxDepth is zero.
const DefaultMaxDepth = 32

// Pattern is one compiled path glob. Make it with ParsePattern.
type Pattern struct {
	raw  string
	root string   // the folder before the first segment with a wildcard
	segs []string // the segments below root; the last one names files
}

// ParsePattern makes p absolute and clean and checks its syntax. A
// pattern may not end with "**"; the error then suggests adding the file
// name pattern example (e.g. "*.log").
func ParsePattern(p, example string) (Pattern, error) {
	if strings.TrimSpace(p) == "" {
		return Pattern{}, errors.New("empty path")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return Pattern{}, fmt.Errorf("%q: %w", p, err)
	}
	abs = filepath.ToSlash(filepath.Clean(abs))
	parts := strings.Split(strings.TrimPrefix(abs, "/"), "/")
	for _, s := range parts {
		if _, err := path.Match(s, ""); err != nil {
			return Pattern{}, &SyntaxError{Pattern: p, Segment: s, Err: err}
		}
	}
	if parts[len(parts)-1] == "**" {
		return Pattern{}, fmt.Errorf("%q ends with **: add a file name pattern, e.g. %s/%s", p, abs, example)
	}
	i := 0
	for i < len(parts)-1 && !hasMeta(parts[i]) {
		i++
	}
	return Pattern{raw: p, root: "/" + strings.Join(parts[:i], "/"), segs: parts[i:]}, nil
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// Root returns the folder a walk starts from: the one before the first
// segment with a wildcard.
func (p Pattern) Root() string { return p.root }

// String returns the pattern absolute and clean, as it is walked.
func (p Pattern) String() string { return join(p.root, strings.Join(p.segs, "/")) }

// Match reports whether the absolute, clean path name matches.
func (p Pattern) Match(name string) bool {
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

// MatchPath reports whether the slash-separated path name matches the
// slash-separated pattern, segment by segment (path.Match), a "**"
// segment standing for any number of segments. Leading and trailing
// slashes are ignored on both sides; nothing is made absolute.
func MatchPath(pattern, name string) bool {
	return matchSegs(strings.Split(strings.Trim(pattern, "/"), "/"), strings.Split(strings.Trim(name, "/"), "/"))
}

// MatchFilter is the rule of the readers' --path filter (ls, pull, cat,
// report): a pattern without "/" matches the base name, one with "/" the
// whole path (MatchPath, "**" for any folders); an empty pattern matches
// everything.
func MatchFilter(pattern, name string) bool {
	switch {
	case pattern == "":
		return true
	case !strings.Contains(pattern, "/"):
		ok, _ := path.Match(pattern, path.Base(name))
		return ok
	}
	return MatchPath(pattern, name)
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

// Exclude is one exclude glob. Make it with ParseExclude.
type Exclude struct {
	raw  string
	full []string // segments matched against the full path
}

// ParseExclude checks the syntax of the exclude glob p.
func ParseExclude(p string) (Exclude, error) {
	if strings.TrimSpace(p) == "" {
		return Exclude{}, errors.New("empty pattern")
	}
	if _, err := path.Match(p, ""); err != nil {
		return Exclude{}, &SyntaxError{Pattern: p, Err: err}
	}
	full := p
	if !strings.HasPrefix(p, "/") {
		full = "**/" + p
	}
	segs := strings.Split(strings.TrimPrefix(path.Clean(full), "/"), "/")
	for _, s := range segs {
		if _, err := path.Match(s, ""); err != nil {
			return Exclude{}, &SyntaxError{Pattern: p, Err: err}
		}
	}
	return Exclude{raw: p, full: segs}, nil
}

// Match reports whether the absolute, clean path name is excluded: its
// base name matches the glob, or the full path does (a relative glob may
// match any trailing part of it).
func (e Exclude) Match(name string) bool {
	if ok, _ := path.Match(e.raw, path.Base(name)); ok {
		return true
	}
	return matchSegs(e.full, strings.Split(strings.TrimPrefix(name, "/"), "/"))
}

// SyntaxError is a glob that path.Match refuses; Segment is the part of
// Pattern that is wrong, when one was singled out.
type SyntaxError struct {
	Pattern, Segment string
	Err              error
}

func (e *SyntaxError) Error() string {
	if e.Segment == "" {
		return fmt.Sprintf("%q: %v", e.Pattern, e.Err)
	}
	return fmt.Sprintf("%q: bad segment %q: %v", e.Pattern, e.Segment, e.Err)
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// KeyError is a bad entry of a source's config; Key is its config key
// below the source ("paths[1]", "exclude[0]").
type KeyError struct {
	Key string
	Err error
}

func (e *KeyError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

// Compile parses a source's paths and exclude globs (example as for
// ParsePattern). It reports every bad entry, not only the first, each
// with its key; the Set holds the good ones.
func Compile(paths, excludes []string, example string) (Set, []*KeyError) {
	var s Set
	var errs []*KeyError
	for i, p := range paths {
		pat, err := ParsePattern(p, example)
		if err != nil {
			errs = append(errs, &KeyError{Key: fmt.Sprintf("paths[%d]", i), Err: err})
			continue
		}
		s.Patterns = append(s.Patterns, pat)
	}
	for i, p := range excludes {
		ex, err := ParseExclude(p)
		if err != nil {
			errs = append(errs, &KeyError{Key: fmt.Sprintf("exclude[%d]", i), Err: err})
			continue
		}
		s.Excludes = append(s.Excludes, ex)
	}
	return s, errs
}

// Set expands patterns by walking the folders they name, from each
// pattern's root (the folder before its first wildcard).
//
// The walk cannot loop: "**" descends only into real folders, never links
// (a link to a folder is followed only where a segment of the pattern
// names it), no folder is listed twice for one pattern, and no walk goes
// more than MaxDepth folders below a root. A folder that does not exist is
// skipped silently; one that cannot be listed is reported to OnErr and
// skipped.
type Set struct {
	Patterns []Pattern
	Excludes []Exclude
	// MaxDepth bounds how many folders a walk descends below a root
	// (0: DefaultMaxDepth).
	MaxDepth int
	// OnDir, when set, is called for every folder listed (to watch it).
	OnDir func(dir string)
	// OnErr, when set, is called for every folder that exists but cannot
	// be listed (no permission, not a folder, an I/O error).
	OnErr func(dir string, err error)
}

// Paths returns the matching, not excluded paths, sorted and
// deduplicated. They are every entry whose name matches the last segment
// of a pattern: files, folders and links alike; the caller stats them.
func (s *Set) Paths() []string {
	seen := map[string]bool{}
	var out []string
	add := func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		if s.Excluded(name) {
			return
		}
		out = append(out, name)
	}
	w := walker{s: s, add: add, maxDepth: s.MaxDepth}
	if w.maxDepth == 0 {
		w.maxDepth = DefaultMaxDepth
	}
	for _, p := range s.Patterns {
		w.visited = map[string]bool{}
		w.walk(p.root, p.segs, 0)
	}
	sort.Strings(out)
	return out
}

// Excluded reports whether an exclude glob matches the absolute, clean
// path name.
func (s *Set) Excluded(name string) bool {
	for _, e := range s.Excludes {
		if e.Match(name) {
			return true
		}
	}
	return false
}

// walker is one expansion of a Set.
type walker struct {
	s        *Set
	add      func(name string)
	maxDepth int
	// visited guards against listing one folder twice for one pattern
	// (several "**" can reach it).
	visited map[string]bool
}

// walk lists dir and follows segs.
func (w *walker) walk(dir string, segs []string, depth int) {
	key := fmt.Sprint(dir, "\x00", len(segs))
	if w.visited[key] || depth > w.maxDepth {
		return
	}
	w.visited[key] = true
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && w.s.OnErr != nil {
			w.s.OnErr(dir, err)
		}
		return
	}
	if w.s.OnDir != nil {
		w.s.OnDir(dir)
	}
	w.walkEntries(dir, entries, segs, depth)
}

func (w *walker) walkEntries(dir string, entries []os.DirEntry, segs []string, depth int) {
	seg := segs[0]
	if seg == "**" {
		// Zero folders: the rest of the pattern applies here.
		w.walkEntries(dir, entries, segs[1:], depth)
		// One or more: descend into real folders (not links: no loops).
		for _, e := range entries {
			if e.IsDir() {
				w.walk(join(dir, e.Name()), segs, depth+1)
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
			w.add(name)
			continue
		}
		isDir := e.IsDir()
		if e.Type()&fs.ModeSymlink != 0 {
			if fi, err := os.Stat(name); err == nil && fi.IsDir() {
				isDir = true
			}
		}
		if isDir {
			w.walk(name, segs[1:], depth+1)
		}
	}
}

func join(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// Globs returns the path and exclude globs of the set as they were
// written (relative ones relative).
func (s *Set) Globs() (paths, excludes []string) {
	for _, p := range s.Patterns {
		paths = append(paths, p.raw)
	}
	for _, e := range s.Excludes {
		excludes = append(excludes, e.raw)
	}
	return paths, excludes
}

// Check adds a problem for every bad entry of paths and excludes (the
// rules of Compile; example as for ParsePattern), at paths[i] and
// exclude[i]. It is the glob part of the Validate of file and crash.
func Check(ps *schema.Problems, paths, excludes []string, example string) {
	_, errs := Compile(paths, excludes, example)
	for _, e := range errs {
		var se *SyntaxError
		switch {
		case errors.As(e.Err, &se) && se.Segment != "":
			ps.Add(e.Key, "%s is not a valid glob (segment %s): use *, ?, [a-z] and ** for any folders", schema.Quote(se.Pattern), schema.Quote(se.Segment))
		case errors.As(e.Err, &se):
			ps.Add(e.Key, "%s is not a valid glob: use *, ?, [a-z] and ** for any folders", schema.Quote(se.Pattern))
		default:
			ps.Add(e.Key, "%v", e.Err)
		}
	}
}
