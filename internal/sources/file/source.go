// Package file is logship's own tailer: it follows the files matching a
// set of globs and hands their bytes to the pipeline, one stream per file
// generation, without losing or repeating a byte across rename rotation,
// copytruncate, truncation, deletion and restarts.
//
// # Identity
//
// A file is an inode (device + inode number) plus a fingerprint of its
// first bytes (up to fingerprint_bytes). A stream is opened for a file only
// once its first line is complete, or it holds fingerprint_bytes, or it has
// been idle for partial_line_after; its id is SafeName(base name at first
// sight) + "-" + a hash of (device, inode, first line, generation), so the
// same file gets the same id after a restart that lost its checkpoint. The
// saved fingerprint grows with the file up to fingerprint_bytes (SetMeta).
//
// # Rules
//
//   - The same inode under a new name (rename rotation: app.log → app.log.1,
//     app.0.log → app.1.log) is the same stream: never shipped twice. A
//     renamed file is read to its end and released once idle; a file that
//     no longer matches any glob, or was deleted, is held open to be read to
//     its end too, within rotated_keep_open and max_rotated_open. Bytes
//     abandoned because of these bounds are logged and counted.
//   - A new inode whose head holds a known stream's head, and whose last
//     bytes match that stream's file at the same offsets (when it can still
//     be read), is a copy of it (copytruncate, cp, mv across file systems):
//     it is not shipped; if it changes later it is shipped as a file of its
//     own. When the original is then truncated, the old stream continues on
//     the copy from its read offset, and the truncated file starts a new
//     generation. A shorter new file that is a prefix of a known head waits
//     (at most partial_line_after) until it can be told apart.
//   - A truncation without a copy (size below the read offset, or the head
//     changed) closes the stream; the file starts a new generation from 0.
//   - At start, saved checkpoints are matched to files: same inode and
//     fingerprint → resume at Committed; same inode, other fingerprint → new
//     generation from 0; another inode with the fingerprint of a stream
//     whose inode is gone → that stream, moved: resume it there.
//   - read_from: end applies only to files found by the first scan of the
//     very first start; everything else is read from the beginning.
//   - Positions only advance through the Stream: a restart resumes at
//     Checkpoint.Committed. Checkpoints of finished streams whose file is
//     gone are forgotten after 24h, or beyond 4096 such entries.
//   - At max_open_files, files wait; idle, fully read files are parked (the
//     descriptor closed, the stream kept) and reopened when they grow.
//
// The periodic scan (scan_interval) is the source of truth; fsnotify only
// wakes the loop early (at most one round per 10ms). One goroutine reads
// all files in rounds, at most a few blocks per file per round, so a busy
// file cannot starve the others; blocks are cut at their last newline, so
// nothing is allocated per line.
// When the pipeline applies backpressure the loop blocks in Stream.Write:
// the files are the buffer.
package file

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/logship/logship/internal/pipeline"
	"github.com/logship/logship/internal/schema"
	"github.com/logship/logship/internal/sources/glob"
)

// Tuning that is not configuration.
const (
	// forgetAfter is how long the checkpoint of a finished stream whose
	// file is gone is kept (then Emitter.Forget).
	forgetAfter = 24 * time.Hour
	// maxGoneEntries bounds the finished-and-gone entries kept before
	// forgetAfter: the oldest are forgotten first.
	maxGoneEntries = 4096
	// roundBlocks is how many read buffers one file may read per round.
	roundBlocks = 8
	// eventGap is the least time between two rounds woken by events;
	// scanGap the least time between two scans asked for by events.
	eventGap = 10 * time.Millisecond
	scanGap  = 50 * time.Millisecond
)

// settings are the resolved config values.
type settings struct {
	readFromEnd  bool
	maxLine      int
	scanEvery    time.Duration
	partialAfter time.Duration
	maxOpen      int
	rotatedKeep  time.Duration
	maxRotated   int
	fpBytes      int
	readBuffer   int // read_buffer; bufBytes is it, at most maxLine
	bufBytes     int
	roundBytes   int
	// rotatedIdle is how long a renamed, moved or deleted file must have
	// been idle at its end before it is released.
	rotatedIdle time.Duration
	// forgetAfter and maxGone are the checkpoint retention of finished
	// streams whose file is gone (constants; tests shorten them).
	forgetAfter time.Duration
	maxGone     int
}

// handle is what the tailer needs of an open file: an *os.File in
// production; tests inject faults through Source.openFile.
type handle interface {
	io.ReaderAt
	Stat() (os.FileInfo, error)
	Close() error
}

// Source tails the files of one `type: file` config section.
// It implements pipeline.Source. Run must not be called twice at once.
type Source struct {
	name     string
	cfg      settings
	log      *slog.Logger
	globs    glob.Set
	m        *sourceMetrics
	openFile func(name string) (handle, error)

	scans    atomic.Int64 // scans done (observed by tests)
	peakOpen atomic.Int64 // most descriptors held at once (observed by tests)
}

var _ pipeline.Source = (*Source)(nil)

// New returns a source named name ("" is "file", the name config gives
// the first file source) for cfg. Zero values take their defaults
// (Config.SetDefaults, nothing else), and every problem Config.Validate
// finds is reported at once.
func New(name string, cfg Config, log *slog.Logger) (*Source, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if name == "" {
		name = "file"
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Source{name: name, log: log.With("source", name), m: newSourceMetrics(name)}
	s.openFile = func(n string) (handle, error) {
		f, err := os.Open(n)
		if err != nil {
			return nil, err
		}
		return f, nil
	}
	s.globs, _ = glob.Compile(cfg.Paths, cfg.Exclude, examplePath) // Validate checked them
	s.cfg = settings{
		readFromEnd:  cfg.ReadFrom == ReadFromEnd,
		maxLine:      int(cfg.MaxLineBytes),
		scanEvery:    cfg.ScanInterval.Std(),
		partialAfter: cfg.PartialLineAfter.Std(),
		maxOpen:      cfg.MaxOpenFiles,
		rotatedKeep:  cfg.RotatedKeepOpen.Std(),
		maxRotated:   cfg.MaxRotatedOpen,
		fpBytes:      cfg.FingerprintBytes,
		readBuffer:   int(cfg.ReadBufferBytes),
	}
	c := &s.cfg
	// A read block never exceeds a line's limit, so that every complete
	// line in a block is within it.
	c.bufBytes = min(c.readBuffer, c.maxLine)
	c.roundBytes = max(roundBlocks*c.bufBytes, c.maxLine)
	c.rotatedIdle = max(c.partialAfter, 2*c.scanEvery)
	c.forgetAfter, c.maxGone = forgetAfter, maxGoneEntries
	return s, nil
}

// Config returns the keys the source runs with, read back from its
// settings: what logship validate --print shows for it.
func (s *Source) Config() Config {
	c := &s.cfg
	readFrom := ReadFromBeginning
	if c.readFromEnd {
		readFrom = ReadFromEnd
	}
	paths, exclude := s.globs.Globs()
	return Config{
		Paths: paths, Exclude: exclude, ReadFrom: readFrom,
		MaxLineBytes: schema.Size(c.maxLine), ScanInterval: schema.Duration(c.scanEvery),
		PartialLineAfter: schema.Duration(c.partialAfter), MaxOpenFiles: c.maxOpen,
		RotatedKeepOpen: schema.Duration(c.rotatedKeep), MaxRotatedOpen: c.maxRotated,
		FingerprintBytes: c.fpBytes, ReadBufferBytes: schema.Size(c.readBuffer),
	}
}

// Name implements pipeline.Source.
func (s *Source) Name() string { return s.name }

// Run implements pipeline.Source: it tails until ctx is cancelled and then
// returns nil, leaving unread bytes and open streams for the next start.
// It returns an error only if the pipeline refuses data for another reason.
func (s *Source) Run(ctx context.Context, out pipeline.Emitter) error {
	t := newTailer(s, out)
	defer t.closeAll()
	if w, err := newWatcher(); err != nil {
		s.log.Warn("file change notifications unavailable; relying on periodic scans", "err", err, "scan_interval", s.cfg.scanEvery)
	} else {
		t.watch = w
		defer w.close()
	}
	t.load()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var nextScan, lastScan, lastRound time.Time
	for {
		if ctx.Err() != nil {
			return nil
		}
		now := time.Now()
		if t.watch != nil && t.watch.takeScan() {
			t.wantScan = true
		}
		if !now.Before(nextScan) || t.wantScan && now.Sub(lastScan) >= scanGap {
			t.wantScan = false
			t.scan(now)
			lastScan, nextScan = now, now.Add(s.cfg.scanEvery)
		}
		lastRound = time.Now()
		more, err := t.round(ctx, lastRound)
		if err != nil {
			return s.stopped(ctx, err)
		}
		if more {
			continue
		}
		wake := nextScan
		if t.wantScan && lastScan.Add(scanGap).Before(wake) {
			wake = lastScan.Add(scanGap)
		}
		if d := t.nextDeadline(); !d.IsZero() && d.Before(wake) {
			wake = d
		}
		if !sleep(ctx, timer, time.Until(wake), t.watch.wakeup()) {
			return nil
		}
		// Writes come as a stream of events: one round per eventGap
		// reads them all, instead of one round (a stat of every file)
		// per write.
		if !sleep(ctx, timer, time.Until(lastRound.Add(eventGap)), nil) {
			return nil
		}
	}
}

// sleep waits for d, a value on wake, or ctx; it reports false if ctx ended.
func sleep(ctx context.Context, timer *time.Timer, d time.Duration, wake <-chan struct{}) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer.Reset(d)
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
	case <-wake:
	}
	return true
}

// stopped maps the error that ended the loop: nil when ctx ended. The
// error is returned as it is: the pipeline names the source ("source
// NAME: ..."), and naming it here too printed "source app: file source
// app: ...".
func (s *Source) stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}
