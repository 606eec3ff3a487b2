package report

import (
	"bytes"
	"sort"
	"time"
)

// Stack traces. A record's lines after its first are its continuation;
// in a format with no record heads, a line continues the previous one
// when it looks like part of a trace.

// isContinuation: leading whitespace, "Caused by:", "Suppressed:", or
// "... N more".
func isContinuation(line []byte) bool {
	if len(line) == 0 {
		return false
	}
	if line[0] == ' ' || line[0] == '\t' {
		return true
	}
	return bytes.HasPrefix(line, []byte("Caused by: ")) || bytes.HasPrefix(line, []byte("Suppressed: "))
}

// exceptionClass finds an exception class name at the start of s
// ("java.lang.IllegalStateException: boom", "Caused by: x.y.FooError")
// or, when anywhere, in the first 400 bytes: a dotted name whose last part
// starts upper case and ends in Exception, Error or Throwable.
func exceptionClass(s []byte, anywhere bool) []byte {
	s = bytes.TrimPrefix(s, []byte("Caused by: "))
	s = bytes.TrimPrefix(s, []byte("Suppressed: "))
	if len(s) > 400 {
		s = s[:400]
	}
	for i := 0; i < len(s); {
		if !isClassByte(s[i]) || (i > 0 && isClassByte(s[i-1])) {
			if !anywhere {
				return nil
			}
			i++
			continue
		}
		j := i
		for j < len(s) && (isClassByte(s[j]) || s[j] == '.') {
			j++
		}
		name := bytes.TrimRight(s[i:j], ".")
		if isExceptionName(name) {
			return name
		}
		if !anywhere {
			return nil
		}
		i = j
	}
	return nil
}

func isClassByte(c byte) bool { return isLetter(c) || c >= '0' && c <= '9' || c == '_' || c == '$' }

func isExceptionName(name []byte) bool {
	dot := bytes.LastIndexByte(name, '.')
	if dot <= 0 || dot == len(name)-1 {
		return false
	}
	last := name[dot+1:]
	if last[0] < 'A' || last[0] > 'Z' {
		return false
	}
	for _, suf := range []string{"Exception", "Error", "Throwable"} {
		if bytes.HasSuffix(last, []byte(suf)) {
			return true
		}
	}
	return false
}

// maxExceptions caps the distinct exception classes kept.
const maxExceptions = 2000

// Trace samples are capped in lines and bytes.
const (
	maxTraceLines = 40
	maxTraceBytes = 6 << 10
)

type excAcc struct {
	count       int64
	first, last time.Time
	hosts       []string
	root        string
	sample      string
}

type exceptions struct {
	m        map[string]*excAcc
	overflow int64
}

func (es *exceptions) add(class []byte, root []byte, trace []byte, t time.Time, host string) {
	if es.m == nil {
		es.m = map[string]*excAcc{}
	}
	a := es.m[string(class)]
	if a == nil {
		if len(es.m) >= maxExceptions {
			es.overflow++
			return
		}
		a = &excAcc{root: string(root), sample: printable(trace)}
		es.m[string(class)] = a
	}
	a.count++
	noteSpan(&a.first, &a.last, t)
	a.hosts = addHost(a.hosts, host)
}

func (es *exceptions) top(n int) []Exception {
	out := make([]Exception, 0, len(es.m))
	for k, a := range es.m {
		out = append(out, Exception{Class: k, Count: a.count, First: a.first, Last: a.last, Hosts: a.hosts, RootCause: a.root, Sample: a.sample})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Class < out[j].Class
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}
