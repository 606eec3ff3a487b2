package retrieve

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/sinks"
)

// hostile plants, next to the standard fixture, objects that must be
// refused. It returns a substring each problem must show, and the files of
// the victim stream (whose damaged chunks are left out).
func plantHostile(t testing.TB, b *builder) (wantProblems []string, absName, victimName string, victim []byte) {
	evil := func(stream, p string) spec {
		return spec{app: "order-service", host: "host-3", source: "file", path: p, stream: stream, lines: 20, start: base.Add(10 * time.Minute), every: time.Minute}
	}
	for _, c := range []struct{ stream, path, why string }{
		{"dotdot", "../../etc/passwd", `".." segment`},
		{"dotdot2", "/home/../../../etc/shadow", `".." segment`},
		{"nul", "/var/log/a\x00b.log", "NUL"},
		{"backslash", `..\..\evil.log`, "backslash"},
		{"huge", strings.Repeat("a/", 2100) + "x.log", "limit 4096"},
		{"longseg", "/var/log/" + strings.Repeat("b", 300) + ".log", "limit 255"},
		{"control", "/var/log/\x1b[2Jclear.log", "control character"},
	} {
		s := evil(c.stream, c.path)
		b.stream(s, 2, 0)
		wantProblems = append(wantProblems, c.why)
	}
	// Absolute paths are made relative, not refused.
	abs := evil("abs", "/etc/passwd")
	b.stream(abs, 2, 0)

	// A decompression bomb: the header says 100 bytes, the content is 64 MiB.
	bomb := evil("bomb", "/var/log/bomb.log")
	bombRaw := bytes.Repeat([]byte("A"), 64<<20)
	h := b.header(bomb, chunkRange{start: 0, end: 100, first: bomb.start}, bombRaw[:100], archive.CodecZstd)
	obj, err := b.enc.Encode(nil, h, bombRaw)
	if err != nil {
		t.Fatal(err)
	}
	b.put(archive.Key("", h), obj)
	wantProblems = append(wantProblems, "decompresses beyond")

	// A victim stream: one chunk truncated, one bit-flipped, one whose
	// header claims another stream, one that is not a chunk at all.
	v := evil("victim", "/var/log/victim.log")
	content := v.content()
	rs := v.ranges(content, 8)
	for i, r := range rs {
		raw := content[r.from:r.to]
		h := b.header(v, r, raw, archive.CodecZstd)
		obj, err := b.enc.Encode(nil, h, raw)
		if err != nil {
			t.Fatal(err)
		}
		key := archive.Key("", h)
		switch i {
		case 1: // truncated
			obj = obj[:len(obj)/2]
		case 3: // one bit flipped in the compressed data
			obj[len(obj)-20] ^= 0x10
		case 5: // header of another stream, under this stream's key
			o := *h
			o.Stream = "dotdot"
			obj, _ = b.enc.Encode(nil, &o, raw)
		case 6: // garbage under a chunk name
			obj = []byte("<html>404 not found</html>")
		case 7: // raw bytes that do not match the header's checksum
			bad := bytes.ToUpper(raw)
			obj, _ = b.enc.Encode(nil, h, bad)
		}
		b.put(key, obj)
		if i != 1 && i != 3 && i != 5 && i != 6 && i != 7 {
			victim = append(victim, raw...)
		}
	}
	// The flipped bit is caught by the header's CRC-32C after decompression
	// or, when it breaks the zstd block structure, by the decoder: either
	// way the range is reported and left out.
	flipped := fmt.Sprintf("bytes [%d, %d) of stream victim left out", rs[3].from, rs[3].to)
	wantProblems = append(wantProblems, "unexpected EOF", flipped, "checksum mismatch", "header says order-service/host-3/file/dotdot", "no logship header")
	return wantProblems, outName(abs), outName(v), victim
}

// keyArchive adds hostile keys to a listing.
type keyArchive struct {
	Store
	extra map[string][]byte
}

func (k *keyArchive) List(ctx context.Context, prefix string, fn func(sinks.ObjectInfo) error) error {
	if err := k.Store.List(ctx, prefix, fn); err != nil {
		return err
	}
	for key, b := range k.extra {
		if strings.HasPrefix(key, prefix) {
			if err := fn(sinks.ObjectInfo{Key: key, Size: int64(len(b))}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (k *keyArchive) Get(ctx context.Context, key string) (io.ReadCloser, sinks.ObjectInfo, error) {
	if b, ok := k.extra[key]; ok {
		return io.NopCloser(bytes.NewReader(b)), sinks.ObjectInfo{Key: key, Size: int64(len(b))}, nil
	}
	return k.Store.Get(ctx, key)
}

// Hostile objects are refused and reported; nothing escapes --out, no
// symbolic link in it is followed, and the good data next to them comes
// back byte for byte.
func TestPullHostile(t *testing.T) {
	testPullHostile(t, func(t *testing.T, root string, extra map[string][]byte) (Store, []string) {
		return &keyArchive{Store: openDir(t, root), extra: extra}, nil
	})
}

// testPullHostile runs the hostile archive through an archive that open
// makes of the folder root and the objects under hostile keys; open may
// add objects of its own and the problems they must cause.
func testPullHostile(t *testing.T, open func(t *testing.T, root string, extra map[string][]byte) (Store, []string)) {
	parent := t.TempDir()
	arch := filepath.Join(t.TempDir(), "archive")
	fx := buildFixture(t, arch)
	b := newBuilder(t, arch, 99)
	wantProblems, absName, victimName, victim := plantHostile(t, b)

	// A valid chunk under keys with "..", NUL, a backslash.
	good := newBuilder(t, t.TempDir(), 1)
	s := spec{app: "order-service", host: "host-4", source: "file", path: "/x.log", stream: "x", lines: 5, start: base, every: time.Minute}
	key := good.chunk(s, s.content(), s.ranges(s.content(), 1)[0], "")
	body, _ := os.ReadFile(filepath.Join(good.root, key))
	a, more := open(t, arch, map[string][]byte{
		"app=order-service/dt=2026-11-26/hour=09/host=host-4/source=file/../../../../../escape/0-1.log.zst": body,
		"/abs/0000000000000000-0000000000000001.log.zst":                                                    body,
		"a\x00b.log.zst": body,
		`a\..\b.log.zst`: body,
	})
	wantProblems = append(wantProblems, `".." segment`, "absolute key", "NUL", "backslash")
	wantProblems = append(wantProblems, more...)

	out := filepath.Join(parent, "out")
	outside := filepath.Join(parent, "outside")
	for _, d := range []string{outside, filepath.Join(out, "order-service/host-1/file"), filepath.Join(out, "order-service/host-2/file/home/admin/logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A folder symlink pointing outside, and a file symlink at an output name.
	if err := os.Symlink(outside, filepath.Join(out, "order-service/host-1/file/home")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "stolen"), filepath.Join(out, "order-service/host-2/file/home/admin/logs/app.log")); err != nil {
		t.Fatal(err)
	}
	wantProblems = append(wantProblems, "order-service/host-1/file/home is a symbolic link", "app.log is a symbolic link")

	sum, err := Pull(context.Background(), a, Options{Out: out, Memory: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	text := problemsText(sum.Problems)
	for _, w := range wantProblems {
		if !strings.Contains(text, w) {
			t.Errorf("no problem mentions %q", w)
		}
	}
	t.Logf("problems:\n%s", text)

	// Nothing outside --out.
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("written outside --out: %v", ents)
	}
	ents, _ := os.ReadDir(parent)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"out", "outside"}) {
		t.Errorf("parent of --out holds %v", names)
	}
	// Good data: everything but the files behind the planted symlinks.
	got := readTree(t, out)
	want := map[string][]byte{}
	for n, b := range fx.want {
		if !strings.HasPrefix(n, "order-service/host-1/file/") && n != "order-service/host-2/file/home/admin/logs/app.log" {
			want[n] = b
		}
	}
	for n := range got {
		if strings.HasPrefix(n, "order-service/host-3/") || strings.HasPrefix(n, "order-service/host-4/") {
			continue
		}
		if _, ok := want[n]; !ok {
			t.Errorf("unexpected file %s", n)
		}
	}
	for n, w := range want {
		if !bytes.Equal(got[n], w) {
			t.Errorf("%s: differs (%d bytes, want %d)", n, len(got[n]), len(w))
		}
	}
	if _, ok := got[absName]; !ok {
		t.Errorf("absolute path not written under its app/host/source folder (%s)", absName)
	}
	if !bytes.Equal(got[victimName], victim) {
		t.Errorf("good chunks of the victim stream did not come back: %d bytes, want %d", len(got[victimName]), len(victim))
	}
	for _, bad := range []string{"bomb.log", "dotdot", "escape", "passwd\x00"} {
		for n := range got {
			if strings.Contains(n, bad) && !strings.HasSuffix(n, "etc/passwd") {
				t.Errorf("%s written", n)
			}
		}
	}
	if st, err := os.Lstat(filepath.Join(out, "order-service/host-1/file/home")); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Error("the planted symlink was replaced or removed")
	}
}
