package report

import (
	"bytes"
	"encoding/json"
	"time"
)

// Log formats recognised per file.
const (
	FormatSpringBoot = "spring-boot" // 2026-11-26 12:00:00.123  INFO 123 --- [main] c.e.App : msg
	FormatLogback    = "logback"     // [date ]12:00:00.123 [main] INFO  c.e.App - msg
	FormatLog4j      = "log4j"       // 2026-11-26 12:00:00,123 INFO [main] c.e.App: msg (comma millis)
	FormatJUL        = "jul"         // Nov 26, 2026 12:48:42 PM c.e.App main \n SEVERE: msg
	FormatISO        = "iso8601"     // any other line starting with an ISO-8601 time
	FormatCompact    = "yymmdd"      // 081109 203615 148 INFO dfs.DataNode: msg (HDFS)
	FormatJSON       = "json"        // one JSON object per line
	FormatUnknown    = "unknown"
	FormatBinary     = "binary"
	FormatEmpty      = "empty"
)

// format is how the lines of one file are read.
type format struct {
	name  string
	stamp stampKind
}

// head is what the first line of a record says.
type head struct {
	st    stamp
	level int
	msg   []byte // the rest of the line after the level (aliases the line)
}

var levelWords = map[string]int{
	"TRACE": LevelDebug, "DEBUG": LevelDebug, "FINE": LevelDebug, "FINER": LevelDebug, "FINEST": LevelDebug, "CONFIG": LevelDebug,
	"INFO": LevelInfo, "NOTICE": LevelInfo,
	"WARN": LevelWarn, "WARNING": LevelWarn,
	"ERROR": LevelError, "SEVERE": LevelError, "FATAL": LevelError, "CRITICAL": LevelError, "CRIT": LevelError, "ALERT": LevelError, "EMERG": LevelError,
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// findLevel finds the first upper-case level word in b[:limit] standing
// alone (not inside a longer word); it returns the level and the index
// after the word, or LevelOther and -1.
func findLevel(b []byte, limit int) (int, int) {
	if len(b) > limit {
		b = b[:limit]
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c < 'A' || c > 'Z' || (i > 0 && isLetter(b[i-1])) {
			continue
		}
		j := i + 1
		for j < len(b) && b[j] >= 'A' && b[j] <= 'Z' {
			j++
		}
		if j < len(b) && isLetter(b[j]) {
			i = j
			continue
		}
		if lv, ok := levelWords[string(b[i:j])]; ok {
			return lv, j
		}
		i = j
	}
	return LevelOther, -1
}

// trimSep drops the separators between a level and its message.
func trimSep(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == ']' || b[0] == ':' || b[0] == '-' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// classify says which format a line is the first line of a record of,
// with what it says; "" when none.
func classify(line []byte) (string, head) {
	var h head
	if len(line) > 0 && line[0] == '{' {
		if _, ok := parseJSONLine(line); ok {
			return FormatJSON, h
		}
		return "", h
	}
	if st, ok := parseISO(line); ok {
		h.st = st
		rest := line[st.n:]
		lv, end := findLevel(rest, 48)
		h.level = lv
		if end < 0 {
			h.msg = bytes.TrimLeft(rest, " ")
			return FormatISO, h
		}
		h.msg = trimSep(rest[end:])
		after := bytes.TrimLeft(rest[end:], " ")
		i := 0
		for i < len(after) && after[i] >= '0' && after[i] <= '9' {
			i++
		}
		switch {
		case i > 0 && bytes.HasPrefix(after[i:], []byte(" --- ")):
			return FormatSpringBoot, h
		case st.frac == ',':
			return FormatLog4j, h
		case st.frac == '.' && (bytes.HasPrefix(bytes.TrimLeft(rest, " "), []byte("[")) || bytes.HasPrefix(after, []byte("["))):
			return FormatLogback, h
		}
		return FormatISO, h
	}
	if st, ok := parseJUL(line); ok {
		h.st, h.level, h.msg = st, LevelOther, line[st.n:]
		return FormatJUL, h
	}
	if st, ok := parseTimeOnly(line); ok {
		h.st = st
		lv, end := findLevel(line[st.n:], 48)
		if end < 0 {
			return "", h
		}
		h.level, h.msg = lv, trimSep(line[st.n+end:])
		return FormatLogback, h
	}
	if st, ok := parseCompact(line); ok {
		h.st = st
		lv, end := findLevel(line[st.n:], 32)
		if end < 0 {
			return "", h
		}
		h.level, h.msg = lv, trimSep(line[st.n+end:])
		return FormatCompact, h
	}
	return "", h
}

// stampOf is the timestamp shape of a format.
func stampOf(name string) stampKind {
	switch name {
	case FormatSpringBoot, FormatLog4j, FormatISO:
		return stampISO
	case FormatJUL:
		return stampJUL
	case FormatCompact:
		return stampCompact
	}
	return stampNone
}

// sniffLines is how many lines of a file's head decide its format.
const sniffLines = 400

// detect picks the format of a file from its first bytes: the format the
// most lines start a record of. Logback files whose lines have a date are
// told apart from the time-only pattern by the shape that won.
func detect(headBytes []byte) format {
	if len(headBytes) == 0 {
		return format{name: FormatEmpty}
	}
	if isBinary(headBytes) {
		return format{name: FormatBinary}
	}
	counts := map[string]int{}
	var dated, undated int
	for n := 0; n < sniffLines && len(headBytes) > 0; n++ {
		line := headBytes
		if i := bytes.IndexByte(headBytes, '\n'); i >= 0 {
			line, headBytes = headBytes[:i], headBytes[i+1:]
		} else {
			headBytes = nil
		}
		name, h := classify(bytes.TrimSuffix(line, []byte{'\r'}))
		if name == "" {
			continue
		}
		counts[name]++
		if name == FormatLogback {
			if h.st.y != 0 {
				dated++
			} else {
				undated++
			}
		}
	}
	best, bestN := FormatUnknown, 0
	for _, name := range []string{FormatJSON, FormatSpringBoot, FormatLogback, FormatLog4j, FormatJUL, FormatCompact, FormatISO} {
		if counts[name] > bestN {
			best, bestN = name, counts[name]
		}
	}
	f := format{name: best, stamp: stampOf(best)}
	if best == FormatLogback {
		f.stamp = stampISO
		if undated > dated {
			f.stamp = stampTimeOnly
		}
	}
	if best == FormatISO && counts[FormatLog4j]+counts[FormatSpringBoot]+counts[FormatLogback] > 0 {
		f.stamp = stampISO
	}
	return f
}

// isBinary: more than 5% of the head is NUL or control bytes. A file of
// text lines with a stray NUL in them is still read; the NUL bytes a
// copytruncate rotation leaves at the start of a file are skipped first.
func isBinary(b []byte) bool {
	b = bytes.TrimLeft(b, "\x00")
	if len(b) > 8192 {
		b = b[:8192]
	}
	bad := 0
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != 0x1b {
			bad++
		}
	}
	return bad*20 > len(b)
}

// parseHead reads the first line of a record in format f.
func (f format) parseHead(line []byte) (head, bool) {
	var h head
	st, ok := parseStamp(f.stamp, line)
	if !ok {
		return h, false
	}
	h.st = st
	rest := line[st.n:]
	if f.name == FormatJUL {
		h.level, h.msg = LevelOther, bytes.TrimLeft(rest, " ")
		return h, true
	}
	lv, end := findLevel(rest, 48)
	h.level = lv
	if end < 0 {
		h.msg = bytes.TrimLeft(rest, " ")
	} else {
		h.msg = trimSep(rest[end:])
	}
	if f.name == FormatSpringBoot {
		h.msg = springMsg(h.msg)
	}
	h.msg = skipBrackets(h.msg)
	return h, true
}

// skipBrackets drops bracketed groups at the start of a message (the
// thread name of logback and log4j patterns, "[main]",
// "[QuorumPeer[myid=1]/...]"): the same message from two threads is one
// template.
func skipBrackets(b []byte) []byte {
	for n := 0; n < 2 && len(b) > 0 && b[0] == '['; n++ {
		depth, end := 0, -1
		for i := 0; i < len(b) && i < 256 && end < 0; i++ {
			switch b[i] {
			case '[':
				depth++
			case ']':
				depth--
				if depth == 0 {
					end = i
				}
			}
		}
		if end < 0 {
			return b
		}
		b = trimSep(b[end+1:])
	}
	return b
}

// springMsg drops the pid, "---" and the bracketed app and thread names
// from a Spring Boot line: "4242 --- [main] c.e.App : msg" -> "c.e.App : msg".
func springMsg(b []byte) []byte {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	rest, ok := bytes.CutPrefix(b[i:], []byte(" --- "))
	if !ok {
		return b
	}
	for {
		rest = bytes.TrimLeft(rest, " ")
		if len(rest) == 0 || rest[0] != '[' {
			return rest
		}
		j := bytes.IndexByte(rest, ']')
		if j < 0 {
			return rest
		}
		rest = rest[j+1:]
	}
}

// julLevel reads the second line of a JUL record, "SEVERE: message".
func julLevel(line []byte) (int, []byte, bool) {
	i := bytes.IndexByte(line, ':')
	if i < 3 || i > 8 {
		return 0, nil, false
	}
	lv, ok := levelWords[string(line[:i])]
	if !ok {
		return 0, nil, false
	}
	return lv, bytes.TrimLeft(line[i+1:], " "), true
}

// jsonLine holds the fields of the common JSON layouts (logstash-logback-
// encoder, ECS, log4j2 JsonTemplateLayout, zap, slog, bunyan-like).
type jsonLine struct {
	Timestamp  string          `json:"@timestamp"`
	Timestamp2 string          `json:"timestamp"`
	Time       string          `json:"time"`
	TS         json.RawMessage `json:"ts"`
	Level      json.RawMessage `json:"level"`
	LogLevel   string          `json:"log.level"`
	Severity   string          `json:"severity"`
	Message    string          `json:"message"`
	Msg        string          `json:"msg"`
	Logger     string          `json:"logger_name"`
	Stack      string          `json:"stack_trace"`
	ErrStack   string          `json:"error.stack_trace"`
}

type jsonRecord struct {
	t     time.Time
	level int
	msg   string
	stack string
}

func parseJSONLine(line []byte) (jsonRecord, bool) {
	var j jsonLine
	var r jsonRecord
	if err := json.Unmarshal(line, &j); err != nil {
		return r, false
	}
	for _, s := range []string{j.Timestamp, j.Timestamp2, j.Time, string(bytes.Trim(j.TS, `"`))} {
		if s == "" {
			continue
		}
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			r.t = t.UTC()
			break
		}
		if st, ok := parseISO([]byte(s)); ok && st.n == len(s) {
			r.t = zoneRule{}.at(st, time.Time{})
			break
		}
	}
	lvl := string(bytes.Trim(j.Level, `"`))
	if lvl == "" {
		lvl = j.LogLevel
	}
	if lvl == "" {
		lvl = j.Severity
	}
	r.level = LevelOther
	if lvl != "" {
		if lv, _ := findLevel(bytes.ToUpper([]byte(lvl)), 16); lv != LevelOther {
			r.level = lv
		} else if n, err := json.Number(lvl).Int64(); err == nil { // bunyan/pino numbers
			switch {
			case n >= 50:
				r.level = LevelError
			case n >= 40:
				r.level = LevelWarn
			case n >= 30:
				r.level = LevelInfo
			default:
				r.level = LevelDebug
			}
		}
	}
	r.msg = j.Message
	if r.msg == "" {
		r.msg = j.Msg
	}
	if j.Logger != "" {
		r.msg = j.Logger + " - " + r.msg
	}
	r.stack = j.Stack
	if r.stack == "" {
		r.stack = j.ErrStack
	}
	ok := !r.t.IsZero() || lvl != "" || r.msg != ""
	return r, ok
}
