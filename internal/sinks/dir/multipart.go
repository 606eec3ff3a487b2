package dir

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/atomicfile"
	"github.com/logship/logship/internal/sinks"
)

// Multipart uploads live under ROOT/.uploads/<first 32 hex of SHA-256(key)>/:
//
//	.tmp-key                  the object key (checked on resume)
//	.tmp-part-00001-<md5>     part 1, named with the MD5 of its bytes (its ETag)
//	.tmp-w-*                  a part being written (removed on resume)
//
// Every name starts with ".tmp-", which List skips and no object key may
// use, and ListPrefixes skips the dot folder: pending parts are never seen
// as objects. A part is written like an object (temp file, fsync, rename,
// fsync of the folder), so after a crash it is either listed whole or
// absent.
const uploadsDir = ".uploads"

const (
	keyFile     = ".tmp-key"
	partPrefix  = ".tmp-part-"
	writePrefix = ".tmp-w-"
	maxParts    = 10000
)

// ErrNoUpload is returned by Complete when the upload is gone (completed
// or aborted) and the object does not exist.
var ErrNoUpload = errors.New("dir: no such upload")

// ResumeUpload implements sinks.Multipart: it finds the parts stored for
// key by an earlier process, or starts an empty upload.
func (s *Sink) ResumeUpload(ctx context.Context, key string, h *archive.Header, contentType string) (sinks.Upload, []sinks.Part, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	obj, err := s.path(key)
	if err != nil {
		return nil, nil, sinks.Permanent(err)
	}
	sum := sha256.Sum256([]byte(key))
	dir := filepath.Join(s.root, uploadsDir, hex.EncodeToString(sum[:16]))
	if err := s.mkdirs(dir); err != nil {
		return nil, nil, err
	}
	u := &upload{s: s, key: key, obj: obj, dir: dir}
	kp := filepath.Join(dir, keyFile)
	switch b, err := os.ReadFile(kp); {
	case err == nil && string(b) != key:
		return nil, nil, sinks.Permanent(fmt.Errorf("dir: upload folder %s belongs to key %q, not %q", dir, b, key))
	case errors.Is(err, fs.ErrNotExist):
		if err := atomicfile.WriteFile(context.Background(), kp, []byte(key), objectPerm, partTemp); err != nil {
			return nil, nil, fmt.Errorf("dir: %s: %w", key, err)
		}
	case err != nil:
		return nil, nil, fmt.Errorf("dir: %s: %w", key, err)
	}
	parts, err := u.list(true)
	if err != nil {
		return nil, nil, err
	}
	return u, parts, nil
}

type upload struct {
	s   *Sink
	key string
	obj string // object path
	dir string // upload folder
}

type storedPart struct {
	sinks.Part
	name string
}

// list returns the stored parts in number order. With clean, leftovers of
// interrupted writes are removed, and of two files for one number (a crash
// between renaming a replacement in and removing the old one) the newer is
// kept.
func (u *upload) list(clean bool) ([]sinks.Part, error) {
	ps, err := u.stored(clean)
	if err != nil {
		return nil, err
	}
	out := make([]sinks.Part, len(ps))
	for i, p := range ps {
		out[i] = p.Part
	}
	return out, nil
}

func (u *upload) stored(clean bool) ([]storedPart, error) {
	ents, err := os.ReadDir(u.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dir: %s: %w", u.key, err)
	}
	type cand struct {
		storedPart
		mod int64
	}
	var all []cand
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, writePrefix) {
			if clean {
				os.Remove(filepath.Join(u.dir, name))
			}
			continue
		}
		n, etag, ok := parsePartName(name)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		all = append(all, cand{storedPart{sinks.Part{Number: n, Size: fi.Size(), ETag: etag}, name}, fi.ModTime().UnixNano()})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Number != all[j].Number {
			return all[i].Number < all[j].Number
		}
		return all[i].mod < all[j].mod
	})
	out := make([]storedPart, 0, len(all))
	for i, c := range all {
		if i+1 < len(all) && all[i+1].Number == c.Number {
			// Replaced by a newer file for the same number.
			if clean {
				os.Remove(filepath.Join(u.dir, c.name))
			}
			continue
		}
		out = append(out, c.storedPart)
	}
	return out, nil
}

func partName(n int, etag string) string { return fmt.Sprintf("%s%05d-%s", partPrefix, n, etag) }

func parsePartName(name string) (int, string, bool) {
	rest, ok := strings.CutPrefix(name, partPrefix)
	if !ok {
		return 0, "", false
	}
	num, etag, ok := strings.Cut(rest, "-")
	if !ok || len(etag) != 32 {
		return 0, "", false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > maxParts {
		return 0, "", false
	}
	if _, err := hex.DecodeString(etag); err != nil {
		return 0, "", false
	}
	return n, etag, true
}

// PutPart implements sinks.Upload: the part is durable when it returns.
// Its ETag is the hex MD5 of body (like OSS, without quotes).
func (u *upload) PutPart(ctx context.Context, n int, body []byte) (sinks.Part, error) {
	if n < 1 || n > maxParts {
		return sinks.Part{}, sinks.Permanent(fmt.Errorf("dir: %s: part number %d out of 1..%d", u.key, n, maxParts))
	}
	if err := ctx.Err(); err != nil {
		return sinks.Part{}, err
	}
	if err := u.s.mkdirs(u.dir); err != nil {
		return sinks.Part{}, err
	}
	sum := md5.Sum(body)
	etag := hex.EncodeToString(sum[:])
	name := partName(n, etag)
	old, err := u.stored(false)
	if err != nil {
		return sinks.Part{}, err
	}
	if err := atomicfile.WriteFile(ctx, filepath.Join(u.dir, name), body, objectPerm, partTemp); err != nil {
		return sinks.Part{}, fmt.Errorf("dir: %s: part %d: %w", u.key, n, err)
	}
	for _, p := range old {
		if p.Number == n && p.name != name {
			os.Remove(filepath.Join(u.dir, p.name))
		}
	}
	return sinks.Part{Number: n, Size: int64(len(body)), ETag: etag}, nil
}

// Complete implements sinks.Upload: it concatenates the parts, in order,
// into a temporary file beside the object, fsyncs it, renames it into
// place, fsyncs the folder and removes the upload. Completing an upload
// that is gone succeeds when the object exists (a retried Complete).
func (u *upload) Complete(ctx context.Context, parts []sinks.Part) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(parts) == 0 {
		return sinks.Permanent(fmt.Errorf("dir: %s: complete without parts", u.key))
	}
	if _, err := os.Stat(u.dir); errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(u.obj); err == nil {
			return nil
		}
		return sinks.Permanent(fmt.Errorf("%w: %s", ErrNoUpload, u.key))
	}
	have, err := u.stored(false)
	if err != nil {
		return err
	}
	byNum := map[int]storedPart{}
	for _, p := range have {
		byNum[p.Number] = p
	}
	var files []string
	for i, p := range parts {
		if i > 0 && p.Number <= parts[i-1].Number {
			return sinks.Permanent(fmt.Errorf("dir: %s: parts not in increasing order (%d after %d)", u.key, p.Number, parts[i-1].Number))
		}
		sp, ok := byNum[p.Number]
		if !ok || !strings.EqualFold(strings.Trim(p.ETag, `"`), sp.ETag) {
			return sinks.Permanent(fmt.Errorf("dir: %s: part %d with ETag %s is not stored", u.key, p.Number, p.ETag))
		}
		files = append(files, filepath.Join(u.dir, sp.name))
	}
	objDir := filepath.Dir(u.obj)
	if err := u.s.mkdirs(objDir); err != nil {
		return err
	}
	f, err := atomicfile.Create(u.obj, objectPerm, objectTemp)
	if err != nil {
		return fmt.Errorf("dir: %w", err)
	}
	defer f.Abort()
	for _, name := range files {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("dir: %s: %w", u.key, err)
		}
		if err := appendFile(f, name); err != nil {
			return fmt.Errorf("dir: %s: %w", u.key, err)
		}
	}
	if err := f.Commit(ctx); err != nil {
		return fmt.Errorf("dir: %s: %w", u.key, err)
	}
	return u.remove()
}

func appendFile(dst io.Writer, name string) error {
	src, err := os.Open(name)
	if err != nil {
		return err
	}
	defer src.Close()
	_, err = io.Copy(dst, src)
	return err
}

// Abort implements sinks.Upload: the stored parts are removed.
func (u *upload) Abort(ctx context.Context) error { return u.remove() }

func (u *upload) remove() error {
	if err := os.RemoveAll(u.dir); err != nil {
		return fmt.Errorf("dir: %s: %w", u.key, err)
	}
	return atomicfile.SyncDir(filepath.Dir(u.dir))
}

// partTemp names the temporary file of a part or key file being written.
var partTemp = &atomicfile.Options{TempPattern: writePrefix + "*"}

var _ sinks.Multipart = (*Sink)(nil)
