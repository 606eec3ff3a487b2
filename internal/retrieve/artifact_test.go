package retrieve

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/logship/logship/archive"
)

// A crash artifact as the crash source writes it: the header frame, then
// independent zstd frames with skippable padding between parts. Larger
// than the buffering limit, so it is streamed; it comes back whole under
// its original name, with its event flag listed.
func TestPullArtifact(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "archive")
	var raw []byte
	for i := 0; len(raw) < 12<<20; i++ {
		raw = append(raw, []byte("java_pid42.hprof bytes \x00\x01\x02 "+itoa(i)+"\n")...)
	}
	s := spec{app: "order-service", host: "host-1", source: archive.KindCrash, path: "/home/admin/app/java_pid42.hprof", stream: "java_pid42.hprof-1", every: 1}
	h := (&builder{}).header(s, chunkRange{start: 0, end: int64(len(raw)), first: base}, raw, archive.CodecZstd)
	h.Event = archive.EventJVMCrash
	hb, err := h.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := archive.NewFrameEncoder()
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	obj := archive.AppendSkippable(nil, hb)
	const part = 5 << 20
	for off := 0; off < len(raw); off += part {
		p, _, err := enc.AppendFrame(nil, bytes.NewReader(raw[off:min(off+part, len(raw))]))
		if err != nil {
			t.Fatal(err)
		}
		obj = append(obj, archive.AppendPadding(p, 1<<20)...)
	}
	b := newBuilder(t, root, 1)
	b.put(archive.Key("", h), obj)

	out := filepath.Join(dir, "out")
	sum, err := Pull(context.Background(), openDir(t, root), Options{Out: out, Memory: 16 << 20})
	if err != nil || len(sum.Problems) > 0 {
		t.Fatalf("%v\n%s", err, problemsText(sum.Problems))
	}
	compareTrees(t, readTree(t, out), map[string][]byte{outName(s): raw})

	l, err := List(context.Background(), openDir(t, root), Filter{Source: "crash"}, 2)
	if err != nil || len(l.Files) != 1 || len(l.Files[0].Events) != 1 || l.Files[0].Events[0] != archive.EventJVMCrash || l.Files[0].Raw != int64(len(raw)) {
		t.Fatalf("%v %+v", err, l)
	}
}

// A chunk too large to buffer is streamed into the output; when it turns
// out corrupt at its end, what it wrote is rolled back and the chunks
// around it still come back.
func TestPullStreamedCorruptRollsBack(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "archive")
	s := spec{app: "a", host: "h", source: "file", path: "/var/log/big.log", stream: "big", lines: 250000, start: base, every: time.Minute}
	content := s.content()
	rs := s.ranges(content, 3)
	b := newBuilder(t, root, 1)
	for i, r := range rs {
		raw := content[r.from:r.to]
		h := b.header(s, r, raw, archive.CodecZstd)
		if i == 1 {
			raw = bytes.ToUpper(raw) // same size, wrong checksum: found only at the end
		}
		obj, err := b.enc.Encode(nil, h, raw)
		if err != nil {
			t.Fatal(err)
		}
		b.put(archive.Key("", h), obj)
	}
	if rs[1].to-rs[1].from < 5<<20 {
		t.Fatalf("middle chunk of %d bytes: too small to be streamed", rs[1].to-rs[1].from)
	}
	out := filepath.Join(dir, "out")
	sum, err := Pull(context.Background(), openDir(t, root), Options{Out: out, Memory: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Count(KindCorrupt) != 1 || len(sum.Problems) != 1 {
		t.Fatalf("problems:\n%s", problemsText(sum.Problems))
	}
	want := append(append([]byte{}, content[:rs[1].from]...), content[rs[1].to:]...)
	compareTrees(t, readTree(t, out), map[string][]byte{outName(s): want})
}
