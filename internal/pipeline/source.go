// Package pipeline moves data from sources to a sink: per-stream batching,
// compression, bounded in-flight chunks, retried writes, and checkpoints
// that advance only when chunks are durable.
package pipeline

import (
	"context"
	"encoding/json"
	"time"
)

// StreamInfo identifies one stream: one generation of one source (one file
// generation, the kernel log of one boot).
type StreamInfo struct {
	// ID is stable across restarts, unique within (app, host, Kind), and a
	// safe key segment (archive.CheckName). For files it is derived from the
	// file's identity, e.g. "app.log-3f2a9c1b7d4e8a01".
	ID string
	// Kind is the source kind: archive.KindFile, archive.KindKmsg, ...
	Kind string
	// Path is the original path of the stream (the name it had when it was
	// first seen); empty when there is none.
	Path string
	// Unit is archive.UnitBytes or archive.UnitRecords.
	Unit string
	// Meta is source-private identity (device, inode, fingerprint...),
	// saved with the checkpoint and handed back by Emitter.Checkpoints.
	Meta json.RawMessage
}

// Piece is a contiguous range of a stream handed to the pipeline.
//
// For UnitBytes streams End must equal Start+len(Data). Data must end at a
// line boundary except where the source split a line that was too long or
// shipped a partial last line after an idle period. The pipeline copies
// Data before Write returns; the source may reuse its buffer.
type Piece struct {
	Start, End int64
	Data       []byte
	Lines      int64
	Time       time.Time // ingest time; zero means now
	Event      string    // archive.EventOOMKill ...: flags the chunk holding it
}

// StreamWriter is the handle a source writes one stream through.
type StreamWriter interface {
	// Write appends a piece. Pieces normally follow each other
	// (Start == previous End); a jump (a gap the source knows about) closes
	// the current chunk. Write blocks while too many chunks are in flight
	// (backpressure) and returns ctx.Err() if ctx ends first.
	Write(ctx context.Context, p Piece) error
	// Flush seals the open chunk now (e.g. before releasing a file).
	Flush()
	// Room is how many more bytes the open chunk takes before it is sealed
	// (max_bytes when none is open). A source reading a backlog reads up to
	// Room per turn, and flushes when Room is less than its next read:
	// chunks are then sealed full, and a turn ends on a chunk boundary
	// instead of leaving a half-filled chunk holding an in-flight slot
	// while the source reads other streams.
	Room() int
	// SetMeta replaces the identity saved with the checkpoint (e.g. after
	// a file was renamed, or its fingerprint grew).
	SetMeta(meta json.RawMessage)
	// Committed is the end of the longest run of durable chunks from the
	// stream's start: where a restart resumes.
	Committed() int64
	// Close flushes and ends the stream; nothing may be written after it.
	// The checkpoint entry stays (marked finished) until the source drops
	// it with Emitter.Forget.
	Close()
	// CloseStored ends, like Close, a stream whose bytes [Committed, end)
	// the source stored itself, whole, instead of writing them (a crash
	// file uploaded with package artifact): Committed becomes end, the
	// stream is finished, and the checkpoint is saved at once. Nothing may
	// have been written to the stream.
	CloseStored(end int64)
}

// Checkpoint is what was saved for one stream.
type Checkpoint struct {
	Info      StreamInfo
	Committed int64     // durable end
	Finished  bool      // the source closed the stream
	Updated   time.Time // last time the entry changed
}

// Emitter is what the pipeline hands to a source.
type Emitter interface {
	// Checkpoints returns the saved entries of this source (by source name),
	// as loaded at start. FirstStart is true when there was no state at all
	// (for read_from: end).
	Checkpoints() (entries []Checkpoint, firstStart bool)
	// Open starts (or resumes) a stream whose data before start is already
	// durable or deliberately skipped. Opening an id that is open returns
	// the same handle.
	Open(info StreamInfo, start int64) StreamWriter
	// Forget drops the checkpoint entry of a finished stream, or of one
	// loaded from the checkpoint and not opened in this run (retention).
	// A stream open in this run, or with chunks in flight, is kept.
	Forget(id string)
}

// ProblemReporter is what the pipeline's Emitter also offers: a source
// tells the paths it cannot read (and when it reads them again), for
// logship status. Fakes of Emitter need not have it.
type ProblemReporter interface {
	Problem(path, msg string, err error)
	Solved(path string)
}

// Source produces streams. Run reads until ctx is cancelled (the agent is
// stopping: stop reading, leave the rest for the next start) and returns
// nil then; it returns an error only when it cannot work at all. Errors on
// single files are logged and retried by the source itself.
type Source interface {
	Name() string
	Run(ctx context.Context, out Emitter) error
}
