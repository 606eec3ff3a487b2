package archive

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// artifactObject builds an artifact object the way the pipeline does: the
// header frame, then one frame per part of partSize raw bytes, every part
// but the last padded to minPart.
func artifactObject(t *testing.T, raw []byte, partSize, minPart int) []byte {
	t.Helper()
	h := &Header{V: Version, App: "app", Host: "host", Source: KindCrash, Path: "/tmp/java_pid1.hprof",
		Stream: "java_pid1.hprof-0123456789abcdef", Start: 0, End: int64(len(raw)), Unit: UnitBytes,
		Lines: int64(bytes.Count(raw, []byte{'\n'})), RawSize: int64(len(raw)), Checksum: Checksum(raw),
		First: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), Last: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
		Codec: CodecZstd, Event: "heap_dump"}
	hb, err := h.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := NewFrameEncoder()
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	var obj []byte
	for off := 0; off == 0 || off < len(raw); off += partSize {
		var part []byte
		if off == 0 {
			part = AppendSkippable(part, hb)
		}
		end := min(off+partSize, len(raw))
		part, n, err := enc.AppendFrame(part, bytes.NewReader(raw[off:end]))
		if err != nil {
			t.Fatal(err)
		}
		if n != int64(end-off) {
			t.Fatalf("read %d, want %d", n, end-off)
		}
		if end < len(raw) {
			part = AppendPadding(part, minPart)
			if len(part) < minPart {
				t.Fatalf("padded part is %d bytes, want >= %d", len(part), minPart)
			}
		}
		obj = append(obj, part...)
	}
	return obj
}

func TestArtifactPartsDecode(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 300<<10)
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	cases := []struct {
		name     string
		raw      []byte
		partSize int
		minPart  int
	}{
		{"empty", nil, 1 << 10, 100 << 10},
		{"one part", sampleRaw(t), 8 << 20, 100 << 10},
		{"zeros padded", make([]byte, 1<<20), 64 << 10, 100 << 10},
		{"text parts", bytes.Repeat(sampleRaw(t), 3), 100 << 10, 100 << 10},
		{"noise, no padding needed", noise, 64 << 10, 10 << 10},
		{"padding of 1 byte", make([]byte, 4096), 1024, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obj := artifactObject(t, c.raw, c.partSize, c.minPart)
			h, back, err := Decode(obj, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back, c.raw) {
				t.Fatalf("decoded %d bytes, want %d", len(back), len(c.raw))
			}
			if h.Event != "heap_dump" || h.RawSize != int64(len(c.raw)) {
				t.Fatalf("header %+v", h)
			}
			zstdCLI(t, obj, c.raw)
		})
	}
}

// zstdCLI checks that stock zstd decodes obj to raw (skipped without it).
func zstdCLI(t *testing.T, obj, raw []byte) {
	t.Helper()
	bin, err := exec.LookPath("zstd")
	if err != nil {
		t.Log("zstd CLI not installed; stock decoder not checked")
		return
	}
	p := filepath.Join(t.TempDir(), "a.zst")
	if err := os.WriteFile(p, obj, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-d", "-c", "-q", p).Output()
	if err != nil {
		t.Fatalf("zstd -d: %v", err)
	}
	if !bytes.Equal(out, raw) {
		t.Fatalf("zstd -d gave %d bytes, want %d", len(out), len(raw))
	}
}

func TestAppendFrameDeterministic(t *testing.T) {
	raw := bytes.Repeat(sampleRaw(t), 4)
	enc, err := NewFrameEncoder()
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	a, _, err := enc.AppendFrame(nil, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	// Another encoder, another history: the frame is the same.
	enc2, err := NewFrameEncoder()
	if err != nil {
		t.Fatal(err)
	}
	defer enc2.Close()
	if _, _, err := enc2.AppendFrame(nil, bytes.NewReader(sampleRaw(t))); err != nil {
		t.Fatal(err)
	}
	b, _, err := enc2.AppendFrame([]byte("prefix"), bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b[len("prefix"):]) || string(b[:6]) != "prefix" {
		t.Fatal("frames of the same bytes differ")
	}
}

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := min(len(p), r.n)
	r.n -= n
	return n, nil
}

func TestAppendFrameReadError(t *testing.T) {
	enc, err := NewFrameEncoder()
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	dst := []byte("keep")
	got, _, err := enc.AppendFrame(dst, &failingReader{n: 1000})
	if err == nil {
		t.Fatal("no error")
	}
	if string(got) != "keep" {
		t.Fatalf("dst changed on error: %q", got)
	}
	// The encoder is usable afterwards.
	out, _, err := enc.AppendFrame(nil, bytes.NewReader([]byte("hello\n")))
	if err != nil {
		t.Fatal(err)
	}
	h := &Header{V: Version, App: "a", Host: "h", Source: KindCrash, Stream: "s", End: 6, Unit: UnitBytes, Lines: 1, RawSize: 6, Checksum: Checksum([]byte("hello\n")), Codec: CodecZstd}
	hb, _ := h.Marshal()
	if _, back, err := Decode(append(AppendSkippable(nil, hb), out...), Limits{}); err != nil || string(back) != "hello\n" {
		t.Fatalf("%q %v", back, err)
	}
}
