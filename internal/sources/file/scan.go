package file

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"sort"
	"time"
)

// found is one regular file matching the paths.
type found struct {
	path  string
	key   fileKey
	size  int64
	mtime time.Time
	alt   []string // other matching paths of the same inode (links)
}

// glob lists the matching regular files, one entry per inode, and updates
// the watched folders.
func (t *tailer) glob() []found {
	dirs := map[string]bool{}
	g := t.src.globs
	g.OnDir = func(d string) { dirs[d] = true }
	failed := map[string]bool{} // paths this glob could not list or stat
	g.OnErr = func(d string, err error) { failed[d] = true; t.logOnce(d, "cannot list folder", err) }
	var out []found
	byKey := map[fileKey]int{}
	notRegular := map[string]bool{}
	for _, p := range g.Paths() {
		fi, err := os.Stat(p)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				failed[p] = true
				t.logOnce(p, "cannot stat file", err)
			}
			continue
		}
		if !fi.Mode().IsRegular() {
			notRegular[p] = true
			if !t.dirLogged[p] {
				kind := "not a regular file"
				if fi.IsDir() {
					kind = "a folder"
				}
				t.log.Warn("path matches but is "+kind+"; skipped", "path", p, "mode", fi.Mode().String())
			}
			continue
		}
		k, _, ok := statKey(fi)
		if !ok {
			continue
		}
		if i, dup := byKey[k]; dup {
			out[i].alt = append(out[i].alt, p)
			continue
		}
		byKey[k] = len(out)
		out = append(out, found{path: p, key: k, size: fi.Size(), mtime: fi.ModTime()})
	}
	t.dirLogged = notRegular
	// A folder listed (or a path stated) again, or gone: solved.
	for p := range t.globFailed {
		if !failed[p] {
			t.clearLog(p)
		}
	}
	t.globFailed = failed
	if t.watch != nil {
		t.watch.sync(dirs)
	}
	return out
}

// scan is the source of truth: it finds new, renamed, rotated, deleted
// and truncated files and applies the rules of the package doc.
func (t *tailer) scan(now time.Time) {
	list := t.glob()
	for _, f := range t.files {
		f.matched = false
	}
	var fresh []found
	for _, fd := range list {
		f := t.files[fd.key]
		if f == nil {
			fresh = append(fresh, fd)
			continue
		}
		f.matched = true
		t.refresh(f, fd, now)
	}
	for _, f := range t.files {
		if f.matched {
			f.missed = 0
			continue
		}
		// Two scans in a row: a name listed while being renamed is not
		// mistaken for a file that left.
		if f.missed++; f.missed >= 2 {
			t.lost(f, now)
		} else {
			f.matched = true
		}
	}
	for _, fd := range fresh {
		t.files[fd.key] = &file{key: fd.key, path: fd.path, size: fd.size, mtime: fd.mtime, matched: true,
			grewAt: now, initial: t.firstStart && t.scans == 0, firstSize: fd.size, wantOpen: true, waitSince: now}
	}
	t.openWaiting(now)
	t.settleAll(now)
	t.resolveTruncations(now)
	t.releaseCopies()
	t.boundRotated(now)
	t.expire(now)
	if t.scans == 0 {
		for _, o := range t.orphans {
			if !o.cp.Finished {
				t.log.Info("no file found for a saved stream; it resumes if the file shows up",
					"stream", o.cp.Info.ID, "path", o.id.Path, "committed", o.cp.Committed)
			}
		}
	}
	t.scans++
	t.src.scans.Add(1)
}

// refresh applies what a scan found about a known inode.
func (t *tailer) refresh(f *file, fd found, now time.Time) {
	if fd.path != f.path && !slices.Contains(fd.alt, f.path) {
		old := f.path
		f.path = fd.path
		if f.st == stateTailing {
			t.m.rotations.Inc()
			t.log.Info("file renamed", "from", old, "to", f.path, "stream", f.s.id)
			t.setMeta(f)
		}
	}
	if !f.rotatedAt.IsZero() {
		f.rotatedAt, f.unlinked = time.Time{}, false // back in the paths
	}
	changed := fd.size != f.size || !fd.mtime.Equal(f.mtime)
	if f.h != nil && f.st == stateTailing && !f.truncated {
		if fd.size < f.s.off+f.s.tail || !t.headIntact(f) {
			t.markTruncated(f, fd.size)
		}
	}
	f.size, f.mtime = fd.size, fd.mtime
	if f.h == nil {
		needs := false
		switch f.st {
		case statePending: // nothing to read in an empty file
			needs = fd.size > 0
		case stateTailing: // parked
			needs = fd.size != f.s.off
		case stateDone, stateCopy:
			needs = changed
		}
		if needs && !f.wantOpen {
			f.wantOpen, f.waitSince = true, now
		}
	}
}

// lost handles a known inode that the scan did not find at any matching
// path: renamed out of the paths, or deleted.
func (t *tailer) lost(f *file, now time.Time) {
	if f.h != nil {
		if fi, err := f.h.Stat(); err == nil {
			_, nlink, _ := statKey(fi)
			f.unlinked = nlink == 0
		}
		if f.rotatedAt.IsZero() {
			f.rotatedAt = now
			if p := fdPath(f.h); p != "" && p != f.path {
				f.path = p // where it went, for logs and the saved identity
				t.setMeta(f)
			}
			if f.st == stateTailing {
				if f.unlinked {
					t.log.Info("file deleted; reading it to the end", "path", f.path, "stream", f.s.id)
				} else {
					t.m.rotations.Inc()
					t.log.Info("file moved out of the paths; reading it to the end", "path", f.path, "stream", f.s.id)
				}
			}
		}
		return
	}
	if f.st == stateTailing { // parked: what it held past the offset is out of reach
		t.abandon(f, "file disappeared while parked")
	}
	t.forgetFile(f)
}

// markTruncated notes a truncation (or replacement) of f's content.
func (t *tailer) markTruncated(f *file, size int64) {
	f.truncated = true
	f.lostBytes = max(f.size, f.s.off+f.s.tail) - f.s.off
	f.size = size
	t.wantScan = true
}

// openWaiting gives descriptors to the files that need one, oldest first,
// parking idle files when the cap is reached.
func (t *tailer) openWaiting(now time.Time) {
	var wait []*file
	for _, f := range t.files {
		if f.wantOpen && f.h == nil && f.matched {
			wait = append(wait, f)
		}
	}
	sort.Slice(wait, func(i, j int) bool {
		if !wait[i].waitSince.Equal(wait[j].waitSince) {
			return wait[i].waitSince.Before(wait[j].waitSince)
		}
		return wait[i].path < wait[j].path
	})
	waiting := 0
	for i, f := range wait {
		if t.open >= t.cfg.maxOpen && !t.park(now, len(wait)-i) {
			waiting = len(wait) - i
			break
		}
		if t.openHandle(f) {
			t.afterOpen(f, now)
		}
	}
	switch {
	case waiting == 0:
		t.capLogged = false
	case !t.capLogged:
		t.capLogged = true
		t.log.Warn("open files limit reached; files wait for a free descriptor",
			"max_open_files", t.cfg.maxOpen, "waiting", waiting, "next", wait[len(wait)-waiting].path)
	}
	t.m.waitingFiles.Set(float64(waiting))
}

// park releases the descriptors of up to n idle, fully read files that can
// be reopened by path, so that waiting files get one. Their streams stay
// open.
func (t *tailer) park(now time.Time, n int) bool {
	var idle []*file
	for _, f := range t.files {
		if f.h != nil && f.st == stateTailing && f.matched && !f.truncated && f.s.atEOF && f.s.tail == 0 &&
			now.Sub(f.s.grewAt) >= t.cfg.partialAfter {
			idle = append(idle, f)
		}
	}
	if len(idle) == 0 {
		return false
	}
	sort.Slice(idle, func(i, j int) bool { return idle[i].s.grewAt.Before(idle[j].s.grewAt) })
	for _, f := range idle[:min(n, len(idle))] {
		f.s.out.Flush()
		t.release(f)
		t.log.Debug("file parked to free a descriptor", "path", f.path, "stream", f.s.id)
	}
	return true
}

// afterOpen decides what a (re)opened file is now.
func (t *tailer) afterOpen(f *file, now time.Time) {
	head, err := t.readHead(f)
	if err != nil {
		t.logOnce(f.path, "cannot read file", err)
		t.release(f)
		f.wantOpen = true
		return
	}
	switch f.st {
	case statePending:
		f.head, f.grewAt = head, now
		if f.failed {
			f.initial = false // unreadable at the first scan: shipped from the beginning
		}
	case stateTailing: // parked
		if f.size < f.s.off || compareHeads(head, f.head) != headContains {
			t.markTruncated(f, f.size)
		}
	case stateDone:
		switch {
		case f.size < f.s.off || compareHeads(head, f.head) != headContains:
			t.log.Info("finished file was replaced; starting a new generation", "path", f.path, "stream", f.s.id)
			t.m.truncations.Inc()
			t.orphan(f, f.s, true)
			t.newGeneration(f, now)
			f.head = head
		case f.size > f.s.off:
			if f.s.out != nil && f.s.out.Committed() < f.s.off {
				// Its last chunks are not durable yet: reopening would
				// claim they are. Retry at the next scan.
				t.release(f)
				f.wantOpen = true
				return
			}
			t.resume(f, f.s, f.s.off)
		default:
			t.release(f)
		}
	case stateCopy:
		var g *file
		if f.copyOf != nil {
			g = t.fileOf(f.copyOf)
		}
		if compareHeads(head, f.head) != headContains || g != nil && g != f && !t.sameContent(f, g) {
			t.log.Info("copied file changed; shipping it as a file of its own", "path", f.path)
			f.st, f.copyOf, f.head, f.grewAt = statePending, nil, head, now
			return
		}
		t.release(f)
	}
}

// newGeneration makes f pending again: its content is new.
func (t *tailer) newGeneration(f *file, now time.Time) {
	f.st, f.s, f.copyOf = statePending, nil, nil
	f.truncated, f.lostBytes, f.initial = false, 0, false
	f.head, f.grewAt = nil, now
}

// releaseCopies drops the descriptors of copies no stream needs any more.
func (t *tailer) releaseCopies() {
	for _, f := range t.files {
		if f.st == stateCopy && f.h != nil && (f.copyOf == nil || f.copyOf.closed || f.copyOf.off >= f.size) {
			t.release(f)
		}
		if f.st == stateCopy && f.h == nil && !f.matched {
			t.forgetFile(f)
		}
	}
}

// boundRotated applies rotated_keep_open and max_rotated_open to the files
// held open after leaving the paths.
func (t *tailer) boundRotated(now time.Time) {
	var held []*file
	for _, f := range t.files {
		if f.h == nil || f.st != stateTailing || f.matched {
			continue
		}
		if now.Sub(f.rotatedAt) > t.cfg.rotatedKeep {
			t.abandon(f, "rotated_keep_open reached")
			t.forgetFile(f)
			continue
		}
		if fi, err := f.h.Stat(); err == nil {
			f.size = fi.Size()
		}
		held = append(held, f)
	}
	if len(held) <= t.cfg.maxRotated {
		return
	}
	// Evict the fully read ones first, then the oldest.
	sort.Slice(held, func(i, j int) bool {
		a, b := held[i].size <= held[i].s.off, held[j].size <= held[j].s.off
		if a != b {
			return a
		}
		return held[i].rotatedAt.Before(held[j].rotatedAt)
	})
	for _, f := range held[:len(held)-t.cfg.maxRotated] {
		t.abandon(f, "max_rotated_open reached")
		t.forgetFile(f)
	}
}

// expire forgets the checkpoints of streams whose file has been gone for
// forgetAfter, and the oldest ones beyond maxGoneEntries.
func (t *tailer) expire(now time.Time) {
	sort.SliceStable(t.orphans, func(i, j int) bool { return t.orphans[i].since.Before(t.orphans[j].since) })
	drop := 0
	for drop < len(t.orphans) && (now.Sub(t.orphans[drop].since) > t.cfg.forgetAfter || len(t.orphans)-drop > t.cfg.maxGone) {
		o := t.orphans[drop]
		t.out.Forget(o.cp.Info.ID) // never opened in this run: the pipeline drops it
		delete(t.ids, o.cp.Info.ID)
		t.log.Debug("checkpoint forgotten", "stream", o.cp.Info.ID, "path", o.cp.Info.Path)
		drop++
	}
	t.orphans = t.orphans[drop:]
}

// nextDeadline is the earliest time a file needs attention without any new
// data (a partial line to ship, an idle file to release, a pending file).
func (t *tailer) nextDeadline() time.Time {
	var d time.Time
	at := func(x time.Time) {
		if d.IsZero() || x.Before(d) {
			d = x
		}
	}
	for _, f := range t.files {
		if f.h == nil {
			continue
		}
		switch f.st {
		case statePending:
			if f.size > 0 {
				at(f.grewAt.Add(t.cfg.partialAfter))
			}
		case stateTailing:
			if f.s.tail > 0 {
				at(f.s.grewAt.Add(t.cfg.partialAfter))
			} else if t.rotated(f) {
				at(f.s.grewAt.Add(t.cfg.rotatedIdle))
			}
		}
	}
	return d
}

// rotated reports whether f's stream is on a file that was renamed or left
// the paths: it is released once read to its end and idle.
func (t *tailer) rotated(f *file) bool {
	return !f.matched || f.path != f.s.info.Path
}
