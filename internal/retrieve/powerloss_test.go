package retrieve

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// reboot makes the state's boot a past one, as a power loss and a reboot
// would: pull then trusts nothing it wrote without fsync.
func reboot(t *testing.T) {
	prev := currentBoot
	currentBoot = func() string { return "the boot after the power loss" }
	t.Cleanup(func() { currentBoot = prev })
}

func readState(t *testing.T, out string) *state {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	st := newState()
	if err := json.Unmarshal(b, st); err != nil {
		t.Fatal(err)
	}
	return st
}

// damage changes a file behind the state's back.
func damage(t *testing.T, path string, fn func(b []byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, fn(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A power loss takes from files written without fsync whatever the page
// cache had not written back: a tail, pages turned to zeros, a whole
// file. After the reboot, a re-run reads every segment back, checks its
// CRC-32C (the chunk's, or the segment's own when an overlap was trimmed
// off), fetches again exactly the segments that do not match, and puts
// byte-identical files in place.
func TestPullResumeAfterPowerLoss(t *testing.T) {
	dir := t.TempDir()
	fx := buildFixture(t, filepath.Join(dir, "archive"))
	a := openDir(t, fx.root)
	out := filepath.Join(dir, "out")
	if sum, err := Pull(context.Background(), a, Options{Out: out}); err != nil || len(sum.Problems) > 0 {
		t.Fatalf("%v\n%s", err, problemsText(sum.Problems))
	}
	st := readState(t, out)
	var names []string
	for name, fs := range st.Files {
		if fs.Final.Boot == "" || fs.Final.Boot != currentBoot() {
			t.Fatalf("%s: boot %q recorded, want this boot's %q (written without fsync)", name, fs.Final.Boot, currentBoot())
		}
		if len(fs.Final.Segments) >= 4 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	if len(names) < 4 {
		t.Fatalf("%d files of 4 segments or more, want 4", len(names))
	}
	lost := map[string]bool{} // keys that must be fetched again
	path := func(name string) string { return filepath.Join(out, filepath.FromSlash(name)) }

	// The tail from the middle of the second segment on.
	segs := st.Files[names[0]].Final.Segments
	damage(t, path(names[0]), func(b []byte) []byte { return b[:segs[1].Off+segs[1].Len/2] })
	for _, sg := range segs[1:] {
		lost[sg.Key] = true
	}
	// A page of zeros in the third segment.
	segs = st.Files[names[1]].Final.Segments
	damage(t, path(names[1]), func(b []byte) []byte {
		clear(b[segs[2].Off : segs[2].Off+min(segs[2].Len, 4096)])
		return b
	})
	lost[segs[2].Key] = true
	// One byte of a segment that holds part of its chunk (an overlap
	// trimmed), in whichever file has one.
	trimmed := false
	for _, name := range names[2:] {
		for _, sg := range st.Files[name].Final.Segments {
			if sg.Skip > 0 && sg.Len > 0 && !trimmed {
				if sg.CRC == "" {
					t.Fatalf("%s: segment %s skips %d and has no CRC of its own", name, sg.Key, sg.Skip)
				}
				damage(t, path(name), func(b []byte) []byte { b[sg.Off+sg.Len-1] ^= 0x20; return b })
				lost[sg.Key], trimmed = true, true
			}
		}
	}
	if !trimmed {
		t.Fatal("no trimmed segment in the fixture")
	}
	// A whole file (its rename never reached the disk).
	if err := os.Remove(path(names[3])); err != nil {
		t.Fatal(err)
	}
	for _, sg := range st.Files[names[3]].Final.Segments {
		lost[sg.Key] = true
	}

	reboot(t)
	ca := newCounting(a)
	sum, err := Pull(context.Background(), ca, Options{Out: out})
	if err != nil || len(sum.Problems) > 0 {
		t.Fatalf("%v\n%s", err, problemsText(sum.Problems))
	}
	compareTrees(t, readTree(t, out), fx.want)
	for k := range lost {
		if ca.gets[k] != 1 {
			t.Errorf("lost %s fetched %d times, want once", k, ca.gets[k])
		}
	}
	for k, n := range ca.gets {
		if !lost[k] {
			t.Errorf("%s fetched %d times, but it was intact", k, n)
		}
	}
	// Files read back whole after the reboot are on the disk: the state
	// says so, and the next run after another reboot does not fetch.
	for name, fs := range readState(t, out).Files {
		rewritten := name == names[0] || name == names[1] || name == names[3]
		if got := fs.Final.Boot; rewritten != (got != "") {
			t.Errorf("%s: boot %q recorded after the check", name, got)
		}
	}
}

// A partial file (an interrupted pull) loses bytes too: the re-run after
// a reboot copies what matches its CRC and fetches the rest.
func TestPullResumePartialAfterPowerLoss(t *testing.T) {
	fx, a, out := interrupted(t, func(t testing.TB, root string) Store { return openDir(t, root) }, func(_ *fixture, st *state) bool {
		return slices.ContainsFunc(slices.Collect(maps.Values(st.Files)), func(fs *fileState) bool { return fs.Partial != nil && len(fs.Partial.Segments) >= 2 })
	})
	st := readState(t, out)
	applied, damaged := 0, ""
	for _, fs := range st.Files {
		if fs.Final != nil {
			applied += len(fs.Final.Segments)
		}
		if v := fs.Partial; v != nil {
			applied += len(v.Segments)
			if len(v.Segments) >= 2 && damaged == "" {
				sg := v.Segments[0]
				damage(t, filepath.Join(out, partialDir, v.Name), func(b []byte) []byte { b[sg.Off] ^= 1; return b })
				damaged = sg.Key
			}
		}
	}
	if damaged == "" {
		t.Fatal("no partial file of 2 segments or more: the test does not interrupt in the middle of a file")
	}

	reboot(t)
	ca := newCounting(a)
	sum, err := Pull(context.Background(), ca, Options{Out: out, Parallel: 3})
	if err != nil || len(sum.Problems) > 0 {
		t.Fatalf("%v\n%s", err, problemsText(sum.Problems))
	}
	compareTrees(t, readTree(t, out), fx.want)
	if n := int(ca.total.Load()); n != len(fx.keys)-applied+1 || ca.gets[damaged] != 1 {
		t.Errorf("re-run made %d gets (%d of the damaged segment), want %d: the %d not applied and the damaged one",
			n, ca.gets[damaged], len(fx.keys)-applied+1, len(fx.keys)-applied)
	}
}

// With Fsync every file is on the disk when it is put in place: the state
// records no boot, and nothing is read back after a reboot.
func TestPullFsync(t *testing.T) {
	dir := t.TempDir()
	fx := buildPlain(t, filepath.Join(dir, "archive"))
	out := filepath.Join(dir, "out")
	if sum, err := Pull(context.Background(), openDir(t, fx.root), Options{Out: out, Fsync: true}); err != nil || len(sum.Problems) > 0 {
		t.Fatalf("%v\n%s", err, problemsText(sum.Problems))
	}
	for name, fs := range readState(t, out).Files {
		if fs.Final.Boot != "" {
			t.Errorf("%s: boot %q recorded, but it was fsynced", name, fs.Final.Boot)
		}
	}
	reboot(t)
	ca := newCounting(openDir(t, fx.root))
	sum, err := Pull(context.Background(), ca, Options{Out: out})
	if err != nil || len(sum.Problems) > 0 || ca.total.Load() != 0 || sum.UpToDate != len(fx.want) {
		t.Fatalf("after a reboot: %v, %d gets, %+v", err, ca.total.Load(), sum)
	}
	compareTrees(t, readTree(t, out), fx.want)
}

// A pull without fsync saves its state without fsync too, so a power loss
// may leave the state as last saved durably. That state must not trust as
// fsynced a file the run replaced: the run marks such files with its boot
// first, in its one durable save, and the re-run after the reboot reads
// them back and fetches what they lost.
func TestPullStaleStateAfterPowerLoss(t *testing.T) {
	dir := t.TempDir()
	fx := buildPlain(t, filepath.Join(dir, "archive"))
	out := filepath.Join(dir, "out")
	var durable [][]byte
	stateDurable = func(b []byte) { durable = append(durable, slices.Clone(b)) }
	t.Cleanup(func() { stateDurable = nil })

	// Run 1, with fsync, cannot fetch some objects: files with gaps,
	// trusted as fsynced.
	ca, _ := failingEvery(openDir(t, fx.root), fx.keys, 5, 2)
	if _, err := Pull(context.Background(), ca, Options{Out: out, Fsync: true}); err != nil {
		t.Fatal(err)
	}
	var gapped []string
	for name, b := range readTree(t, out) {
		if !bytes.Equal(b, fx.want[name]) {
			gapped = append(gapped, name)
		}
	}
	if len(gapped) == 0 {
		t.Fatal("run 1 left no file with a gap")
	}

	// Run 2, without fsync, fills the gaps: one durable save, before it
	// replaces any file.
	run1 := len(durable)
	if sum, err := Pull(context.Background(), openDir(t, fx.root), Options{Out: out}); err != nil || len(sum.Problems) > 0 {
		t.Fatalf("%v\n%s", err, problemsText(sum.Problems))
	}
	compareTrees(t, readTree(t, out), fx.want)
	if n := len(durable) - run1; n != 1 {
		t.Errorf("run 2 saved its state durably %d times, want once (before replacing files trusted as fsynced)", n)
	}

	// The power loss: the state as last saved durably, and the files run
	// 2 wrote cut to the size that state records (their new size never
	// reached the disk): what they hold is not what it says.
	last := durable[len(durable)-1]
	if err := os.WriteFile(filepath.Join(out, stateFile), last, 0o644); err != nil {
		t.Fatal(err)
	}
	st := readState(t, out)
	for _, name := range gapped {
		damage(t, filepath.Join(out, filepath.FromSlash(name)), func(b []byte) []byte { return b[:st.Files[name].Final.Size] })
	}
	reboot(t)
	if sum, err := Pull(context.Background(), openDir(t, fx.root), Options{Out: out}); err != nil || len(sum.Problems) > 0 {
		t.Fatalf("%v\n%s", err, problemsText(sum.Problems))
	}
	compareTrees(t, readTree(t, out), fx.want)
}
