package retrieve

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/sinks"
)

// base is the ingest time of the fixture's first chunk.
var base = time.Date(2026, 11, 26, 9, 40, 0, 0, time.UTC)

// spec is one stream of a test archive.
type spec struct {
	app, host, source, path, stream string
	lines                           int
	start                           time.Time // ingest time of the first chunk
	every                           time.Duration
	event                           string // flag on the last chunk
	offset                          int64  // first position (read_from: end)
}

func (s spec) unit() string {
	if s.source == archive.KindKmsg {
		return archive.UnitRecords
	}
	return archive.UnitBytes
}

// content returns the stream's raw bytes: lines with NUL, invalid UTF-8
// and CR thrown in.
func (s spec) content() []byte {
	var b bytes.Buffer
	for i := range s.lines {
		fmt.Fprintf(&b, "%s %s %s %s line %d %s", s.start.Add(time.Duration(i)*time.Second).Format("2006-01-02 15:04:05.000"), s.host, s.stream, s.path, i, strings.Repeat("x", i%37))
		if i%29 == 0 {
			b.WriteString(" \x00\xff\xfe\r")
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// chunkRange is a line-aligned range of a stream: byte offsets into its
// content, and positions (bytes or records).
type chunkRange struct {
	from, to   int   // byte offsets in content
	start, end int64 // positions
	first      time.Time
}

// builder writes test archives straight into a folder with the key layout
// (no fsync: tests need speed, not durability).
type builder struct {
	t    testing.TB
	root string
	enc  *archive.Encoder
	rng  *rand.Rand
	keys []string
}

func newBuilder(t testing.TB, root string, seed uint64) *builder {
	enc, err := archive.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enc.Close() })
	return &builder{t: t, root: root, enc: enc, rng: rand.New(rand.NewPCG(seed, 1))}
}

func (b *builder) put(key string, body []byte) {
	b.t.Helper()
	p := filepath.Join(b.root, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(p, body, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.keys = append(b.keys, key)
}

// header builds the header of raw bytes of a stream.
func (b *builder) header(s spec, r chunkRange, raw []byte, codec string) *archive.Header {
	return &archive.Header{V: archive.Version, App: s.app, Host: s.host, Source: s.source, Path: s.path, Stream: s.stream,
		Start: r.start, End: r.end, Unit: s.unit(), Lines: int64(bytes.Count(raw, []byte{'\n'})), RawSize: int64(len(raw)),
		Checksum: archive.Checksum(raw), First: r.first, Last: r.first.Add(s.every / 2), Codec: codec}
}

// chunk encodes and stores one range; it returns the key.
func (b *builder) chunk(s spec, content []byte, r chunkRange, event string) string {
	raw := content[r.from:r.to]
	codec := archive.CodecZstd
	if b.rng.IntN(4) == 0 {
		codec = archive.CodecGzip
	}
	h := b.header(s, r, raw, codec)
	h.Event = event
	obj, err := b.enc.Encode(nil, h, raw)
	if err != nil {
		b.t.Fatal(err)
	}
	key := archive.Key("", h)
	b.put(key, obj)
	return key
}

// ranges splits content into n line-aligned chunks.
func (s spec) ranges(content []byte, n int) []chunkRange {
	var lineEnds []int
	for i, c := range content {
		if c == '\n' {
			lineEnds = append(lineEnds, i+1)
		}
	}
	var out []chunkRange
	from, line := 0, 0
	for i := range n {
		toLine := len(lineEnds) * (i + 1) / n
		if toLine == line {
			continue
		}
		to := lineEnds[toLine-1]
		r := chunkRange{from: from, to: to, first: s.start.Add(time.Duration(i) * s.every)}
		if s.unit() == archive.UnitBytes {
			r.start, r.end = s.offset+int64(from), s.offset+int64(to)
		} else {
			r.start, r.end = s.offset+int64(line), s.offset+int64(toLine)
		}
		out = append(out, r)
		from, line = to, toLine
	}
	return out
}

// join returns the range spanning ranges[i..j].
func join(rs []chunkRange, i, j int) chunkRange {
	return chunkRange{from: rs[i].from, to: rs[j].to, start: rs[i].start, end: rs[j].end, first: rs[i].first}
}

// stream writes a whole stream in n chunks, plus duplicates and overlaps
// as at-least-once delivery makes them (re-reads after a crash: longer or
// shifted ranges, ingested again later). It returns the ranges.
func (b *builder) stream(s spec, n int, extras int) []chunkRange {
	content := s.content()
	rs := s.ranges(content, n)
	for i, r := range rs {
		ev := ""
		if i == len(rs)-1 {
			ev = s.event
		}
		b.chunk(s, content, r, ev)
	}
	for range extras {
		if len(rs) < 3 {
			break
		}
		i := b.rng.IntN(len(rs) - 2)
		j := i + b.rng.IntN(2)
		x := join(rs, i, j)
		x.first = x.first.Add(s.every / 3) // re-read a little later, another key
		if b.rng.IntN(2) == 0 && rs[i].to-rs[i].from > 1 {
			// Overlap: start mid-chunk, at a line boundary.
			mid := bytes.IndexByte(content[rs[i].from:rs[i].to], '\n') + 1
			if mid > 0 && rs[i].from+mid < rs[i].to {
				x.from += mid
				if s.unit() == archive.UnitBytes {
					x.start += int64(mid)
				} else {
					x.start++
				}
			}
		}
		b.chunk(s, content, x, "")
	}
	return rs
}

// fixture is a test archive and the files pull must rebuild from it.
type fixture struct {
	root string
	want map[string][]byte // output name -> bytes
	keys []string
}

// standardSpecs are several apps, hosts, sources, paths and generations.
func standardSpecs() []spec {
	return []spec{
		{app: "order-service", host: "host-1", source: "file", path: "/home/admin/logs/app.log", stream: "app.log-0000000000000001", lines: 400, start: base, every: 4 * time.Minute},
		{app: "order-service", host: "host-1", source: "file", path: "/home/admin/logs/app.log", stream: "app.log-0000000000000002", lines: 300, start: base.Add(100 * time.Minute), every: 3 * time.Minute},
		{app: "order-service", host: "host-1", source: "file", path: "/home/admin/logs/app.log", stream: "app.log-0000000000000003", lines: 50, start: base.Add(150 * time.Minute), every: time.Minute, offset: 0},
		{app: "order-service", host: "host-1", source: "file", path: "/home/admin/logs/gc.log", stream: "gc.log-00000000000000aa", lines: 200, start: base.Add(5 * time.Minute), every: 5 * time.Minute, offset: 4096},
		{app: "order-service", host: "host-2", source: "file", path: "/home/admin/logs/app.log", stream: "app.log-00000000000000b1", lines: 250, start: base.Add(time.Minute), every: 4 * time.Minute},
		{app: "order-service", host: "host-2", source: "kmsg", path: "/dev/kmsg", stream: "boot-1111", lines: 60, start: base.Add(2 * time.Minute), every: 10 * time.Minute, event: archive.EventOOMKill},
		{app: "order-service", host: "host-2", source: "crash", path: "/home/admin/app/hs_err_pid42.log", stream: "hs_err_pid42.log-1", lines: 80, start: base.Add(70 * time.Minute), every: time.Second, event: archive.EventJVMCrash},
		{app: "billing", host: "host-1", source: "file", path: "/var/log/billing/out.log", stream: "out.log-00000000000000c1", lines: 120, start: base.Add(30 * time.Minute), every: 2 * time.Minute},
	}
}

func outName(s spec) string {
	return s.app + "/" + s.host + "/" + s.source + "/" + strings.TrimPrefix(s.path, "/")
}

// buildFixture writes the standard archive: every stream in several
// chunks, with duplicates and overlaps.
func buildFixture(t testing.TB, root string) *fixture {
	b := newBuilder(t, root, 7)
	fx := &fixture{root: root, want: map[string][]byte{}}
	for _, s := range standardSpecs() {
		n := max(1, s.lines/15)
		if s.source == archive.KindCrash {
			n = 1
		}
		b.stream(s, n, n/3)
		fx.want[outName(s)] = append(fx.want[outName(s)], s.content()...)
	}
	fx.keys = b.keys
	return fx
}

// readTree returns every regular file under dir (relative names), except
// the pull state.
func readTree(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() && rel == stateDir {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[filepath.ToSlash(rel)] = b
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func compareTrees(t testing.TB, got, want map[string][]byte) {
	t.Helper()
	var names []string
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		g, ok := got[n]
		if !ok {
			t.Errorf("%s: missing", n)
			continue
		}
		if !bytes.Equal(g, want[n]) {
			t.Errorf("%s: %d bytes, want %d; first difference at %d", n, len(g), len(want[n]), firstDiff(g, want[n]))
		}
	}
	for n := range got {
		if _, ok := want[n]; !ok {
			t.Errorf("%s: unexpected file", n)
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// countingArchive counts Get calls per key and can fail chosen keys or
// cancel a context after a number of Gets.
type countingArchive struct {
	Store
	mu     sync.Mutex
	gets   map[string]int
	total  atomic.Int64
	fail   func(key string) error
	after  int64
	cancel func()
}

func newCounting(a Store) *countingArchive {
	return &countingArchive{Store: a, gets: map[string]int{}}
}

func (c *countingArchive) Get(ctx context.Context, key string) (io.ReadCloser, sinks.ObjectInfo, error) {
	n := c.total.Add(1)
	c.mu.Lock()
	c.gets[key]++
	c.mu.Unlock()
	if c.fail != nil {
		if err := c.fail(key); err != nil {
			return nil, sinks.ObjectInfo{}, err
		}
	}
	if c.cancel != nil && n > c.after {
		c.cancel()
		return nil, sinks.ObjectInfo{}, context.Canceled
	}
	return c.Store.Get(ctx, key)
}

func (c *countingArchive) ListPrefixes(ctx context.Context, prefix string) ([]string, error) {
	return c.Store.(sinks.PrefixLister).ListPrefixes(ctx, prefix)
}

func (c *countingArchive) reset() {
	c.mu.Lock()
	c.gets = map[string]int{}
	c.mu.Unlock()
	c.total.Store(0)
}

func openDir(t testing.TB, root string) Store {
	t.Helper()
	a, err := Open(context.Background(), root, OSSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func problemsText(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}
