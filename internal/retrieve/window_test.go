package retrieve

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/archive"
)

// windowWant is what a window selects from the plain fixture: per output
// file, the chunks whose ingest span overlaps [since, until].
func windowWant(f Filter) map[string][]byte {
	want := map[string][]byte{}
	for _, s := range standardSpecs() {
		if !f.matchKey(s.app, s.host, s.source) || !f.matchPath(s.path) {
			continue
		}
		content := s.content()
		for _, r := range s.ranges(content, max(1, s.lines/15)) {
			if f.inWindow(r.first, r.first.Add(s.every/2)) {
				want[outName(s)] = append(want[outName(s)], content[r.from:r.to]...)
			}
		}
	}
	return want
}

func TestPullWindow(t *testing.T) {
	dir := t.TempDir()
	fx := buildPlain(t, filepath.Join(dir, "archive"))
	a := openDir(t, fx.root)
	for _, tc := range []struct {
		name string
		f    Filter
	}{
		{"middle", Filter{Since: base.Add(60 * time.Minute), Until: base.Add(110 * time.Minute)}},
		{"since only", Filter{Since: base.Add(95 * time.Minute)}},
		{"until only", Filter{Until: base.Add(25 * time.Minute)}},
		{"on the hour", Filter{Since: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), Until: time.Date(2026, 11, 26, 11, 0, 0, 0, time.UTC)}},
		{"app host path", Filter{App: "order-*", Host: "host-1", Path: "app.log", Since: base.Add(30 * time.Minute)}},
		{"path glob", Filter{Path: "/home/**/*.log"}},
		{"source", Filter{Source: "kmsg"}},
		{"nothing", Filter{Since: base.Add(48 * time.Hour)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			sum, err := Pull(context.Background(), a, Options{Out: out, Filter: tc.f})
			if err != nil || len(sum.Problems) > 0 {
				t.Fatalf("%v\n%s", err, problemsText(sum.Problems))
			}
			compareTrees(t, readTree(t, out), windowWant(tc.f))
		})
	}
}

// A window lists only the hour partitions it needs: from the hour before
// --since to the hour of --until.
func TestLsListsOnlyNeededPartitions(t *testing.T) {
	fx := buildPlain(t, filepath.Join(t.TempDir(), "archive"))
	f := Filter{Since: time.Date(2026, 11, 26, 10, 40, 0, 0, time.UTC), Until: time.Date(2026, 11, 26, 11, 30, 0, 0, time.UTC)}
	l, err := List(context.Background(), openDir(t, fx.root), f, 4)
	if err != nil {
		t.Fatal(err)
	}
	hours := map[string]bool{}
	for _, p := range l.Prefixes {
		m := regexp.MustCompile(`^app=[^/]+/dt=2026-11-26/hour=(\d\d)/$`).FindStringSubmatch(p)
		if m == nil {
			t.Fatalf("listed %q, not an hour partition", p)
		}
		hours[m[1]] = true
	}
	if !hours["09"] || !hours["10"] || !hours["11"] || hours["12"] || len(hours) != 3 {
		t.Errorf("listed hours %v, want 09, 10, 11", hours)
	}
	// Without a window everything is listed at once.
	l, err = List(context.Background(), openDir(t, fx.root), Filter{}, 4)
	if err != nil || len(l.Prefixes) != 1 || l.Prefixes[0] != "" {
		t.Errorf("unwindowed listing: %v %q", err, l.Prefixes)
	}
}

func TestLs(t *testing.T) {
	fx := buildFixture(t, filepath.Join(t.TempDir(), "archive"))
	l, err := List(context.Background(), openDir(t, fx.root), Filter{}, 4)
	if err != nil || len(l.Problems) > 0 {
		t.Fatalf("%v %v", err, l.Problems)
	}
	if len(l.Files) != len(fx.want) {
		t.Fatalf("%d files, want %d", len(l.Files), len(fx.want))
	}
	byName := map[string]FileEntry{}
	for _, f := range l.Files {
		byName[f.App+"/"+f.Host+"/"+f.Source+"/"+strings.TrimPrefix(f.Path, "/")] = f
	}
	specs := standardSpecs()
	gens := map[string]int{}
	first := map[string]time.Time{}
	for _, s := range specs {
		gens[outName(s)]++
		if first[outName(s)].IsZero() {
			first[outName(s)] = s.start
		}
	}
	for name, want := range fx.want {
		f, ok := byName[name]
		if !ok {
			t.Errorf("%s not listed", name)
			continue
		}
		if f.Raw != int64(len(want)) && f.Source != "kmsg" {
			t.Errorf("%s: raw %d, want %d", name, f.Raw, len(want))
		}
		if f.Generations != gens[name] {
			t.Errorf("%s: %d generations, want %d", name, f.Generations, gens[name])
		}
		// The first step may be a re-read of the first chunk, ingested later.
		if f.First.Before(first[name]) || f.First.After(first[name].Add(5*time.Minute)) || !f.Last.After(f.First) {
			t.Errorf("%s: span %v..%v, want from %v", name, f.First, f.Last, first[name])
		}
		if f.Chunks == 0 || f.Stored == 0 || f.Stored >= f.Raw {
			t.Errorf("%s: %d chunks, %d stored, %d raw", name, f.Chunks, f.Stored, f.Raw)
		}
	}
	if ev := byName["order-service/host-2/kmsg/dev/kmsg"].Events; len(ev) != 1 || ev[0] != archive.EventOOMKill {
		t.Errorf("kmsg events %v", ev)
	}
	if ev := byName["order-service/host-2/crash/home/admin/app/hs_err_pid42.log"].Events; len(ev) != 1 || ev[0] != archive.EventJVMCrash {
		t.Errorf("crash events %v", ev)
	}
	// File streams: only the first and last header of each stream is read.
	if streams := len(specs); l.HeaderReads > int64(4*streams+20) {
		t.Errorf("%d header reads for %d streams", l.HeaderReads, streams)
	}
	if _, err := json.Marshal(l); err != nil {
		t.Fatal(err)
	}
}

func TestCat(t *testing.T) {
	fx := buildFixture(t, filepath.Join(t.TempDir(), "archive"))
	a := openDir(t, fx.root)
	var all bytes.Buffer
	sum, err := Cat(context.Background(), a, &all, CatOptions{})
	if err != nil || len(sum.Problems) > 0 {
		t.Fatalf("%v %v", err, sum.Problems)
	}
	// Files in app, host, source, path order; generations in order.
	var want bytes.Buffer
	for _, n := range []string{
		"billing/host-1/file/var/log/billing/out.log",
		"order-service/host-1/file/home/admin/logs/app.log",
		"order-service/host-1/file/home/admin/logs/gc.log",
		"order-service/host-2/crash/home/admin/app/hs_err_pid42.log",
		"order-service/host-2/file/home/admin/logs/app.log",
		"order-service/host-2/kmsg/dev/kmsg",
	} {
		want.Write(fx.want[n])
	}
	if !bytes.Equal(all.Bytes(), want.Bytes()) {
		t.Fatalf("cat: %d bytes, want %d, first difference at %d", all.Len(), want.Len(), firstDiff(all.Bytes(), want.Bytes()))
	}

	var got bytes.Buffer
	re := regexp.MustCompile(`line 1[0-9] `)
	if _, err := Cat(context.Background(), a, &got, CatOptions{Grep: re, WithName: true, Filter: Filter{Host: "host-1"}, Parallel: 2}); err != nil {
		t.Fatal(err)
	}
	var wantGrep bytes.Buffer
	for _, n := range []string{"order-service/host-1/file/home/admin/logs/app.log", "order-service/host-1/file/home/admin/logs/gc.log"} {
		for _, line := range bytes.SplitAfter(fx.want[n], []byte{'\n'}) {
			if re.Match(line) {
				wantGrep.WriteString(n + ":")
				wantGrep.Write(line)
			}
		}
	}
	for _, line := range bytes.SplitAfter(fx.want["billing/host-1/file/var/log/billing/out.log"], []byte{'\n'}) {
		if re.Match(line) {
			wantGrep.WriteString("billing/host-1/file/var/log/billing/out.log:")
			wantGrep.Write(line)
		}
	}
	// billing sorts first.
	wg := wantGrep.Bytes()
	i := bytes.Index(wg, []byte("billing/"))
	wg = append(append([]byte{}, wg[i:]...), wg[:i]...)
	if !bytes.Equal(got.Bytes(), wg) {
		t.Fatalf("cat --grep: got %d bytes, want %d:\n%.400s", got.Len(), len(wg), got.String())
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{"2h", now.Add(-2 * time.Hour), false},
		{"90m", now.Add(-90 * time.Minute), false},
		{"3d", now.Add(-72 * time.Hour), false},
		{"2026-11-26T10:00:00Z", time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), false},
		{"2026-11-26T10:00:00+08:00", time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC), false},
		{"2026-11-26 10:00", time.Date(2026, 11, 26, 10, 0, 0, 0, time.Local), false},
		{"2026-11-26", time.Date(2026, 11, 26, 0, 0, 0, 0, time.Local), false},
		{"-2h", time.Time{}, true},
		{"yesterday", time.Time{}, true},
		{"30", time.Time{}, true},
	} {
		got, err := ParseTime(tc.in, now)
		if (err != nil) != tc.bad || !tc.bad && !got.Equal(tc.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestMatchPath(t *testing.T) {
	for _, tc := range []struct {
		pat, path string
		want      bool
	}{
		{"*.log", "/home/admin/logs/app.log", true},
		{"app.log", "/home/admin/logs/app.log", true},
		{"gc.log", "/home/admin/logs/app.log", false},
		{"/home/**/*.log", "/home/admin/logs/app.log", true},
		{"/home/**/app.log", "/home/app.log", true},
		{"/home/*/app.log", "/home/admin/logs/app.log", false},
		{"/home/admin/logs/app.log", "/home/admin/logs/app.log", true},
		{"/var/**", "/home/admin/logs/app.log", false},
	} {
		if got := (Filter{Path: tc.pat}).matchPath(tc.path); got != tc.want {
			t.Errorf("%q ~ %q = %v", tc.pat, tc.path, got)
		}
	}
}
