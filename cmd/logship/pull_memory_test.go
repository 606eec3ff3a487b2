package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/loggen"
)

// TestPullHonoursMaxMemory: pull's peak RSS stays within --max-memory +
// 32 MiB (the process's own overhead), pulling 4 streams of 4 MiB chunks,
// 256 MiB in all, with --max-memory 32MiB.
func TestPullHonoursMaxMemory(t *testing.T) {
	root := t.TempDir()
	arch := filepath.Join(root, "archive")
	enc, err := archive.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	const streams, chunk, per = 4, 4 << 20, 16
	var total int64
	t0 := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	for s := range streams {
		g := loggen.New(uint64(s))
		var pos int64
		for range per {
			var raw []byte
			for len(raw) < chunk-64<<10 {
				raw = g.Append(raw)
			}
			h := &archive.Header{V: archive.Version, App: "mem", Host: "h", Source: archive.KindFile, Path: fmt.Sprintf("/logs/app-%d.log", s),
				Stream: fmt.Sprintf("app-%d.log-%016x", s, s), Start: pos, End: pos + int64(len(raw)), Unit: archive.UnitBytes,
				RawSize: int64(len(raw)), Checksum: archive.Checksum(raw), First: t0, Last: t0, Codec: archive.CodecZstd}
			obj, err := enc.Encode(nil, h, raw)
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(arch, filepath.FromSlash(archive.Key("", h)))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, obj, 0o644); err != nil {
				t.Fatal(err)
			}
			pos += int64(len(raw))
		}
		total += pos
	}
	out := filepath.Join(root, "out")
	cmd := exec.Command(binary, "pull", "--from", arch, "--out", out, "--max-memory", "32MiB", "--progress", "none")
	cmd.Env = os.Environ()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	hwm := watchHWM(cmd.Process.Pid)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	peak := hwm()
	got, err := dirSize(out)
	if err != nil || got != total {
		t.Fatalf("pulled %d bytes of %d (%v)", got, total, err)
	}
	t.Logf("peak RSS %.1f MiB", float64(peak)/(1<<20))
	if peak > 64<<20 {
		t.Errorf("peak RSS %.1f MiB with --max-memory 32MiB, want at most 64 MiB", float64(peak)/(1<<20))
	}
}
