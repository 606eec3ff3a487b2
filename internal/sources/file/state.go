package file

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/pipeline"
)

// fileState is where an inode is in its life.
type fileState uint8

const (
	// statePending: seen, no stream yet (head not complete, waiting for a
	// descriptor, or undecided whether it is a copy).
	statePending fileState = iota
	// stateTailing: its stream is open.
	stateTailing
	// stateDone: its stream was closed after it was read to the end; it is
	// reopened if the file grows.
	stateDone
	// stateCopy: a copy of a known stream's content; not shipped.
	stateCopy
)

// file is one inode the tailer knows about.
type file struct {
	key     fileKey
	path    string // where the last scan found it (last known path if none)
	h       handle // nil while no descriptor is held
	size    int64  // last known size
	mtime   time.Time
	head    []byte // first bytes, at most fingerprint_bytes
	st      fileState
	s       *stream // the stream of the current generation (tailing or done)
	copyOf  *stream // stateCopy: the stream whose content it holds
	nextGen int     // generation of the next new stream on this inode

	matched   bool      // found at a matching path by the last scan
	missed    int       // consecutive scans that did not find it
	unlinked  bool      // no name left (deleted)
	rotatedAt time.Time // when it stopped being matched: bounds start here
	truncated bool      // truncation seen; resolved by the next scan
	lostBytes int64     // bytes known to have existed past the read offset before a truncation
	initial   bool      // found by the first scan of a first start (read_from)
	firstSize int64     // its size then: read_from: end skips what it held
	failed    bool      // the last open failed: shipped from the beginning once readable
	grewAt    time.Time // last change of a pending file
	wantOpen  bool      // needs a descriptor (new, reopen after growth, parked)
	waitSince time.Time
}

// stream is one generation of a file as the source tails it: its id, the
// pipeline.StreamWriter it writes through, and its read position.
type stream struct {
	id        string
	info      pipeline.StreamInfo
	out       pipeline.StreamWriter // the handle; kept after Close for Committed
	closed    bool
	gen       int
	off       int64     // end of the last piece written: the next byte to read
	tail      int64     // bytes seen past off that are not yet a complete line
	grewAt    time.Time // last time the file grew past off+tail
	atEOF     bool      // the last read reached the end of the file
	splitting bool      // in the middle of a line longer than max_line_bytes
}

// tailer is the state of one Run.
type tailer struct {
	src *Source
	cfg *settings
	log *slog.Logger
	m   *sourceMetrics
	out pipeline.Emitter

	files      map[fileKey]*file
	orphans    []*orphan       // saved checkpoints not matched to a file yet
	ids        map[string]bool // stream ids in use (opened or saved)
	firstStart bool
	scans      int
	open       int
	wantScan   bool
	watch      *watcher

	buf  []byte // read buffer (bufBytes)
	big  []byte // for lines longer than buf (maxLine), allocated on demand
	hbuf []byte // head reads

	errLogged map[string]string // path → last error logged (log once)
	// globFailed are the paths the last glob could not list or stat.
	globFailed map[string]bool
	dirLogged  map[string]bool // paths logged as folders/non-regular
	capLogged  bool
}

// orphan is a stream without a file: a saved checkpoint not matched to a
// file yet, or a finished stream whose file left the paths. A file found
// later with its inode and fingerprint, or (if that inode is gone) its
// fingerprint alone, continues it.
type orphan struct {
	cp          pipeline.Checkpoint
	id          identity
	ok          bool      // id parsed
	key         fileKey   // id.Dev, id.Ino
	s           *stream   // the stream when it comes from this run
	contentGone bool      // its inode was found holding other content
	since       time.Time // retention starts here
}

func newTailer(s *Source, out pipeline.Emitter) *tailer {
	return &tailer{
		src: s, cfg: &s.cfg, log: s.log, m: s.m, out: out,
		files: map[fileKey]*file{}, ids: map[string]bool{},
		errLogged: map[string]string{}, dirLogged: map[string]bool{},
		buf: make([]byte, s.cfg.bufBytes), hbuf: make([]byte, s.cfg.fpBytes),
	}
}

// load reads the saved checkpoints.
func (t *tailer) load() {
	cps, first := t.out.Checkpoints()
	t.firstStart = first
	now := time.Now()
	for _, cp := range cps {
		t.ids[cp.Info.ID] = true
		// Retention counts from this start: a file may still be waiting
		// for a descriptor or for readable permissions.
		o := &orphan{cp: cp, since: now}
		o.id, o.ok = parseIdentity(cp.Info.Meta)
		o.key = fileKey{dev: o.id.Dev, ino: o.id.Ino}
		if !o.ok {
			t.log.Warn("checkpoint without a usable file identity; kept until it expires", "stream", cp.Info.ID, "path", cp.Info.Path)
		}
		t.orphans = append(t.orphans, o)
	}
	t.m.openFiles.Set(0)
}

// closeAll releases every descriptor (Run is ending). Streams stay open:
// the next start resumes them from their checkpoints.
func (t *tailer) closeAll() {
	for _, f := range t.files {
		t.release(f)
	}
	t.m.waitingFiles.Set(0)
}

// openHandle opens f.path and checks it is still f's inode. It reports
// false when f stays without a descriptor (error logged once). The caller
// checks max_open_files.
func (t *tailer) openHandle(f *file) bool {
	if f.h != nil {
		return true
	}
	h, err := t.src.openFile(f.path)
	if err != nil {
		f.failed = true
		if !f.wantOpen {
			f.wantOpen, f.waitSince = true, time.Now()
		}
		t.logOnce(f.path, "cannot open file; retrying at every scan", err)
		return false
	}
	fi, err := h.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", fi.Mode().Type())
	}
	if err == nil {
		if k, _, _ := statKey(fi); k != f.key {
			_ = h.Close() // renamed or replaced since the scan: the next scan sees where it is
			return false
		}
	}
	if err != nil {
		_ = h.Close()
		t.logOnce(f.path, "cannot open file; retrying at every scan", err)
		return false
	}
	t.clearLog(f.path)
	f.h, f.wantOpen = h, false
	f.size, f.mtime = fi.Size(), fi.ModTime()
	t.open++
	t.m.openFiles.Set(float64(t.open))
	if int64(t.open) > t.src.peakOpen.Load() {
		t.src.peakOpen.Store(int64(t.open))
	}
	return true
}

// release closes f's descriptor, if any.
func (t *tailer) release(f *file) {
	if f.h == nil {
		return
	}
	_ = f.h.Close()
	f.h = nil
	t.open--
	t.m.openFiles.Set(float64(t.open))
}

// readHead reads up to fingerprint_bytes from the start of f. It returns a
// new slice (heads are kept).
func (t *tailer) readHead(f *file) ([]byte, error) {
	n, err := f.h.ReadAt(t.hbuf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return append([]byte(nil), t.hbuf[:n]...), nil
}

// meta is the identity of f's stream as saved with the checkpoint.
func (t *tailer) meta(f *file, s *stream) identity {
	return identity{V: metaVersion, Dev: f.key.dev, Ino: f.key.ino, FPLen: len(f.head), FP: fingerprint(f.head), Gen: s.gen, Path: f.path}
}

// setMeta saves f's current identity with its open stream.
func (t *tailer) setMeta(f *file) {
	if f.s == nil || f.s.closed || len(f.head) == 0 {
		return
	}
	f.s.info.Meta = t.meta(f, f.s).json()
	f.s.out.SetMeta(f.s.info.Meta)
}

// newStream opens a new stream for f's current generation at start.
func (t *tailer) newStream(f *file, start int64) {
	idb := idBytes(f.head)
	gen := f.nextGen
	id := streamID(f.path, f.key, idb, gen)
	for t.ids[id] { // an id still known belongs to other content
		gen++
		id = streamID(f.path, f.key, idb, gen)
	}
	s := &stream{id: id, gen: gen, off: start, grewAt: time.Now()}
	s.info = pipeline.StreamInfo{ID: id, Kind: archive.KindFile, Path: f.path, Unit: archive.UnitBytes}
	s.info.Meta = t.meta(f, s).json()
	s.out = t.out.Open(s.info, start)
	t.ids[id] = true
	f.s, f.st, f.nextGen, f.copyOf = s, stateTailing, gen+1, nil
	t.m.streamsOpened.Inc()
	t.log.Info("tailing file", "path", f.path, "stream", id, "offset", start, "gen", gen)
}

// resume reopens a known stream on f at off (a saved checkpoint, or a
// finished stream whose file grew).
func (t *tailer) resume(f *file, s *stream, off int64) {
	s.off, s.tail, s.closed, s.atEOF, s.splitting = off, 0, false, false, false
	s.grewAt = time.Now()
	s.info.Meta = t.meta(f, s).json()
	s.out = t.out.Open(s.info, off)
	t.ids[s.id] = true
	f.s, f.st, f.copyOf = s, stateTailing, nil
	f.nextGen = max(f.nextGen, s.gen+1)
	t.log.Info("resuming file", "path", f.path, "stream", s.id, "offset", off, "gen", s.gen)
}

// closeStream flushes and closes f's stream; f keeps its descriptor.
func (t *tailer) closeStream(f *file, why string) {
	if s := f.s; s != nil && !s.closed {
		s.out.Flush()
		s.out.Close()
		s.closed = true
		t.log.Info("stream closed", "path", f.path, "stream", s.id, "offset", s.off, "why", why)
	}
	if f.s != nil {
		f.st = stateDone
	}
}

// finish closes f's stream and releases its descriptor.
func (t *tailer) finish(f *file, why string) {
	t.closeStream(f, why)
	t.release(f)
}

// abandon finishes f's stream although bytes are left unread, counting and
// logging them.
func (t *tailer) abandon(f *file, why string) {
	var left int64
	if f.s != nil && !f.s.closed {
		if f.h != nil {
			if fi, err := f.h.Stat(); err == nil {
				f.size = fi.Size()
			}
		}
		left = max(f.size-f.s.off, 0)
	}
	if left > 0 {
		t.m.bytesAbandon.AddInt64(left)
		t.log.Warn("file abandoned before it was read to the end", "path", f.path, "stream", f.s.id, "unread_bytes", left, "why", why)
	}
	t.finish(f, why)
}

// forgetFile drops f: its inode left the paths and no descriptor is
// needed. A finished stream becomes an orphan, so that the file is
// recognised if it comes back, and its checkpoint is forgotten later.
func (t *tailer) forgetFile(f *file) {
	t.release(f)
	delete(t.files, f.key)
	if _, ok := t.errLogged[f.path]; ok {
		delete(t.errLogged, f.path)
		if r, ok := t.out.(pipeline.ProblemReporter); ok {
			r.Solved(f.path) // gone from the paths: no longer a problem
		}
	}
	s := f.s
	if s == nil {
		return
	}
	if !s.closed {
		t.finish(f, "file left the paths")
	}
	t.orphan(f, s, false)
}

// orphan keeps a closed stream of f (with f's head as its fingerprint) for
// matching files found later. contentGone: f's inode no longer holds it.
func (t *tailer) orphan(f *file, s *stream, contentGone bool) {
	t.orphans = append(t.orphans, &orphan{
		cp: pipeline.Checkpoint{Info: s.info, Committed: s.off, Finished: true},
		id: t.meta(f, s), ok: len(f.head) > 0, key: f.key, s: s, contentGone: contentGone, since: time.Now(),
	})
}

func (t *tailer) logOnce(path, msg string, err error) {
	if t.errLogged[path] == err.Error() {
		return
	}
	t.errLogged[path] = err.Error()
	t.m.readErrors.Inc()
	t.log.Error(msg, "path", path, "err", err)
	if r, ok := t.out.(pipeline.ProblemReporter); ok {
		r.Problem(path, msg, err)
	}
}

func (t *tailer) clearLog(path string) {
	if _, ok := t.errLogged[path]; ok {
		delete(t.errLogged, path)
		t.log.Info("file readable again", "path", path)
		if r, ok := t.out.(pipeline.ProblemReporter); ok {
			r.Solved(path)
		}
	}
}
