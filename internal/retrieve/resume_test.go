package retrieve

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// buildPlain writes the standard streams without duplicates, so that the
// plan is the same whichever objects fail.
func buildPlain(t testing.TB, root string) *fixture {
	b := newBuilder(t, root, 11)
	fx := &fixture{root: root, want: map[string][]byte{}}
	for _, s := range standardSpecs() {
		b.stream(s, max(1, s.lines/15), 0)
		fx.want[outName(s)] = append(fx.want[outName(s)], s.content()...)
	}
	fx.keys = b.keys
	return fx
}

// failingEvery wraps a with a counting archive whose gets of the keys i
// with i%n == r fail; it returns it with those keys.
func failingEvery(a Store, keys []string, n, r int) (*countingArchive, map[string]bool) {
	failed := map[string]bool{}
	for i, k := range keys {
		if i%n == r {
			failed[k] = true
		}
	}
	ca := newCounting(a)
	ca.fail = func(key string) error {
		if failed[key] {
			return errors.New("connection reset by peer")
		}
		return nil
	}
	return ca, failed
}

// Objects that could not be fetched are reported; the re-run fetches
// exactly those and nothing else.
func TestPullResumeAfterFailures(t *testing.T) {
	dir := t.TempDir()
	fx := buildPlain(t, filepath.Join(dir, "archive"))
	out := filepath.Join(dir, "out")
	ca, failed := failingEvery(openDir(t, fx.root), fx.keys, 7, 3)
	sum, err := Pull(context.Background(), ca, Options{Out: out, Parallel: 4})
	if err != nil {
		t.Fatal(err)
	}
	if got := sum.Count(KindFetch); got != len(failed) {
		t.Fatalf("%d fetch problems, want %d:\n%s", got, len(failed), problemsText(sum.Problems))
	}

	ca = newCounting(openDir(t, fx.root))
	sum, err = Pull(context.Background(), ca, Options{Out: out, Parallel: 4})
	if err != nil || len(sum.Problems) > 0 {
		t.Fatalf("%v\n%s", err, problemsText(sum.Problems))
	}
	compareTrees(t, readTree(t, out), fx.want)
	for k, n := range ca.gets {
		if !failed[k] || n != 1 {
			t.Errorf("re-run got %s %d times", k, n)
		}
	}
	if len(ca.gets) != len(failed) {
		t.Errorf("re-run fetched %d objects, want the %d that failed", len(ca.gets), len(failed))
	}

	// A third run has nothing to do.
	ca = newCounting(openDir(t, fx.root))
	sum, err = Pull(context.Background(), ca, Options{Out: out})
	if err != nil || len(sum.Problems) > 0 || ca.total.Load() != 0 || sum.UpToDate != len(fx.want) {
		t.Fatalf("third run: %v, %d gets, %+v", err, ca.total.Load(), sum)
	}
}

// An interrupted pull leaves no half-written file under its final name; the
// re-run fetches only what was not yet applied.
func TestPullResumeAfterInterrupt(t *testing.T) {
	testResumeAfterInterrupt(t, func(t testing.TB, root string) Store { return openDir(t, root) })
}

// testResumeAfterInterrupt runs the interrupted pull on the archive open
// makes of a folder archive.
func testResumeAfterInterrupt(t *testing.T, open func(t testing.TB, root string) Store) {
	fx, a, out := interrupted(t, open, func(fx *fixture, st *state) bool {
		n := appliedSegments(st)
		return n > 0 && n < len(fx.keys)
	})
	// What the state says was applied (in place or in a partial file).
	b, err := os.ReadFile(filepath.Join(out, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	applied, partials := 0, 0
	got := readTree(t, out)
	for name, fs := range st.Files {
		if fs.Final != nil {
			applied += len(fs.Final.Segments)
			if !bytesEqual(got[name], fx.want[name]) {
				t.Errorf("%s is in place but not complete", name)
			}
		}
		if fs.Partial != nil {
			partials++
			applied += len(fs.Partial.Segments)
			if fs.Final == nil {
				if _, ok := got[name]; ok {
					t.Errorf("%s is being written but already under its final name", name)
				}
			}
		}
	}
	if applied == 0 || applied >= len(fx.keys) {
		t.Fatalf("interrupted after %d of %d objects applied: test does not interrupt in the middle", applied, len(fx.keys))
	}
	t.Logf("interrupted with %d objects applied, %d partial files", applied, partials)

	ca := newCounting(a)
	sum, err := Pull(context.Background(), ca, Options{Out: out, Parallel: 3})
	if err != nil || len(sum.Problems) > 0 {
		t.Fatalf("%v\n%s", err, problemsText(sum.Problems))
	}
	compareTrees(t, readTree(t, out), fx.want)
	if n := int(ca.total.Load()); n != len(fx.keys)-applied {
		t.Errorf("re-run made %d gets, want %d (%d objects, %d applied)", n, len(fx.keys)-applied, len(fx.keys), applied)
	}
	for k, n := range ca.gets {
		if n != 1 {
			t.Errorf("%s fetched %d times", k, n)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(out, partialDir))
	if len(ents) != 0 {
		t.Errorf("partial files left: %v", ents)
	}
}

// interrupted builds the plain fixture in a folder archive, opens it with
// open and pulls it into out, cancelled when half of its objects have
// been asked for. Where the cancel falls among the writes depends on the
// scheduling: it tries again (up to 20 times) until the state it leaves
// satisfies want.
func interrupted(t *testing.T, open func(t testing.TB, root string) Store, want func(*fixture, *state) bool) (fx *fixture, a Store, out string) {
	for range 20 {
		dir := t.TempDir()
		fx = buildPlain(t, filepath.Join(dir, "archive"))
		a = open(t, fx.root)
		out = filepath.Join(dir, "out")
		ctx, cancel := context.WithCancel(context.Background())
		ca := newCounting(a)
		ca.after, ca.cancel = int64(len(fx.keys)/2), cancel
		_, err := Pull(ctx, ca, Options{Out: out, Parallel: 3})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted pull returned %v", err)
		}
		if want(fx, readState(t, out)) {
			break
		}
	}
	return fx, a, out
}

// appliedSegments is the number of segments the state records.
func appliedSegments(st *state) int {
	n := 0
	for _, fs := range st.Files {
		for _, v := range []*version{fs.Final, fs.Partial} {
			if v != nil {
				n += len(v.Segments)
			}
		}
	}
	return n
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

// New data in the archive (the agent kept writing) is appended on the next
// pull; what was there is copied, not fetched.
func TestPullIncremental(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "archive")
	s := standardSpecs()[0]
	content := s.content()
	rs := s.ranges(content, 20)
	b := newBuilder(t, root, 5)
	for _, r := range rs[:12] {
		b.chunk(s, content, r, "")
	}
	out := filepath.Join(dir, "out")
	if sum, err := Pull(context.Background(), openDir(t, root), Options{Out: out}); err != nil || len(sum.Problems) > 0 {
		t.Fatalf("%v %+v", err, sum)
	}
	for _, r := range rs[12:] {
		b.chunk(s, content, r, "")
	}
	ca := newCounting(openDir(t, root))
	sum, err := Pull(context.Background(), ca, Options{Out: out})
	if err != nil || len(sum.Problems) > 0 {
		t.Fatalf("%v %+v", err, sum)
	}
	compareTrees(t, readTree(t, out), map[string][]byte{outName(s): content})
	if n := int(ca.total.Load()); n != 8 {
		t.Errorf("second pull made %d gets, want the 8 new objects", n)
	}
	if sum.Reused != int64(rs[11].to) {
		t.Errorf("reused %d bytes, want %d", sum.Reused, rs[11].to)
	}
	if strings.Contains(problemsText(sum.Problems), "gap") {
		t.Error("gap reported")
	}
}
