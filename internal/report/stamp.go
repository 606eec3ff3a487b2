package report

import "time"

// Timestamp shapes found at the start of log lines.
type stampKind uint8

const (
	stampNone     stampKind = iota
	stampISO                // 2026-11-26 12:00:00,123 / 2026-11-26T12:00:00.123+08:00, maybe in [ ]
	stampTimeOnly           // 12:00:00.123 (logback's default pattern: no date)
	stampJUL                // Nov 26, 2026 12:48:42 PM (java.util.logging.SimpleFormatter)
	stampCompact            // 081109 203615 (yymmdd hhmmss)
)

// stamp is a timestamp as written: its fields, and whether it had a zone.
type stamp struct {
	y, mo, d, h, mi, s, ns int
	hasZone                bool
	off                    int  // zone offset in seconds, when hasZone
	frac                   byte // '.' or ',' before the fraction; 0 without
	n                      int  // bytes of the line it took
}

// parseStamp parses a timestamp of the given shape at the start of b.
func parseStamp(kind stampKind, b []byte) (st stamp, ok bool) {
	switch kind {
	case stampISO:
		return parseISO(b)
	case stampTimeOnly:
		return parseTimeOnly(b)
	case stampJUL:
		return parseJUL(b)
	case stampCompact:
		return parseCompact(b)
	}
	return st, false
}

func digits(b []byte, n int) (int, bool) {
	if len(b) < n {
		return 0, false
	}
	v := 0
	for _, c := range b[:n] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// parseClock parses HH:MM:SS[.,fraction] at b[0].
func parseClock(b []byte, st *stamp) (int, bool) {
	var ok1, ok2, ok3 bool
	st.h, ok1 = digits(b, 2)
	st.mi, ok2 = digits(b[min(3, len(b)):], 2)
	st.s, ok3 = digits(b[min(6, len(b)):], 2)
	if !ok1 || !ok2 || !ok3 || b[2] != ':' || b[5] != ':' || st.h > 23 || st.mi > 59 || st.s > 60 {
		return 0, false
	}
	i := 8
	if i < len(b) && (b[i] == '.' || b[i] == ',') && i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '9' {
		st.frac = b[i]
		i++
		scale := 100000000
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			st.ns += int(b[i]-'0') * scale
			scale /= 10
		}
	}
	return i, true
}

func parseISO(b []byte) (st stamp, ok bool) {
	start := 0
	if len(b) > 0 && b[0] == '[' {
		start = 1
	}
	b2 := b[start:]
	if len(b2) < 19 || b2[4] != '-' || b2[7] != '-' || (b2[10] != ' ' && b2[10] != 'T') {
		return st, false
	}
	var ok1, ok2, ok3 bool
	st.y, ok1 = digits(b2, 4)
	st.mo, ok2 = digits(b2[5:], 2)
	st.d, ok3 = digits(b2[8:], 2)
	if !ok1 || !ok2 || !ok3 || st.mo < 1 || st.mo > 12 || st.d < 1 || st.d > 31 {
		return st, false
	}
	n, ok := parseClock(b2[11:], &st)
	if !ok {
		return st, false
	}
	i := 11 + n
	// zone: Z, +08:00, +0800, or " +0800"
	j := i
	if j < len(b2) && b2[j] == ' ' && j+1 < len(b2) && (b2[j+1] == '+' || b2[j+1] == '-') {
		j++
	}
	if j < len(b2) && b2[j] == 'Z' {
		st.hasZone, i = true, j+1
	} else if j < len(b2) && (b2[j] == '+' || b2[j] == '-') {
		hh, okh := digits(b2[j+1:], 2)
		k := j + 3
		if k < len(b2) && b2[k] == ':' {
			k++
		}
		mm, okm := digits(b2[k:], 2)
		if okh && okm && hh <= 14 && mm < 60 {
			st.hasZone, st.off, i = true, hh*3600+mm*60, k+2
			if b2[j] == '-' {
				st.off = -st.off
			}
		}
	}
	if start == 1 {
		if i < len(b2) && b2[i] == ']' {
			i++
		} else {
			return st, false
		}
	}
	st.n = start + i
	return st, true
}

func parseTimeOnly(b []byte) (st stamp, ok bool) {
	if len(b) < 8 {
		return st, false
	}
	n, ok := parseClock(b, &st)
	if !ok || st.frac == 0 { // "12:00:00 " alone is too common in prose
		return st, false
	}
	st.n = n
	return st, true
}

var monthAbbr = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// parseJUL parses "Nov 26, 2026 12:48:42 PM" (the hour is not padded).
func parseJUL(b []byte) (st stamp, ok bool) {
	if len(b) < 23 || b[3] != ' ' || b[6] != ',' || b[7] != ' ' || b[12] != ' ' {
		return st, false
	}
	for i, m := range monthAbbr {
		if string(b[:3]) == m {
			st.mo = i + 1
		}
	}
	var ok1, ok2 bool
	st.d, ok1 = digits(b[4:], 2)
	st.y, ok2 = digits(b[8:], 4)
	if st.mo == 0 || !ok1 || !ok2 {
		return st, false
	}
	c := b[13:]
	if len(c) > 1 && c[1] == ':' { // one-digit hour
		c = append([]byte{'0'}, c...)
		defer func() { st.n-- }()
	}
	n, ok := parseClock(c, &st)
	if !ok || len(c) < n+3 || c[n] != ' ' || c[n+2] != 'M' || (c[n+1] != 'A' && c[n+1] != 'P') || st.h < 1 || st.h > 12 {
		return st, false
	}
	if st.h == 12 {
		st.h = 0
	}
	if c[n+1] == 'P' {
		st.h += 12
	}
	st.n = 13 + n + 3
	return st, true
}

func parseCompact(b []byte) (st stamp, ok bool) {
	if len(b) < 14 || b[6] != ' ' || (len(b) > 13 && b[13] != ' ' && len(b) != 13) {
		return st, false
	}
	var oks [6]bool
	st.y, oks[0] = digits(b, 2)
	st.mo, oks[1] = digits(b[2:], 2)
	st.d, oks[2] = digits(b[4:], 2)
	st.h, oks[3] = digits(b[7:], 2)
	st.mi, oks[4] = digits(b[9:], 2)
	st.s, oks[5] = digits(b[11:], 2)
	for _, o := range oks {
		if !o {
			return st, false
		}
	}
	if st.mo < 1 || st.mo > 12 || st.d < 1 || st.d > 31 || st.h > 23 || st.mi > 59 || st.s > 60 {
		return st, false
	}
	st.y += 2000
	st.n = 13
	return st, true
}

// zoneRule turns naive timestamps into instants.
type zoneRule struct {
	loc   *time.Location // nil: use off
	off   int            // seconds east of UTC
	label string         // how it was chosen, for the report
}

// at returns the instant of a stamp: its own zone if it has one, else
// the rule's. A stamp without a date takes the date of near (an ingest
// time), the day before when that puts it after near.
func (z zoneRule) at(st stamp, near time.Time) time.Time {
	if st.hasZone {
		return time.Date(st.y, time.Month(st.mo), st.d, st.h, st.mi, st.s, st.ns, time.UTC).Add(-time.Duration(st.off) * time.Second)
	}
	if st.y == 0 {
		if near.IsZero() {
			return time.Time{}
		}
		local := z.local(near)
		st.y, st.mo, st.d = local.Year(), int(local.Month()), local.Day()
		t := z.naive(st)
		if t.After(near.Add(time.Hour)) {
			t = t.AddDate(0, 0, -1)
		}
		return t
	}
	return z.naive(st)
}

func (z zoneRule) naive(st stamp) time.Time {
	if z.loc != nil {
		return time.Date(st.y, time.Month(st.mo), st.d, st.h, st.mi, st.s, st.ns, z.loc).UTC()
	}
	return time.Date(st.y, time.Month(st.mo), st.d, st.h, st.mi, st.s, st.ns, time.UTC).Add(-time.Duration(z.off) * time.Second)
}

func (z zoneRule) local(t time.Time) time.Time {
	if z.loc != nil {
		return t.In(z.loc)
	}
	return t.UTC().Add(time.Duration(z.off) * time.Second)
}
