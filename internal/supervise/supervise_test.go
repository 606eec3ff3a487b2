package supervise

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/pipeline/pipelinetest"
)

func TestStatusOf(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ws     syscall.WaitStatus
		code   int
		signal string
		core   bool
	}{
		{"exit 0", 0, 0, "", false},
		{"exit 3", 3 << 8, 3, "", false},
		{"exit 143 (a JVM after SIGTERM)", 143 << 8, 143, "", false},
		{"SIGABRT with core", syscall.WaitStatus(syscall.SIGABRT) | 0x80, 134, "SIGABRT", true},
		{"SIGKILL", syscall.WaitStatus(syscall.SIGKILL), 137, "SIGKILL", false},
		{"SIGSEGV", syscall.WaitStatus(syscall.SIGSEGV), 139, "SIGSEGV", false},
		{"unnamed signal", syscall.WaitStatus(40), 168, "signal 40", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := statusOf(7, tc.ws, time.Second)
			if st.ExitCode != tc.code || st.Signal != tc.signal || st.CoreDumped != tc.core || st.Pid != 7 {
				t.Fatalf("%+v, want code %d signal %q core %v", st, tc.code, tc.signal, tc.core)
			}
		})
	}
}

func TestAskedFor(t *testing.T) {
	term := statusOf(1, syscall.WaitStatus(syscall.SIGTERM), 0)
	exit143 := statusOf(1, 143<<8, 0)
	segv := statusOf(1, syscall.WaitStatus(syscall.SIGSEGV), 0)
	for _, tc := range []struct {
		name  string
		st    Status
		asked syscall.Signal
		want  bool
	}{
		{"killed by the forwarded TERM", term, syscall.SIGTERM, true},
		{"exit 143 after the forwarded TERM", exit143, syscall.SIGTERM, true},
		{"TERM nobody asked for", term, 0, false},
		{"SEGV after a TERM", segv, syscall.SIGTERM, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := askedFor(tc.st, tc.asked); got != tc.want {
				t.Fatalf("askedFor = %v, want %v", got, tc.want)
			}
		})
	}
}

// readAll reads a spool from pos to its end the way the source does and
// returns the bytes and the gaps met.
func readAll(t *testing.T, sp *spool, pos int64) (data []byte, gaps int64) {
	t.Helper()
	r := spoolReader{s: sp}
	defer r.close()
	buf := make([]byte, 37)
	for {
		at, n, err := r.read(pos, buf)
		if err != nil {
			t.Fatal(err)
		}
		gaps += at - pos
		if n == 0 {
			if end, _ := sp.state(); at >= end {
				return data, gaps
			}
		}
		data = append(data, buf[:n]...)
		pos = at + int64(n)
	}
}

func spoolFiles(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return len(ents)
}

// The spool rotates at fileMax, keeps at most max bytes (dropping the
// oldest file, which a reader then meets as a gap), and deletes files once
// acknowledged.
func TestSpoolRotationBoundAndAck(t *testing.T) {
	dir := t.TempDir()
	wake := make(chan struct{}, 1)
	sp := newSpool(dir, "stdout", 100, 400, wake, slogDiscard)
	var all []byte
	r := rand.New(rand.NewPCG(1, 2))
	for len(all) < 2000 {
		b := make([]byte, 1+r.IntN(60))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		sp.Write(b)
		all = append(all, b...)
		var onDisk int64
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			fi, _ := e.Info()
			onDisk += fi.Size()
		}
		if onDisk > 400+100 {
			t.Fatalf("%d bytes on disk, bound 400 (+ one file of 100)", onDisk)
		}
	}
	data, gaps := readAll(t, sp, 0)
	if gaps == 0 || int64(len(data))+gaps != int64(len(all)) || !bytes.Equal(data, all[gaps:]) {
		t.Fatalf("read %d bytes after a gap of %d; written %d: want the tail after the dropped files", len(data), gaps, len(all))
	}
	n := spoolFiles(t, dir)
	sp.ack(int64(len(all)) - 1)
	if got := spoolFiles(t, dir); got != 1 || n < 3 {
		t.Fatalf("%d files, %d after acknowledging all but the last byte: want only the file being written left", n, got)
	}
	sp.Close()
	sp.ack(int64(len(all)))
	if !sp.empty() || spoolFiles(t, dir) != 0 {
		t.Fatal("a closed, acknowledged spool leaves files")
	}
}

// current is the file the next bytes are appended to while it is not full
// (a SIGQUIT thread dump is read from it), the full one until the next
// write after a rotation.
func TestSpoolCurrent(t *testing.T) {
	dir := t.TempDir()
	sp := newSpool(dir, "stdout", 10, 100, make(chan struct{}, 1), slogDiscard)
	if got := sp.current(); got != "" {
		t.Fatalf("current before any write: %q", got)
	}
	for _, tc := range []struct {
		write, want string // want: the current file's contents after write
	}{
		{"abc", "abc"},
		{"defghij", "abcdefghij"}, // full: rotated at the next write
		{"k", "k"},
		{"lm", "klm"},
	} {
		sp.Write([]byte(tc.write))
		b, err := os.ReadFile(sp.current())
		if err != nil || string(b) != tc.want {
			t.Fatalf("after %q: current %s holds %q (%v), want %q", tc.write, sp.current(), b, err, tc.want)
		}
	}
}

var slogDiscard = slog.New(slog.NewTextHandler(io.Discard, nil))

// runSource runs a source on em until the returned stop is called.
func runSource(t *testing.T, s *source, em *pipelinetest.Emitter) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, em) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("source: %v", err)
		}
	}
}

func newTestSource(runsDir, runID string) (*source, []*spool) {
	wake := make(chan struct{}, 1)
	dir := filepath.Join(runsDir, runID)
	var sps []*spool
	for _, n := range []string{nameStdout, nameStderr, nameEvents} {
		sps = append(sps, newSpool(dir, n, 1<<10, 1<<20, wake, slogDiscard))
	}
	return &source{runsDir: runsDir, runID: runID, cur: sps, wake: wake, finish: make(chan struct{}), drained: make(chan struct{}), log: slogDiscard}, sps
}

// The source ships the spools byte for byte, binary bytes and a partial
// last line included; pieces end at newlines except the last one once the
// spool is closed; the exit event's piece is flagged; Finish drains.
func TestSourceShipsExactBytes(t *testing.T) {
	runs := t.TempDir()
	s, sps := newTestSource(runs, "r1")
	em := pipelinetest.New()
	stop := runSource(t, s, em)
	defer stop()
	r := rand.New(rand.NewPCG(3, 4))
	var want []byte
	for range 200 {
		b := make([]byte, r.IntN(3000))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		sps[0].Write(b)
		want = append(want, b...)
	}
	sps[0].Write([]byte("no newline at the end"))
	want = append(want, "no newline at the end"...)
	sps[1].Write([]byte("err\n"))
	sps[2].Write(line(startEvent{Event: "start"}))
	sps[2].Write(line(exitEvent{Event: "exit", ExitCode: 3}))
	for _, sp := range sps {
		sp.Close()
	}
	close(s.finish)
	select {
	case <-s.drained:
	case <-time.After(10 * time.Second):
		t.Fatal("not drained")
	}
	ss := em.Streams()
	out, errs, evs := ss[streamID("r1", nameStdout)], ss[streamID("r1", nameStderr)], ss[streamID("r1", nameEvents)]
	if out == nil || errs == nil || evs == nil {
		t.Fatalf("streams %v", ss)
	}
	got, err := out.Bytes()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("stdout: %d bytes (%v), want %d", len(got), err, len(want))
	}
	pcs := out.Pieces()
	for i, p := range pcs {
		if i < len(pcs)-1 && p.Data[len(p.Data)-1] != '\n' && len(p.Data) != readBytes {
			t.Fatalf("piece %d [%d,%d) does not end at a newline", i, p.Start, p.End)
		}
		if p.Lines != int64(bytes.Count(p.Data, []byte{'\n'})) {
			t.Fatalf("piece %d: lines %d", i, p.Lines)
		}
	}
	if i := out.Info(); i.Kind != archive.KindStdout || i.Path != "stdout" || errs.Info().Path != "stderr" || evs.Info().Kind != archive.KindEvent || evs.Info().Path != "events.jsonl" {
		t.Fatalf("stream infos %+v %+v %+v", out.Info(), errs.Info(), evs.Info())
	}
	ep := evs.Pieces()
	if ep[len(ep)-1].Event != archive.EventExit || !out.Closed() || !evs.Closed() {
		t.Fatalf("event pieces %+v", ep)
	}
}

// A run killed before its output was durable: the next run ships the
// earlier run's spool from the acknowledged position, exactly the rest,
// and deletes the earlier run's folder once that is durable.
func TestSourceResumesEarlierRun(t *testing.T) {
	runs := t.TempDir()
	s, sps := newTestSource(runs, "r1")
	em := pipelinetest.New()
	em.AutoAck = false
	stop := runSource(t, s, em)
	sps[0].Write([]byte("part one\n"))
	id := streamID("r1", nameStdout)
	if !em.Wait(10*time.Second, func() bool { st := em.Streams()[id]; return st != nil && len(st.Pieces()) == 1 }) {
		t.Fatal("part one not shipped")
	}
	em.Streams()[id].Ack()
	sps[0].Write([]byte("part two, not acknowledged\n"))
	if !em.Wait(10*time.Second, func() bool { return len(em.Streams()[id].Pieces()) == 2 }) {
		t.Fatal("part two not shipped")
	}
	stop() // killed: the spool stays

	em2 := em.Restart()
	em2.AutoAck = true
	s2, _ := newTestSource(runs, "r2")
	stop2 := runSource(t, s2, em2)
	defer stop2()
	if !em2.Wait(10*time.Second, func() bool { st := em2.Streams()[id]; return st != nil && st.Closed() }) {
		t.Fatal("the earlier run's stdout was not shipped again")
	}
	got, _ := em2.Streams()[id].Bytes()
	if p := em2.Streams()[id].Pieces(); string(got) != "part two, not acknowledged\n" || p[0].Start != int64(len("part one\n")) {
		t.Fatalf("shipped again %q from %d", got, p[0].Start)
	}
	if !em2.Wait(10*time.Second, func() bool { _, err := os.Stat(filepath.Join(runs, "r1")); return os.IsNotExist(err) }) {
		t.Fatal("the earlier run's folder is kept after it was shipped")
	}
}

// When the archive side is blocked and the spool passes spool_max_bytes,
// the oldest output is dropped: the stream jumps over it (a gap the
// reader reports), the bytes are counted, and every byte shipped is the
// child's byte at that position.
func TestSourceGapWhenSpoolFull(t *testing.T) {
	runs := t.TempDir()
	wake := make(chan struct{}, 1)
	sp := newSpool(filepath.Join(runs, "r1"), nameStdout, 1<<10, 4<<10, wake, slogDiscard)
	s := &source{runsDir: runs, runID: "r1", cur: []*spool{sp}, wake: wake, finish: make(chan struct{}), drained: make(chan struct{}), log: slogDiscard}
	em := pipelinetest.New()
	em.SetBlock(true)
	stop := runSource(t, s, em)
	defer stop()
	var all []byte
	write := func(i int) {
		l := []byte(fmt.Sprintf("%099d\n", i))
		sp.Write(l)
		all = append(all, l...)
	}
	write(0)
	if !em.Wait(10*time.Second, func() bool { return em.Blocked() == 1 }) {
		t.Fatal("the source did not write")
	}
	before := mAbandoned.Get()
	for i := 1; i < 200; i++ {
		write(i)
	}
	sp.Close()
	close(s.finish)
	em.SetBlock(false)
	select {
	case <-s.drained:
	case <-time.After(10 * time.Second):
		t.Fatal("not drained")
	}
	var gaps, next int64
	for _, p := range em.Streams()[streamID("r1", nameStdout)].Pieces() {
		gaps += p.Start - next
		if !bytes.Equal(p.Data, all[p.Start:p.End]) {
			t.Fatalf("piece [%d,%d) is not the child's bytes there", p.Start, p.End)
		}
		next = p.End
	}
	if next != int64(len(all)) || gaps == 0 || gaps > int64(len(all))-2<<10 || mAbandoned.Get()-before != uint64(gaps) {
		t.Fatalf("shipped up to %d of %d with %d bytes of gaps, %d counted", next, len(all), gaps, mAbandoned.Get()-before)
	}
}
