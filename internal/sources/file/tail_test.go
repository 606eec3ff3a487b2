package file

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logship/logship/internal/pipeline/pipelinetest"
)

func TestNewValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none: valid
	}{
		{"minimal", Config{Paths: []string{"/var/log/*.log"}}, nil},
		{"no paths", Config{}, []string{"paths: required"}},
		{"bad glob and read_from", Config{Paths: []string{"/x/[.log"}, ReadFrom: "middle"},
			[]string{"paths[0]", "read_from", "middle"}},
		{"bad exclude", Config{Paths: []string{"/x/*.log"}, Exclude: []string{"[z"}}, []string{"exclude[0]"}},
		{"trailing **", Config{Paths: []string{"/x/**"}}, []string{"ends with **"}},
		{"negative", Config{Paths: []string{"/x/*.log"}, MaxOpenFiles: -1}, []string{"max_open_files", "negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New("", tt.cfg, nil)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if s.Name() != "file" {
					t.Errorf("Name() = %q, want file", s.Name())
				}
				return
			}
			if err == nil {
				t.Fatal("New accepted a bad config")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestContent checks that bytes come through exactly, whatever they are.
func TestContent(t *testing.T) {
	bin := []byte("nul\x00in\x00line\n\xff\xfe invalid utf-8 \xc3\x28\n\x00\x00\x00\n\r\n\t\n")
	many := lines("many", 0, 5000) // spans many read blocks
	tests := []struct {
		name   string
		chunks [][]byte // appended one after the other, each shipped before the next
	}{
		{"one line", [][]byte{[]byte("hello\n")}},
		{"binary", [][]byte{bin, bin}},
		{"many blocks", [][]byte{many}},
		{"appends", [][]byte{lines("a", 0, 3), lines("b", 0, 100), []byte("x\n")}},
		{"empty lines", [][]byte{[]byte("\n\n\n"), []byte("\n")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "app.log")
			h := start(t, testConfig(t, filepath.Join(dir, "*.log")))
			var all []byte
			for _, c := range tt.chunks {
				appendFile(t, p, c)
				all = append(all, c...)
				h.waitContents(all)
			}
			s := h.streamByPath(p)
			var n int64
			for _, pc := range s.Pieces() {
				n += pc.Lines
				if pc.End != pc.Start+int64(len(pc.Data)) || (len(pc.Data) > 0 && pc.Data[len(pc.Data)-1] != '\n') {
					t.Errorf("piece [%d,%d) is not line aligned", pc.Start, pc.End)
				}
			}
			if want := int64(bytes.Count(all, []byte{'\n'})); n != want {
				t.Errorf("lines = %d, want %d", n, want)
			}
		})
	}
}

func TestLongLine(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "big.log")
	cfg := testConfig(t, p)
	cfg.MaxLineBytes = 1 << 20
	cfg.ReadBufferBytes = 64 << 10
	h := start(t, cfg)
	big := bytes.Repeat([]byte("0123456789abcdef\x00\xff"), 20<<20/18) // ~20 MB, no newline
	appendFile(t, p, big)
	h.waitContents(big) // the end comes as a partial line after idle
	for _, pc := range h.streamByPath(p).Pieces() {
		if len(pc.Data) > 1<<20 {
			t.Fatalf("piece of %d bytes exceeds max_line_bytes", len(pc.Data))
		}
	}
	if got := h.delta(h.src.m.linesSplit); got != 1 {
		t.Errorf("lines split = %d, want 1", got)
	}
	rest := []byte("end of the long line\nnext line\n")
	appendFile(t, p, rest)
	h.waitContents(append(bytes.Clone(big), rest...))
	// A line just under the limit stays whole.
	under := append(bytes.Repeat([]byte("u"), 1<<20-1), '\n')
	appendFile(t, p, under)
	h.waitContents(append(append(bytes.Clone(big), rest...), under...))
	pcs := h.streamByPath(p).Pieces()
	if last := pcs[len(pcs)-1]; !bytes.Equal(last.Data, under) {
		t.Errorf("line of max_line_bytes was cut: last piece has %d bytes", len(last.Data))
	}
}

func TestPartialLine(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.log")
	h := start(t, testConfig(t, p))
	appendFile(t, p, []byte("first\nsecond-half"))
	h.waitContents([]byte("first\nsecond-half")) // shipped after partial_line_after
	appendFile(t, p, []byte("-completed\nthird\n"))
	h.waitContents([]byte("first\nsecond-half-completed\nthird\n"))
	var got []string
	for _, pc := range h.streamByPath(p).Pieces() {
		got = append(got, string(pc.Data))
	}
	want := []string{"first\n", "second-half", "-completed\nthird\n"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("pieces = %q, want %q", got, want)
	}
	if n := h.delta(h.src.m.partialLines); n != 1 {
		t.Errorf("partial lines = %d, want 1", n)
	}
}

func TestGlobsAndExcludes(t *testing.T) {
	dir := t.TempDir()
	files := map[string]bool{ // path → shipped
		"app.log":                  true,
		"a/b/c/deep.log":           true,
		"a/x.log":                  true,
		"a/old/skip.log":           false, // excluded by full path
		"a/b/trace.log.gz":         false, // not *.log
		"a/b/app.debug.log":        false, // excluded by base name
		"other/elsewhere.txt":      false,
		"a/b/c/d/e/f/g/deeper.log": true,
	}
	var want [][]byte
	for name, ship := range files {
		c := []byte("content of " + name + "\n")
		writeFile(t, filepath.Join(dir, name), c)
		if ship {
			want = append(want, c)
		}
	}
	cfg := testConfig(t, filepath.Join(dir, "**", "*.log"))
	cfg.Exclude = []string{"*.debug.log", filepath.Join(dir, "a/old/**")}
	h := start(t, cfg)
	h.waitContents(want...)
	// Files and folders appearing later are picked up.
	later := filepath.Join(dir, "new/folder/later.log")
	writeFile(t, later, []byte("later\n"))
	writeFile(t, filepath.Join(dir, "a/old/later.log"), []byte("excluded\n"))
	h.waitContents(append(want, []byte("later\n"))...)
}

func TestReadFromEnd(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.log")
	partial := filepath.Join(dir, "partial.log")
	writeFile(t, old, lines("old", 0, 100))
	writeFile(t, partial, []byte("complete\nunfinished"))
	empty := filepath.Join(dir, "empty.log")
	writeFile(t, empty, nil)
	cfg := testConfig(t, filepath.Join(dir, "*.log"))
	cfg.ReadFrom = "end"
	src, logs := newSource(t, cfg)
	em := pipelinetest.New()
	h := run(t, src, logs, em)
	h.waitScans(3)
	appendFile(t, old, lines("new", 0, 3))
	appendFile(t, partial, []byte(" now\n"))
	appendFile(t, empty, lines("empty", 0, 2)) // written after the first scan: shipped
	later := filepath.Join(dir, "later.log")
	writeFile(t, later, lines("later", 0, 5)) // appears after the first scan: from the beginning
	h.waitContents(lines("new", 0, 3), []byte("unfinished now\n"), lines("empty", 0, 2), lines("later", 0, 5))
	h.stop()

	// A later start: a file unknown to the checkpoints is read from the
	// beginning, known files resume where they were.
	unknown := filepath.Join(dir, "unknown.log")
	writeFile(t, unknown, lines("unknown", 0, 4))
	appendFile(t, old, lines("new", 3, 2))
	src2, logs2 := newSource(t, cfg)
	h2 := run(t, src2, logs2, em.Restart())
	h2.waitContents(lines("new", 3, 2), lines("unknown", 0, 4))
	h2.waitScans(3)
	h2.waitContents(lines("new", 3, 2), lines("unknown", 0, 4)) // nothing shipped again
}

// gate is an openFile for tests: it can refuse opens and hold reads.
type gate struct {
	mu       sync.Mutex
	denied   map[string]bool
	holdData atomic.Bool // reads bigger than a head read return nothing
	headMax  int
}

func (g *gate) open(name string) (handle, error) {
	g.mu.Lock()
	denied := g.denied[name]
	g.mu.Unlock()
	if denied {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return &gatedFile{File: f, g: g}, nil
}

func (g *gate) deny(name string, on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.denied == nil {
		g.denied = map[string]bool{}
	}
	g.denied[name] = on
}

type gatedFile struct {
	*os.File
	g *gate
}

func (f *gatedFile) ReadAt(b []byte, off int64) (int, error) {
	if f.g.holdData.Load() && len(b) > f.g.headMax {
		return 0, nil
	}
	return f.File.ReadAt(b, off)
}

func TestUnreadableFile(t *testing.T) {
	dir := t.TempDir()
	locked := filepath.Join(dir, "locked.log")
	open := filepath.Join(dir, "open.log")
	writeFile(t, locked, lines("locked", 0, 10))
	writeFile(t, open, lines("open", 0, 10))
	cfg := testConfig(t, filepath.Join(dir, "*.log"))
	cfg.ReadFrom = "end" // a file unreadable at the first start is still shipped from the beginning
	src, logs := newSource(t, cfg)
	g := &gate{headMax: 1024}
	g.deny(locked, true)
	src.openFile = g.open
	h := run(t, src, logs, pipelinetest.New())
	h.waitScans(10)
	appendFile(t, open, lines("open", 10, 5))
	h.waitContents(lines("open", 10, 5)) // the others keep flowing
	if n := logs.count("cannot open file", locked, "permission denied"); n != 1 {
		t.Errorf("%d error logs for the unreadable file, want 1:\n%s", n, logs)
	}
	g.deny(locked, false)
	h.waitContents(lines("open", 10, 5), lines("locked", 0, 10))
}

func TestUnreadableFileChmod(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores file permissions (TestUnreadableFile covers this with an injected open)")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "locked.log")
	writeFile(t, p, lines("locked", 0, 10))
	if err := os.Chmod(p, 0); err != nil {
		t.Fatal(err)
	}
	h := start(t, testConfig(t, filepath.Join(dir, "*.log")))
	h.waitScans(5)
	if n := h.logs.count("cannot open file", p); n != 1 {
		t.Errorf("%d error logs, want 1", n)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	h.waitContents(lines("locked", 0, 10))
}

func TestDirectoryInPaths(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "folder.log"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "app.log")
	writeFile(t, p, lines("a", 0, 10))
	h := start(t, testConfig(t, filepath.Join(dir, "*.log")))
	h.waitContents(lines("a", 0, 10))
	// The file is replaced by a folder: its stream ends, nothing stops.
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.log")
	writeFile(t, other, lines("o", 0, 3))
	h.waitContents(lines("a", 0, 10), lines("o", 0, 3))
	if !h.em.Wait(waitFor, func() bool { return h.streamByPath(p).Closed() }) {
		t.Error("stream of the replaced file not closed")
	}
	h.waitScans(3)
	for _, name := range []string{"folder.log", "app.log"} {
		if n := h.logs.count("is a folder; skipped", filepath.Join(dir, name)); n != 1 {
			t.Errorf("%s: %d logs, want 1", name, n)
		}
	}
}

func TestBackpressure(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.log")
	h := start(t, testConfig(t, p))
	appendFile(t, p, lines("before", 0, 10))
	h.waitContents(lines("before", 0, 10))
	h.em.SetBlock(true)
	more := lines("blocked", 0, 20000) // ~1.3 MB
	appendFile(t, p, more)
	if !h.em.Wait(waitFor, func() bool { return h.em.Blocked() == 1 }) {
		t.Fatal("the source never wrote while blocked")
	}
	if got, _ := h.contents(); len(got) != 1 || len(got[0]) != len(lines("before", 0, 10)) {
		t.Fatalf("data recorded while blocked")
	}
	h.em.SetBlock(false)
	h.waitContents(append(lines("before", 0, 10), more...))

	// Cancel while blocked: Run returns promptly (checked by stop).
	h.em.SetBlock(true)
	appendFile(t, p, lines("late", 0, 100))
	if !h.em.Wait(waitFor, func() bool { return h.em.Blocked() == 1 }) {
		t.Fatal("the source never wrote while blocked")
	}
	h.stop()
}

func TestOpenFilesCap(t *testing.T) {
	dir := t.TempDir()
	var want [][]byte
	for i := range 7 {
		c := lines("f"+string(rune('a'+i)), 0, 20)
		writeFile(t, filepath.Join(dir, "f"+string(rune('a'+i))+".log"), c)
		want = append(want, c)
	}
	cfg := testConfig(t, filepath.Join(dir, "*.log"))
	cfg.MaxOpenFiles = 2
	h := start(t, cfg)
	h.waitContents(want...)
	// Growth of a parked file is still shipped.
	extra := lines("fa", 20, 5)
	appendFile(t, filepath.Join(dir, "fa.log"), extra)
	want[0] = append(want[0], extra...)
	h.waitContents(want...)
	if peak := h.src.peakOpen.Load(); peak > 2 {
		t.Errorf("peak open files %d > max_open_files 2", peak)
	}
	if n := h.logs.count("open files limit reached"); n < 1 {
		t.Errorf("cap never logged")
	}
}

func TestRunStopsPromptly(t *testing.T) {
	dir := t.TempDir()
	h := start(t, testConfig(t, filepath.Join(dir, "*.log")))
	h.waitScans(2)
	begin := time.Now()
	h.stop()
	if d := time.Since(begin); d > time.Second {
		t.Errorf("stop took %v", d)
	}
}
