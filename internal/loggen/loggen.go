// Package loggen writes realistic Java application logs for benchmarks,
// tests and demos: logback-style lines (timestamp, level, thread, logger,
// a trace id, the message) from a service handling interleaved requests,
// with order, user and payment ids, durations, SQL, HTTP paths and
// statuses, and about 10% of the lines inside multi-line stack traces
// (with "Caused by:" and "... N more"). Lines average about 150 bytes and
// `zstd -1` compresses the output about 6x, as it does real application
// logs (repeated sample lines compress 10-2000x and flatter a shipper).
//
// The output is a pure function of the seed.
package loggen

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// Generator produces an endless log, one event at a time. It is not safe
// for concurrent use; give each writer its own.
type Generator struct {
	r      *rand.Rand
	ms     int64 // Unix milliseconds of the current line
	sec    int64 // second whose prefix is cached
	prefix []byte
	reqs   [8]request
	buf    []byte // Read's unread bytes
}

// request is one HTTP request or job in progress: its lines share a
// thread, a trace id and a user.
type request struct {
	thread []byte
	trace  [16]byte
	user   int
	order  int
	left   int // lines before it ends
}

// Start is the time of the first line of every generator.
var Start = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

// New returns a generator whose output is determined by seed.
func New(seed uint64) *Generator {
	g := &Generator{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), ms: Start.UnixMilli(), sec: -1}
	for i := range g.reqs {
		g.newRequest(&g.reqs[i])
	}
	return g
}

// Read fills p with the log, always ending where p is full: an event may
// be split between two calls. It never fails.
func (g *Generator) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(g.buf) == 0 {
			g.buf = g.Append(g.buf[:0])
		}
		k := copy(p[n:], g.buf)
		n += k
		g.buf = g.buf[k:]
	}
	return n, nil
}

// Append appends the next event to dst: one line, or a line followed by
// its stack trace. Every event ends with a newline.
func (g *Generator) Append(dst []byte) []byte {
	g.ms += int64(g.r.IntN(4))
	q := &g.reqs[g.r.IntN(len(g.reqs))]
	if q.left == 0 {
		g.newRequest(q)
	}
	q.left--
	if g.r.IntN(2000) < 9 {
		return g.appendError(dst, q)
	}
	m := &messages[g.pick()]
	dst = g.appendHead(dst, m.level, q, m.logger)
	dst = m.text(g, q, dst)
	return append(dst, '\n')
}

// pick chooses a message template by weight.
func (g *Generator) pick() int {
	n := g.r.IntN(totalWeight)
	for i := range messages {
		if n -= messages[i].weight; n < 0 {
			return i
		}
	}
	return 0
}

func (g *Generator) newRequest(q *request) {
	switch n := g.r.IntN(10); {
	case n < 7:
		q.thread = strconv.AppendInt(append(q.thread[:0], "http-nio-8080-exec-"...), int64(1+g.r.IntN(200)), 10)
	case n < 8:
		q.thread = strconv.AppendInt(append(q.thread[:0], "scheduling-"...), int64(1+g.r.IntN(4)), 10)
	case n < 9:
		q.thread = strconv.AppendInt(append(q.thread[:0], "kafka-order-events-"...), int64(g.r.IntN(6)), 10)
	default:
		q.thread = strconv.AppendInt(append(q.thread[:0], "HikariPool-1 housekeeper "...), int64(g.r.IntN(2)), 10)
	}
	for i := range q.trace {
		q.trace[i] = hex[g.r.IntN(16)]
	}
	q.user = 100000 + g.r.IntN(900000)
	q.order = 20000000 + g.r.IntN(80000000)
	q.left = 2 + g.r.IntN(8)
}

const hex = "0123456789abcdef"

// appendHead appends "2026-11-26 08:00:00.123 INFO  [thread] logger [trace] - ".
func (g *Generator) appendHead(dst []byte, level string, q *request, logger string) []byte {
	if s := g.ms / 1000; s != g.sec {
		g.sec = s
		g.prefix = time.UnixMilli(g.ms).UTC().AppendFormat(g.prefix[:0], "2006-01-02 15:04:05.")
	}
	dst = append(dst, g.prefix...)
	ms := g.ms % 1000
	dst = append(dst, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), ' ')
	dst = append(dst, level...)
	dst = append(dst, " ["...)
	dst = append(dst, q.thread...)
	dst = append(dst, "] "...)
	dst = append(dst, logger...)
	dst = append(dst, " ["...)
	dst = append(dst, q.trace[:]...)
	dst = append(dst, ',')
	span := g.r.Uint32()
	for i := 20; i >= 0; i -= 4 {
		dst = append(dst, hex[span>>i&15])
	}
	return append(dst, "] - "...)
}

// num appends a decimal number.
func num(dst []byte, n int) []byte { return strconv.AppendInt(dst, int64(n), 10) }

// duration returns a request-like duration in milliseconds: mostly small,
// with a long tail.
func (g *Generator) duration() int {
	switch n := g.r.IntN(100); {
	case n < 70:
		return 1 + g.r.IntN(40)
	case n < 95:
		return 40 + g.r.IntN(400)
	default:
		return 400 + g.r.IntN(5000)
	}
}

// appendError appends an ERROR line and its stack trace, with a cause.
func (g *Generator) appendError(dst []byte, q *request) []byte {
	t := &traces[g.r.IntN(len(traces))]
	dst = g.appendHead(dst, "ERROR", q, t.logger)
	dst = append(dst, t.message...)
	dst = append(dst, " orderId="...)
	dst = num(dst, q.order)
	dst = append(dst, '\n')
	dst = append(dst, t.exception...)
	dst = append(dst, ": "...)
	dst = append(dst, t.detail...)
	dst = num(dst, g.duration())
	dst = append(dst, "ms\n"...)
	top := t.frames[:len(t.frames)-g.r.IntN(4)]
	for _, f := range top {
		dst = append(dst, "\tat "...)
		dst = append(dst, f...)
		dst = append(dst, '\n')
	}
	dst = append(dst, "Caused by: "...)
	dst = append(dst, t.cause...)
	dst = append(dst, '\n')
	own := 2 + g.r.IntN(len(t.causeFrames)-1)
	for _, f := range t.causeFrames[:own] {
		dst = append(dst, "\tat "...)
		dst = append(dst, f...)
		dst = append(dst, '\n')
	}
	dst = append(dst, "\t... "...)
	// The frames the cause shares with the enclosing trace: all but the
	// top few, above the point where the cause was caught.
	dst = num(dst, len(top)-1-g.r.IntN(3))
	return append(dst, " more\n"...)
}

// Head returns the start of the log of seed: whole events, as many as fit
// in n bytes.
func Head(seed uint64, n int) []byte {
	g := New(seed)
	b := make([]byte, 0, n+64<<10)
	for {
		next := g.Append(b)
		if len(next) > n {
			return b
		}
		b = next
	}
}
