// Package atomicfile writes files so that a crash at any moment leaves
// either the old file or the new one, whole and durable, never a torn
// one: the data go to a temporary file in the same folder, which is
// fsynced, renamed over the target, and the folder fsynced.
package atomicfile

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Options tune a write; nil or the zero value will do.
type Options struct {
	// TempPattern names the temporary file, as the pattern of
	// os.CreateTemp, in the target's folder (default: the target's base
	// name + ".tmp*"). Whoever reads the folder tells the leftovers of a
	// crash by it.
	TempPattern string
	// BeforeRename, when set, runs once the temporary file is fsynced and
	// closed, just before it is renamed into place. An error from it
	// abandons the write and is returned as it is; the temporary file is
	// left behind, as a crash at that moment would leave it (tests
	// simulate one so).
	BeforeRename func(tmp string) error
}

// File is a write in progress: a temporary file that Commit puts in
// place of the target. Abort (or a failed Commit) removes it; the target
// is untouched until Commit renames the temporary file over it. A File is
// not safe for concurrent use.
type File struct {
	f    *os.File
	path string
	dir  string
	opts Options
	done bool
}

// Create starts a write of path with the permission bits perm (set as
// they are, not filtered by the umask). The folder must exist.
func Create(path string, perm fs.FileMode, opts *Options) (*File, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.TempPattern == "" {
		o.TempPattern = filepath.Base(path) + ".tmp*"
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, o.TempPattern)
	if err != nil {
		return nil, err
	}
	af := &File{f: f, path: path, dir: dir, opts: o}
	if err := f.Chmod(perm); err != nil {
		af.Abort()
		return nil, err
	}
	return af, nil
}

// Name returns the path of the temporary file.
func (f *File) Name() string { return f.f.Name() }

// Write appends p to the temporary file.
func (f *File) Write(p []byte) (int, error) { return f.f.Write(p) }

// ReadFrom appends what r holds to the temporary file (io.Copy uses it:
// file to file, the kernel copies).
func (f *File) ReadFrom(r io.Reader) (int64, error) { return f.f.ReadFrom(r) }

// Commit fsyncs and closes the temporary file, renames it over the
// target and fsyncs the folder: when it returns nil the new file is
// durable. If ctx ends before the rename, the write is abandoned and
// ctx.Err() returned. On any error but one from Options.BeforeRename the
// temporary file is removed. Commit may be called once.
func (f *File) Commit(ctx context.Context) error {
	if f.done {
		return errors.New("atomicfile: commit of a finished write")
	}
	if err := ctx.Err(); err != nil {
		f.Abort()
		return err
	}
	if err := f.f.Sync(); err != nil {
		f.Abort()
		return err
	}
	f.done = true
	tmp := f.f.Name()
	if err := f.f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := ctx.Err(); err != nil {
		os.Remove(tmp)
		return err
	}
	if f.opts.BeforeRename != nil {
		if err := f.opts.BeforeRename(tmp); err != nil {
			return err // a simulated crash leaves the temporary file behind
		}
	}
	if err := os.Rename(tmp, f.path); err != nil {
		os.Remove(tmp)
		return err
	}
	return SyncDir(f.dir)
}

// Abort abandons the write: the temporary file is closed and removed. It
// does nothing after Commit or another Abort, so it can be deferred.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.f.Close()
	os.Remove(f.f.Name())
}

// WriteFile writes data to path atomically (see Create and Commit).
func WriteFile(ctx context.Context, path string, data []byte, perm fs.FileMode, opts *Options) error {
	f, err := Create(path, perm, opts)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Commit(ctx)
}

// SyncDir fsyncs the folder dir, making the creation, removal and
// renaming of its entries durable. A file system that cannot fsync a
// folder (EINVAL) is taken at its word: there is nothing more to do.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// MkdirAll creates dir and any missing parents, like os.MkdirAll, and
// fsyncs the parent of every folder it created, so that they survive a
// crash.
func MkdirAll(dir string, perm fs.FileMode) error {
	var created []string
	for d := filepath.Clean(dir); ; {
		if _, err := os.Stat(d); err == nil {
			break
		}
		created = append(created, d)
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	if err := os.MkdirAll(dir, perm); err != nil {
		return err
	}
	for _, d := range created {
		if err := SyncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}
