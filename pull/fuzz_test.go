package pull

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/logship/logship/archive"
)

// The sanitiser never returns a path that could leave the folder it is
// joined to, and refuses rather than rewrites what it cannot keep.
func FuzzSafePath(f *testing.F) {
	for _, s := range []string{"/home/admin/logs/app.log", "../../etc/passwd", "a/../b", "/", "", ".", "a//b/./c", "a\x00b",
		`a\b`, "/dev/kmsg", strings.Repeat("x", 300), strings.Repeat("a/", 600), "héllo/wörld.log", "\xff\xfe.log", "C:/x", "a/.", "./.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, err := SafePath(p)
		if err != nil {
			if got != "" {
				t.Fatalf("SafePath(%q) = %q with error %v", p, got, err)
			}
			return
		}
		if !filepath.IsLocal(got) || got == "" || strings.HasPrefix(got, "/") {
			t.Fatalf("SafePath(%q) = %q: not local", p, got)
		}
		if strings.ContainsAny(got, "\x00\\") || len(got) > maxPathBytes {
			t.Fatalf("SafePath(%q) = %q", p, got)
		}
		for _, seg := range strings.Split(got, "/") {
			if seg == "" || seg == "." || seg == ".." || len(seg) > maxSegmentBytes {
				t.Fatalf("SafePath(%q) = %q: segment %q", p, got, seg)
			}
			for _, r := range seg {
				if r < 0x20 || r == 0x7f {
					t.Fatalf("SafePath(%q) = %q: control character", p, got)
				}
			}
		}
		// Only empty and "." segments and leading slashes are dropped.
		if want := strings.Trim(p, "/"); !strings.Contains(p, "//") && !strings.Contains(p, "./") && !strings.HasSuffix(p, "/.") && got != want {
			t.Fatalf("SafePath(%q) = %q, want %q", p, got, want)
		}
		if o, err := outputName("app", "host", "file", p, "s", true); err == nil && !filepath.IsLocal(o) {
			t.Fatalf("outputName(%q) = %q", p, o)
		}
		_ = utf8.ValidString(got)
	})
}

// sampleObjects are valid and damaged chunk objects.
func sampleObjects(t testing.TB) [][]byte {
	enc, err := archive.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	raw := bytes.Repeat([]byte("2026-11-26 10:00:00 INFO hello \x00\xff world\n"), 300)
	var out [][]byte
	for _, codec := range []string{archive.CodecZstd, archive.CodecGzip} {
		s := spec{app: "a", host: "h", source: "file", path: "/x.log", stream: "s", every: 1}
		h := (&builder{}).header(s, chunkRange{start: 0, end: int64(len(raw)), first: base}, raw, codec)
		obj, err := enc.Encode(nil, h, raw)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, obj, obj[:len(obj)/2], obj[:len(obj)-1])
		flipped := append([]byte(nil), obj...)
		flipped[len(flipped)-12] ^= 4
		out = append(out, flipped)
		bomb, _ := enc.Encode(nil, h, append(raw, raw...))
		out = append(out, bomb)
	}
	return append(out, []byte("garbage"), nil)
}

// decodeWith reads an object through a reader and returns the raw bytes
// and the error class.
func decodeWith(obj []byte, useArchive bool) ([]byte, error) {
	var r io.ReadCloser
	if useArchive {
		ar, err := archive.NewReader(bytes.NewReader(obj), archive.Limits{})
		if err != nil {
			return nil, err
		}
		r = ar
	} else {
		cr, err := newChunkReader(bytes.NewReader(obj), nil, archive.Limits{MaxRaw: 1 << 30})
		if err != nil {
			return nil, err
		}
		r = cr
	}
	defer r.Close()
	return io.ReadAll(r)
}

func errClass(err error) string {
	for _, e := range []error{archive.ErrTooLarge, archive.ErrChecksum, archive.ErrHeader, archive.ErrCorrupt} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	if err != nil {
		return "other"
	}
	return ""
}

// chunkReader (pooled decoders) accepts and refuses exactly what
// archive.Reader does, with the same bytes and the same class of error.
func TestChunkReaderMatchesArchive(t *testing.T) {
	for i, obj := range sampleObjects(t) {
		for range 2 { // twice: the second time with pooled decoders
			a, aerr := decodeWith(obj, true)
			c, cerr := decodeWith(obj, false)
			if !bytes.Equal(a, c) || (aerr == nil) != (cerr == nil) {
				t.Errorf("object %d: archive %d bytes, %v; pull %d bytes, %v", i, len(a), aerr, len(c), cerr)
			}
		}
	}
}

func FuzzChunkReader(f *testing.F) {
	for _, obj := range sampleObjects(f) {
		f.Add(obj)
	}
	f.Fuzz(func(t *testing.T, obj []byte) {
		a, aerr := decodeWith(obj, true)
		c, cerr := decodeWith(obj, false)
		if (aerr == nil) != (cerr == nil) || aerr == nil && !bytes.Equal(a, c) {
			t.Fatalf("archive %d bytes, %v; pull %d bytes, %v", len(a), aerr, len(c), cerr)
		}
		// Header-only reads agree on the header.
		h, herr := readHeader(bytes.NewReader(obj))
		if aerr == nil && (herr != nil || h.Checksum == "") {
			t.Fatalf("readHeader: %v on a valid object", herr)
		}
	})
}
