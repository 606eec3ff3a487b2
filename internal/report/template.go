package report

import (
	"bytes"
	"sort"
	"strings"
	"time"
)

// Message templates. The Drain algorithm (Go ports: github.com/faceair/drain,
// github.com/jaeyo/go-drain3) was considered and not taken: the first was
// last changed in 2022 with no release, masks nothing, keeps its prefix
// tree forever (only clusters are evicted, so memory is not bounded by
// its MaxClusters) and forgets the counts of what it evicts; neither is
// served by the module proxy this project builds with. Java log messages
// vary in their numbers, ids, addresses and hashes far more than in their
// words, so masking those and grouping on the masked text, in a map with a
// cap, groups them well and keeps memory bounded by the cap.

// maxTemplateBytes bounds a template and a sample.
const maxTemplateBytes = 240

// mask appends the template of msg to dst: UUIDs, IPv4 addresses (with a
// port), 0x numbers, ids (words of hex digits with a digit, six or more
// long, or four or more with a letter) and the remaining digit runs are
// replaced by <UUID>, <IP>, <HEX>, <ID> and <N>; runs of spaces become one.
// A word of six or more hex letters right after an id is an id too.
func mask(dst, msg []byte) []byte {
	for i := 0; i < len(msg) && len(dst) < maxTemplateBytes; {
		c := msg[i]
		if c == ' ' || c == '\t' {
			if len(dst) > 0 && dst[len(dst)-1] != ' ' {
				dst = append(dst, ' ')
			}
			i++
			continue
		}
		if !isWordByte(c) {
			if c < 0x20 || c == 0x7f {
				c = '?'
			}
			dst = append(dst, c)
			i++
			continue
		}
		// A word: letters, digits, '_' (and '-', '.', ':' inside ids).
		j := i
		for j < len(msg) && isWordByte(msg[j]) {
			j++
		}
		w := msg[i:j]
		switch {
		case isUUIDAt(msg[i:]):
			dst = append(dst, "<UUID>"...)
			j = i + 36
		case isIPv4At(msg[i:]) > 0:
			dst = append(dst, "<IP>"...)
			j = i + isIPv4At(msg[i:])
		case len(w) > 2 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X') && allHex(w[2:]):
			dst = append(dst, "<HEX>"...)
		case allHex(w) && hasDigit(w) && (len(w) >= 6 || len(w) >= 4 && !allDigits(w)),
			allHex(w) && len(w) >= 6 && afterID(dst):
			// Ids and hashes: trace ids, span ids, long numbers. A
			// short all-digit word is a count or a status: <N>. A word of
			// hex letters alone ("facade") is an id only right after
			// another ("[<ID>,aacbcf]": a span id without a digit).
			dst = append(dst, "<ID>"...)
		default:
			dst = appendDigitsMasked(dst, w)
		}
		i = j
	}
	return bytes.TrimRight(dst, " ")
}

// afterID reports whether the template so far ends in an id and one
// separator (",", ":", "/", "-" or "=").
func afterID(dst []byte) bool {
	n := len(dst)
	return n > 4 && bytes.HasSuffix(dst[:n-1], []byte("<ID>")) && bytes.IndexByte([]byte(",:/-="), dst[n-1]) >= 0
}

func isWordByte(c byte) bool {
	return c >= '0' && c <= '9' || isLetter(c) || c == '_' || c >= 0x80
}

func allHex(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'f') {
			return false
		}
	}
	return len(b) > 0
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func hasDigit(b []byte) bool {
	for _, c := range b {
		if c >= '0' && c <= '9' {
			return true
		}
	}
	return false
}

// appendDigitsMasked appends w with every run of digits replaced by <N>.
func appendDigitsMasked(dst, w []byte) []byte {
	for k := 0; k < len(w); {
		if w[k] >= '0' && w[k] <= '9' {
			for k < len(w) && w[k] >= '0' && w[k] <= '9' {
				k++
			}
			dst = append(dst, "<N>"...)
			continue
		}
		dst = append(dst, w[k])
		k++
	}
	return dst
}

// isUUIDAt: 8-4-4-4-12 hex digits.
func isUUIDAt(b []byte) bool {
	if len(b) < 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if b[i] != '-' {
				return false
			}
		} else if !allHex(b[i : i+1]) {
			return false
		}
	}
	return len(b) == 36 || !isWordByte(b[36])
}

// isIPv4At returns the length of an IPv4 address (with ":port") at b, or 0.
func isIPv4At(b []byte) int {
	i := 0
	for part := 0; part < 4; part++ {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' && n < 3 {
			i++
			n++
		}
		if n == 0 {
			return 0
		}
		if part < 3 {
			if i >= len(b) || b[i] != '.' {
				return 0
			}
			i++
		}
	}
	if i < len(b) && (isWordByte(b[i]) || b[i] == '.' && i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '9') {
		return 0
	}
	if i+1 < len(b) && b[i] == ':' && b[i+1] >= '0' && b[i+1] <= '9' {
		i++
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	return i
}

// maxTemplates caps the distinct templates kept; records of new
// templates beyond it are counted in the overflow.
const maxTemplates = 5000

// maxHostsListed caps the hosts named per template or exception.
const maxHostsListed = 8

type tmplAcc struct {
	level       int
	count       int64
	first, last time.Time
	hosts       []string
	sample      string
}

// templates groups error and warning messages by template.
type templates struct {
	m        map[string]*tmplAcc
	overflow int64
	buf      []byte
}

func (ts *templates) add(level int, msg []byte, t time.Time, host string) {
	if ts.m == nil {
		ts.m = map[string]*tmplAcc{}
	}
	ts.buf = append(ts.buf[:0], byte('0'+level))
	ts.buf = mask(ts.buf, msg)
	a := ts.m[string(ts.buf)]
	if a == nil {
		if len(ts.m) >= maxTemplates {
			ts.overflow++
			return
		}
		a = &tmplAcc{level: level, sample: sample(msg)}
		ts.m[string(ts.buf)] = a
	}
	a.count++
	noteSpan(&a.first, &a.last, t)
	a.hosts = addHost(a.hosts, host)
}

// top returns the n most frequent templates of error and warning level.
func (ts *templates) top(n int) []Template {
	out := make([]Template, 0, len(ts.m))
	for k, a := range ts.m {
		out = append(out, Template{Level: LevelNames[a.level], Template: k[1:], Count: a.count, First: a.first, Last: a.last, Hosts: a.hosts, Sample: a.sample})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Level != b.Level {
			return a.Level == "error"
		}
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Template < b.Template
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func noteSpan(first, last *time.Time, t time.Time) {
	if t.IsZero() {
		return
	}
	if first.IsZero() || t.Before(*first) {
		*first = t
	}
	if t.After(*last) {
		*last = t
	}
}

func addHost(hosts []string, h string) []string {
	for _, x := range hosts {
		if x == h {
			return hosts
		}
	}
	if len(hosts) < maxHostsListed {
		return append(hosts, h)
	}
	return hosts
}

// sample makes a bounded, printable copy of a message, runs of spaces
// made one (padded logger columns).
func sample(b []byte) string {
	if len(b) > maxTemplateBytes*2 {
		b = b[:maxTemplateBytes*2]
	}
	s := printable(b)
	if strings.Contains(s, "  ") {
		s = strings.Join(strings.Fields(s), " ")
	}
	return s
}

// printable returns b as valid UTF-8 with control characters but tab
// replaced.
func printable(b []byte) string {
	s := bytes.ToValidUTF8(b, []byte("\uFFFD"))
	return string(bytes.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' || r == 0x7f {
			return '?'
		}
		return r
	}, s))
}
