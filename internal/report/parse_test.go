package report

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestMask(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"order 1234 placed", "order <N> placed"},
		{"connect to 10.1.2.3:5432 failed", "connect to <IP> failed"},
		{"request 3f2a9c00-1b2c-4d5e-8f90-a1b2c3d4e5f6 done", "request <UUID> done"},
		{"pc=0x7f20894d2f94 sp=0X10", "pc=<HEX> sp=<HEX>"},
		{"trace [254e46e24386bb76,c6ea35] span 123456", "trace [<ID>,<ID>] span <ID>"},
		{"took 35ms, status 503", "took <N>ms, status <N>"},
		{"http-nio-8080-exec-7   waiting", "http-nio-<N>-exec-<N> waiting"},
		{"blk_-6952295868487656571 terminating", "blk_-<ID> terminating"},
		{"version 1.2.3 of beef", "version <N>.<N>.<N> of beef"},
		{"c.e.OrderService [54b3cd78d9f30523,aacbcf] - Slow call", "c.e.OrderService [<ID>,<ID>] - Slow call"},
		{"the facade of the decade, abcdef", "the facade of the decade, abcdef"},
		{"ctl\x01char \xff ok", "ctl?char \xff ok"},
	} {
		if got := string(mask(nil, []byte(tt.in))); got != tt.want {
			t.Errorf("mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	long := bytes.Repeat([]byte("word "), 200)
	if got := mask(nil, long); len(got) > maxTemplateBytes+8 {
		t.Errorf("template of %d bytes", len(got))
	}
}

func TestStamps(t *testing.T) {
	utc := zoneRule{}
	plus8 := zoneRule{off: 8 * 3600}
	near := time.Date(2026, 12, 6, 2, 0, 30, 0, time.UTC)
	for _, tt := range []struct {
		kind stampKind
		in   string
		z    zoneRule
		want string // RFC 3339 UTC, "" = not a stamp
	}{
		{stampISO, "2026-12-06 10:15:01,101 INFO", plus8, "2026-12-06T02:15:01.101Z"},
		{stampISO, "2026-12-06T10:15:01.101+08:00 WARN", utc, "2026-12-06T02:15:01.101Z"},
		{stampISO, "2026-12-06T02:15:01Z x", plus8, "2026-12-06T02:15:01Z"},
		{stampISO, "[2026-12-06 02:15:01.5] x", utc, "2026-12-06T02:15:01.5Z"},
		{stampISO, "2026-12-06 10:15:01 +0800 x", utc, "2026-12-06T02:15:01Z"},
		{stampISO, "2026-13-06 10:15:01 x", utc, ""},
		{stampISO, "2026-12-06x10:15:01 x", utc, ""},
		{stampTimeOnly, "10:00:15.250 [main] INFO", plus8, "2026-12-06T02:00:15.25Z"},
		{stampTimeOnly, "10:00:15 [main] INFO", plus8, ""},
		{stampJUL, "Dec 06, 2026 7:00:42 AM Jul main", utc, "2026-12-06T07:00:42Z"},
		{stampJUL, "Dec 06, 2026 12:00:42 PM Jul main", utc, "2026-12-06T12:00:42Z"},
		{stampJUL, "Dec 06, 2026 12:00:42 AM Jul main", utc, "2026-12-06T00:00:42Z"},
		{stampJUL, "Dez 06, 2026 7:00:42 AM x", utc, ""},
		{stampCompact, "081109 203615 148 INFO dfs", utc, "2008-11-09T20:36:15Z"},
	} {
		st, ok := parseStamp(tt.kind, []byte(tt.in))
		got := ""
		if ok {
			got = tt.z.at(st, near).Format(time.RFC3339Nano)
		}
		if got != tt.want {
			t.Errorf("%q: %q, want %q", tt.in, got, tt.want)
		}
	}
	// A time-only stamp just before midnight read just after it belongs
	// to the day before.
	st, _ := parseStamp(stampTimeOnly, []byte("23:59:58.000 x"))
	if got := utc.at(st, time.Date(2026, 12, 7, 0, 0, 1, 0, time.UTC)); !got.Equal(time.Date(2026, 12, 6, 23, 59, 58, 0, time.UTC)) {
		t.Errorf("midnight: %v", got)
	}
}

func TestExceptionClass(t *testing.T) {
	for _, tt := range []struct {
		in       string
		anywhere bool
		want     string
	}{
		{"java.lang.IllegalStateException: boom", false, "java.lang.IllegalStateException"},
		{"Caused by: java.sql.SQLException: x", false, "java.sql.SQLException"},
		{"com.example.Outer$InnerError", false, "com.example.Outer$InnerError"},
		{"failed: java.net.ConnectException: refused", true, "java.net.ConnectException"},
		{"failed: java.net.ConnectException: refused", false, ""},
		{"ErrorHandler started", true, ""},
		{"no.exception.here", true, ""},
	} {
		if got := string(exceptionClass([]byte(tt.in), tt.anywhere)); got != tt.want {
			t.Errorf("%q: %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestBounds: the histogram, the template table and the exception table
// stay within their caps whatever is fed.
func TestBounds(t *testing.T) {
	var h Histogram
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 200000 {
		h.add(t0.Add(time.Duration(i)*time.Minute), i%numLevels)
	}
	if len(h.buckets) > maxBuckets {
		t.Errorf("%d buckets", len(h.buckets))
	}
	var total int64
	for _, b := range h.Buckets() {
		for _, c := range b.Counts {
			total += c
		}
	}
	if total != 200000 {
		t.Errorf("histogram holds %d of 200000", total)
	}
	// Shipping spans: 100,000 chunks with one 20-minute gap keep a few
	// spans and find the gap.
	r := newRun(Options{Gap: 15 * time.Minute}, nil)
	ha := r.host("a", "h")
	for i := range 100000 {
		at := t0.Add(time.Duration(i) * time.Second)
		if i >= 50000 {
			at = at.Add(20 * time.Minute)
		}
		r.shipSpans(ha, []segment{{First: at, Last: at.Add(500 * time.Millisecond)}})
	}
	if len(ha.spans) > spanMerge {
		t.Errorf("%d spans kept", len(ha.spans))
	}
	if g := gaps(ha.spans, 15*time.Minute); len(g) != 1 || g[0].To.Sub(g[0].From) != 20*time.Minute+500*time.Millisecond {
		t.Errorf("gaps %v", g)
	}
	var ts templates
	var es exceptions
	for i := range maxTemplates + 500 {
		w := []byte(fmt.Sprintf("message %c%c%c", 'a'+i%26, 'a'+i/26%26, 'a'+i/676%26))
		ts.add(LevelError, w, t0, "h")
		es.add([]byte(fmt.Sprintf("x.Y%dException", i)), nil, []byte("trace"), t0, "h")
	}
	if len(ts.m) != maxTemplates || ts.overflow != 500 {
		t.Errorf("%d templates, overflow %d", len(ts.m), ts.overflow)
	}
	if len(es.m) != maxExceptions || es.overflow != maxTemplates+500-maxExceptions {
		t.Errorf("%d exception classes, overflow %d", len(es.m), es.overflow)
	}
}

// FuzzReadLog: any bytes as a log file, a kernel log, run events or a
// snapshot are read without a panic, and every record is counted once.
func FuzzReadLog(f *testing.F) {
	for _, p := range []string{"testdata/formats/demo/box/file/logs/jul.log", "testdata/formats/demo/box/file/logs/app.json",
		"testdata/incident/shop/web-1/kmsg/dev/kmsg", "testdata/incident/shop/web-1/event/events.jsonl"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("\x00\x01\x02"))
	f.Add([]byte("2026-12-06 10:00:00.000 ERROR x\n\tat a.b(C.java:1)\nCaused by: a.BError\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		for _, src := range []string{"file/app.log", "stdout/stdout", "kmsg/dev/kmsg", "event/events.jsonl", "snapshot/s.tar.zst", "crash/hs_err_pid1.log"} {
			p := filepath.Join(dir, "a", "h", filepath.FromSlash(src))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		res, err := Build(context.Background(), dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := WriteText(&buf, res, TextOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := WriteHTML(&buf, res); err != nil {
			t.Fatal(err)
		}
		for _, f := range res.Files {
			var n int64
			for _, c := range f.Levels {
				n += c
			}
			if n != f.Records || f.Records > f.Lines+1 {
				t.Fatalf("%s: %d records, levels sum %d, %d lines", f.Path, f.Records, n, f.Lines)
			}
		}
	})
}
