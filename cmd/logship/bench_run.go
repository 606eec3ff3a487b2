package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/osstest"
)

// figure is one measured run of bench: the zstd CLI or the agent on the
// same bytes.
type figure struct {
	Name       string  `json:"name"`
	Round      int     `json:"round"`
	Bytes      int64   `json:"raw_bytes"`
	Stored     int64   `json:"stored_bytes"`
	Ratio      float64 `json:"ratio"`
	Seconds    float64 `json:"seconds"`
	MBps       float64 `json:"mb_per_s"`
	CPUPerGiB  float64 `json:"cpu_s_per_gib"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	// VsCLI are this run's throughput and CPU per GiB divided by those of
	// the zstd CLI in the same round (0 for the CLI itself).
	ThroughputVsCLI float64 `json:"throughput_vs_cli,omitempty"`
	CPUVsCLI        float64 `json:"cpu_vs_cli,omitempty"`
	// SpeedupVsNaive is, for pull, the naive way's wall time divided by
	// pull's in the same round.
	SpeedupVsNaive float64 `json:"speedup_vs_naive,omitempty"`
}

func (f *figure) finish(elapsed, cpu time.Duration, hwm int64) {
	gib := float64(f.Bytes) / (1 << 30)
	f.Seconds = elapsed.Seconds()
	f.MBps = float64(f.Bytes) / 1e6 / elapsed.Seconds()
	f.CPUPerGiB = cpu.Seconds() / gib
	f.PeakRSSMiB = float64(hwm) / (1 << 20)
	f.Ratio = float64(f.Bytes) / float64(max(f.Stored, 1))
}

// vsCLI sets f's throughput and CPU as multiples of the CLI's (when it
// ran).
func (f *figure) vsCLI(cli *figure) {
	if cli != nil {
		f.ThroughputVsCLI = f.MBps / cli.MBps
		f.CPUVsCLI = f.CPUPerGiB / cli.CPUPerGiB
	}
}

// runGoZstd runs `logship bench --encode` on the files: the agent's
// encoder alone, in one goroutine of a child process.
func runGoZstd(paths []string, raw int64) (figure, error) {
	f := figure{Name: "Go zstd, 1 goroutine", Bytes: raw}
	self, err := os.Executable()
	if err != nil {
		return f, err
	}
	args := []string{"bench"}
	for _, p := range paths {
		args = append(args, "--encode", p)
	}
	cmd := exec.Command(self, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return f, err
	}
	hwm := watchHWM(cmd.Process.Pid)
	err = cmd.Wait()
	elapsed := time.Since(start)
	if err != nil {
		return f, fmt.Errorf("bench --encode: %w: %s", err, stderr.String())
	}
	if f.Stored, err = strconv.ParseInt(strings.TrimSpace(stdout.String()), 10, 64); err != nil {
		return f, fmt.Errorf("bench --encode printed %q", stdout.String())
	}
	f.finish(elapsed, cpuOf(cmd.ProcessState), hwm())
	return f, nil
}

// encodeFiles compresses the files in chunks of chunk bytes with the
// agent's encoder (archive.Encoder, a chunk header included) and returns
// the compressed size.
func encodeFiles(paths []string, chunk int) (int64, error) {
	enc, err := archive.NewEncoder()
	if err != nil {
		return 0, err
	}
	defer enc.Close()
	raw := make([]byte, chunk)
	body := make([]byte, 0, chunk/4)
	var stored int64
	for _, p := range paths {
		fh, err := os.Open(p)
		if err != nil {
			return 0, err
		}
		for off := int64(0); ; {
			n, err := io.ReadFull(fh, raw)
			if n > 0 {
				h := &archive.Header{V: archive.Version, App: "bench", Host: "bench", Source: archive.KindFile, Path: p, Stream: "s",
					Start: off, End: off + int64(n), Unit: archive.UnitBytes, RawSize: int64(n), Codec: archive.CodecZstd,
					Checksum: archive.FormatChecksum(archive.UpdateChecksum(0, raw[:n]))}
				var eerr error
				if body, eerr = enc.Encode(body[:0], h, raw[:n]); eerr != nil {
					fh.Close()
					return 0, eerr
				}
				stored += int64(len(body))
				off += int64(n)
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				break
			}
			if err != nil {
				fh.Close()
				return 0, err
			}
		}
		fh.Close()
	}
	return stored, nil
}

// countWriter counts what goes through it.
type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// runCLI compresses the files with the stock `zstd -1 -T1` (one thread,
// level 1: the speed class of the agent's encoder) into a pipe that
// counts the bytes, and measures its wall time, CPU and peak RSS.
func runCLI(zstd string, paths []string, raw int64) (figure, error) {
	f := figure{Name: "zstd -1 -T1 CLI", Bytes: raw}
	var out countWriter
	cmd := exec.Command(zstd, append([]string{"-1", "-T1", "-q", "-c"}, paths...)...)
	cmd.Stdout = &out
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return f, err
	}
	hwm := watchHWM(cmd.Process.Pid)
	err := cmd.Wait()
	elapsed := time.Since(start)
	if err != nil {
		return f, fmt.Errorf("%s: %w: %s", zstd, err, stderr.String())
	}
	f.Stored = out.n
	f.finish(elapsed, cpuOf(cmd.ProcessState), hwm())
	return f, nil
}

// watchHWM polls the VmHWM of a process every 10ms until it exits, and
// returns a function giving the highest value seen. (The rusage of a
// child is no use: a child started by vfork inherits its parent's
// high-water mark.)
func watchHWM(pid int) func() int64 {
	done := make(chan int64, 1)
	go func() {
		var peak int64
		for {
			_, hwm, err := memory(pid)
			if err != nil {
				done <- peak
				return
			}
			peak = max(peak, hwm)
			time.Sleep(10 * time.Millisecond) // sampling period, not a wait for an event
		}
	}()
	return func() int64 { return <-done }
}

func cpuOf(ps *os.ProcessState) time.Duration { return ps.UserTime() + ps.SystemTime() }

// agentRun is the agent shipping a folder of logs, started as a child
// process of this binary so that its CPU and memory are its own (not the
// generator's, nor osstest's when it runs in this process).
type agentRun struct {
	name    string
	config  []byte
	env     []string
	profile string
	sets    []string // --set key=value
	// stored returns the raw bytes the sink holds so far.
	stored func() (raw, compressed int64, err error)
}

// run ships raw bytes and measures them: the clock stops when the sink
// holds all raw bytes; then the agent is stopped with SIGTERM.
func (a agentRun) run(ctx context.Context, workdir string, raw int64) (figure, error) {
	f := figure{Name: a.name, Bytes: raw}
	cfg := filepath.Join(workdir, "agent.yaml")
	if err := os.WriteFile(cfg, a.config, 0o600); err != nil {
		return f, err
	}
	args := []string{"agent", "-c", cfg}
	if a.profile != "" {
		args = append(args, "--cpuprofile", a.profile)
	}
	for _, kv := range a.sets {
		args = append(args, "--set", kv)
	}
	cmd, logs, err := startSelf(a.env, args...)
	if err != nil {
		return f, err
	}
	start := time.Now()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var hwm int64
	for {
		got, _, err := a.stored()
		if err != nil {
			cmd.Process.Kill()
			return f, err
		}
		if got >= raw {
			break
		}
		select {
		case err := <-exited:
			return f, fmt.Errorf("agent exited early (%v): %s", err, logs.String())
		case <-ctx.Done():
			cmd.Process.Kill()
			return f, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	elapsed := time.Since(start)
	if _, hwm, err = memory(cmd.Process.Pid); err != nil {
		return f, err
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := <-exited; err != nil {
		return f, fmt.Errorf("agent: %w: %s", err, logs.String())
	}
	_, f.Stored, err = a.stored()
	f.finish(elapsed, cpuOf(cmd.ProcessState), hwm)
	return f, err
}

// startSelf starts this binary with args; its stderr is kept (the last
// 64 KiB) for the error message.
func startSelf(env []string, args ...string) (*exec.Cmd, *tailBuffer, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), env...)
	logs := &tailBuffer{}
	cmd.Stderr = logs
	return cmd, logs, cmd.Start()
}

// tailBuffer keeps the last 64 KiB written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 64<<10 {
		t.b = t.b[len(t.b)-64<<10:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// storedInDir sums the raw and compressed sizes of the chunks in a folder
// written by the dir sink (the raw size from the key's range).
func storedInDir(root string) func() (int64, int64, error) {
	return func() (raw, compressed int64, err error) {
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".log.zst") && !strings.HasSuffix(p, ".log.gz") && !strings.HasSuffix(p, ".log") {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			ki, err := archive.ParseKey(filepath.ToSlash(rel))
			if err != nil {
				return nil // a temporary file
			}
			raw += ki.End - ki.Start
			if fi, err := d.Info(); err == nil {
				compressed += fi.Size()
			}
			return nil
		})
		return raw, compressed, err
	}
}

// storedInOSS sums the chunks in a bucket of osstest.
func storedInOSS(srv *osstest.Server, bucket string) func() (int64, int64, error) {
	return func() (raw, compressed int64, err error) {
		for _, o := range srv.Objects(bucket) {
			ki, err := archive.ParseKey(o.Key)
			if err != nil {
				return 0, 0, err
			}
			raw += ki.End - ki.Start
			compressed += o.Size
		}
		return raw, compressed, nil
	}
}

// memory reads VmRSS and VmHWM (peak) of a process, in bytes.
func memory(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			hwm = kb << 10
		}
	}
	return rss, hwm, sc.Err()
}

// procCPU reads the user + system time of a running process from
// /proc/PID/stat (in clock ticks of 10ms).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	fields := strings.Fields(s[i+1:]) // fields[0] is the state, field 3 of stat
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// idleFigure is the agent tailing quiet files.
type idleFigure struct {
	Files      int     `json:"files"`
	Seconds    float64 `json:"seconds"`
	CPUPercent float64 `json:"cpu_percent_of_a_core"`
	RSSMiB     float64 `json:"rss_mib"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
}

// runIdle starts the agent on files quiet files (a few lines each, shipped
// first), then measures its CPU and memory over d while nothing is
// written.
func runIdle(ctx context.Context, workdir string, files int, d time.Duration, config []byte, w io.Writer) (idleFigure, error) {
	fig := idleFigure{Files: files}
	logs := filepath.Join(workdir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return fig, err
	}
	var total int64
	for i := range files {
		line := fmt.Sprintf("2026-11-26 08:00:00.000 INFO  [main] c.e.Quiet - file %d started\n", i)
		if err := os.WriteFile(filepath.Join(logs, fmt.Sprintf("quiet-%02d.log", i)), []byte(line), 0o644); err != nil {
			return fig, err
		}
		total += int64(len(line))
	}
	cfgPath := filepath.Join(workdir, "agent.yaml")
	if err := os.WriteFile(cfgPath, config, 0o600); err != nil {
		return fig, err
	}
	cmd, out, err := startSelf(nil, "agent", "-c", cfgPath)
	if err != nil {
		return fig, err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	stored := storedInDir(filepath.Join(workdir, "archive"))
	deadline := time.Now().Add(30 * time.Second)
	for raw, _, _ := stored(); raw < total; raw, _, _ = stored() {
		if time.Now().After(deadline) {
			return fig, fmt.Errorf("idle: the first lines were not shipped in 30s: %s", out.String())
		}
		time.Sleep(20 * time.Millisecond) // poll
	}
	fmt.Fprintf(w, "idle: %d files shipped; measuring %s\n", files, d)
	cpu0, err := procCPU(cmd.Process.Pid)
	if err != nil {
		return fig, err
	}
	start := time.Now()
	select {
	case <-ctx.Done():
		return fig, ctx.Err()
	case <-time.After(d):
	}
	cpu1, err := procCPU(cmd.Process.Pid)
	if err != nil {
		return fig, err
	}
	rss, hwm, err := memory(cmd.Process.Pid)
	if err != nil {
		return fig, err
	}
	el := time.Since(start)
	fig.Seconds = el.Seconds()
	fig.CPUPercent = 100 * (cpu1 - cpu0).Seconds() / el.Seconds()
	fig.RSSMiB = float64(rss) / (1 << 20)
	fig.PeakRSSMiB = float64(hwm) / (1 << 20)
	return fig, nil
}
