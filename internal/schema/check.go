package schema

import (
	"fmt"
	"slices"
	"strings"
)

// Add appends a problem at key path (relative to the component).
func (ps *Problems) Add(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Nest appends the problems of err, the result of a part's Validate, with
// their paths placed under prefix (sources[0] + read_from is
// sources[0].read_from). An error that is not Problems becomes one problem
// at prefix.
func (ps *Problems) Nest(prefix string, err error) {
	if err == nil {
		return
	}
	inner, ok := AsProblems(err)
	if !ok {
		*ps = append(*ps, Problem{Path: prefix, Msg: err.Error()})
		return
	}
	for _, p := range inner {
		p.Path = Join(prefix, p.Path)
		*ps = append(*ps, p)
	}
}

// Join joins a key path and a key below it: "sink" and "path" are
// sink.path, "sources[0]" and "paths[1]" sources[0].paths[1]; an empty
// side is left out.
func Join(prefix, key string) string {
	switch {
	case prefix == "":
		return key
	case key == "":
		return prefix
	case strings.HasPrefix(key, "["):
		return prefix + key
	}
	return prefix + "." + key
}

// OneOf checks that val is one of allowed, proposing the closest one.
func (ps *Problems) OneOf(path, val string, allowed []string) {
	if slices.Contains(allowed, val) {
		return
	}
	if val == "" {
		ps.Add(path, "required: one of %s", strings.Join(allowed, ", "))
		return
	}
	ps.Add(path, "%s is not one of %s%s", Quote(val), strings.Join(allowed, ", "), DidYouMean(val, allowed))
}

// Positive checks that a duration is more than zero.
func (ps *Problems) Positive(path string, d Duration) {
	switch {
	case d < 0:
		ps.Add(path, "%s is negative: must be more than 0s, e.g. 1s", d)
	case d == 0:
		ps.Add(path, "must be more than 0s, e.g. 1s")
	}
}

// Between checks lo <= n <= hi; show writes a number in messages (Count or
// ShowSize).
func (ps *Problems) Between(path string, n, lo, hi int64, show func(int64) string) {
	switch {
	case n < 0 && lo >= 0:
		ps.Add(path, "%s is negative: at least %s", show(n), show(lo))
	case n < lo:
		ps.Add(path, "%s is too small: at least %s", show(n), show(lo))
	case n > hi:
		ps.Add(path, "%s is too large: at most %s", show(n), show(hi))
	}
}

// Count writes a count for Between.
func Count(n int64) string { return fmt.Sprint(n) }

// ShowSize writes a byte count for Between (8MiB).
func ShowSize(n int64) string { return Size(n).String() }

// Default sets *p to v when *p is the zero value: the one way a
// SetDefaults fills a key.
func Default[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}
