package crash

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/artifact"
	"github.com/logship/logship/internal/pipeline"
)

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
	s   *Source
	out pipeline.Emitter

	cands   map[string]*candidate // by path
	known   map[string]identity   // checkpoint entries by stream id
	doneSet map[string]bool       // stream ids shipped
	errs    map[string]string     // last error logged per key

	settle time.Duration // s.settle; shorter after Finish (the writer is gone)

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
	for _, p := range s.globs.Paths() {
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
		if now.Sub(c.since) >= r.settle && !r.doneSet[c.id] {
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
	quiet := max(6*r.settle, uncertainQuiet)
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

// ship opens a complete file, uploads it and records it shipped.
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
		return fmt.Errorf("%w: %s changed", artifact.ErrChanged, c.path)
	}
	head := make([]byte, HeadBytes)
	n, err := f.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return &openError{err}
	}
	cl := classify(c.path, head[:n])
	// While it ships, the stream's checkpoint entry says Committed 0: a
	// restart knows the file (and retire can end the entry if it goes).
	st := r.out.Open(pipeline.StreamInfo{ID: c.id, Kind: archive.KindCrash, Path: c.path, Unit: archive.UnitBytes, Meta: c.ident.json()}, 0)
	size := fi.Size()
	key, err := s.up.Upload(ctx, artifact.Artifact{
		ID:        c.id,
		Kind:      archive.KindCrash,
		Path:      c.path,
		Time:      fi.ModTime(),
		Event:     cl.event,
		Extra:     cl.extra,
		File:      f,
		Size:      size,
		RateLimit: s.rateLimit,
		PartSize:  s.PartSize,
	})
	if err != nil {
		return err
	}
	st.CloseStored(size)
	args := []any{"path", c.path, "stream", c.id, "bytes", size, "artifact", cl.kind, "object", key}
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
	case errors.Is(err, artifact.ErrChanged):
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
