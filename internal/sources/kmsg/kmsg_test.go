package kmsg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/pipeline"
	"github.com/logship/logship/internal/pipeline/pipelinetest"
	"golang.org/x/sys/unix"
)

const kmsgID = "kmsg-" + testBootID

func TestNewModes(t *testing.T) {
	tests := []struct {
		mode    string
		wantErr bool
	}{
		{"", false}, {"auto", false}, {"kmsg", false}, {"klogctl", false}, {"cgroup", false},
		{"dmesg", true}, {"KMSG", true},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			s, err := New("", Config{Mode: tt.mode}, nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("New(mode %q) err = %v, want error %v", tt.mode, err, tt.wantErr)
			}
			if err == nil && (s.Name() != "kmsg" || s.device != DefaultDevice || s.cgroupRoot != DefaultCgroupRoot) {
				t.Errorf("defaults: name %q device %q cgroup root %q", s.Name(), s.device, s.cgroupRoot)
			}
		})
	}
}

// TestDeviceStream reads fixture records from a fake /dev/kmsg: the stream
// holds every record once, formatted, byte-exact (non-UTF-8 included),
// with positions = sequence numbers.
func TestDeviceStream(t *testing.T) {
	tests := []struct {
		name     string
		fixtures []string
		noWait   bool // the device cannot Wait: polled every PollInterval
	}{
		{name: "records with continuation lines", fixtures: []string{"records.txt"}},
		{name: "non-UTF-8 bytes", fixtures: []string{"nonutf8.txt"}},
		{name: "all, device without Wait", fixtures: []string{"records.txt", "nonutf8.txt", "oom.txt"}, noWait: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Config{Mode: ModeKmsg})
			if tt.noWait {
				h.src.OpenDevice = func(p string) (Device, error) {
					d, err := h.ring.open(p)
					return struct{ Device }{d}, err // hides Wait
				}
			}
			var raws [][]byte
			for _, f := range tt.fixtures {
				raws = append(raws, splitRecords(readFixture(t, f))...)
			}
			// Half before start, half while running.
			h.ring.push(raws[:len(raws)/2]...)
			em := pipelinetest.New()
			stop := h.start(t, em)
			first, _ := parseRecord(raws[0])
			mid, _ := parseRecord(raws[len(raws)/2-1])
			last, _ := parseRecord(raws[len(raws)-1])
			waitStream(t, em, kmsgID, reaches(mid.Seq+1))
			h.ring.push(raws[len(raws)/2:]...)
			s := waitStream(t, em, kmsgID, reaches(last.Seq+1))
			if err := stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}

			want := format(t, raws...)
			got := concat(s)
			if !bytes.Equal(got, want) {
				t.Errorf("stream data:\n%q\nwant:\n%q", got, want)
			}
			var lines int64
			for _, p := range s.Pieces() {
				lines += p.Lines
				if n := int64(bytes.Count(p.Data, []byte("\n"))); n != p.Lines || n != p.End-p.Start {
					t.Errorf("piece [%d,%d): Lines %d, data has %d lines; want one line per record", p.Start, p.End, p.Lines, n)
				}
			}
			if pr := pieceRanges(s); pr[0][0] != first.Seq {
				t.Errorf("first piece starts at %d, want seq %d", pr[0][0], first.Seq)
			}
			info := s.Info()
			if info.Kind != archive.KindKmsg || info.Unit != archive.UnitRecords || info.Path != DefaultDevice || archive.CheckName(info.ID) != nil {
				t.Errorf("stream info %+v", info)
			}
			var m streamMeta
			if err := json.Unmarshal(info.Meta, &m); err != nil || m.BootID != testBootID || m.Mode != ModeKmsg {
				t.Errorf("meta %s: %v", info.Meta, err)
			}
			if got := h.counter("logship_kmsg_records_total"); got != uint64(len(raws)) {
				t.Errorf("records_total = %d, want %d", got, len(raws))
			}
			if h.counter("logship_kmsg_gaps_total") != 0 {
				t.Errorf("gap counted on a contiguous stream")
			}
		})
	}
}

// TestDeviceBatches checks records available at once share a piece.
func TestDeviceBatches(t *testing.T) {
	h := newHarness(t, Config{Mode: ModeKmsg})
	for i := range int64(500) {
		h.ring.push(rec(i, strings.Repeat("x", 100)))
	}
	em := pipelinetest.New()
	h.start(t, em)
	s := waitStream(t, em, kmsgID, reaches(500))
	if n := len(s.Pieces()); n > 5 {
		t.Errorf("500 records available at once became %d pieces", n)
	}
}

// TestDeviceGap: records overwritten before they were read (EPIPE) are a
// jump in positions, logged with the lost range and counted.
func TestDeviceGap(t *testing.T) {
	h := newHarness(t, Config{Mode: ModeKmsg})
	for i := range int64(3) {
		h.ring.push(rec(i, "before"))
	}
	em := pipelinetest.New()
	h.start(t, em)
	waitStream(t, em, kmsgID, reaches(3))
	h.ring.overwrite(6) // 3, 4, 5 written and overwritten before the reader got to them
	h.ring.push(rec(6, "after"), rec(7, "after"), rec(8, "after"), rec(9, "after"))
	s := waitStream(t, em, kmsgID, reaches(10))
	if pr := pieceRanges(s); len(pr) != 2 || pr[0] != [2]int64{0, 3} || pr[1][0] != 6 {
		t.Errorf("pieces %v, want [0,3) then a jump to 6", pr)
	}
	var want []byte
	for i := range int64(10) {
		switch {
		case i < 3:
			want = append(want, format(t, rec(i, "before"))...)
		case i >= 6:
			want = append(want, format(t, rec(i, "after"))...)
		}
	}
	if got := concat(s); !bytes.Equal(got, want) {
		t.Errorf("data:\n%s\nwant:\n%s", got, want)
	}
	if g, l := h.counter("logship_kmsg_gaps_total"), h.counter("logship_kmsg_records_lost_total"); g != 1 || l != 3 {
		t.Errorf("gaps_total %d, records_lost_total %d; want 1 and 3", g, l)
	}
	if !strings.Contains(h.logs.String(), "first_seq=3 last_seq=5 records=3") {
		t.Errorf("gap not logged with its range:\n%s", h.logs)
	}
}

// TestOOMEvent: the piece holding an OOM killer report carries the event,
// and each killed process is counted once.
func TestOOMEvent(t *testing.T) {
	tests := []struct {
		name string
		mode string
		id   string
		feed func(h *harness)
		end  int64
	}{
		{name: "kmsg", mode: ModeKmsg, id: kmsgID, end: 17, feed: func(h *harness) {
			h.ring.push(splitRecords(readFixture(t, "records.txt"))...)
			h.ring.push(splitRecords(readFixture(t, "nonutf8.txt"))...)
			h.ring.push(splitRecords(readFixture(t, "oom.txt"))...)
		}},
		{name: "klogctl", mode: ModeKlogctl, id: kmsgID + "-klogctl", end: 7, feed: func(h *harness) {
			h.klog.set(readFixture(t, "klogctl.txt"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Config{Mode: tt.mode})
			tt.feed(h)
			em := pipelinetest.New()
			h.start(t, em)
			s := waitStream(t, em, tt.id, reaches(tt.end))
			flagged := false
			for _, p := range s.Pieces() {
				hasKill := bytes.Contains(p.Data, []byte("Killed process 1234"))
				if hasKill && p.Event != archive.EventOOMKill {
					t.Errorf("piece [%d,%d) holds the OOM kill but has event %q", p.Start, p.End, p.Event)
				}
				if p.Event == archive.EventOOMKill {
					flagged = true
					if !bytes.Contains(p.Data, []byte("oom")) {
						t.Errorf("piece [%d,%d) flagged without OOM messages:\n%s", p.Start, p.End, p.Data)
					}
				}
			}
			if !flagged {
				t.Errorf("no piece flagged %s", archive.EventOOMKill)
			}
			if got := h.counter("logship_kmsg_oom_kills_total"); got != 1 {
				t.Errorf("oom_kills_total = %d, want 1", got)
			}
		})
	}
}

// TestRestart: every mode passes the sources' at-least-once suite: ack
// part 0, stop, restart from the durable checkpoint: the new run ships
// exactly part 1 again, nothing before it and nothing lost, then part 2.
func TestRestart(t *testing.T) {
	tests := []struct {
		name  string
		mode  string
		setup func(t *testing.T, h *harness)
		feed  func(t *testing.T, h *harness, part int) int64
	}{
		{name: "kmsg", mode: ModeKmsg,
			feed: func(t *testing.T, h *harness, part int) int64 {
				for i := int64(part * 5); i < int64(part*5+5); i++ {
					h.ring.push(rec(i, "record"))
				}
				return int64(part*5 + 5)
			}},
		{name: "klogctl", mode: ModeKlogctl,
			feed: func(t *testing.T, h *harness, part int) int64 {
				h.klog.set(klogText(0, 5*part+5))
				return int64(part*5 + 5)
			}},
		{name: "cgroup", mode: ModeCgroup,
			setup: func(t *testing.T, h *harness) {
				h.src.cgroupRoot = newCgroupV2(t, map[string]int64{})
			},
			feed: func(t *testing.T, h *harness, part int) int64 {
				// One line per counter that moves.
				events := []map[string]int64{
					{"high": 5, "oom_kill": 1},
					{"high": 5, "max": 3, "oom_kill": 2},
					{"high": 6, "max": 3, "oom_kill": 2},
				}
				writeEvents(t, h.src.cgroupRoot, events[part])
				return []int64{2, 4, 5}[part]
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Config{Mode: tt.mode})
			if tt.setup != nil {
				tt.setup(t, h)
			}
			pipelinetest.RunAtLeastOnce(t, pipelinetest.AtLeastOnce{
				Start: h.start,
				Feed:  func(t *testing.T, part int) int64 { return tt.feed(t, h, part) },
			})
		})
	}
}

// TestForgetsOtherBoots drops checkpoints of earlier boots: their ring
// buffer is gone.
func TestForgetsOtherBoots(t *testing.T) {
	em := pipelinetest.New()
	old := em.Open(pipeline.StreamInfo{ID: "kmsg-old-boot", Kind: archive.KindKmsg, Unit: archive.UnitRecords}, 0)
	old.Write(context.Background(), pipeline.Piece{Start: 0, End: 1, Data: []byte("x\n"), Lines: 1})
	em.Open(pipeline.StreamInfo{ID: kmsgID + "-klogctl", Kind: archive.KindKmsg, Unit: archive.UnitRecords}, 7)
	em = em.Restart()

	h := newHarness(t, Config{Mode: ModeKmsg})
	h.ring.push(rec(0, "a"))
	h.start(t, em)
	waitStream(t, em, kmsgID, reaches(1))
	cps, _ := em.Checkpoints()
	var ids []string
	for _, cp := range cps {
		ids = append(ids, cp.Info.ID)
	}
	if len(ids) != 1 || ids[0] != kmsgID+"-klogctl" {
		t.Errorf("checkpoints after start: %v; want only this boot's", ids)
	}
}

// TestRealDevice reads the machine's /dev/kmsg when it is readable.
func TestRealDevice(t *testing.T) {
	dev, err := OpenDevice(DefaultDevice)
	if err != nil {
		t.Skipf("no readable %s: %v", DefaultDevice, err)
	}
	// Read to the end, then Wait must return promptly when ctx ends.
	buf := make([]byte, recordBufSize)
	for {
		_, err := dev.Read(buf)
		if errors.Is(err, unix.EAGAIN) {
			break
		}
		if err != nil && !errors.Is(err, unix.EPIPE) {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	if err := dev.(waiter).Wait(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait: %v", err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("Wait returned %v after its context ended", d)
	}
	if err := dev.Close(); err != nil || dev.Close() != nil {
		t.Errorf("Close twice: %v", err)
	}

	h := newHarness(t, Config{Mode: ModeKmsg})
	h.src.OpenDevice = OpenDevice
	h.src.BootIDPath = DefaultBootIDPath
	h.src.BootTime = time.Time{}
	bootID, err := h.src.bootID()
	if err != nil {
		t.Skip(err)
	}
	em := pipelinetest.New()
	stop := h.start(t, em)
	s := waitStream(t, em, "kmsg-"+bootID, func(s *pipelinetest.RecordedStream) bool { return len(s.Pieces()) > 0 })
	t0 = time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("Run returned %v after cancel", d)
	}
	first := s.Pieces()[0]
	line, _, _ := bytes.Cut(first.Data, []byte("\n"))
	ts, err := time.Parse(time.RFC3339Nano, string(line[:27]))
	if err != nil || ts.Year() < 2000 || ts.After(time.Now()) {
		t.Errorf("first line %q: time %v, %v", line, ts, err)
	}
	t.Logf("first line %q", line)
	if !strings.Contains(h.logs.String(), "mode=kmsg") {
		t.Errorf("mode not logged:\n%s", h.logs)
	}
}

// klogText is syslog(2) text of lines from..to-1.
func klogText(from, to int) []byte {
	var b []byte
	for i := from; i < to; i++ {
		b = fmt.Appendf(b, "<6>[%5d.%06d] line %d\n", i, i*7, i)
	}
	return b
}

// newCgroupV2 makes a cgroup v2 folder with memory.events counters.
func newCgroupV2(t *testing.T, events map[string]int64) string {
	dir := t.TempDir()
	for f, v := range map[string]string{"memory.max": "max\n", "memory.current": "1000\n", "memory.peak": "2000\n"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeEvents(t, dir, events)
	return dir
}

// writeEvents replaces memory.events atomically, like the kernel's
// single read of the file.
func writeEvents(t *testing.T, dir string, ev map[string]int64) {
	var b []byte
	for _, k := range []string{"low", "high", "max", "oom", "oom_kill", "oom_group_kill"} {
		b = fmt.Appendf(b, "%s %d\n", k, ev[k])
	}
	tmp := filepath.Join(dir, ".memory.events.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "memory.events")); err != nil {
		t.Fatal(err)
	}
}
