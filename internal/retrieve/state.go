package retrieve

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The resume state lives in OUT/.logship-pull: state.json says which
// chunks (key, stored size, skip) sit where in each output file, so that a
// re-run copies them locally and fetches only the rest; partial/ holds
// output files being rebuilt, renamed into place only once complete.
// Version 2 added the boot of files written without fsync and the CRC of
// segments that hold part of a chunk; a version 1 state (every file
// fsynced) is read as it is.
const (
	stateDir     = ".logship-pull"
	stateFile    = stateDir + "/state.json"
	partialDir   = stateDir + "/partial"
	lockFile     = stateDir + "/lock"
	stateVersion = 2
)

// segment is one chunk's contribution to an output file.
type segment struct {
	Key      string `json:"key"`
	Size     int64  `json:"size"` // stored bytes of the object: a rewritten object does not match
	Skip     int64  `json:"skip"`
	Off      int64  `json:"off"`
	Len      int64  `json:"len"`
	Checksum string `json:"checksum"` // the chunk's, of all its raw bytes
	// CRC is the CRC-32C of the bytes [Off, Off+Len) when they are not
	// the whole chunk (Skip > 0); otherwise they are checked by Checksum.
	CRC   string    `json:"crc,omitempty"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

// crc is what the segment's bytes in the file must sum to.
func (sg *segment) crc() string {
	if sg.Skip > 0 {
		return sg.CRC
	}
	return sg.Checksum
}

// version is one written file: the output in place, or a partial rebuild.
type version struct {
	Name string `json:"name,omitempty"` // partial: file name under partial/
	Size int64  `json:"size"`
	// Boot is the boot the file was written in without fsync ("": it was
	// fsynced, or checked since a reboot). See currentBoot.
	Boot     string    `json:"boot,omitempty"`
	Segments []segment `json:"segments"`
}

// unsure reports whether the file may have lost bytes the state says it
// holds: written without fsync in a boot that has ended.
func (v *version) unsure() bool { return v.Boot != "" && v.Boot != currentBoot() }

type fileState struct {
	Final   *version `json:"final,omitempty"`
	Partial *version `json:"partial,omitempty"`
}

type state struct {
	V       int                   `json:"v"`
	Files   map[string]*fileState `json:"files"`   // by output name
	Streams map[string]streamInfo `json:"streams"` // by app/host/source/stream
}

func newState() *state {
	return &state{V: stateVersion, Files: map[string]*fileState{}, Streams: map[string]streamInfo{}}
}

// loadState reads the state; a missing one is empty, an unreadable one is
// reported and replaced (the outputs are then rebuilt from the archive).
func loadState(root *os.Root) (*state, error) {
	b, err := root.ReadFile(stateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return newState(), nil
	}
	if err != nil {
		return newState(), err
	}
	st := newState()
	if err := json.Unmarshal(b, st); err != nil || st.V < 1 || st.V > stateVersion {
		return newState(), fmt.Errorf("%s unreadable (%v): starting afresh", stateFile, err)
	}
	if st.Files == nil {
		st.Files = map[string]*fileState{}
	}
	if st.Streams == nil {
		st.Streams = map[string]streamInfo{}
	}
	st.V = stateVersion
	return st, nil
}

// stateSaves counts the state files written (for tests).
var stateSaves atomic.Int64

// stateDurable, when set (tests), sees each state saved durably: what a
// power loss would leave of the state file.
var stateDurable func([]byte)

// save writes the state atomically: temp file, rename. durable adds an
// fsync of the temp file before the rename and of the folder after it.
//
// A pull that does not fsync its output files does not fsync the state
// either: ext4 commits the rename only with the data of every file whose
// blocks it allocated before it, so an fsync of the state at the end
// waited for all the output written back (0.4 s of a 1.3 s pull of
// 1 GiB). A power loss may then leave an older state, or none (a torn one
// is unreadable, and the outputs are rebuilt): the outputs it names
// written in a boot that has ended are read back and checked before any
// use. What it must not hold is an output trusted as fsynced that this
// run changes: writer.untrust marks those first, in a durable save.
func (st *state) save(root *os.Root, durable bool) error {
	stateSaves.Add(1)
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp := stateFile + ".tmp"
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if durable {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := root.Rename(tmp, stateFile); err != nil {
		return err
	}
	if !durable {
		return nil
	}
	if stateDurable != nil {
		stateDurable(b)
	}
	return syncDir(root, stateDir)
}

func syncDir(root *os.Root, dir string) error {
	d, err := root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// lock takes an exclusive lock on OUT so that two pulls do not interleave.
func lock(root *os.Root) (func(), error) {
	f, err := root.OpenFile(lockFile, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another pull is writing into %s (%v)", root.Name(), err)
	}
	return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}

// dirs creates folders inside the root without following symbolic links:
// every existing component must be a real folder.
type dirs struct {
	root *os.Root
	ok   map[string]bool
}

func (d *dirs) ensure(dir string) error {
	if dir == "." || dir == "" || d.ok[dir] {
		return nil
	}
	if err := d.ensure(path.Dir(dir)); err != nil {
		return err
	}
	fi, err := d.root.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := d.root.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		fi, err = d.root.Lstat(dir)
	}
	if err != nil {
		return err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%s is a symbolic link: not followed", dir)
	case !fi.IsDir():
		return fmt.Errorf("%s is not a folder", dir)
	}
	d.ok[dir] = true
	return nil
}

// regularOrAbsent reports whether name may be replaced: absent or a
// regular file (not a symbolic link, a folder or a device).
func regularOrAbsent(root *os.Root, name string) (os.FileInfo, error) {
	fi, err := root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		what := "not a regular file"
		if fi.Mode()&fs.ModeSymlink != 0 {
			what = "a symbolic link: not followed"
		}
		return nil, fmt.Errorf("%s is %s", name, what)
	}
	return fi, nil
}

// cleanPartials removes partial files that the state does not refer to
// (left by a run killed between creating and recording them).
func cleanPartials(root *os.Root, st *state) {
	keep := map[string]bool{}
	for _, fs := range st.Files {
		if fs.Partial != nil {
			keep[fs.Partial.Name] = true
		}
	}
	d, err := root.Open(partialDir)
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, n := range names {
		if !keep[n] && !strings.HasPrefix(n, ".") {
			root.Remove(partialDir + "/" + n)
		}
	}
}
