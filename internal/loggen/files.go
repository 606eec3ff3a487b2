package loggen

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// Options say what WriteFiles writes.
type Options struct {
	// Size is the total size in bytes, split evenly between the files; each
	// file ends with a whole event, so the total is a little above.
	Size int64
	// Files is the number of files, each written by its own writer
	// (default 8).
	Files int
	// Seed determines the content; file i uses seed+i.
	Seed uint64
	// Sync fsyncs every file before WriteFiles returns.
	Sync bool
}

// FileName is the name of file i in a folder WriteFiles writes.
func FileName(i int) string { return fmt.Sprintf("app-%d.log", i) }

// WriteFiles writes o.Files logs of o.Size bytes in total into dir (made
// if needed), FileName(0), FileName(1), ..., each by its own goroutine,
// and returns their paths and total size.
func WriteFiles(dir string, o Options) ([]string, int64, error) {
	if o.Files <= 0 {
		o.Files = 8
	}
	if o.Size <= 0 {
		return nil, 0, errors.New("loggen: size must be above 0")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, 0, err
	}
	paths := make([]string, o.Files)
	sizes := make([]int64, o.Files)
	errs := make([]error, o.Files)
	per := (o.Size + int64(o.Files) - 1) / int64(o.Files)
	var wg sync.WaitGroup
	for i := range paths {
		paths[i] = filepath.Join(dir, FileName(i))
		wg.Go(func() { sizes[i], errs[i] = writeFile(paths[i], o.Seed+uint64(i), per, o.Sync) })
	}
	wg.Wait()
	var total int64
	for _, n := range sizes {
		total += n
	}
	return paths, total, errors.Join(errs...)
}

// writeFile writes whole events to path until it holds at least size bytes.
func writeFile(path string, seed uint64, size int64, sync bool) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	g := New(seed)
	var n int64
	var buf []byte
	for n < size {
		buf = g.Append(buf[:0])
		if _, err := w.Write(buf); err != nil {
			return 0, fmt.Errorf("loggen: %w", err)
		}
		n += int64(len(buf))
	}
	if err := w.Flush(); err != nil {
		return 0, fmt.Errorf("loggen: %w", err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			return 0, fmt.Errorf("loggen: %w", err)
		}
	}
	return n, f.Close()
}
