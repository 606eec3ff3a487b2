package kmsg

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// record is one kernel log record as read from /dev/kmsg (or one line of
// syslog(2) text, which has no sequence number and no dictionary).
type record struct {
	Prio  int   // facility<<3 | level; -1 when unknown (syslog line without <N>)
	Seq   int64 // sequence number; 0 for syslog lines
	Usec  int64 // CLOCK_MONOTONIC-ish microseconds since boot
	Flags []byte
	Msg   []byte   // message, bytes as the kernel wrote them (\xNN escapes kept)
	Dict  [][]byte // continuation lines without the leading space, e.g. SUBSYSTEM=pci
}

var errRecord = errors.New("kmsg: malformed record")

// parseRecord parses one /dev/kmsg record:
//
//	PRIO,SEQ,TS_USEC,FLAGS[,MORE...];MESSAGE\n
//	 KEY=VALUE\n ...
//
// The returned slices alias b.
func parseRecord(b []byte) (record, error) {
	var r record
	semi := bytes.IndexByte(b, ';')
	nl := bytes.IndexByte(b, '\n')
	if semi < 0 || (nl >= 0 && nl < semi) {
		return r, fmt.Errorf("%w: no ';' in the header", errRecord)
	}
	hdr := b[:semi]
	var fields [4][]byte
	for i := range fields {
		j := bytes.IndexByte(hdr, ',')
		if j < 0 {
			if i < 3 {
				return r, fmt.Errorf("%w: header %q has fewer than 4 fields", errRecord, b[:semi])
			}
			fields[i], hdr = hdr, nil
			break
		}
		fields[i], hdr = hdr[:j], hdr[j+1:]
	}
	prio, err1 := parseUint(fields[0])
	seq, err2 := parseUint(fields[1])
	usec, err3 := parseUint(fields[2])
	if err := errors.Join(err1, err2, err3); err != nil || prio > 1<<10 {
		return r, fmt.Errorf("%w: header %q", errRecord, b[:semi])
	}
	r.Prio, r.Seq, r.Usec, r.Flags = int(prio), seq, usec, fields[3]
	rest := b[semi+1:]
	nl = bytes.IndexByte(rest, '\n')
	if nl < 0 {
		r.Msg = rest
		return r, nil
	}
	r.Msg, rest = rest[:nl], rest[nl+1:]
	for len(rest) > 0 {
		var line []byte
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			line, rest = rest, nil
		}
		line = bytes.TrimPrefix(line, []byte{' '})
		if len(line) > 0 {
			r.Dict = append(r.Dict, line)
		}
	}
	return r, nil
}

// parseUint parses a non-negative decimal that fits in an int64.
func parseUint(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 18 {
		return 0, errRecord
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, errRecord
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

// parseSyslogLine parses one line of syslog(2) READ_ALL text:
// "<PRIO>[ SEC.USEC] message", both prefixes optional.
func parseSyslogLine(l []byte) record {
	r := record{Prio: -1}
	if len(l) > 2 && l[0] == '<' {
		if i := bytes.IndexByte(l[:min(len(l), 8)], '>'); i > 1 {
			if p, err := parseUint(l[1:i]); err == nil && p <= 1<<10 {
				r.Prio, l = int(p), l[i+1:]
			}
		}
	}
	if len(l) > 2 && l[0] == '[' {
		if i := bytes.IndexByte(l[:min(len(l), 32)], ']'); i > 0 {
			ts := bytes.TrimSpace(l[1:i])
			sec, frac, ok := bytes.Cut(ts, []byte{'.'})
			s, err1 := parseUint(sec)
			f, err2 := parseUint(frac)
			if ok && err1 == nil && err2 == nil && len(frac) <= 6 {
				for n := len(frac); n < 6; n++ {
					f *= 10
				}
				r.Usec, l = s*1e6+f, l[i+1:]
				l = bytes.TrimPrefix(l, []byte{' '})
			}
		}
	}
	r.Msg = l
	return r
}

var facilities = [...]string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}

var levels = [...]string{"emerg", "alert", "crit", "err", "warn", "notice", "info", "debug"}

// appendPrio appends "facility.level", e.g. kern.err; "-" when unknown.
func appendPrio(b []byte, prio int) []byte {
	if prio < 0 {
		return append(b, '-')
	}
	if f := prio >> 3; f < len(facilities) {
		b = append(b, facilities[f]...)
	} else {
		b = append(b, "fac"...)
		b = strconv.AppendInt(b, int64(f), 10)
	}
	b = append(b, '.')
	return append(b, levels[prio&7]...)
}

// timeLayout is RFC 3339 in UTC with microseconds, the kernel's resolution.
const timeLayout = "2006-01-02T15:04:05.000000Z07:00"

// appendLine appends the record as exactly one line:
//
//	2026-11-26T12:01:02.123456Z kern.err [12345.678901] message<TAB>KEY=VALUE<TAB>KEY=VALUE
//
// Fields: the wall-clock time (boot time + the record's timestamp, RFC
// 3339 UTC, microseconds), facility.level, the raw seconds since boot in
// brackets, then the message bytes unchanged (the kernel's \xNN escapes
// and any non-UTF-8 bytes pass through). The continuation lines of the
// record (" SUBSYSTEM=pci", " DEVICE=+pci:...") follow on the same line,
// each after a tab: /dev/kmsg escapes tabs in messages as \x09, so a tab
// separates them unambiguously.
//
// One record is one line because the archive counts records by lines when
// it removes overlaps between chunks (archive.StreamPlan.Apply).
func appendLine(b []byte, r *record, boot time.Time) []byte {
	b = boot.Add(time.Duration(r.Usec)*time.Microsecond).UTC().AppendFormat(b, timeLayout)
	b = append(b, ' ')
	b = appendPrio(b, r.Prio)
	b = append(b, " ["...)
	b = strconv.AppendInt(b, r.Usec/1e6, 10)
	b = append(b, '.')
	frac := r.Usec % 1e6
	for d := int64(1e5); d > 1 && frac < d; d /= 10 {
		b = append(b, '0')
	}
	b = strconv.AppendInt(b, frac, 10)
	b = append(b, "] "...)
	b = append(b, r.Msg...) // has no '\n': the parsers split on it
	for _, d := range r.Dict {
		b = append(b, '\t')
		b = append(b, d...) // has no '\n' either
	}
	return append(b, '\n')
}

// oomMarkers are substrings of the OOM killer's messages.
var oomMarkers = [][]byte{
	[]byte("Out of memory: Killed process"),
	[]byte("Out of memory: Kill process"), // before Linux 5.0
	[]byte("Memory cgroup out of memory: Kill"),
	[]byte("oom-kill:"),
	[]byte("oom_reaper:"),
	[]byte("invoked oom-killer:"),
	[]byte("Killed process "), // its own line before Linux 5.0
}

// isOOM reports whether a message is part of an OOM killer report.
func isOOM(msg []byte) bool {
	for _, m := range oomMarkers {
		if bytes.Contains(msg, m) {
			return true
		}
	}
	return false
}

// isOOMKill reports whether a message announces one killed process: it
// counts each kill once (the other OOM messages surround it).
func isOOMKill(msg []byte) bool {
	return bytes.Contains(msg, []byte("Killed process "))
}
