package archive

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func testHeader(codec string, start int64, raw []byte) *Header {
	return &Header{V: Version, App: "order-service", Host: "host-1", Source: KindFile, Path: "/home/admin/logs/app.log",
		Stream: "app.log-0123456789abcdef", Start: start, End: start + int64(len(raw)), Unit: UnitBytes,
		Lines: int64(bytes.Count(raw, []byte{'\n'})), RawSize: int64(len(raw)), Checksum: Checksum(raw),
		First: time.Date(2026, 11, 26, 9, 59, 58, 0, time.UTC), Last: time.Date(2026, 11, 26, 10, 0, 1, 0, time.UTC), Codec: codec}
}

func sampleRaw(t testing.TB) []byte {
	b, err := os.ReadFile("../../shared/testdata/loghub/Zookeeper_2k.log")
	if err != nil {
		b = bytes.Repeat([]byte("2026-11-26 10:00:00,000 INFO something happened id=42\n"), 2000)
	}
	// Bytes that must pass through: NUL, invalid UTF-8, CR.
	return append(b, "\x00\xff\xfe bad utf8 \xc3\x28 and a CR\r\n"...)
}

func encode(t testing.TB, h *Header, raw []byte) []byte {
	t.Helper()
	e, err := NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	b, err := e.Encode(nil, h, raw)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	raw := sampleRaw(t)
	for _, codec := range []string{CodecZstd, CodecGzip} {
		t.Run(codec, func(t *testing.T) {
			h := testHeader(codec, 1000, raw)
			obj := encode(t, h, raw)
			if len(obj) >= len(raw) {
				t.Fatalf("%s did not compress: %d >= %d", codec, len(obj), len(raw))
			}
			got, back, err := Decode(obj, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back, raw) {
				t.Fatal("raw bytes differ")
			}
			if got.Checksum != h.Checksum || got.Path != h.Path || got.Start != 1000 || !got.First.Equal(h.First) {
				t.Fatalf("header differs: %+v", got)
			}
		})
	}
}

// A chunk must decompress with stock tools to exactly its raw bytes.
func TestStockTools(t *testing.T) {
	raw := sampleRaw(t)
	dir := t.TempDir()
	for _, tc := range []struct{ codec, tool, file string }{
		{CodecZstd, "zstd", "c.log.zst"},
		{CodecGzip, "gzip", "c.log.gz"},
	} {
		t.Run(tc.tool, func(t *testing.T) {
			if _, err := exec.LookPath(tc.tool); err != nil {
				if os.Getenv("CI") != "" {
					t.Fatalf("%s not installed (CI must install it)", tc.tool)
				}
				t.Skipf("%s not installed", tc.tool)
			}
			p := filepath.Join(dir, tc.file)
			if err := os.WriteFile(p, encode(t, testHeader(tc.codec, 0, raw), raw), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(tc.tool, "-dc", p).Output()
			if err != nil {
				t.Fatalf("%s -dc: %v", tc.tool, err)
			}
			if !bytes.Equal(out, raw) {
				t.Fatalf("%s output differs from raw (%d vs %d bytes)", tc.tool, len(out), len(raw))
			}
		})
	}
}

func TestCorruptionDetected(t *testing.T) {
	raw := sampleRaw(t)
	for _, codec := range []string{CodecZstd, CodecGzip} {
		obj := encode(t, testHeader(codec, 0, raw), raw)
		hdrEnd := bytes.Index(obj, []byte(`"codec"`)) + 40
		r := rand.New(rand.NewPCG(1, 2))
		for i := 0; i < 50; i++ {
			bad := bytes.Clone(obj)
			pos := hdrEnd + r.IntN(len(obj)-hdrEnd)
			bad[pos] ^= 1 << r.IntN(8)
			if _, back, err := Decode(bad, Limits{}); err == nil {
				t.Fatalf("%s: flipped bit at %d not detected (raw equal: %v)", codec, pos, bytes.Equal(back, raw))
			}
			if _, _, err := DecodeInto(nil, bad, Limits{}); err == nil {
				t.Fatalf("%s: DecodeInto: flipped bit at %d not detected", codec, pos)
			}
		}
		if _, _, err := Decode(obj[:len(obj)/2], Limits{}); err == nil {
			t.Fatalf("%s: truncated object not detected", codec)
		}
		if _, _, err := DecodeInto(nil, obj[:len(obj)/2], Limits{}); err == nil {
			t.Fatalf("%s: DecodeInto: truncated object not detected", codec)
		}
	}
	// A header whose checksum lies is caught even when the stream is fine.
	h := testHeader(CodecZstd, 0, raw)
	h.Checksum = Checksum([]byte("other"))
	if _, _, err := Decode(encode(t, h, raw), Limits{}); !errors.Is(err, ErrChecksum) {
		t.Fatalf("lying checksum: %v", err)
	}
	if _, _, err := DecodeInto(nil, encode(t, h, raw), Limits{}); !errors.Is(err, ErrChecksum) {
		t.Fatalf("DecodeInto: lying checksum: %v", err)
	}
}

func TestBombStopped(t *testing.T) {
	big := bytes.Repeat([]byte("A"), 50<<20)
	h := testHeader(CodecZstd, 0, big[:100])
	h.Lines = 0
	e, _ := NewEncoder()
	obj, err := e.Encode(nil, h, big) // header says 100 bytes, content is 50 MB
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(bytes.NewReader(obj), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := bytes.NewBuffer(nil).ReadFrom(r)
	if !errors.Is(err, ErrTooLarge) || n > 100 {
		t.Fatalf("bomb: read %d bytes, err %v", n, err)
	}
	// A header declaring more than the reader's limit is refused upfront.
	h2 := testHeader(CodecZstd, 0, big[:10])
	h2.RawSize, h2.End = 10<<30, 10<<30
	if _, err := NewReader(bytes.NewReader(encode(t, h2, big[:10])), Limits{MaxRaw: 1 << 30}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("huge declared size: %v", err)
	}
}

func TestHostileHeaders(t *testing.T) {
	raw := []byte("x\n")
	for name, mut := range map[string]func(*Header){
		"stream with slash": func(h *Header) { h.Stream = "../../etc" },
		"app dotdot":        func(h *Header) { h.App = ".." },
		"host NUL":          func(h *Header) { h.Host = "a\x00b" },
		"negative range":    func(h *Header) { h.Start = -5 },
		"range vs size":     func(h *Header) { h.End = h.Start + 1000 },
		"version":           func(h *Header) { h.V = 99 },
		"unit":              func(h *Header) { h.Unit = "parsecs" },
		"long app":          func(h *Header) { h.App = strings.Repeat("a", 500) },
	} {
		h := testHeader(CodecZstd, 0, raw)
		mut(h)
		if _, _, err := Decode(encode(t, h, raw), Limits{}); !errors.Is(err, ErrHeader) {
			t.Errorf("%s: %v, want ErrHeader", name, err)
		}
	}
}

func TestKey(t *testing.T) {
	h := testHeader(CodecZstd, 4096, []byte("abc\n"))
	k := Key("logs/", h)
	want := "logs/app=order-service/dt=2026-11-26/hour=09/host=host-1/source=file/app.log-0123456789abcdef/0000000000004096-0000000000004100.log.zst"
	if k != want {
		t.Fatalf("key\n got %s\nwant %s", k, want)
	}
	ki, err := ParseKey(k)
	if err != nil {
		t.Fatal(err)
	}
	if ki.App != h.App || ki.Host != h.Host || ki.Stream != h.Stream || ki.Start != 4096 || ki.End != 4100 || ki.Codec != CodecZstd || ki.Prefix != "logs" || ki.Hour.Hour() != 9 {
		t.Fatalf("parsed %+v", ki)
	}
	if Key("", h) != strings.TrimPrefix(want, "logs/") {
		t.Fatal("empty prefix")
	}
	for _, bad := range []string{
		"app=a/dt=2026-11-26/hour=09/host=h/source=file/../0-1.log.zst",
		"app=a/dt=2026-13-26/hour=09/host=h/source=file/s/0-1.log.zst",
		"app=a/dt=2026-11-26/hour=09/host=h/source=file/s/5-1.log.zst",
		"app=a/dt=2026-11-26/hour=09/host=h/source=file/s/0-1.exe",
		"x/app=a/dt=2026-11-26/hour=09/host=h/source=fi le/s/0-1.log.zst",
	} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}

func TestPlan(t *testing.T) {
	// Stream content 0..100 written as overlapping, duplicated and
	// out-of-order chunks, plus a gap; a second generation of the path.
	content := make([]byte, 100)
	for i := range content {
		content[i] = byte('a' + i%26)
	}
	type chunk struct {
		h     *Header
		start int64
		end   int64
	}
	mk := func(stream string, s, e int64, first time.Time) chunk {
		h := testHeader(CodecZstd, s, content[s:e])
		h.Stream, h.First = stream, first
		return chunk{h, s, e}
	}
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	chunks := []chunk{
		mk("gen1", 40, 60, t0), mk("gen1", 0, 20, t0), mk("gen1", 10, 40, t0), mk("gen1", 0, 20, t0),
		mk("gen1", 20, 30, t0), mk("gen1", 70, 100, t0), mk("gen0", 0, 5, t0.Add(-time.Hour)),
	}
	plans := Plan(chunks, func(c chunk) *Header { return c.h })
	if len(plans) != 2 || plans[0].ID != "gen0" || plans[1].ID != "gen1" {
		t.Fatalf("plans out of order: %+v", plans)
	}
	p := plans[1]
	var got []byte
	for _, st := range p.Steps {
		part, err := p.Apply(st, content[st.Chunk.start:st.Chunk.end])
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, part...)
	}
	want := append(bytes.Clone(content[:60]), content[70:]...)
	if !bytes.Equal(got, want) {
		t.Fatalf("rebuilt %q\nwant    %q", got, want)
	}
	if p.Duplicates != 2 || len(p.Gaps) != 1 || p.Gaps[0].Start != 60 || p.Gaps[0].End != 70 || p.End != 100 ||
		p.Steps[p.Gaps[0].Next].Chunk.start != 70 {
		t.Fatalf("duplicates %d gaps %+v end %d", p.Duplicates, p.Gaps, p.End)
	}
}

func FuzzReader(f *testing.F) {
	raw := []byte("line one\nline two\n")
	f.Add(encode(f, testHeader(CodecZstd, 0, raw), raw))
	f.Add(encode(f, testHeader(CodecGzip, 0, raw), raw))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, obj []byte) {
		h, back, err := Decode(obj, Limits{MaxRaw: 1 << 20})
		if _, into, err2 := DecodeInto(nil, obj, Limits{MaxRaw: 1 << 20}); (err == nil) != (err2 == nil) || err == nil && !bytes.Equal(into, back) {
			t.Fatalf("DecodeInto (%v) and Decode (%v) disagree", err2, err)
		}
		if err == nil {
			if h.Verify(back) != nil || h.Validate() != nil {
				t.Fatal("accepted an object that does not verify")
			}
			// A header-only read agrees.
			if hh, err := ReadHeader(bytes.NewReader(obj)); err != nil || !reflect.DeepEqual(hh, h) {
				t.Fatalf("ReadHeader: %+v, %v; NewReader read %+v", hh, err, h)
			}
		}
	})
}

func FuzzParseKey(f *testing.F) {
	f.Add("logs/app=a/dt=2026-11-26/hour=09/host=h/source=file/s-1/0000000000000000-0000000000000010.log.zst")
	f.Fuzz(func(t *testing.T, k string) {
		ki, err := ParseKey(k)
		if err != nil {
			return
		}
		for _, s := range []string{ki.App, ki.Host, ki.Source, ki.Stream} {
			if CheckName(s) != nil || strings.Contains(s, "..") && s == ".." {
				t.Fatalf("unsafe segment %q accepted", s)
			}
		}
	})
}

func FuzzHeader(f *testing.F) {
	b, _ := testHeader(CodecZstd, 0, []byte("x\n")).Marshal()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := UnmarshalHeader(b)
		if err == nil && h.Validate() != nil {
			t.Fatal("accepted invalid header")
		}
	})
}

// HeaderFromMeta reads back what Header.Meta writes, and refuses what it
// cannot (x-oss-meta values are outside input).
func TestHeaderFromMetaRoundTrip(t *testing.T) {
	h := testHeader(CodecZstd, 7, []byte("one\ntwo\n"))
	h.Path, h.Event = "/home/admin/logs/日志.log", EventOOMKill
	got, err := HeaderFromMeta(h.Meta())
	if err != nil {
		t.Fatal(err)
	}
	want := *h
	want.Extra = nil // not mirrored
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("round trip:\n%+v\nwant\n%+v", *got, want)
	}
	if got, err := HeaderFromMeta(map[string]string{"other": "x"}); got != nil || err != nil {
		t.Fatalf("no header: %v, %v", got, err)
	}
	bad := h.Meta()
	bad["logship-start"] = "x"
	if _, err := HeaderFromMeta(bad); !errors.Is(err, ErrHeader) {
		t.Fatalf("bad start: %v", err)
	}
}

func FuzzHeaderFromMeta(f *testing.F) {
	m := testHeader(CodecZstd, 0, []byte("x\n")).Meta()
	f.Add(m["logship-path"], m["logship-start"], m["logship-end"], m["logship-first"], m["logship-stream"])
	f.Fuzz(func(t *testing.T, path, start, end, first, stream string) {
		m := testHeader(CodecZstd, 0, []byte("x\n")).Meta()
		m["logship-path"], m["logship-start"], m["logship-end"], m["logship-first"], m["logship-stream"] = path, start, end, first, stream
		h, err := HeaderFromMeta(m)
		if err == nil && (h == nil || h.Validate() != nil) {
			t.Fatal("accepted an invalid header")
		}
	})
}
