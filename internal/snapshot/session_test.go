package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/logship/logship/internal/schema"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// bundle is a decoded bundle: its files in order.
type bundle struct {
	names []string
	files map[string][]byte
	raw   []byte // the decompressed tar
}

func readBundle(t testing.TB, b []byte) bundle {
	t.Helper()
	zr, err := zstd.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("decompressing the bundle: %v", err)
	}
	out := bundle{files: map[string][]byte{}, raw: raw}
	tr := tar.NewReader(bytes.NewReader(raw))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading the tar: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out.names = append(out.names, h.Name)
		out.files[h.Name] = data
	}
	return out
}

func (b bundle) manifest(t testing.TB) Manifest {
	t.Helper()
	var m Manifest
	if err := json.Unmarshal(b.files["manifest.json"], &m); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	return m
}

func (m Manifest) collector(name string) (CollectorResult, bool) {
	for _, c := range m.Collectors {
		if c.Name == name {
			return c, true
		}
	}
	return CollectorResult{}, false
}

func takeBundle(t testing.TB, o Options, req Request) (bundle, *Manifest) {
	t.Helper()
	tk, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	m, err := tk.Write(context.Background(), req, &buf)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return readBundle(t, buf.Bytes()), m
}

// TestManifestListsEveryCollector takes a real bundle of this machine:
// the manifest comes first and names every standard collector, and every
// file a collector reports is in the bundle.
func TestManifestListsEveryCollector(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	os.WriteFile(log, []byte("line one\nline two\n"), 0o644)
	b, m := takeBundle(t, Options{App: "a", Host: "h", Logs: []Globs{{Paths: []string{filepath.Join(dir, "*.log")}}},
		Crash: []Globs{{Paths: []string{filepath.Join(dir, "hs_err_pid*.log")}}}, Jcmd: "-"}, Request{Note: "n"})
	if b.names[0] != "manifest.json" {
		t.Fatalf("first file %q, want manifest.json", b.names[0])
	}
	got := b.manifest(t)
	var want []string
	for _, c := range Standard() {
		want = append(want, c.Name)
	}
	slices.Sort(want)
	if names := got.Names(); !slices.Equal(names, want) {
		t.Fatalf("manifest collectors %v, want %v", names, want)
	}
	if got.Version != 1 || got.Trigger != TriggerManual || got.Note != "n" || got.App != "a" || got.ID != m.ID {
		t.Errorf("manifest header: %+v", got)
	}
	for _, c := range got.Collectors {
		if c.Status == "" {
			t.Errorf("collector %s has no status", c.Name)
		}
		for _, f := range c.Files {
			if _, ok := b.files[f]; !ok {
				t.Errorf("collector %s lists %s, not in the bundle", c.Name, f)
			}
		}
	}
	ps, _ := got.collector("ps")
	if ps.Status != StatusOK || !bytes.Contains(b.files["ps.txt"], []byte(" PPID ")) {
		t.Errorf("ps: %+v\n%s", ps, b.files["ps.txt"])
	}
	if got.Facts.Processes == nil || *got.Facts.Processes < 1 {
		t.Errorf("facts.processes unset: %+v", got.Facts)
	}
	tail := b.files["logs"+log]
	if string(tail) != "line one\nline two\n" {
		t.Errorf("log tail %q", tail)
	}
}

// TestCollectorLimits: a collector that hangs (ignoring its context) is cut
// off at its limit, one that fails or panics is recorded, and the bundle is
// still complete: the collectors after them ran and their files are there.
func TestCollectorLimits(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	cs := []Collector{
		{Name: "hangs", Run: func(ctx context.Context, s *Session, out *Out) error {
			fmt.Fprintln(out.Create("hang.txt"), "started")
			<-release // ignores ctx: only the limit can stop waiting for it
			return nil
		}},
		{Name: "fails", Run: func(ctx context.Context, s *Session, out *Out) error {
			fmt.Fprintln(out.Create("partial.txt"), "what it had")
			return errors.New("cannot read /proc/nothing")
		}},
		{Name: "panics", Run: func(ctx context.Context, s *Session, out *Out) error { panic("boom") }},
		{Name: "works", Run: func(ctx context.Context, s *Session, out *Out) error {
			fmt.Fprintln(out.Create("works.txt"), "fine")
			return nil
		}},
	}
	began := time.Now()
	b, _ := takeBundle(t, Options{App: "a", Host: "h", Collectors: cs, Config: Config{Timeout: schema.Duration(300 * time.Millisecond)}}, Request{})
	if d := time.Since(began); d > 10*time.Second {
		t.Fatalf("took %s: the hanging collector was not cut off", d)
	}
	m := b.manifest(t)
	want := map[string]string{"hangs": StatusTimeout, "fails": StatusError, "panics": StatusError, "works": StatusOK}
	for name, st := range want {
		c, ok := m.collector(name)
		if !ok || c.Status != st {
			t.Errorf("collector %s: %+v, want status %s", name, c, st)
		}
	}
	if c, _ := m.collector("fails"); !strings.Contains(c.Error, "/proc/nothing") {
		t.Errorf("error not recorded: %+v", c)
	}
	if c, _ := m.collector("hangs"); !strings.Contains(c.Error, "cut off") {
		t.Errorf("timeout not explained: %+v", c)
	}
	if _, ok := b.files["hang.txt"]; ok {
		t.Error("the hung collector's output is in the bundle")
	}
	if string(b.files["works.txt"]) != "fine\n" || string(b.files["partial.txt"]) != "what it had\n" {
		t.Errorf("files: %v", b.names)
	}
}

// TestTextBudget: a collector that writes more than its budget is cut at
// the budget, with a note, and does not take the bundle down.
func TestTextBudget(t *testing.T) {
	cs := []Collector{{Name: "flood", Run: func(ctx context.Context, s *Session, out *Out) error {
		w := out.Create("flood.txt")
		line := bytes.Repeat([]byte("x"), 1023)
		line = append(line, '\n')
		for range (maxTextBytes >> 10) + 100 {
			w.Write(line)
		}
		return nil
	}}}
	b, _ := takeBundle(t, Options{App: "a", Host: "h", Collectors: cs}, Request{})
	f := b.files["flood.txt"]
	if len(f) > maxTextBytes+200 || !bytes.Contains(f, []byte("output truncated")) {
		t.Fatalf("flood.txt: %d bytes, truncation noted: %v", len(f), bytes.Contains(f, []byte("output truncated")))
	}
}
