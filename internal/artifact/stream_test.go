package artifact

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/sinks/dir"
)

// streamArtifact is a snapshot-like artifact read from body.
func streamArtifact(body io.Reader, partSize int64) Artifact {
	return Artifact{
		ID:       "snap-20261126T123000Z-0001",
		Kind:     archive.KindSnapshot,
		Path:     "snapshot.tar",
		Time:     time.Date(2026, 11, 26, 12, 30, 0, 0, time.UTC),
		Extra:    map[string]string{"reason": "test"},
		Body:     body,
		PartSize: partSize,
	}
}

// A Body of unknown length ships like a file of its bytes: one Put when
// it fits one part, else a multipart upload from the spool, which is
// removed afterwards; the key returned is the stored object's.
func TestUploadBody(t *testing.T) {
	const part = 128 << 10
	for _, c := range []struct {
		name      string
		data      []byte
		wantParts int // 0: one Put
	}{
		{"empty", nil, 0},
		{"one part", heapLike(100<<10, 20), 0},
		{"exactly one part", heapLike(part, 21), 0},
		{"parts", heapLike(1<<20+777, 22), 9},
		{"exact parts", heapLike(4*part, 23), 4},
		{"zeros, spooled in memory only", make([]byte, 3*part+5), 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			ps := newPartSink(t, t.TempDir())
			s := newTestShipper(t, ps)
			// io.MultiReader hides any size a reader might reveal.
			key, err := s.Upload(context.Background(), streamArtifact(io.MultiReader(bytes.NewReader(c.data)), part))
			if err != nil {
				t.Fatal(err)
			}
			if c.wantParts == 0 && (ps.puts.Load() != 1 || ps.parts.Load() != 0) ||
				c.wantParts > 0 && (ps.puts.Load() != 0 || ps.parts.Load() != int64(c.wantParts)) {
				t.Fatalf("%d puts, %d parts; want %d parts", ps.puts.Load(), ps.parts.Load(), c.wantParts)
			}
			got, h, raw, obj := readObject(t, ps.Sink)
			if got != key {
				t.Fatalf("Upload returned %s, stored %s", key, got)
			}
			if !bytes.Equal(raw, c.data) {
				t.Fatalf("%d bytes back, want %d", len(raw), len(c.data))
			}
			zstdCLI(t, obj, c.data)
			if h.Source != archive.KindSnapshot || h.End != int64(len(c.data)) || h.RawSize != int64(len(c.data)) ||
				h.Lines != int64(bytes.Count(c.data, []byte{'\n'})) || h.Checksum != archive.Checksum(c.data) || h.Extra["reason"] != "test" {
				t.Fatalf("header %+v", h)
			}
			if left, _ := os.ReadDir(s.o.TempDir); len(left) != 0 {
				t.Fatalf("spool left behind: %v", left)
			}
		})
	}
}

// A Body whose compressed parts outgrow the first part is spooled to a
// file in TempDir while it is read.
func TestUploadBodySpoolsToFile(t *testing.T) {
	ps := newPartSink(t, t.TempDir())
	s := newTestShipper(t, ps)
	data := make([]byte, 1<<20) // incompressible: the frames outgrow a part
	rand.NewChaCha8([32]byte{24}).Read(data)
	var spooled int
	ps.onPart = func(int) error {
		if left, _ := os.ReadDir(s.o.TempDir); len(left) == 1 {
			spooled++
		}
		return nil
	}
	if _, err := s.Upload(context.Background(), streamArtifact(io.MultiReader(bytes.NewReader(data)), 128<<10)); err != nil {
		t.Fatal(err)
	}
	if spooled == 0 {
		t.Fatal("no spool file while the parts were uploaded")
	}
	if _, _, raw, _ := readObject(t, ps.Sink); !bytes.Equal(raw, data) {
		t.Fatal("bytes differ")
	}
}

func TestUploadBodyWithoutMultipart(t *testing.T) {
	d, err := dir.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := heapLike(900<<10, 25)
	if _, err := newTestShipper(t, putOnly{d}).Upload(context.Background(), streamArtifact(bytes.NewReader(data), 128<<10)); err != nil {
		t.Fatal(err)
	}
	if _, _, raw, _ := readObject(t, d); !bytes.Equal(raw, data) {
		t.Fatal("bytes differ")
	}
}

type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(b []byte) (int, error) {
	n, err := f.r.Read(b)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

// A Body that fails stores nothing and returns its error.
func TestUploadBodyReadError(t *testing.T) {
	ps := newPartSink(t, t.TempDir())
	s := newTestShipper(t, ps)
	boom := errors.New("collector failed")
	_, err := s.Upload(context.Background(), streamArtifact(&failingReader{bytes.NewReader(heapLike(300<<10, 26)), boom}, 128<<10))
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if ps.puts.Load() != 0 || ps.parts.Load() != 0 {
		t.Fatalf("%d puts, %d parts after a failed read", ps.puts.Load(), ps.parts.Load())
	}
	if left, _ := os.ReadDir(s.o.TempDir); len(left) != 0 {
		t.Fatalf("spool left behind: %v", left)
	}
}

func TestUploadRefused(t *testing.T) {
	s := newTestShipper(t, newPartSink(t, t.TempDir()))
	for name, a := range map[string]Artifact{
		"no bytes":    {ID: "x", Kind: archive.KindSnapshot},
		"both":        {ID: "x", Kind: archive.KindSnapshot, File: bytes.NewReader(nil), Body: bytes.NewReader(nil)},
		"bad kind":    {ID: "x", Kind: "a/b", Body: bytes.NewReader(nil)},
		"bad part":    {ID: "x", Kind: archive.KindSnapshot, Body: bytes.NewReader(nil), PartSize: -1},
		"unsafe id":   {ID: "..", Kind: archive.KindSnapshot, Body: bytes.NewReader(nil)},
		"negative rl": {ID: "x", Kind: archive.KindSnapshot, Body: bytes.NewReader(nil), RateLimit: -1},
	} {
		if _, err := s.Upload(context.Background(), a); !errors.Is(err, ErrRefused) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}
