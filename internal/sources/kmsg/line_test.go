package kmsg

import (
	"bufio"
	"bytes"
	"os"
	"testing"
	"time"
)

// TestParseLineRoundTrip: every record appendLine writes parses back to its
// time, priority, message and fields (the report reads what this source wrote).
func TestParseLineRoundTrip(t *testing.T) {
	boot := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f, err := os.Open("testdata/records.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		r, err := parseRecord(append(sc.Bytes(), '\n'))
		if err != nil {
			continue
		}
		line := appendLine(nil, &r, boot)
		l, ok := ParseLine(bytes.TrimSuffix(line, []byte{'\n'}))
		if !ok {
			t.Fatalf("%q: not parsed", line)
		}
		n++
		if want := boot.Add(time.Duration(r.Usec) * time.Microsecond); !l.Time.Equal(want) {
			t.Errorf("%q: time %v, want %v", line, l.Time, want)
		}
		if l.Level != r.Prio&7 || !bytes.Equal(l.Msg, r.Msg) {
			t.Errorf("%q: level %d msg %q, want %d %q", line, l.Level, l.Msg, r.Prio&7, r.Msg)
		}
		if want := bytes.Join(r.Dict, []byte{'\t'}); !bytes.Equal(l.Dict, want) {
			t.Errorf("%q: dict %q, want %q", line, l.Dict, want)
		}
	}
	if n == 0 {
		t.Fatal("no records in testdata/records.txt")
	}
}

func TestParseLineShapes(t *testing.T) {
	for _, tt := range []struct {
		in     string
		ok     bool
		cgroup bool
		msg    string
	}{
		{"2026-11-26T12:00:00.000000Z cgroup memory.events oom_kill 0 -> 1 (memory.max=2147483648)", true, true, "memory.events oom_kill 0 -> 1 (memory.max=2147483648)"},
		{"2026-11-26T12:00:00.000001Z - [1.000000] no priority", true, false, "no priority"},
		{"hello world", false, false, ""},
		{"", false, false, ""},
		{"2026-13-99T00:00:00Z kern.err [1.0] bad time", false, false, ""},
	} {
		l, ok := ParseLine([]byte(tt.in))
		if ok != tt.ok || l.Cgroup != tt.cgroup || ok && string(l.Msg) != tt.msg {
			t.Errorf("%q: ok %v cgroup %v msg %q", tt.in, ok, l.Cgroup, l.Msg)
		}
	}
}
