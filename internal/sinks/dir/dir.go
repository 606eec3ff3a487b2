// Package dir is the sink that writes the archive layout into a local
// folder: the embedded default, and what `logship pull --from DIR` reads.
package dir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/logship/logship/internal/atomicfile"
	"github.com/logship/logship/internal/sinks"
)

// Sink stores objects as files under Root. Put writes a temporary file in
// the object's folder, fsyncs it, renames it into place and fsyncs the
// folder (and any folder it created), so an object is either absent or
// complete and durable.
type Sink struct {
	root string
}

// New returns a sink writing under root, creating it if needed.
func New(root string) (*Sink, error) {
	if root == "" {
		return nil, errors.New("dir: empty path")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("dir: %w", err)
	}
	return &Sink{root: abs}, nil
}

// Root returns the folder.
func (s *Sink) Root() string { return s.root }

// path maps a key to a file path, refusing keys that would leave the root.
func (s *Sink) path(key string) (string, error) {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "\\") || strings.ContainsRune(key, 0) || path.Clean(key) != key || key == "." || strings.HasPrefix(key, "../") || key == ".." {
		return "", fmt.Errorf("dir: unsafe key %q", key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == ".." || seg == "." || strings.HasPrefix(seg, ".tmp-") {
			return "", fmt.Errorf("dir: unsafe key %q", key)
		}
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

// Put implements sinks.Sink.
func (s *Sink) Put(ctx context.Context, obj *sinks.Object) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := s.path(obj.Key)
	if err != nil {
		return sinks.Permanent(err)
	}
	if err := s.mkdirs(filepath.Dir(p)); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(ctx, p, obj.Body, objectPerm, objectTemp); err != nil {
		return fmt.Errorf("dir: %s: %w", obj.Key, err)
	}
	return nil
}

// objectPerm is the mode of object files and upload parts.
const objectPerm = 0o600

// objectTemp names the temporary file of an object being written: a name
// no key may use and List skips.
var objectTemp = &atomicfile.Options{TempPattern: ".tmp-*"}

// mkdirs creates dir and fsyncs the parent of every folder it created; for
// a folder that exists it is one stat. (No cache of folders seen: one
// removed while the agent runs, say by a clean-up, is simply made again.)
func (s *Sink) mkdirs(dir string) error {
	if err := atomicfile.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("dir: %w", err)
	}
	return nil
}

// Close implements sinks.Sink; it holds no resources.
func (s *Sink) Close() error { return nil }

// List implements sinks.Lister: files under the prefix, in key order;
// temporary files and anything that is not a regular file are skipped.
// Symbolic links are never followed.
func (s *Sink) List(ctx context.Context, prefix string, fn func(sinks.ObjectInfo) error) error {
	start := s.root
	if i := strings.LastIndex(prefix, "/"); i > 0 {
		p, err := s.path(prefix[:i]) // the same rules as keys: nothing outside the root
		if err != nil {
			return fmt.Errorf("dir: unsafe prefix %q", prefix)
		}
		start = p
	}
	var infos []sinks.ObjectInfo
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ".tmp-") {
			return nil
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return nil
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		infos = append(infos, sinks.ObjectInfo{Key: key, Size: fi.Size(), Modified: fi.ModTime()})
		return nil
	})
	if err != nil {
		return err
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Key < infos[j].Key })
	for _, oi := range infos {
		if err := fn(oi); err != nil {
			return err
		}
	}
	return nil
}

// Get implements sinks.Getter. It refuses symbolic links.
func (s *Sink) Get(ctx context.Context, key string) (io.ReadCloser, sinks.ObjectInfo, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, sinks.ObjectInfo{}, err
	}
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, sinks.ObjectInfo{}, fmt.Errorf("%w: %s", sinks.ErrNotFound, key)
	}
	if err != nil {
		return nil, sinks.ObjectInfo{}, err
	}
	if !fi.Mode().IsRegular() {
		return nil, sinks.ObjectInfo{}, fmt.Errorf("dir: %s is not a regular file", key)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, sinks.ObjectInfo{}, err
	}
	return f, sinks.ObjectInfo{Key: key, Size: fi.Size(), Modified: fi.ModTime()}, nil
}

// ListPrefixes implements sinks.PrefixLister: the folders directly under
// prefix (symbolic links are not followed).
func (s *Sink) ListPrefixes(ctx context.Context, prefix string) ([]string, error) {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		return nil, fmt.Errorf("dir: prefix %q does not end in /", prefix)
	}
	d := s.root
	if prefix != "" {
		p, err := s.path(strings.TrimSuffix(prefix, "/"))
		if err != nil {
			return nil, err
		}
		d = p
	}
	ents, err := os.ReadDir(d)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, prefix+e.Name()+"/")
		}
	}
	return out, nil
}
