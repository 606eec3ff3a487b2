package snapshot

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/logship/logship/internal/sources/glob"
)

// DefaultCrashPaths are searched when no crash source is configured.
var DefaultCrashPaths = []string{"hs_err_pid*.log", "java_pid*.hprof", "/tmp/hs_err_pid*.log", "/tmp/java_pid*.hprof"}

// maxCrashFile bounds an hs_err file in the bundle (its end is kept).
const maxCrashFile = 32 << 20

type found struct {
	path string
	info os.FileInfo
}

// expand lists the regular files the globs match, newest first.
func expand(ctx context.Context, sets []Globs, example string) ([]found, []string) {
	var out []found
	var problems []string
	seen := map[string]bool{}
	for _, g := range sets {
		set, errs := glob.Compile(g.Paths, g.Exclude, example)
		for _, e := range errs {
			problems = append(problems, e.Error())
		}
		set.OnErr = func(dir string, err error) { problems = append(problems, err.Error()) }
		for _, p := range set.Paths() {
			if ctx.Err() != nil || seen[p] {
				continue
			}
			seen[p] = true
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				out = append(out, found{p, fi})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].info.ModTime().After(out[j].info.ModTime()) })
	return out, problems
}

// bundlePath is where a file of the machine goes under folder in the
// bundle: folder/ + its absolute path without the leading slash.
func bundlePath(folder, p string) string {
	return folder + "/" + strings.TrimPrefix(path.Clean("/"+p), "/")
}

// addTail opens p and adds its last tail bytes to out, starting after a
// newline when the tail does not start the file. It returns the bytes
// added and the file's size.
func addTail(out *Out, name, p string, tail int64) (int64, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return 0, 0, err
	}
	size := fi.Size()
	off := max(0, size-tail)
	if off > 0 {
		off = lineStart(f, off, size)
	}
	out.AddFile(name, f, off, size-off, fi.ModTime())
	return size - off, size, nil
}

// lineStart returns the offset after the first newline at or after off
// (within 64 KiB), so a tail starts with a whole line; off if none.
func lineStart(f io.ReaderAt, off, size int64) int64 {
	buf := make([]byte, min(64<<10, size-off))
	n, _ := f.ReadAt(buf, off)
	if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 && off+int64(i)+1 < size {
		return off + int64(i) + 1
	}
	return off
}

// collectLogs adds the tail of each configured log (the newest
// max_log_files), and logs/INDEX.txt saying what was taken.
func collectLogs(ctx context.Context, s *Session, out *Out) error {
	if len(s.o.Logs) == 0 {
		return skipped("no file source configured")
	}
	files, problems := expand(ctx, s.o.Logs, "*.log")
	idx := out.Create("logs/INDEX.txt")
	fmt.Fprintf(idx, "# the last %s (from a line start) of each log, newest first, at most %d files\n", s.o.Config.LogTailBytes, s.o.Config.MaxLogFiles)
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if i == s.o.Config.MaxLogFiles {
			fmt.Fprintf(idx, "# %d more files left out (snapshot.max_log_files)\n", len(files)-i)
			break
		}
		name := bundlePath("logs", f.path)
		n, size, err := addTail(out, name, f.path, s.o.Config.LogTailBytes.Int64())
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		fmt.Fprintf(idx, "%s\tsize %d\tincluded %d\tmodified %s\n", f.path, size, n, f.info.ModTime().UTC().Format("2006-01-02T15:04:05Z"))
	}
	for _, p := range problems {
		fmt.Fprintf(idx, "# problem: %s\n", p)
	}
	if len(files) == 0 && len(problems) > 0 {
		return fmt.Errorf("no log read: %s", strings.Join(problems, "; "))
	}
	return nil
}

// collectCrash adds JVM crash files: hs_err files (their last 32 MiB), and
// heap dumps whole when the request asks for them.
func collectCrash(ctx context.Context, s *Session, out *Out) error {
	sets := s.o.Crash
	if len(sets) == 0 {
		sets = []Globs{{Paths: DefaultCrashPaths}}
	}
	files, problems := expand(ctx, sets, "hs_err_pid*.log")
	idx := out.Create("crash/INDEX.txt")
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		heap := strings.HasSuffix(f.path, ".hprof")
		if heap && !s.req.HeapDumps {
			fmt.Fprintf(idx, "%s\tsize %d\tleft out: a heap dump (ask with --heap-dumps)\n", f.path, f.info.Size())
			continue
		}
		limit := int64(maxCrashFile)
		if heap {
			limit = f.info.Size()
		}
		n, size, err := addTail(out, bundlePath("crash", f.path), f.path, limit)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		fmt.Fprintf(idx, "%s\tsize %d\tincluded %d\n", f.path, size, n)
	}
	for _, p := range problems {
		fmt.Fprintf(idx, "# problem: %s\n", p)
	}
	if len(files) == 0 {
		fmt.Fprintf(idx, "# no crash file found\n")
	}
	return nil
}
