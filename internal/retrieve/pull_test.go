package retrieve

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/archive"
)

// Several apps, hosts, sources and generations, with duplicates and
// overlaps, come back byte for byte.
func TestPullRoundTrip(t *testing.T) {
	dir := t.TempDir()
	fx := buildFixture(t, filepath.Join(dir, "archive"))
	out := filepath.Join(dir, "out")
	sum, err := Pull(context.Background(), openDir(t, fx.root), Options{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Problems) > 0 {
		t.Fatalf("problems:\n%s", problemsText(sum.Problems))
	}
	compareTrees(t, readTree(t, out), fx.want)
	if sum.Duplicates == 0 || sum.Overlap == 0 {
		t.Errorf("fixture should have duplicates and overlaps: %+v", sum)
	}
	if sum.Files != len(fx.want) {
		t.Errorf("summary: %d files, want %d", sum.Files, len(fx.want))
	}
	t.Logf("%d objects, %d files, %d duplicates, %d overlapping bytes", len(fx.keys), sum.Files, sum.Duplicates, sum.Overlap)
}

// --split-generations keeps the generations of one path apart.
func TestPullSplitGenerations(t *testing.T) {
	dir := t.TempDir()
	fx := buildFixture(t, filepath.Join(dir, "archive"))
	out := filepath.Join(dir, "out")
	sum, err := Pull(context.Background(), openDir(t, fx.root), Options{Out: out, SplitGenerations: true})
	if err != nil || len(sum.Problems) > 0 {
		t.Fatalf("%v\n%s", err, problemsText(sum.Problems))
	}
	want := map[string][]byte{}
	for _, s := range standardSpecs() {
		want[outName(s)+"@"+s.stream] = s.content()
	}
	compareTrees(t, readTree(t, out), want)
}

// A folder filled object by object into flat names (a browser download:
// no key layout, no metadata) gives the same files.
func TestPullFlatFolder(t *testing.T) {
	dir := t.TempDir()
	fx := buildFixture(t, filepath.Join(dir, "archive"))
	flat := filepath.Join(dir, "flat")
	if err := os.MkdirAll(flat, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, k := range fx.keys {
		b, err := os.ReadFile(filepath.Join(fx.root, filepath.FromSlash(k)))
		if err != nil {
			t.Fatal(err)
		}
		// Browser-style names: the last segment, made unique.
		name := strings.TrimSuffix(filepath.Base(k), ".log.zst")
		name = strings.TrimSuffix(name, ".log.gz")
		ext := ".zst"
		if strings.HasSuffix(k, ".gz") {
			ext = ".gz"
		}
		if err := os.WriteFile(filepath.Join(flat, name+" ("+itoa(i)+")"+ext), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Not everything in a download folder is ours.
	os.WriteFile(filepath.Join(flat, "notes.txt"), []byte("hello\n"), 0o644)
	// Remote snapshot requests are logship's own: passed over, not counted.
	req := filepath.Join(flat, "_control", "app=shop", "requests", "dt=2026-12-06", "20261206T100000Z-ab12.json")
	os.MkdirAll(filepath.Dir(req), 0o755)
	os.WriteFile(req, []byte(`{"id":"ab12"}`), 0o644)
	out := filepath.Join(dir, "out")
	sum, err := Pull(context.Background(), openDir(t, flat), Options{Out: out})
	if err != nil || len(sum.Problems) > 0 {
		t.Fatalf("%v\n%s", err, problemsText(sum.Problems))
	}
	compareTrees(t, readTree(t, out), fx.want)
	if sum.Ignored != 1 {
		t.Errorf("ignored %d objects, want 1 (notes.txt)", sum.Ignored)
	}
}

func itoa(i int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + fmtInt(i)) }

func fmtInt(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// A gap in the middle of a stream is reported with its range and the
// times around it; the rest comes back.
func TestPullGap(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "archive")
	b := newBuilder(t, root, 3)
	s := standardSpecs()[0]
	content := s.content()
	rs := s.ranges(content, 10)
	for i, r := range rs {
		if i == 4 {
			continue
		}
		b.chunk(s, content, r, "")
	}
	out := filepath.Join(dir, "out")
	sum, err := Pull(context.Background(), openDir(t, root), Options{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Count(KindGap) != 1 || len(sum.Problems) != 1 {
		t.Fatalf("want one gap, got:\n%s", problemsText(sum.Problems))
	}
	msg := sum.Problems[0].Msg
	for _, want := range []string{"[" + i64(rs[4].start) + ", " + i64(rs[4].end) + ")", rs[3].first.Add(s.every / 2).Format(time.RFC3339), rs[5].first.Format(time.RFC3339)} {
		if !strings.Contains(msg, want) {
			t.Errorf("gap message %q lacks %q", msg, want)
		}
	}
	want := append(append([]byte{}, content[:rs[4].from]...), content[rs[4].to:]...)
	compareTrees(t, readTree(t, out), map[string][]byte{outName(s): want})
}

func i64(v int64) string { return fmtInt(int(v)) }

var _ = archive.Version

// Many small files: the state (which lists them all) is saved at a pace,
// not after each file, which made a pull quadratic in the number of files;
// a re-run after the pull is still up to date.
func TestPullManyFilesSavesStateAtPace(t *testing.T) {
	defer func(d time.Duration) { stateSaveEvery = d }(stateSaveEvery)
	stateSaveEvery = time.Hour
	dir := t.TempDir()
	b := newBuilder(t, filepath.Join(dir, "archive"), 3)
	want := map[string][]byte{}
	const files = 300
	for i := range files {
		s := spec{app: "many", host: "h", source: "file", path: "/logs/f" + fmtInt(i) + ".log", stream: "f" + fmtInt(i) + ".log-00000000000000" + fmtInt(10+i%90),
			lines: 5, start: base.Add(time.Duration(i) * time.Second), every: time.Second}
		b.stream(s, 1, 0)
		want[outName(s)] = s.content()
	}
	out := filepath.Join(dir, "out")
	before := stateSaves.Load()
	sum, err := Pull(context.Background(), openDir(t, b.root), Options{Out: out})
	if err != nil || len(sum.Problems) > 0 || sum.Files != files {
		t.Fatalf("%v %+v\n%s", err, sum, problemsText(sum.Problems))
	}
	if n := stateSaves.Load() - before; n > 5 {
		t.Errorf("%d state saves for %d files", n, files)
	}
	compareTrees(t, readTree(t, out), want)
	sum, err = Pull(context.Background(), openDir(t, b.root), Options{Out: out})
	if err != nil || sum.UpToDate != files {
		t.Fatalf("re-run: %v, %d of %d files up to date", err, sum.UpToDate, files)
	}
}

// TestListObjectsOfFilesShown: ls's object count is that of the files it
// shows: a --path that matches none shows 0 files and 0 objects (it
// showed every object of the other filters).
func TestListObjectsOfFilesShown(t *testing.T) {
	fx := buildFixture(t, filepath.Join(t.TempDir(), "archive"))
	all, err := List(context.Background(), openDir(t, fx.root), Filter{}, 2)
	if err != nil {
		t.Fatal(err)
	}
	chunks := 0
	for _, f := range all.Files {
		chunks += f.Chunks
	}
	if chunks == 0 || all.Objects != chunks {
		t.Fatalf("%d objects, the files hold %d", all.Objects, chunks)
	}
	none, err := List(context.Background(), openDir(t, fx.root), Filter{Path: "no-such-file.log"}, 2)
	if err != nil || len(none.Files) != 0 || none.Objects != 0 {
		t.Fatalf("--path matching nothing: %v, %d files, %d objects", err, len(none.Files), none.Objects)
	}
}
