// Package artifact uploads objects that are shipped whole instead of
// batched into log chunks: a finished file shipped once (a JVM crash
// report, a heap dump) or a stream of unknown length (a snapshot bundle).
// Each becomes one zstd object of the archive format covering [0, size)
// in bytes of a stream of its own, under the partitions of its kind
// (source=crash, source=snapshot), so ls, pull and cat read it like any
// chunk (see archive/artifact.go for the layout of its parts).
//
// The one place to call is Uploader.Upload. Whoever needs it is handed an
// Uploader: the agent builds one *Shipper with New beside the pipeline,
// on the same sink; source tests use pipelinetest.Artifacts, an in-memory
// Uploader.
//
// Artifacts do not go through the chunk pipeline: they do not queue
// behind log chunks and take none of its in-flight slots; the caller's
// goroutine compresses and uploads. Large ones go through the sink's
// multipart upload, part by part (at most two parts in memory), and a
// later Upload of the same file resumes it: parts already stored are not
// sent again. Checkpoints are the caller's business: the crash source
// records a shipped file with pipeline.StreamWriter.CloseStored.
package artifact

import (
	"context"
	"errors"
	"io"
	"time"
)

// Artifact is one object to ship whole: what its header says, and where
// its bytes come from.
type Artifact struct {
	// Kind is the source kind and the key's source= partition:
	// archive.KindCrash, archive.KindSnapshot.
	Kind string
	// ID names the artifact's stream (a safe key segment, see
	// archive.CheckName). With Time and the size it names the object, so
	// for a file it must be deterministic (the same file gives the same id
	// after a restart): a restarted upload then finds its parts again.
	ID string
	// Path is the original path, or the name the reader gives the bytes
	// (the header's path); it may be empty.
	Path string
	// Time is the header's First and Last time and picks the key's hour:
	// a file's modification time (so that the key is the same after a
	// restart), a snapshot's start.
	Time  time.Time
	Event string            // archive.EventJVMCrash, ...: flags the object
	Extra map[string]string // facts about the content (parsed hs_err, ...)

	// The bytes come from exactly one of two places.
	//
	// File and Size: a finished file. [0, Size) is read with ReadAt, at
	// least twice (first for the checksum the header carries at the front
	// of the object, then to compress it) and from several goroutines;
	// File is not closed. Its bytes must not change while it ships
	// (ErrChanged). Uploads of files resume after a restart.
	File io.ReaderAt
	Size int64
	// Body: a stream of unknown length, read once, to EOF. The header and
	// the key depend on the size and checksum, known only at the end, so
	// the compressed frames wait (in memory for the first part, then in a
	// temporary file in Options.TempDir) until Body has ended; then they
	// are uploaded like a file's. Body is not closed.
	Body io.Reader

	// RateLimit caps the raw bytes per second read and compressed (so a
	// recovering app keeps its CPU and bandwidth); 0 means no limit.
	RateLimit int64
	// PartSize is the raw bytes per part; 0 means DefaultPartSize. For a
	// File it is grown when the artifact would need more than MaxParts.
	// It must not change between the attempts of one artifact.
	PartSize int64
}

// Uploader stores artifacts. It is safe for concurrent use.
//
// Upload compresses a into one zstd object and stores it, and returns its
// key (archive.Key of its header) only once the object is durable. An
// object already stored at that key (a restart after the upload completed
// and before the caller recorded it) is not uploaded again, and its file
// is not read. Sink errors are retried with the pipeline's policy until
// ctx ends; the errors returned are ctx's, ErrChanged, read errors of the
// artifact, and refusals (ErrRefused).
type Uploader interface {
	Upload(ctx context.Context, a Artifact) (key string, err error)
}

// Part layout.
const (
	DefaultPartSize = 8 << 20
	MaxParts        = 10000
	// MaxPut is the largest artifact (raw bytes) stored with one Put by a
	// sink without multipart uploads (the object is built in memory).
	MaxPut = 64 << 20
)

var (
	// ErrRefused is returned for an artifact that cannot be shipped as
	// given (a bad id, no bytes, a sink that cannot store it).
	ErrRefused = errors.New("artifact: refused")
	// ErrChanged is returned when a file did not hold Size bytes, or its
	// bytes changed while it shipped.
	ErrChanged = errors.New("artifact: changed while shipping")
)

// Layout returns the raw part size and the number of parts of a file of
// size bytes: part i (from 1) holds raw [(i-1)*part, i*part).
func Layout(size, partSize int64) (part int64, n int) {
	part = partSize
	if part <= 0 {
		part = DefaultPartSize
	}
	if min := (size + MaxParts - 1) / MaxParts; min > part {
		part = (min + 1<<20 - 1) &^ (1<<20 - 1)
	}
	n = int((size + part - 1) / part)
	return part, max(n, 1)
}
