package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"golang.org/x/time/rate"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/sinks"
)

// Artifact is a finished file shipped whole, once (a JVM crash file, a heap
// dump): one object covering [0, Size) of a stream of its own.
type Artifact struct {
	// Info names the artifact's stream. ID must be deterministic (the same
	// file gives the same id after a restart): it names the object, so a
	// restarted upload finds its parts again. Unit is always bytes.
	Info StreamInfo
	// File holds the bytes; [0, Size) is read with ReadAt, possibly twice
	// and from several goroutines; File is not closed. The bytes must not
	// change while the artifact ships.
	File io.ReaderAt
	Size int64
	// ModTime is the file's modification time. It is the header's First
	// and Last time, so the key is the same after a restart.
	ModTime time.Time
	Event   string            // archive.EventJVMCrash, ...: flags the object
	Extra   map[string]string // facts parsed from the file
	// RateLimit caps the raw bytes per second fed to the compressor and
	// the upload (so a recovering app keeps its CPU and bandwidth); 0 means
	// no limit.
	RateLimit int64
	// PartSize is the raw bytes per part; 0 means DefaultArtifactPartSize.
	// It is grown for artifacts that would need more than MaxArtifactParts.
	// It must not change between the attempts of one artifact.
	PartSize int64
}

// ArtifactShipper is implemented by the Emitter of the pipeline; sources
// of artifacts find it with a type assertion.
//
// ShipArtifact registers the artifact's stream (its checkpoint entry says
// Committed 0 while it ships), compresses the file into one zstd object
// and stores it, and returns nil only when the object is durable; the
// stream's checkpoint then says Committed == Size and Finished, and has
// been saved. Large artifacts go through the sink's multipart upload,
// which a later call for the same artifact resumes (parts already stored
// are not sent again). Sink errors are retried with the pipeline's policy
// until ctx ends; errors returned are ctx's, ErrArtifactChanged, read
// errors of File, and refusals (ErrArtifact).
//
// Artifacts do not queue behind log chunks: they are uploaded from the
// caller's goroutine straight to the sink, outside the chunk slots.
type ArtifactShipper interface {
	ShipArtifact(ctx context.Context, a Artifact) error
}

// Artifact part layout.
const (
	DefaultArtifactPartSize = 8 << 20
	MaxArtifactParts        = 10000
	// MaxArtifactPut is the largest artifact stored with one Put by a sink
	// without multipart uploads (the object is built in memory).
	MaxArtifactPut = 64 << 20
)

var (
	// ErrArtifact is returned for an artifact that cannot be shipped as
	// given (a bad id, a sink that cannot store it).
	ErrArtifact = errors.New("pipeline: artifact refused")
	// ErrArtifactChanged is returned when the file did not hold Size
	// bytes, or its bytes changed while it shipped.
	ErrArtifactChanged = errors.New("pipeline: artifact changed while shipping")
)

var (
	mArtifacts             = metrics.NewCounter(`logship_pipeline_artifacts_total`)
	mArtifactRawBytes      = metrics.NewCounter(`logship_pipeline_artifact_raw_bytes_total`)
	mArtifactUploadedBytes = metrics.NewCounter(`logship_pipeline_artifact_uploaded_bytes_total`)
	mArtifactParts         = metrics.NewCounter(`logship_pipeline_artifact_parts_uploaded_total`)
	mArtifactPartsResumed  = metrics.NewCounter(`logship_pipeline_artifact_parts_resumed_total`)
	mArtifactFailures      = metrics.NewCounter(`logship_pipeline_artifact_failures_total`)
)

// ArtifactLayout returns the raw part size and the number of parts of an
// artifact of size bytes: part i (from 1) holds raw [(i-1)*part, i*part).
func ArtifactLayout(size, partSize int64) (part int64, n int) {
	part = partSize
	if part <= 0 {
		part = DefaultArtifactPartSize
	}
	if min := (size + MaxArtifactParts - 1) / MaxArtifactParts; min > part {
		part = (min + 1<<20 - 1) &^ (1<<20 - 1)
	}
	n = int((size + part - 1) / part)
	return part, max(n, 1)
}

// ShipArtifact implements ArtifactShipper.
func (e *emitter) ShipArtifact(ctx context.Context, a Artifact) error {
	return e.p.shipArtifact(ctx, e, a)
}

var _ ArtifactShipper = (*emitter)(nil)

// artifactRun is one ShipArtifact call.
type artifactRun struct {
	p      *Pipeline
	a      Artifact
	h      *archive.Header
	hb     []byte // encoded header
	key    string
	part   int64
	n      int
	lim    *rate.Limiter
	log    *slog.Logger
	enc    *archive.FrameEncoder
	pad    bool // parts are uploaded separately: pad them to the minimum
	sent   int  // parts uploaded by this call
	kept   int  // parts found stored
	stored int64
}

func (p *Pipeline) shipArtifact(ctx context.Context, e *emitter, a Artifact) error {
	if err := checkArtifact(a); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(p.uploadCtx, cancel)()

	a.Info.Unit = archive.UnitBytes
	st := e.Open(a.Info, 0).(*stream)
	began := time.Now()
	mod := a.ModTime.UTC()
	h := &archive.Header{
		V: archive.Version, App: p.o.App, Host: p.o.Host,
		Source: a.Info.Kind, Path: a.Info.Path, Stream: a.Info.ID,
		Start: 0, End: a.Size, Unit: archive.UnitBytes, RawSize: a.Size,
		First: mod, Last: mod, Codec: archive.CodecZstd,
		Event: a.Event, Extra: a.Extra,
	}
	r := &artifactRun{p: p, a: a, h: h, key: archive.Key(p.o.Prefix, h)}
	r.part, r.n = ArtifactLayout(a.Size, a.PartSize)
	r.log = p.log.With("artifact", a.Info.Path, "object", r.key)
	if a.RateLimit > 0 {
		r.lim = rate.NewLimiter(rate.Limit(a.RateLimit), rateBurst)
	}
	// The key does not depend on the checksum: a restart that lost the
	// checkpoint after the upload completed does not read the file again.
	existed := p.objectExists(ctx, r.key)
	if !existed {
		if err := r.upload(ctx); err != nil {
			mArtifactFailures.Inc()
			return err
		}
	}
	st.commitArtifact(a.Size)
	if err := p.SaveCheckpoint(); err != nil {
		// The object is durable; the ticker saves the entry later (and a
		// restart before that finds the object and does not upload again).
		p.markDirty()
		p.log.Error("saving checkpoint after an artifact failed; will retry", "dir", p.o.StateDir, "err", err)
	}
	mArtifacts.Inc()
	mArtifactRawBytes.AddInt64(a.Size)
	r.log.Info("artifact shipped", "raw_bytes", a.Size, "stored_bytes", r.stored, "parts", r.n,
		"parts_resumed", r.kept, "parts_uploaded", r.sent, "already_stored", existed,
		"event", a.Event, "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// upload reads the file once for the checksum of the header, which goes
// first in the object, then stores the object: in parts when the sink has
// multipart uploads and there is more than one part, else with one Put.
func (r *artifactRun) upload(ctx context.Context) error {
	a := r.a
	var err error
	if r.h.Checksum, r.h.Lines, err = checksumArtifact(ctx, a.File, a.Size); err != nil {
		return err
	}
	if r.hb, err = r.h.Marshal(); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrArtifact, a.Info.Path, err)
	}
	if r.enc, err = archive.NewFrameEncoder(); err != nil {
		return err
	}
	defer r.enc.Close()
	mp, multipart := r.p.o.Sink.(sinks.Multipart)
	switch {
	case r.n > 1 && multipart:
		r.pad = true
		return r.multipart(ctx, mp)
	case a.Size > MaxArtifactPut:
		return fmt.Errorf("%w: %s: %d bytes, and the sink has no multipart upload (limit %d)", ErrArtifact, a.Info.Path, a.Size, MaxArtifactPut)
	}
	return r.put(ctx)
}

func checkArtifact(a Artifact) error {
	var errs []string
	if err := archive.CheckName(a.Info.ID); err != nil {
		errs = append(errs, "id: "+err.Error())
	}
	if err := archive.CheckName(a.Info.Kind); err != nil {
		errs = append(errs, "kind: "+err.Error())
	}
	if a.File == nil {
		errs = append(errs, "no file")
	}
	if a.Size < 0 {
		errs = append(errs, fmt.Sprintf("negative size %d", a.Size))
	}
	if a.RateLimit < 0 {
		errs = append(errs, fmt.Sprintf("negative rate limit %d", a.RateLimit))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s: %s", ErrArtifact, a.Info.Path, strings.Join(errs, "; "))
	}
	return nil
}

// commitArtifact records a shipped artifact: everything durable, finished.
func (s *stream) commitArtifact(size int64) {
	s.mu.Lock()
	s.committed, s.next = size, size
	s.sealed = nil
	s.closed, s.finished = true, true
	s.updated = time.Now()
	s.mu.Unlock()
	s.p.markDirty()
}

// objectExists reports whether key is already stored (a restart after the
// upload completed but before the checkpoint was saved). Sinks that cannot
// list answer no.
func (p *Pipeline) objectExists(ctx context.Context, key string) bool {
	l, ok := p.o.Sink.(sinks.Lister)
	if !ok {
		return false
	}
	found := false
	errFound := errors.New("found")
	err := l.List(ctx, key, func(oi sinks.ObjectInfo) error {
		if oi.Key == key {
			found = true
			return errFound
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		p.log.Debug("checking for a stored artifact failed; uploading it", "object", key, "err", err)
	}
	return found
}

const (
	readBlock = 256 << 10
	rateBurst = readBlock
)

// checksumArtifact reads [0, size) once: the header, which goes first in
// the object, needs the checksum and line count of everything.
func checksumArtifact(ctx context.Context, f io.ReaderAt, size int64) (string, int64, error) {
	buf := make([]byte, readBlock)
	var crc uint32
	var lines int64
	for off := int64(0); off < size; {
		if err := ctx.Err(); err != nil {
			return "", 0, err
		}
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		crc = archive.UpdateChecksum(crc, buf[:n])
		lines += int64(countNL(buf[:n]))
		off += int64(n)
		if err == io.EOF && off < size {
			return "", 0, fmt.Errorf("%w: %d bytes, expected %d", ErrArtifactChanged, off, size)
		}
		if err != nil && err != io.EOF {
			return "", 0, fmt.Errorf("pipeline: reading artifact: %w", err)
		}
	}
	return archive.FormatChecksum(crc), lines, nil
}

func countNL(b []byte) int { return bytes.Count(b, []byte{'\n'}) }

// put stores the artifact with one Put: the frames of all its parts,
// without padding, built in memory (at most MaxArtifactPut raw bytes, or
// one part).
func (r *artifactRun) put(ctx context.Context) error {
	body := make([]byte, 0, len(r.hb)+int(min(r.a.Size, r.part)/4)+1024)
	var crc uint32
	for i := 1; i <= r.n; i++ {
		var err error
		if body, err = r.encodePart(ctx, i, body, &crc); err != nil {
			return err
		}
	}
	if err := r.checkRead(crc); err != nil {
		return err // nothing stored
	}
	obj := &sinks.Object{Key: r.key, Body: body, Header: r.h, ContentType: "application/zstd"}
	if err := r.p.o.Retry.Do(ctx, r.log, r.key, func(ctx context.Context) error { return r.p.o.Sink.Put(ctx, obj) }); err != nil {
		return err
	}
	r.sent, r.stored = 1, int64(len(body))
	mArtifactParts.Inc()
	mArtifactUploadedBytes.Add(len(body))
	return nil
}

// checkRead compares the checksum of the bytes compressed with the one the
// header (read first) carries: a file that changed between the two reads
// would be stored with a header that does not describe it.
func (r *artifactRun) checkRead(crc uint32) error {
	if got := archive.FormatChecksum(crc); got != r.h.Checksum {
		return fmt.Errorf("%w: %s: checksum %s while compressing, %s before", ErrArtifactChanged, r.a.Info.Path, got, r.h.Checksum)
	}
	return nil
}

// encodePart appends part i to dst: the header frame for part 1, one zstd
// frame of the part's raw bytes, and, in multipart uploads, padding up to
// sinks.MinPartSize for every part but the last. crc, when not nil, is
// updated with the raw bytes read.
func (r *artifactRun) encodePart(ctx context.Context, i int, dst []byte, crc *uint32) ([]byte, error) {
	off := int64(i-1) * r.part
	size := min(r.part, r.a.Size-off)
	if i == 1 {
		dst = archive.AppendSkippable(dst, r.hb)
	}
	src := &partReader{ctx: ctx, r: io.NewSectionReader(r.a.File, off, size), lim: r.lim, crc: crc}
	dst, n, err := r.enc.AppendFrame(dst, src)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("pipeline: reading artifact %s: %w", r.a.Info.Path, err)
	}
	if n != size {
		return nil, fmt.Errorf("%w: %s: part %d has %d bytes, expected %d", ErrArtifactChanged, r.a.Info.Path, i, n, size)
	}
	if r.pad && i < r.n {
		dst = archive.AppendPadding(dst, sinks.MinPartSize)
	}
	return dst, nil
}

// partReader reads a part for the compressor: it stops when ctx ends,
// paces reads with the rate limit and updates a running checksum.
type partReader struct {
	ctx context.Context
	r   io.Reader
	lim *rate.Limiter
	crc *uint32
}

func (pr *partReader) Read(b []byte) (int, error) {
	if err := pr.ctx.Err(); err != nil {
		return 0, err
	}
	if len(b) > readBlock {
		b = b[:readBlock]
	}
	n, err := pr.r.Read(b)
	if pr.crc != nil {
		*pr.crc = archive.UpdateChecksum(*pr.crc, b[:n])
	}
	if pr.lim != nil && n > 0 {
		if werr := pr.lim.WaitN(pr.ctx, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}
