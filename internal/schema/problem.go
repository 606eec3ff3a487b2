// Package schema is what every component's config is made of: the value
// types of config keys (Duration, Size, Secret) and the Problems that a
// Validate method returns, one per bad key, with helpers for the usual
// checks. It imports nothing of logship, so that components can declare
// their own config types (file.Config, oss.Config, pipeline.Config) while
// package config imports them to decode, layer and report.
//
// A component's Validate reports key paths relative to the component
// (read_from, paths[0]); package config places them (sources[0].read_from)
// and adds the file and line.
package schema

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a configuration: where it is, which key,
// what is wrong and how to fix it.
type Problem struct {
	Origin string // config file name, or $LOGSHIP_X for an environment variable; "" when unknown
	Line   int    // 1-based line in Origin; 0 when unknown
	Path   string // key path, e.g. sources[0].read_from
	Msg    string // what is wrong and the fix
}

func (p Problem) Error() string {
	var b strings.Builder
	switch {
	case p.Origin != "" && p.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", p.Origin, p.Line)
	case p.Origin != "":
		b.WriteString(p.Origin + ": ")
	case p.Line > 0:
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found in one pass. A component's Validate,
// and config's Load, Parse, ApplyEnv, Set and Validate, return it as their
// error, so a command can print them all.
type Problems []Problem

// Error joins the problems, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// AsProblems returns the problems in err, if it holds any.
func AsProblems(err error) (Problems, bool) {
	var ps Problems
	if errors.As(err, &ps) {
		return ps, true
	}
	return nil, false
}

// Err returns ps as an error, or nil when there are none.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// Closest returns the candidate nearest to s by edit distance, or "" when
// none is near enough to be a plausible misspelling.
func Closest(s string, candidates []string) string {
	best, bestD := "", 1<<30
	ls := strings.ToLower(s)
	for _, c := range candidates {
		d := EditDistance(ls, strings.ToLower(c))
		if d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" && bestD <= max(2, len(s)/3) {
		return best
	}
	for _, c := range candidates { // warning → warn, max → max_age
		lc := strings.ToLower(c)
		if min(len(ls), len(lc)) >= 3 && (strings.HasPrefix(ls, lc) || strings.HasPrefix(lc, ls)) {
			return c
		}
	}
	return ""
}

// EditDistance is the Levenshtein distance between a and b (bytes, case
// counts), with an adjacent transposition counted as one edit. Beyond 256
// bytes it returns the longer length instead of doing quadratic work: no
// suggestion should be made for such input.
func EditDistance(a, b string) int {
	if len(a) > 256 || len(b) > 256 {
		return max(len(a), len(b)) // no quadratic work on absurd input
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// DidYouMean returns "; did you mean X?" or "".
func DidYouMean(s string, candidates []string) string {
	if c := Closest(s, candidates); c != "" {
		return "; did you mean " + c + "?"
	}
	return ""
}

// Quote quotes a value for a message, shortening long ones.
func Quote(s string) string {
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return strconv.Quote(s)
}
