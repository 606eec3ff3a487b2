// Package sinks defines what a storage backend must do for logship. The
// concrete sinks live in sinks/dir and sinks/oss; sinks/sinktest is the
// conformance suite every sink passes.
package sinks

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/logship/logship/archive"
)

// Object is one chunk object ready to store.
type Object struct {
	Key         string
	Body        []byte          // the encoded object (archive.Encoder output)
	Header      *archive.Header // mirrored into metadata where the backend has it
	ContentType string          // e.g. "application/zstd"; "text/plain; charset=utf-8" for none
}

// Sink stores chunk objects.
//
// Put returns nil only when the object is durable: for a folder, written,
// fsynced and renamed into place; for an object store, the upload completed
// and its checksum verified. Put with a key that exists overwrites it (the
// same chunk written twice gives the same object). Put must honour ctx and
// must not retry or sleep on its own: the caller wraps it in a retry policy.
// Errors that retrying cannot fix are marked with Permanent.
//
// Close releases resources; it is safe to call twice and after a failed Put.
type Sink interface {
	Put(ctx context.Context, obj *Object) error
	Close() error
}

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key      string
	Size     int64
	Modified time.Time
	Meta     map[string]string // user metadata without the x-oss-meta- prefix; nil when unknown
}

// Lister is implemented by sinks that can be read back (used by pull, ls
// and cat). List calls fn for every object under prefix, in key order; a
// non-nil error from fn stops the listing and is returned.
type Lister interface {
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error
}

// PrefixLister is implemented by sinks that can list one level of the
// key hierarchy: the distinct "folders" directly under prefix (which ends
// in "/" or is empty), each returned as a full prefix ending in "/". It lets
// readers list only the partitions a time window needs.
type PrefixLister interface {
	ListPrefixes(ctx context.Context, prefix string) ([]string, error)
}

// Getter is implemented by sinks that can be read back.
type Getter interface {
	Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error)
}

// Stater is implemented by sinks that can describe one object without
// reading its body: size, time and user metadata, where the chunk header is
// mirrored (OSS HeadObject). Readers use it to learn a chunk's header
// without a GET. A missing object is an error matching ErrNotFound.
type Stater interface {
	Stat(ctx context.Context, key string) (ObjectInfo, error)
}

// Multipart is implemented by sinks that can store a large object in parts
// and resume an interrupted upload (crash artifacts: heap dumps of GBs,
// streamed through the compressor without a local compressed copy).
//
// ResumeUpload starts an upload of key, or finds the unfinished upload of
// key left by an earlier process, and returns it with the parts already
// stored, in order. Parts are numbered from 1; every part but the last
// is at least MinPartSize bytes.
type Multipart interface {
	ResumeUpload(ctx context.Context, key string, h *archive.Header, contentType string) (Upload, []Part, error)
}

// MinPartSize is the smallest part but the last (OSS's limit).
const MinPartSize = 100 << 10

// Part is one stored part.
type Part struct {
	Number int
	Size   int64
	ETag   string
}

// Upload is one multipart upload in progress. PutPart stores part number
// n durably (same contract as Sink.Put: retries are the caller's); putting
// a number again replaces it. Complete assembles the parts in number order
// into the object; Abort discards them.
type Upload interface {
	PutPart(ctx context.Context, n int, body []byte) (Part, error)
	Complete(ctx context.Context, parts []Part) error
	Abort(ctx context.Context) error
}

// ErrNotFound is returned by Get for a missing key.
var ErrNotFound = errors.New("sinks: object not found")

type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as one that retrying soon will not fix (bad
// credentials, missing bucket, a clock that is off). The caller keeps the
// data and retries slowly, since an operator may fix the cause.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}
