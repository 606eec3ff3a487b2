package kmsg

import (
	"bytes"
	"flag"
	"os"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func TestParseRecord(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    record
		wantErr bool
	}{
		{name: "plain", in: "6,42,1234567,-;hello world\n",
			want: record{Prio: 6, Seq: 42, Usec: 1234567, Flags: []byte("-"), Msg: []byte("hello world")}},
		{name: "no trailing newline", in: "3,1,0,-;x",
			want: record{Prio: 3, Seq: 1, Flags: []byte("-"), Msg: []byte("x")}},
		{name: "extra header fields", in: "6,339,5140900,-,caller=T1;msg\n",
			want: record{Prio: 6, Seq: 339, Usec: 5140900, Flags: []byte("-"), Msg: []byte("msg")}},
		{name: "continuation lines", in: "6,3,512000,-;pci thing\n SUBSYSTEM=pci\n DEVICE=+pci:0000:00:01.0\n",
			want: record{Prio: 6, Seq: 3, Usec: 512000, Flags: []byte("-"), Msg: []byte("pci thing"),
				Dict: [][]byte{[]byte("SUBSYSTEM=pci"), []byte("DEVICE=+pci:0000:00:01.0")}}},
		{name: "semicolon in message", in: "6,1,2,c;a;b\n",
			want: record{Prio: 6, Seq: 1, Usec: 2, Flags: []byte("c"), Msg: []byte("a;b")}},
		{name: "empty message", in: "6,1,2,-;\n",
			want: record{Prio: 6, Seq: 1, Usec: 2, Flags: []byte("-"), Msg: []byte{}}},
		{name: "non-UTF-8 kept", in: "6,1,2,-;\xff\xfe\\x01\n",
			want: record{Prio: 6, Seq: 1, Usec: 2, Flags: []byte("-"), Msg: []byte("\xff\xfe\\x01")}},
		{name: "facility", in: "191,7,1,-;m\n",
			want: record{Prio: 191, Seq: 7, Usec: 1, Flags: []byte("-"), Msg: []byte("m")}},
		{name: "no semicolon", in: "6,1,2,-\n", wantErr: true},
		{name: "semicolon after newline", in: "6,1,2,-\n;x", wantErr: true},
		{name: "three fields", in: "6,1,2;x\n", wantErr: true},
		{name: "bad prio", in: "x,1,2,-;x\n", wantErr: true},
		{name: "negative seq", in: "6,-1,2,-;x\n", wantErr: true},
		{name: "empty ts", in: "6,1,,-;x\n", wantErr: true},
		{name: "huge number", in: "6,99999999999999999999,2,-;x\n", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRecord([]byte(tt.in))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("want an error, got %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseSyslogLine(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want record
	}{
		{"full", "<6>[    5.123456] hello", record{Prio: 6, Usec: 5123456, Msg: []byte("hello")}},
		{"short fraction", "<3>[12.5] x", record{Prio: 3, Usec: 12500000, Msg: []byte("x")}},
		{"facility", "<14>[    0.000001] user", record{Prio: 14, Usec: 1, Msg: []byte("user")}},
		{"no prio", "[    1.000000] x", record{Prio: -1, Usec: 1000000, Msg: []byte("x")}},
		{"no time", "<6>printk.time=0", record{Prio: 6, Msg: []byte("printk.time=0")}},
		{"caller id kept", "<6>[    1.000000][    T1] x", record{Prio: 6, Usec: 1000000, Msg: []byte("[    T1] x")}},
		{"bad prio kept", "<x>[1.0] m", record{Prio: -1, Msg: []byte("<x>[1.0] m")}},
		{"bad time kept", "<6>[abc] m", record{Prio: 6, Msg: []byte("[abc] m")}},
		{"bare", "text", record{Prio: -1, Msg: []byte("text")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseSyslogLine([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestAppendLine(t *testing.T) {
	tests := []struct {
		name string
		r    record
		want string
	}{
		{"kern.err", record{Prio: 3, Usec: 12345678901, Msg: []byte("Out of memory: Killed process 1234 (java)")},
			"2026-11-26T15:25:45.678901Z kern.err [12345.678901] Out of memory: Killed process 1234 (java)\n"},
		{"zero time pads the fraction", record{Prio: 6, Usec: 0, Msg: []byte("Linux version")},
			"2026-11-26T12:00:00.000000Z kern.info [0.000000] Linux version\n"},
		{"small fraction", record{Prio: 14, Usec: 1000042, Msg: []byte("m")},
			"2026-11-26T12:00:01.000042Z user.info [1.000042] m\n"},
		{"local7.debug", record{Prio: 191, Usec: 1, Msg: []byte("m")},
			"2026-11-26T12:00:00.000001Z local7.debug [0.000001] m\n"},
		{"unknown facility", record{Prio: 200, Msg: []byte("m")},
			"2026-11-26T12:00:00.000000Z fac25.emerg [0.000000] m\n"},
		{"unknown prio", record{Prio: -1, Msg: []byte("m")},
			"2026-11-26T12:00:00.000000Z - [0.000000] m\n"},
		{"continuation lines after tabs", record{Prio: 6, Msg: []byte("pci"), Dict: [][]byte{[]byte("SUBSYSTEM=pci"), []byte("DEVICE=+pci:1")}},
			"2026-11-26T12:00:00.000000Z kern.info [0.000000] pci\tSUBSYSTEM=pci\tDEVICE=+pci:1\n"},
		{"bytes unchanged", record{Prio: 6, Msg: []byte("\xff\\x1b ok")},
			"2026-11-26T12:00:00.000000Z kern.info [0.000000] \xff\\x1b ok\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendLine(nil, &tt.r, testBoot)); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestFormatGolden formats every fixture record; the golden file shows the
// line format on real-looking input.
func TestFormatGolden(t *testing.T) {
	var got []byte
	for _, f := range []string{"records.txt", "nonutf8.txt", "oom.txt"} {
		got = append(got, format(t, splitRecords(readFixture(t, f))...)...)
	}
	golden := "testdata/format.golden"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := readFixture(t, "format.golden")
	if !bytes.Equal(got, want) {
		t.Errorf("format differs from %s (run with -update to accept):\n%s", golden, got)
	}
}

func TestOOMMarkers(t *testing.T) {
	tests := []struct {
		msg        string
		oom, kills bool
	}{
		{"Out of memory: Killed process 1234 (java) total-vm:1kB", true, true},
		{"Memory cgroup out of memory: Killed process 1234 (java)", true, true},
		{"Out of memory: Kill process 1234 (java) score 900 or sacrifice child", true, false},
		{"Killed process 1234 (java) total-vm:1kB, anon-rss:1kB", true, true}, // before Linux 5.0
		{"oom-kill:constraint=CONSTRAINT_NONE,task=java,pid=1234", true, false},
		{"oom_reaper: reaped process 1234 (java)", true, false},
		{"java invoked oom-killer: gfp_mask=0xcc0", true, false},
		{"eth0: link up", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			if got := isOOM([]byte(tt.msg)); got != tt.oom {
				t.Errorf("isOOM = %v, want %v", got, tt.oom)
			}
			if got := isOOMKill([]byte(tt.msg)); got != tt.kills {
				t.Errorf("isOOMKill = %v, want %v", got, tt.kills)
			}
		})
	}
}

func FuzzParseRecord(f *testing.F) {
	for _, name := range []string{"records.txt", "nonutf8.txt", "oom.txt"} {
		for _, r := range splitRecords(readFixture(f, name)) {
			f.Add(r)
		}
	}
	f.Add([]byte("6,1,2,-;\n \n  \n"))
	f.Add([]byte(";"))
	f.Add([]byte("1,2,3,4,5,6;\xff\n\xff"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := parseRecord(in)
		if err != nil {
			return
		}
		if r.Seq < 0 || r.Usec < 0 || r.Prio < 0 {
			t.Fatalf("negative field in %+v", r)
		}
		line := appendLine(nil, &r, time.Unix(0, 0))
		if bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
			t.Fatalf("record %q formatted as %q: want one newline-terminated line", in, line)
		}
		for _, d := range r.Dict {
			if !bytes.Contains(line, append([]byte{'\t'}, d...)) {
				t.Fatalf("continuation %q not in %q", d, line)
			}
		}
		// Message bytes pass through unchanged.
		if !bytes.Contains(line, r.Msg) {
			t.Fatalf("message %q not in %q", r.Msg, line)
		}
		if utf8.Valid(in) && !utf8.Valid(line) {
			t.Fatalf("valid UTF-8 input %q formatted as invalid %q", in, line)
		}
		if s := parseSyslogLine(in); s.Usec < 0 || !bytes.HasSuffix(in, s.Msg) {
			t.Fatalf("syslog line %q parsed as %+v", in, s)
		}
	})
}
