// Package crash ships JVM crash files (hs_err_pid*.log error reports and
// java_pid*.hprof heap dumps, or whatever the configured globs name) as
// artifacts: whole, once, when complete.
//
// A file is complete when its size and modification time have not changed
// for the settle period and its writer is gone: the pid in its name
// (hs_err_pid<PID>.log, java_pid<PID>.hprof) no longer runs, or no process
// holds it open (found in /proc/*/fd). Where that cannot be known (the
// writer's descriptors are not ours to list), a longer quiet period stands
// in for it.
//
// An artifact's stream id is a pure function of its content's identity:
// the base name, size, modification time and a hash of its first 4 KiB
// (not the device and inode, which change when an overlay file system is
// mounted again after a container restart). Its checkpoint entry says
// shipped (Committed == size, finished) only once the object is durable;
// after that it is never shipped again, also after a restart. Files that
// cannot be read are reported once, with a hint, and retried at every
// scan; the other files keep flowing.
package crash

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/config"
	"github.com/logship/logship/pipeline"
)

// Defaults.
const (
	DefaultSettle       = 5 * time.Second
	DefaultScanInterval = time.Second
	// DefaultSmallArtifact: artifacts up to this size ship from the scan
	// loop; larger ones (heap dumps) ship one at a time in the background,
	// so that an error report never waits behind a heap dump.
	DefaultSmallArtifact = 8 << 20
	// fingerprintBytes of a file's head go into its identity.
	fingerprintBytes = 4 << 10
	// uncertainQuiet is the least quiet time, when whether the writer is
	// gone cannot be known, before a file counts as complete.
	uncertainQuiet = 30 * time.Second
)

// Artifact kinds (Extra["artifact"]).
const (
	KindHsErr    = "hs_err"
	KindHeapDump = "heap_dump"
	KindFile     = "file"
)

// Source watches globs for crash files. Create it with New.
//
// The exported fields are hooks with working defaults; tests and embedders
// may replace them after New and before Run.
type Source struct {
	name      string
	globs     globber
	settle    time.Duration
	rateLimit int64
	log       *slog.Logger
	m         sourceMetrics

	// ScanInterval paces the glob scans (default: settle/2, between 50ms
	// and 1s).
	ScanInterval time.Duration
	// Now is the clock of settle periods.
	Now func() time.Time
	// OpenFile opens a crash file for reading (default os.Open).
	OpenFile func(name string) (*os.File, error)
	// PidAlive reports whether the process that wrote a file still runs.
	PidAlive func(pid int) bool
	// ProcRoot is where open descriptors are looked for; empty disables
	// the check (then the quiet period for uncertain writers applies).
	ProcRoot string
	// PartSize is the raw bytes per upload part (0: the pipeline default).
	PartSize int64
	// SmallArtifact is the size up to which artifacts ship inline.
	SmallArtifact int64

	scans atomic.Int64
}

var _ pipeline.Source = (*Source)(nil)

// New checks cfg (a `type: crash` entry) and returns a source; zero
// values take their defaults, relative paths are taken from the working
// directory, and every problem is reported at once.
func New(cfg config.Source, log *slog.Logger) (*Source, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	name := cfg.Name
	if name == "" {
		name = "crash"
	}
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("sources[%s].%s: %s", name, key, fmt.Sprintf(format, args...)))
	}
	s := &Source{name: name, log: log.With("source", name), m: newMetrics(name), settle: cfg.Settle.Std(), rateLimit: cfg.RateLimit.Int64(),
		Now: time.Now, OpenFile: os.Open, PidAlive: pidAlive(DefaultProcRoot), ProcRoot: DefaultProcRoot,
		SmallArtifact: DefaultSmallArtifact}
	paths := cfg.Paths
	if len(paths) == 0 {
		paths = config.DefaultCrashPaths
	}
	for i, p := range paths {
		pat, err := compilePattern(p)
		if err != nil {
			bad(fmt.Sprintf("paths[%d]", i), "%v", err)
			continue
		}
		s.globs.pats = append(s.globs.pats, pat)
	}
	for i, p := range cfg.Exclude {
		ex, err := compileExclude(p)
		if err != nil {
			bad(fmt.Sprintf("exclude[%d]", i), "%v", err)
			continue
		}
		s.globs.excludes = append(s.globs.excludes, ex)
	}
	switch {
	case s.settle < 0:
		bad("settle", "%v is negative: use e.g. 5s", s.settle)
	case s.settle == 0:
		s.settle = DefaultSettle
	}
	if s.rateLimit < 0 {
		bad("rate_limit", "%d is negative: use 0 (no limit) or e.g. 20MiB", s.rateLimit)
	}
	s.ScanInterval = min(max(s.settle/2, 50*time.Millisecond), DefaultScanInterval)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// Name implements pipeline.Source.
func (s *Source) Name() string { return s.name }

// ErrNoShipper is returned by Run when the emitter cannot ship artifacts.
var ErrNoShipper = errors.New("crash: the pipeline cannot ship artifacts (its emitter has no ShipArtifact)")

// Run implements pipeline.Source: it scans until ctx ends.
func (s *Source) Run(ctx context.Context, out pipeline.Emitter) error {
	shipper, ok := out.(pipeline.ArtifactShipper)
	if !ok {
		return ErrNoShipper
	}
	r := &run{s: s, out: out, shipper: shipper, cands: map[string]*candidate{}, known: map[string]identity{},
		doneSet: map[string]bool{}, bgDone: make(chan result, 1)}
	saved, _ := out.Checkpoints()
	for _, cp := range saved {
		id, ok := parseIdentity(cp.Info.Meta)
		if !ok {
			out.Forget(cp.Info.ID)
			continue
		}
		r.known[cp.Info.ID] = id
		if cp.Finished && cp.Committed == id.Size {
			r.doneSet[cp.Info.ID] = true
		}
	}
	s.globs.onErr = func(dir string, err error) {
		if r.noteErr("dir:"+dir, err.Error()) {
			s.log.Warn("crash: cannot list a folder of the crash paths; will retry", "dir", dir, "err", err)
		}
	}
	s.log.Info("crash: watching for crash files", "paths", patternsOf(s.globs.pats), "settle", s.settle)
	t := time.NewTicker(s.ScanInterval)
	defer t.Stop()
	for {
		if err := r.scan(ctx); err != nil {
			r.wait()
			return err
		}
		select {
		case <-ctx.Done():
			r.wait()
			return nil
		case res := <-r.bgDone:
			r.busy = false
			r.finish(res)
		case <-t.C:
		}
	}
}

func patternsOf(ps []pattern) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.root + "/" + filepath.Join(p.segs...)
	}
	return out
}

// identity is the checkpoint metadata of an artifact's stream.
type identity struct {
	V     int    `json:"v"`
	Size  int64  `json:"size"`
	MTime int64  `json:"mtime_ns"`
	FP    string `json:"fp"` // hex of the first 16 bytes of SHA-256 of the first 4 KiB
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	Path  string `json:"path"`
}

const metaVersion = 1

func parseIdentity(m json.RawMessage) (identity, bool) {
	var id identity
	if len(m) == 0 || json.Unmarshal(m, &id) != nil || id.V != metaVersion || id.Path == "" {
		return identity{}, false
	}
	return id, true
}

func (id identity) json() json.RawMessage {
	b, err := json.Marshal(id)
	if err != nil {
		panic(err) // plain struct
	}
	return b
}

// streamID names the artifact's stream: its base name and a hash of its
// content's identity.
func (id identity) streamID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[0:], uint64(id.Size))
	binary.BigEndian.PutUint64(b[8:], uint64(id.MTime))
	h := sha256.New()
	h.Write(b[:])
	h.Write([]byte(id.FP))
	h.Write([]byte(filepath.Base(id.Path)))
	return archive.SafeName(filepath.Base(id.Path)) + "-" + hex.EncodeToString(h.Sum(nil)[:8])
}

// sameFile reports whether two identities describe the same content.
func (id identity) sameFile(o identity) bool {
	return id.Size == o.Size && id.MTime == o.MTime && (id.FP == "" || o.FP == "" || id.FP == o.FP)
}

// statOf is the identity of a stat result, without the fingerprint.
func statOf(path string, fi fs.FileInfo) identity {
	id := identity{V: metaVersion, Size: fi.Size(), MTime: fi.ModTime().UnixNano(), Path: path}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.Dev, id.Ino = uint64(st.Dev), uint64(st.Ino)
	}
	return id
}

func sameStat(a, b identity) bool {
	return a.Size == b.Size && a.MTime == b.MTime && a.Dev == b.Dev && a.Ino == b.Ino
}

var pidInName = regexp.MustCompile(`(?:hs_err_pid|java_pid|_pid)(\d{1,10})`)

// pidOf returns the pid in a crash file's name, or 0.
func pidOf(path string) int {
	m := pidInName.FindStringSubmatch(filepath.Base(path))
	if m == nil {
		return 0
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n <= 0 || n > 1<<22 {
		return 0
	}
	return n
}

// classification is what a file is.
type classification struct {
	kind, event string
	extra       map[string]string
}

// classify looks at a file's head (content first, then its name).
func classify(path string, head []byte) classification {
	base := filepath.Base(path)
	var c classification
	if h, ok := ParseHsErr(head); ok {
		c = classification{KindHsErr, archive.EventJVMCrash, h.Extra()}
	} else if h, ok := ParseHprof(head); ok {
		c = classification{KindHeapDump, archive.EventHeapDump, h.Extra()}
	} else if ok, _ := filepath.Match("hs_err*", base); ok {
		c = classification{KindHsErr, archive.EventJVMCrash, map[string]string{}}
	} else if filepath.Ext(base) == ".hprof" {
		c = classification{KindHeapDump, archive.EventHeapDump, map[string]string{}}
	} else {
		c = classification{KindFile, "", map[string]string{}}
	}
	c.extra["artifact"] = c.kind
	if pid := pidOf(path); pid > 0 && c.extra["pid"] == "" {
		c.extra["pid"] = strconv.Itoa(pid)
	}
	return c
}

// candidate is one file matching the globs.
type candidate struct {
	path  string
	stat  identity  // as last seen (no fingerprint)
	since time.Time // since when stat has not changed
	id    string    // stream id, once the file settled and was read
	ident identity  // with the fingerprint
	pid   int

	retryAt  time.Time
	failures int
}

type result struct {
	c   *candidate
	err error
}

// run is the state of one Run.
type run struct {
	s       *Source
	out     pipeline.Emitter
	shipper pipeline.ArtifactShipper

	cands   map[string]*candidate // by path
	known   map[string]identity   // checkpoint entries by stream id
	doneSet map[string]bool       // stream ids shipped
	errs    map[string]string     // last error logged per key

	busy   bool   // a large artifact ships in the background
	bgID   string // its stream id
	bgDone chan result
}

// noteErr records an error for key and reports whether it is new (to be
// logged); an empty msg clears it and reports whether there was one.
func (r *run) noteErr(key, msg string) bool {
	if r.errs == nil {
		r.errs = map[string]string{}
	}
	old, had := r.errs[key]
	if msg == "" {
		delete(r.errs, key)
		return had
	}
	r.errs[key] = msg
	return old != msg
}

func (r *run) wait() {
	if r.busy {
		res := <-r.bgDone
		r.busy = false
		r.finish(res)
	}
}

// scan lists the files, updates their state and ships those complete.
func (r *run) scan(ctx context.Context) error {
	s := r.s
	s.scans.Add(1)
	now := s.Now()
	seen := map[string]bool{}
	var settled []*candidate
	for _, p := range s.globs.files() {
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		seen[p] = true
		st := statOf(p, fi)
		c := r.cands[p]
		if c == nil || !sameStat(c.stat, st) {
			since := now
			if c == nil && fi.ModTime().Before(now) {
				since = fi.ModTime() // found at start: quiet since it was written
			}
			c = &candidate{path: p, stat: st, since: since, pid: pidOf(p)}
			r.cands[p] = c
		}
		if now.Sub(c.since) >= s.settle && !r.doneSet[c.id] {
			settled = append(settled, c)
		}
	}
	for p := range r.cands {
		if !seen[p] {
			delete(r.cands, p)
			r.noteErr(p, "")
		}
	}
	r.retire()

	var ready []*candidate
	for _, c := range settled {
		if c.id == "" {
			if err := r.identify(c); err != nil {
				continue
			}
		}
		if r.doneSet[c.id] || now.Before(c.retryAt) || (r.busy && c.stat.Size > s.SmallArtifact) {
			continue
		}
		ready = append(ready, c)
	}
	if len(ready) == 0 {
		return nil
	}
	ready = r.writersGone(ready, now)
	// Error reports first, then the smallest.
	sort.SliceStable(ready, func(i, j int) bool {
		hi, hj := isHsErrName(ready[i].path), isHsErrName(ready[j].path)
		if hi != hj {
			return hi
		}
		return ready[i].stat.Size < ready[j].stat.Size
	})
	for _, c := range ready {
		if c.stat.Size > s.SmallArtifact {
			if r.busy {
				continue
			}
			r.busy, r.bgID = true, c.id
			go func() { r.bgDone <- result{c, r.ship(ctx, c)} }()
			continue
		}
		r.finish(result{c, r.ship(ctx, c)})
		if ctx.Err() != nil {
			return nil
		}
	}
	return nil
}

func isHsErrName(p string) bool {
	ok, _ := filepath.Match("hs_err*", filepath.Base(p))
	return ok
}

// identify reads a settled file's head to name its stream.
func (r *run) identify(c *candidate) error {
	f, err := r.s.OpenFile(c.path)
	if err != nil {
		r.unreadable(c, err)
		return err
	}
	defer f.Close()
	head := make([]byte, fingerprintBytes)
	n, err := f.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		r.unreadable(c, err)
		return err
	}
	sum := sha256.Sum256(head[:n])
	c.ident = c.stat
	c.ident.FP = hex.EncodeToString(sum[:16])
	c.id = c.ident.streamID()
	if r.noteErr(c.path, "") {
		r.s.log.Info("crash: file is readable now", "path", c.path)
	}
	return nil
}

// unreadable logs once per file and cause why it cannot be read.
func (r *run) unreadable(c *candidate, err error) {
	if !r.noteErr(c.path, err.Error()) {
		return
	}
	r.s.m.unreadable.Inc()
	hint := "will retry at every scan"
	if errors.Is(err, fs.ErrPermission) {
		hint = fmt.Sprintf("logship runs as uid %d; the file is %s", os.Geteuid(), ownerOf(c.path)) +
			": run logship as the JVM's user, or make the JVM write files it can read (umask, -XX:HeapDumpPath / -XX:ErrorFile to a shared folder)"
	}
	r.s.log.Error("crash: cannot read crash file; will retry", "path", c.path, "err", err, "hint", hint)
}

func ownerOf(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "not stat-able"
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("owned by uid %d, mode %04o", st.Uid, fi.Mode().Perm())
	}
	return fmt.Sprintf("mode %04o", fi.Mode().Perm())
}

// writersGone keeps the candidates whose writers are gone.
func (r *run) writersGone(cs []*candidate, now time.Time) []*candidate {
	s := r.s
	targets := map[string]bool{}
	alias := map[string]string{} // open path -> candidate path
	var check []*candidate
	var out []*candidate
	for _, c := range cs {
		if c.pid > 0 && !s.PidAlive(c.pid) {
			out = append(out, c) // its writer exited
			continue
		}
		check = append(check, c)
		targets[c.path], alias[c.path] = true, c.path
		if real, err := filepath.EvalSymlinks(c.path); err == nil && real != c.path {
			targets[real], alias[real] = true, c.path
		}
	}
	if len(check) == 0 {
		return out
	}
	of := scanOpen(s.ProcRoot, targets)
	held := map[string]bool{}
	for p := range of.held {
		held[alias[p]] = true
	}
	quiet := max(6*s.settle, uncertainQuiet)
	for _, c := range check {
		if held[c.path] {
			continue
		}
		certain := of.listed && (c.pid > 0 && !of.unreadable[c.pid] || c.pid == 0 && len(of.unreadable) == 0)
		if certain || now.Sub(c.since) >= quiet {
			out = append(out, c)
		}
	}
	return out
}

// ship opens a complete file and hands it to the pipeline.
func (r *run) ship(ctx context.Context, c *candidate) error {
	s := r.s
	f, err := s.OpenFile(c.path)
	if err != nil {
		return &openError{err}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return &openError{err}
	}
	if st := statOf(c.path, fi); !sameStat(st, c.stat) {
		return fmt.Errorf("%w: %s changed", pipeline.ErrArtifactChanged, c.path)
	}
	head := make([]byte, HeadBytes)
	n, err := f.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return &openError{err}
	}
	cl := classify(c.path, head[:n])
	a := pipeline.Artifact{
		Info:      pipeline.StreamInfo{ID: c.id, Kind: archive.KindCrash, Path: c.path, Unit: archive.UnitBytes, Meta: c.ident.json()},
		File:      f,
		Size:      fi.Size(),
		ModTime:   fi.ModTime(),
		Event:     cl.event,
		Extra:     cl.extra,
		RateLimit: s.rateLimit,
		PartSize:  s.PartSize,
	}
	if err := r.shipper.ShipArtifact(ctx, a); err != nil {
		return err
	}
	args := []any{"path", c.path, "stream", c.id, "bytes", a.Size, "artifact", cl.kind}
	for _, k := range []string{"signal", "error", "problematic_frame", "pid", "time"} {
		if v := cl.extra[k]; v != "" {
			args = append(args, k, v)
		}
	}
	s.log.Info("crash: archived crash file", args...)
	return nil
}

type openError struct{ err error }

func (e *openError) Error() string { return e.err.Error() }
func (e *openError) Unwrap() error { return e.err }

// finish records the outcome of shipping a candidate.
func (r *run) finish(res result) {
	c, err := res.c, res.err
	switch {
	case err == nil:
		r.s.m.shipped.Inc()
		r.doneSet[c.id] = true
		r.known[c.id] = c.ident
		r.noteErr(c.path, "")
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		// Stopping: the next start resumes the upload.
	case errors.Is(err, pipeline.ErrArtifactChanged):
		r.s.log.Info("crash: file changed while shipping; waiting for it to settle again", "path", c.path, "err", err)
		delete(r.cands, c.path)
	default:
		var oe *openError
		if errors.As(err, &oe) {
			r.unreadable(c, oe.err)
		} else if r.noteErr(c.path, err.Error()) {
			r.s.m.failures.Inc()
			r.s.log.Error("crash: shipping crash file failed; will retry", "path", c.path, "err", err)
		}
		c.failures++
		c.retryAt = r.s.Now().Add(min(time.Duration(1<<min(c.failures, 6))*time.Second, time.Minute))
	}
}

// retire drops checkpoint entries of files that are gone (or replaced by
// other content at the same path).
func (r *run) retire() {
	current := map[string]bool{}
	for _, c := range r.cands {
		if c.id != "" {
			current[c.id] = true
		}
	}
	for id, ident := range r.known {
		if current[id] || r.busy && id == r.bgID {
			continue
		}
		fi, err := os.Stat(ident.Path)
		if err == nil && statOf(ident.Path, fi).sameFile(ident) {
			continue
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			continue // cannot tell
		}
		delete(r.known, id)
		if !r.doneSet[id] {
			// An upload interrupted by a restart, of a file now gone:
			// end its stream so that the entry can go.
			r.out.Open(pipeline.StreamInfo{ID: id, Kind: archive.KindCrash, Path: ident.Path, Unit: archive.UnitBytes, Meta: ident.json()}, 0).Close()
		}
		delete(r.doneSet, id)
		r.out.Forget(id)
	}
}

type sourceMetrics struct {
	shipped, unreadable, failures *metrics.Counter
}

func newMetrics(name string) sourceMetrics {
	c := func(n string) *metrics.Counter {
		return metrics.GetOrCreateCounter(fmt.Sprintf("%s{source=%q}", n, name))
	}
	return sourceMetrics{
		shipped:    c("logship_crash_artifacts_shipped_total"),
		unreadable: c("logship_crash_unreadable_total"),
		failures:   c("logship_crash_failures_total"),
	}
}
