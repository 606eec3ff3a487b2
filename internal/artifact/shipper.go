package artifact

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
	"github.com/logship/logship/internal/pipeline"
	"github.com/logship/logship/internal/sinks"
)

// Options configure a Shipper.
type Options struct {
	App, Host string
	Prefix    string // key prefix, as the pipeline's
	// Sink stores the objects; New wraps it in Retry (pass the sink
	// itself, not a wrapped one).
	Sink  sinks.Sink
	Retry pipeline.Retry
	// TempDir holds the compressed frames of a Body while it is read;
	// empty means os.TempDir().
	TempDir string
	Log     *slog.Logger
	// Progress, when set, is told how many parts of a multipart upload are
	// stored (after resuming, and after each part), and done once the
	// object is complete: for logship status (Pipeline.ArtifactProgress).
	// It must not block.
	Progress func(id string, pr pipeline.ArtifactProgress, done bool)
}

// Shipper is the Uploader that stores artifacts in a sink. Create it with
// New; it holds no resources of its own (the sink is closed by its owner).
type Shipper struct {
	o    Options
	sink sinks.Sink // o.Sink wrapped in o.Retry
	log  *slog.Logger
}

var _ Uploader = (*Shipper)(nil)

// New checks o and returns a Shipper.
func New(o Options) (*Shipper, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	var errs []error
	if o.Sink == nil {
		errs = append(errs, errors.New("artifact: no sink"))
	}
	if err := archive.CheckName(o.App); err != nil {
		errs = append(errs, fmt.Errorf("artifact: app: %w", err))
	}
	if err := archive.CheckName(o.Host); err != nil {
		errs = append(errs, fmt.Errorf("artifact: host: %w", err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Shipper{o: o, sink: o.Retry.Wrap(o.Sink, o.Log), log: o.Log}, nil
}

// Metrics keep the names they had when artifacts shipped through the
// pipeline, so that dashboards go on working.
var (
	mArtifacts      = metrics.NewCounter(`logship_pipeline_artifacts_total`)
	mRawBytes       = metrics.NewCounter(`logship_pipeline_artifact_raw_bytes_total`)
	mUploadedBytes  = metrics.NewCounter(`logship_pipeline_artifact_uploaded_bytes_total`)
	mPartsUploaded  = metrics.NewCounter(`logship_pipeline_artifact_parts_uploaded_total`)
	mPartsResumed   = metrics.NewCounter(`logship_pipeline_artifact_parts_resumed_total`)
	mUploadFailures = metrics.NewCounter(`logship_pipeline_artifact_failures_total`)
)

// run is one Upload call.
type run struct {
	s    *Shipper
	a    Artifact
	h    *archive.Header
	hb   []byte // encoded header
	key  string
	part int64
	n    int
	lim  *rate.Limiter
	log  *slog.Logger
	enc  *archive.FrameEncoder
	// frame appends the zstd frame of part i to dst; crc, when not nil,
	// is updated with the raw bytes read.
	frame func(ctx context.Context, i int, dst []byte, crc *uint32) ([]byte, error)
	// reread: the raw bytes are read again to compress them, so their
	// checksum is compared with the header's (files).
	reread bool
	pad    bool // parts are uploaded separately: pad them to the minimum
	sent   int  // parts uploaded by this call
	kept   int  // parts found stored
	stored int64
}

// Upload implements Uploader.
func (s *Shipper) Upload(ctx context.Context, a Artifact) (string, error) {
	if err := a.Validate(); err != nil {
		return "", err
	}
	began := time.Now()
	t := a.Time.UTC()
	r := &run{s: s, a: a, h: &archive.Header{
		V: archive.Version, App: s.o.App, Host: s.o.Host,
		Source: a.Kind, Path: a.Path, Stream: a.ID, Unit: archive.UnitBytes,
		First: t, Last: t, Codec: archive.CodecZstd, Event: a.Event, Extra: a.Extra,
	}}
	if a.RateLimit > 0 {
		r.lim = rate.NewLimiter(rate.Limit(a.RateLimit), rateBurst)
	}
	var err error
	if r.enc, err = archive.NewFrameEncoder(); err != nil {
		return "", err
	}
	defer r.enc.Close()
	var existed bool
	if a.Body != nil {
		existed, err = r.stream(ctx)
	} else {
		existed, err = r.file(ctx)
	}
	if err != nil {
		mUploadFailures.Inc()
		return "", err
	}
	if r.n > 1 {
		r.progress(true)
	}
	mArtifacts.Inc()
	mRawBytes.AddInt64(r.h.RawSize)
	r.log.Info("artifact shipped", "raw_bytes", r.h.RawSize, "stored_bytes", r.stored, "parts", r.n,
		"parts_resumed", r.kept, "parts_uploaded", r.sent, "already_stored", existed,
		"event", a.Event, "took", time.Since(began).Round(time.Millisecond))
	return r.key, nil
}

// Validate reports every problem of a that makes Upload refuse it
// (ErrRefused).
func (a Artifact) Validate() error {
	var errs []string
	if err := archive.CheckName(a.ID); err != nil {
		errs = append(errs, "id: "+err.Error())
	}
	if err := archive.CheckName(a.Kind); err != nil {
		errs = append(errs, "kind: "+err.Error())
	}
	switch {
	case a.File == nil && a.Body == nil:
		errs = append(errs, "no file and no body")
	case a.File != nil && a.Body != nil:
		errs = append(errs, "both a file and a body")
	}
	if a.Size < 0 {
		errs = append(errs, fmt.Sprintf("negative size %d", a.Size))
	}
	if a.RateLimit < 0 {
		errs = append(errs, fmt.Sprintf("negative rate limit %d", a.RateLimit))
	}
	if a.PartSize < 0 {
		errs = append(errs, fmt.Sprintf("negative part size %d", a.PartSize))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s: %s", ErrRefused, a.Path, strings.Join(errs, "; "))
	}
	return nil
}

// progress tells Options.Progress the parts stored so far, or that the
// object is complete (done).
func (r *run) progress(done bool) {
	if r.s.o.Progress == nil {
		return
	}
	r.s.o.Progress(r.a.ID, pipeline.ArtifactProgress{Path: r.a.Path, Size: r.h.RawSize, Parts: r.n, PartsDone: r.kept + r.sent}, done)
}

// named sets the key once the header has its range.
func (r *run) named() {
	r.key = archive.Key(r.s.o.Prefix, r.h)
	r.log = r.s.log.With("artifact", r.a.Path, "object", r.key)
}

// file ships a.File: the key does not depend on the checksum, so a restart
// that lost the caller's record after the upload completed does not read
// the file again.
func (r *run) file(ctx context.Context) (existed bool, err error) {
	a := r.a
	r.h.End, r.h.RawSize = a.Size, a.Size
	r.part, r.n = Layout(a.Size, a.PartSize)
	r.named()
	if r.exists(ctx) {
		return true, nil
	}
	if r.h.Checksum, r.h.Lines, err = checksumFile(ctx, a.File, a.Size); err != nil {
		return false, err
	}
	r.frame, r.reread = r.fileFrame, true
	return false, r.store(ctx)
}

// store stores the object once the header is complete: in parts when the
// sink has multipart uploads and there is more than one part, else with
// one Put.
func (r *run) store(ctx context.Context) error {
	var err error
	if r.hb, err = r.h.Marshal(); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrRefused, r.a.Path, err)
	}
	mp, multipart := r.s.sink.(sinks.Multipart)
	switch {
	case r.n > 1 && multipart:
		r.pad = true
		return r.multipart(ctx, mp)
	case r.h.RawSize > MaxPut:
		return fmt.Errorf("%w: %s: %d bytes, and the sink has no multipart upload (limit %d)", ErrRefused, r.a.Path, r.h.RawSize, MaxPut)
	}
	return r.put(ctx)
}

// exists reports whether the key is already stored (a restart after the
// upload completed but before the caller recorded it). Sinks that cannot
// list answer no.
func (r *run) exists(ctx context.Context) bool {
	l, ok := r.s.sink.(sinks.Lister)
	if !ok {
		return false
	}
	found := false
	errFound := errors.New("found")
	err := l.List(ctx, r.key, func(oi sinks.ObjectInfo) error {
		if oi.Key == r.key {
			found = true
			return errFound
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		r.log.Debug("checking for a stored artifact failed; uploading it", "err", err)
	}
	return found
}

const (
	readBlock = 256 << 10
	rateBurst = readBlock
)

// checksumFile reads [0, size) once: the header, which goes first in the
// object, needs the checksum and line count of everything.
func checksumFile(ctx context.Context, f io.ReaderAt, size int64) (string, int64, error) {
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
			return "", 0, fmt.Errorf("%w: %d bytes, expected %d", ErrChanged, off, size)
		}
		if err != nil && err != io.EOF {
			return "", 0, fmt.Errorf("artifact: reading: %w", err)
		}
	}
	return archive.FormatChecksum(crc), lines, nil
}

func countNL(b []byte) int { return bytes.Count(b, []byte{'\n'}) }

// put stores the artifact with one Put: the frames of all its parts,
// without padding, built in memory (at most MaxPut raw bytes, or one
// part).
func (r *run) put(ctx context.Context) error {
	body := make([]byte, 0, len(r.hb)+int(min(r.h.RawSize, r.part)/4)+1024)
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
	if err := r.s.sink.Put(ctx, obj); err != nil {
		return err
	}
	r.sent, r.stored = 1, int64(len(body))
	mPartsUploaded.Inc()
	mUploadedBytes.Add(len(body))
	return nil
}

// checkRead compares the checksum of the bytes compressed with the one the
// header (read first) carries: a file that changed between the two reads
// would be stored with a header that does not describe it.
func (r *run) checkRead(crc uint32) error {
	if !r.reread {
		return nil
	}
	if got := archive.FormatChecksum(crc); got != r.h.Checksum {
		return fmt.Errorf("%w: %s: checksum %s while compressing, %s before", ErrChanged, r.a.Path, got, r.h.Checksum)
	}
	return nil
}

// encodePart appends part i to dst: the header frame for part 1, the zstd
// frame of the part's raw bytes, and, in multipart uploads, padding up to
// sinks.MinPartSize for every part but the last. crc, when not nil, is
// updated with the raw bytes read.
func (r *run) encodePart(ctx context.Context, i int, dst []byte, crc *uint32) ([]byte, error) {
	if i == 1 {
		dst = archive.AppendSkippable(dst, r.hb)
	}
	dst, err := r.frame(ctx, i, dst, crc)
	if err != nil {
		return nil, err
	}
	if r.pad && i < r.n {
		dst = archive.AppendPadding(dst, sinks.MinPartSize)
	}
	return dst, nil
}

// fileFrame compresses part i of a.File.
func (r *run) fileFrame(ctx context.Context, i int, dst []byte, crc *uint32) ([]byte, error) {
	off := int64(i-1) * r.part
	size := min(r.part, r.a.Size-off)
	src := &partReader{ctx: ctx, r: io.NewSectionReader(r.a.File, off, size), lim: r.lim, crc: crc}
	dst, n, err := r.enc.AppendFrame(dst, src)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("artifact: reading %s: %w", r.a.Path, err)
	}
	if n != size {
		return nil, fmt.Errorf("%w: %s: part %d has %d bytes, expected %d", ErrChanged, r.a.Path, i, n, size)
	}
	return dst, nil
}

// partReader reads a part for the compressor: it stops when ctx ends,
// paces reads with the rate limit and updates a running checksum and,
// when lines is set, a line count.
type partReader struct {
	ctx   context.Context
	r     io.Reader
	lim   *rate.Limiter
	crc   *uint32
	lines *int64
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
	if pr.lines != nil {
		*pr.lines += int64(countNL(b[:n]))
	}
	if pr.lim != nil && n > 0 {
		if werr := pr.lim.WaitN(pr.ctx, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}
