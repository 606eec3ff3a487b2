package retrieve

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/logship/logship/internal/sources/glob"
)

// Filter selects what ls, pull and cat work on. Empty fields select
// everything.
type Filter struct {
	// App, Host and Source are names or path.Match patterns ("web-*").
	App, Host, Source string
	// Path is a glob over the original path: without "/" it is matched
	// against the base name ("*.log"), with "/" against the whole path
	// ("/home/admin/logs/**/*.log", where "**" is any number of folders).
	Path string
	// Since and Until bound the ingest time: a chunk is selected when its
	// [first, last] ingest time overlaps [Since, Until]. Zero is open.
	Since, Until time.Time
}

// Validate reports every problem of the filter at once.
func (f Filter) Validate() error {
	var errs []error
	for _, p := range []struct{ name, v string }{{"--app", f.App}, {"--host", f.Host}, {"--source", f.Source}, {"--path", f.Path}} {
		if _, err := path.Match(p.v, ""); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %v", p.name, p.v, err))
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		errs = append(errs, fmt.Errorf("--until %s is before --since %s", f.Until.Format(time.RFC3339), f.Since.Format(time.RFC3339)))
	}
	return errors.Join(errs...)
}

func (f Filter) windowed() bool { return !f.Since.IsZero() || !f.Until.IsZero() }

// inWindow reports whether a chunk ingested over [first, last] overlaps
// the window.
func (f Filter) inWindow(first, last time.Time) bool {
	return (f.Since.IsZero() || !last.Before(f.Since)) && (f.Until.IsZero() || !first.After(f.Until))
}

// Partition rule. A chunk lives in the partition hour of its first ingest
// time. The agent seals chunks after max_age (10s by default), so a chunk
// never spans more than an hour: the window [Since, Until] needs the
// partition hours from the one before Since's hour up to Until's hour.
// Chunks of hours wholly inside the window are selected by their key
// alone; those of the boundary hours are selected by their header times.

// hourKept reports whether partition hour h may hold chunks of the window.
func (f Filter) hourKept(h time.Time) bool {
	if !f.Since.IsZero() && h.Before(f.Since.UTC().Truncate(time.Hour).Add(-time.Hour)) {
		return false
	}
	if !f.Until.IsZero() && h.After(f.Until.UTC().Truncate(time.Hour)) {
		return false
	}
	return true
}

// hourInside reports whether every chunk of partition hour h is in the
// window whatever its times (so its header need not be read to decide).
func (f Filter) hourInside(h time.Time) bool {
	return (f.Since.IsZero() || !h.Before(f.Since)) && (f.Until.IsZero() || !h.Add(time.Hour).After(f.Until))
}

// dayKept reports whether the partition day d (UTC midnight) may hold
// chunks of the window.
func (f Filter) dayKept(d time.Time) bool {
	if !f.Since.IsZero() && d.Add(23*time.Hour).Before(f.Since.UTC().Truncate(time.Hour).Add(-time.Hour)) {
		return false
	}
	return f.Until.IsZero() || !d.After(f.Until.UTC().Truncate(time.Hour))
}

func (f Filter) matchKey(app, host, source string) bool {
	return match(f.App, app) && match(f.Host, host) && match(f.Source, source)
}

func match(pattern, s string) bool {
	if pattern == "" {
		return true
	}
	ok, _ := path.Match(pattern, s)
	return ok
}

// matchPath matches an original path against the --path glob.
func (f Filter) matchPath(p string) bool {
	return glob.MatchFilter(f.Path, p)
}

// ParseTime parses a --since or --until value: a duration before now
// ("90m", "2h", "3d") or a timestamp (RFC 3339, or "2006-01-02 15:04[:05]"
// and "2006-01-02" in local time).
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if d, err := strconv.ParseFloat(n, 64); err == nil && d >= 0 {
			return now.Add(-time.Duration(d * 24 * float64(time.Hour))), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: a duration before now must be positive", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither a duration (90m, 2h, 3d) nor a time (2026-11-26T10:00:00Z, \"2026-11-26 10:00\", 2026-11-26)", s)
}
