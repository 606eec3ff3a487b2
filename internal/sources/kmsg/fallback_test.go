package kmsg

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/internal/pipeline/pipelinetest"
	"golang.org/x/sys/unix"
)

// TestModeSelection: mode auto falls back kmsg -> klogctl -> cgroup when
// the earlier mode is refused, logs the mode once with the reason; a
// forced mode does not fall back.
func TestModeSelection(t *testing.T) {
	tests := []struct {
		name       string
		mode       string
		device     string // real device opened with OpenDevice; "": the fake ring
		openErr    error  // from OpenDevice
		klogErr    error  // from syslog(2)
		cgroupRoot string
		wantErr    error  // from Run; nil: runs
		wantID     string // stream written
		wantLine   string // in the stream
		wantLog    []string
	}{
		{name: "kmsg", openErr: nil, wantID: kmsgID, wantLine: "kern.info [0.000000] Linux version",
			wantLog: []string{"mode=kmsg", `why="device opened"`}},
		{name: "klogctl when kmsg is refused", openErr: unix.EACCES, wantID: kmsgID + "-klogctl",
			wantLine: "kern.warn [0.012345] ACPI", wantLog: []string{"mode=klogctl", "fallback: open /dev/kmsg: permission denied"}},
		{name: "klogctl when there is no kmsg", openErr: unix.ENOENT, wantID: kmsgID + "-klogctl",
			wantLine: "kern.info [0.512000] pci", wantLog: []string{"mode=klogctl", "no such file or directory"}},
		{name: "klogctl when the device is /dev/null", device: "/dev/null", wantID: kmsgID + "-klogctl",
			wantLine: "ACPI", wantLog: []string{"mode=klogctl", "read /dev/null: read returned no data: not a kmsg device"}},
		{name: "cgroup v2 when both are refused", openErr: unix.EPERM, klogErr: unix.EPERM, cgroupRoot: "testdata/cgroupv2",
			wantID: kmsgID + "-cgroup", wantLine: "cgroup memory.events high 0 -> 12 (memory.current=2100000000 memory.max=2147483648 memory.peak=2147483648)",
			wantLog: []string{"mode=cgroup", "version=v2", "operation not permitted; syslog(SYSLOG_ACTION_SIZE_BUFFER): operation not permitted"}},
		{name: "cgroup v1 when both are refused", openErr: unix.ENOENT, klogErr: unix.EPERM, cgroupRoot: "testdata/cgroupv1",
			wantID: kmsgID + "-cgroup", wantLine: "cgroup memory.oom_control oom_kill 0 -> 2 (memory.usage_in_bytes=2100000000 memory.limit_in_bytes=2147483648 memory.max_usage_in_bytes=2147483648)",
			wantLog: []string{"mode=cgroup", "version=v1", "testdata/cgroupv1/memory"}},
		{name: "nothing works", openErr: unix.EPERM, klogErr: unix.EPERM, cgroupRoot: "testdata/none", wantErr: ErrUnavailable},
		{name: "other open errors are not a refusal", openErr: unix.EMFILE, wantErr: unix.EMFILE},
		{name: "forced kmsg does not fall back", mode: ModeKmsg, openErr: unix.EPERM, wantErr: unix.EPERM},
		{name: "forced klogctl", mode: ModeKlogctl, wantID: kmsgID + "-klogctl", wantLine: "ACPI",
			wantLog: []string{"mode=klogctl", `why="forced by config mode"`}},
		{name: "forced klogctl refused", mode: ModeKlogctl, klogErr: unix.EPERM, wantErr: unix.EPERM},
		{name: "forced cgroup", mode: ModeCgroup, cgroupRoot: "testdata/cgroupv2", wantID: kmsgID + "-cgroup", wantLine: "max 0 -> 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Config{Mode: tt.mode, CgroupRoot: tt.cgroupRoot, Device: tt.device})
			h.ring.push(splitRecords(readFixture(t, "records.txt"))...)
			if tt.device != "" {
				h.src.OpenDevice = OpenDevice
			}
			if tt.openErr != nil {
				h.src.OpenDevice = func(p string) (Device, error) { return nil, &os.PathError{Op: "open", Path: p, Err: tt.openErr} }
			}
			h.klog.set(readFixture(t, "klogctl.txt"))
			h.klog.err = tt.klogErr
			em := pipelinetest.New()
			if tt.wantErr != nil {
				err := h.src.Run(context.Background(), em)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Run = %v, want %v", err, tt.wantErr)
				}
				return
			}
			h.start(t, em)
			waitStream(t, em, tt.wantID, func(s *pipelinetest.RecordedStream) bool {
				return strings.Contains(string(concat(s)), tt.wantLine)
			})
			if n := len(em.Streams()); n != 1 {
				t.Errorf("%d streams, want 1", n)
			}
			logs := h.logs.String()
			for _, w := range tt.wantLog {
				if !strings.Contains(logs, w) {
					t.Errorf("log lacks %q:\n%s", w, logs)
				}
			}
			if n := strings.Count(logs, "mode="); n != 1 {
				t.Errorf("mode logged %d times:\n%s", n, logs)
			}
		})
	}
}

// TestKlogctlPolls feeds successive syslog(2) buffers: every line is
// shipped once across polls; a buffer that lost the last shipped line is a
// gap (a jump of one position); a restart resumes after the committed
// line.
func TestKlogctlPolls(t *testing.T) {
	h := newHarness(t, Config{Mode: ModeKlogctl})
	const id = kmsgID + "-klogctl"
	em := pipelinetest.New()
	h.klog.set(nil)
	stop := h.start(t, em)

	steps := []struct {
		name       string
		text       []byte
		wantPieces [][2]int64 // all pieces so far
		wantLines  []int      // line numbers shipped by this step
	}{
		{"first buffer", klogText(0, 4), [][2]int64{{0, 4}}, []int{0, 1, 2, 3}},
		{"grown", klogText(0, 6), [][2]int64{{0, 4}, {4, 6}}, []int{4, 5}},
		{"oldest overwritten, last shipped kept", klogText(3, 9), [][2]int64{{0, 4}, {4, 6}, {6, 9}}, []int{6, 7, 8}},
		{"last shipped overwritten", klogText(12, 15), [][2]int64{{0, 4}, {4, 6}, {6, 9}, {10, 13}}, []int{12, 13, 14}},
		{"unchanged", klogText(12, 15), [][2]int64{{0, 4}, {4, 6}, {6, 9}, {10, 13}}, nil},
		{"cleared", nil, [][2]int64{{0, 4}, {4, 6}, {6, 9}, {10, 13}}, nil},
		{"new line after clear", klogText(15, 16), [][2]int64{{0, 4}, {4, 6}, {6, 9}, {10, 13}, {14, 15}}, []int{15}},
	}
	gaps := 0
	for _, st := range steps {
		h.klog.set(st.text)
		if st.wantLines == nil {
			// Let a few polls pass, then check nothing was shipped.
			h.klog.mu.Lock()
			calls := h.klog.calls
			h.klog.mu.Unlock()
			em.Wait(10*time.Second, func() bool {
				h.klog.mu.Lock()
				defer h.klog.mu.Unlock()
				return h.klog.calls >= calls+6
			})
		}
		last := st.wantPieces[len(st.wantPieces)-1][1]
		s := waitStream(t, em, id, reaches(last))
		pr := pieceRanges(s)
		if len(pr) != len(st.wantPieces) {
			t.Fatalf("%s: pieces %v, want %v", st.name, pr, st.wantPieces)
		}
		for i := range pr {
			if pr[i] != st.wantPieces[i] {
				t.Fatalf("%s: pieces %v, want %v", st.name, pr, st.wantPieces)
			}
		}
		if st.wantLines != nil {
			p := s.Pieces()[len(pr)-1]
			var want []byte
			for _, n := range st.wantLines {
				want = append(want, klogText(n, n+1)...)
			}
			if got := string(p.Data); got != string(formatKlog(want)) {
				t.Errorf("%s: shipped\n%s\nwant\n%s", st.name, got, formatKlog(want))
			}
		}
		if len(pr) > 1 && pr[len(pr)-1][0] != pr[len(pr)-2][1] && st.wantLines != nil {
			gaps++
		}
	}
	if got := h.counter("logship_kmsg_gaps_total"); got != uint64(gaps) {
		t.Errorf("gaps_total = %d, want %d", got, gaps)
	}
	if got := h.counter("logship_kmsg_records_total"); got != 13 {
		t.Errorf("records_total = %d, want 13", got)
	}
	// AutoAck does not pass over the jump; the real pipeline does.
	em.Streams()[id].Ack()
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// Restart: everything was acknowledged; the buffer grew while
	// logship was down.
	h.klog.set(klogText(15, 18))
	em2 := em.Restart()
	h.start(t, em2)
	s := waitStream(t, em2, id, reaches(17))
	if pr := pieceRanges(s); len(pr) != 1 || pr[0] != [2]int64{15, 17} {
		t.Errorf("after restart pieces %v, want [[15 17]]", pr)
	}
}

// formatKlog formats syslog(2) text as the source would.
func formatKlog(text []byte) []byte {
	var out []byte
	for _, l := range splitKlog(text) {
		out = appendLine(out, &l.rec, testBoot)
	}
	return out
}

// TestCgroupCounters: a line whenever a watched counter moves, quoting
// usage and limit; oom_kill moving flags the piece and counts the kills.
func TestCgroupCounters(t *testing.T) {
	type step struct {
		files map[string]string // file -> content written before the step
		want  []string          // lines of the piece the step produces; nil: none
		event bool
	}
	tests := []struct {
		name  string
		v1    bool
		steps []step
		kills uint64
	}{
		{name: "v2", steps: []step{
			{files: map[string]string{"memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"}},
			{files: map[string]string{"memory.events": "low 0\nhigh 7\nmax 1\noom 0\noom_kill 0\noom_group_kill 0\n"},
				want: []string{"cgroup memory.events high 0 -> 7 (memory.current=100 memory.max=200 memory.peak=200)", "cgroup memory.events max 0 -> 1 ("}},
			{files: map[string]string{"memory.events": "low 9\nhigh 7\nmax 1\noom 0\noom_kill 0\noom_group_kill 0\n"}}, // low is not watched
			{files: map[string]string{"memory.events": "low 9\nhigh 7\nmax 2\noom 1\noom_kill 2\noom_group_kill 0\n", "memory.current": "199\n"},
				want: []string{"max 1 -> 2", "oom 0 -> 1", "oom_kill 0 -> 2 (memory.current=199 memory.max=200 memory.peak=200)"}, event: true},
		}, kills: 2},
		{name: "v1", v1: true, steps: []step{
			{files: map[string]string{"memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"}},
			{files: map[string]string{"memory.oom_control": "oom_kill_disable 1\nunder_oom 1\noom_kill 0\n"},
				want: []string{"cgroup memory.oom_control under_oom 0 -> 1 (memory.usage_in_bytes=100 memory.limit_in_bytes=200 memory.max_usage_in_bytes=200)"}},
			{files: map[string]string{"memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n"},
				want: []string{"under_oom 1 -> 0", "oom_kill 0 -> 1"}, event: true},
		}, kills: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			dir := root
			ctx := map[string]string{"memory.current": "100\n", "memory.max": "200\n", "memory.peak": "200\n"}
			if tt.v1 {
				dir = filepath.Join(root, "memory", "docker", "abc")
				ctx = map[string]string{"memory.usage_in_bytes": "100\n", "memory.limit_in_bytes": "200\n", "memory.max_usage_in_bytes": "200\n"}
				// /proc/self/cgroup names our cgroup below the v1 root.
				os.MkdirAll(dir, 0o755)
				os.MkdirAll(filepath.Join(root, "memory"), 0o755)
				os.WriteFile(filepath.Join(root, "memory", "memory.oom_control"), []byte("under_oom 0\noom_kill 99\n"), 0o644)
			}
			write := func(files map[string]string) {
				// Context files first: the counter file triggers the line.
				names := slices.Sorted(maps.Keys(files))
				slices.SortStableFunc(names, func(a, b string) int {
					isCounter := func(f string) int {
						if f == "memory.events" || f == "memory.oom_control" {
							return 1
						}
						return 0
					}
					return isCounter(a) - isCounter(b)
				})
				for _, f := range names {
					c := files[f]
					tmp := filepath.Join(dir, ".tmp")
					if err := os.WriteFile(tmp, []byte(c), 0o644); err != nil {
						t.Fatal(err)
					}
					if err := os.Rename(tmp, filepath.Join(dir, f)); err != nil {
						t.Fatal(err)
					}
				}
			}
			write(ctx)
			write(tt.steps[0].files)
			h := newHarness(t, Config{Mode: ModeCgroup, CgroupRoot: root})
			if tt.v1 {
				self := filepath.Join(t.TempDir(), "cgroup")
				os.WriteFile(self, []byte("5:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n0::/\n"), 0o644)
				h.src.SelfCgroupPath = self
			}
			em := pipelinetest.New()
			h.start(t, em)
			const id = kmsgID + "-cgroup"
			var end int64
			for i, st := range tt.steps[1:] {
				write(st.files)
				if st.want == nil {
					continue // a spurious line would show in the next step's range
				}
				end += int64(len(st.want))
				s := waitStream(t, em, id, reaches(end))
				p := s.Pieces()[len(s.Pieces())-1]
				if p.End != end {
					t.Fatalf("step %d: pieces %v, want the last to end at %d", i+1, pieceRanges(s), end)
				}
				lines := strings.Split(strings.TrimSuffix(string(p.Data), "\n"), "\n")
				if len(lines) != len(st.want) || p.Lines != int64(len(st.want)) || p.End-p.Start != int64(len(st.want)) {
					t.Fatalf("step %d: piece [%d,%d) lines %d:\n%s\nwant %q", i+1, p.Start, p.End, p.Lines, p.Data, st.want)
				}
				for j, w := range st.want {
					if !strings.HasPrefix(lines[j], "2026-11-26T13:00:00.000000Z cgroup ") || !strings.Contains(lines[j], w) {
						t.Errorf("step %d line %q, want it to contain %q", i+1, lines[j], w)
					}
				}
				if got := p.Event != ""; got != st.event {
					t.Errorf("step %d: event %q, want flagged %v", i+1, p.Event, st.event)
				}
			}
			if got := h.counter("logship_kmsg_oom_kills_total"); got != tt.kills {
				t.Errorf("oom_kills_total = %d, want %d", got, tt.kills)
			}
			file := "memory.events"
			if tt.v1 {
				file = "memory.oom_control"
			}
			if s := em.Streams()[id]; s.Info().Path != filepath.Join(dir, file) {
				t.Errorf("stream path %q", s.Info().Path)
			}
		})
	}
}

// TestRealKlogctlAndCgroup runs the fallbacks against this machine when
// they are available.
func TestRealKlogctlAndCgroup(t *testing.T) {
	tests := []struct {
		mode, suffix string
	}{{ModeKlogctl, "-klogctl"}, {ModeCgroup, "-cgroup"}}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			h := newHarness(t, Config{Mode: tt.mode})
			h.src.Klogctl = klogctl
			h.src.BootIDPath = DefaultBootIDPath
			h.src.SelfCgroupPath = DefaultSelfCgroup
			if _, err := h.src.choose(); err != nil {
				t.Skipf("%s not available here: %v", tt.mode, err)
			}
			bootID, err := h.src.bootID()
			if err != nil {
				t.Skip(err)
			}
			em := pipelinetest.New()
			stop := h.start(t, em)
			id := "kmsg-" + bootID + tt.suffix
			if tt.mode == ModeKlogctl {
				waitStream(t, em, id, func(s *pipelinetest.RecordedStream) bool { return len(s.Pieces()) > 0 })
			} else {
				em.Wait(10*time.Second, func() bool { return em.Streams()[id] != nil })
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(h.logs.String(), "mode="+tt.mode) {
				t.Errorf("mode not logged:\n%s", h.logs)
			}
			if s := em.Streams()[id]; s != nil && len(s.Pieces()) > 0 {
				line, _, _ := strings.Cut(string(s.Pieces()[0].Data), "\n")
				t.Logf("%s: first line %q", s.Info().Path, line)
			}
			t.Log(h.logs)
		})
	}
}
