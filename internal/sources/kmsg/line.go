package kmsg

import (
	"bytes"
	"time"
)

// Line is one line of the kernel log as this source archives it: a
// record written by appendLine, or a counter change of the cgroup mode
// ("2026-11-26T12:00:00.000000Z cgroup memory.events oom_kill 0 -> 1 (...)").
type Line struct {
	Time     time.Time
	Facility string // "kern", "user", ...; "" when unknown or for cgroup lines
	Level    int    // 0 emerg ... 7 debug; -1 when unknown
	Cgroup   bool   // a cgroup counter line
	Msg      []byte // the message (aliases the input); for cgroup lines everything after "cgroup "
	Dict     []byte // the tab-separated KEY=VALUE fields after the message, if any
}

// ParseLine parses one archived kernel log line (without its newline);
// ok is false for a line of another shape.
func ParseLine(b []byte) (l Line, ok bool) {
	l.Level = -1
	sp := bytes.IndexByte(b, ' ')
	if sp < 20 || sp > 40 {
		return l, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(b[:sp]))
	if err != nil {
		return l, false
	}
	l.Time, b = t, b[sp+1:]
	if rest, found := bytes.CutPrefix(b, []byte("cgroup ")); found {
		l.Cgroup, l.Msg = true, rest
		return l, true
	}
	sp = bytes.IndexByte(b, ' ')
	if sp < 1 {
		return l, false
	}
	fac, lvl, found := bytes.Cut(b[:sp], []byte{'.'})
	if found {
		for i, name := range levels {
			if string(lvl) == name {
				l.Level = i
			}
		}
		if string(fac) != "-" {
			l.Facility = string(fac)
		}
	}
	b = b[sp+1:]
	if len(b) > 0 && b[0] == '[' {
		if i := bytes.IndexByte(b, ']'); i > 0 {
			b = bytes.TrimPrefix(b[i+1:], []byte{' '})
		}
	}
	if i := bytes.IndexByte(b, '\t'); i >= 0 {
		b, l.Dict = b[:i], b[i+1:]
	}
	l.Msg = b
	return l, true
}

// IsOOMKill reports whether a kernel message announces one process killed
// by the OOM killer (each kill once; the report's other lines surround it).
func IsOOMKill(msg []byte) bool { return isOOMKill(msg) }
