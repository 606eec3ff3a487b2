package supervise

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// spool is the disk buffer of one stream (a pipe of the child, or the run's
// events): files NAME.POSITION in one folder, POSITION (16 digits) being
// the stream position of the file's first byte. The pump appends; the
// source reads by position and reports what is durable, and files wholly
// before that are deleted. The pump never waits for the sink: the disk is
// the buffer, bounded by max (the oldest file is dropped beyond it).
type spool struct {
	dir, name string
	fileMax   int64 // a file is rotated at this size
	max       int64 // bytes on disk beyond which the oldest file is dropped
	log       *slog.Logger
	wake      chan<- struct{} // signalled on new data and on close (cap 1, shared)

	mu      sync.Mutex
	f       *os.File // file being appended; nil before the first write or after an error
	files   []int64  // start positions of the files on disk, ascending
	end     int64    // position after the last byte written (or lost)
	acked   int64    // durable position reported by the source
	closed  bool
	failing bool // a write error was logged; the next success is logged too
}

// newSpool prepares an empty spool of a new stream in dir.
func newSpool(dir, name string, fileMax, max int64, wake chan<- struct{}, log *slog.Logger) *spool {
	return &spool{dir: dir, name: name, fileMax: fileMax, max: max, wake: wake, log: log}
}

// openSpool finds a spool left in dir by an earlier run, closed: it only
// has to be read to its end.
func openSpool(dir, name string, wake chan<- struct{}, log *slog.Logger) (*spool, error) {
	s := &spool{dir: dir, name: name, wake: wake, log: log, closed: true}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if pos, ok := s.position(e.Name()); ok {
			s.files = append(s.files, pos)
		}
	}
	slices.Sort(s.files)
	if n := len(s.files); n > 0 {
		fi, err := os.Stat(s.path(s.files[n-1]))
		if err != nil {
			return nil, err
		}
		s.end = s.files[n-1] + fi.Size()
	}
	return s, nil
}

func (s *spool) path(pos int64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%s.%016d", s.name, pos))
}

func (s *spool) position(file string) (int64, bool) {
	rest, ok := strings.CutPrefix(file, s.name+".")
	if !ok || len(rest) != 16 {
		return 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	return n, err == nil && n >= 0
}

// Write appends p. It never fails: bytes that cannot be written are a gap
// in the stream, counted and logged (the pass-through has them anyway).
func (s *spool) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(p) == 0 {
		return len(p), nil
	}
	if s.f != nil && s.end-s.files[len(s.files)-1] >= s.fileMax {
		s.f.Close() // rotation: the next write starts a new file at end
		s.f = nil
	}
	var err error
	if s.f == nil {
		err = s.startLocked()
	}
	n := 0
	if err == nil {
		n, err = s.f.Write(p)
	}
	s.end += int64(len(p))
	if err != nil {
		mSpoolLost.Add(len(p) - n)
		if !s.failing {
			s.log.Error("run: cannot write to the spool: this output is not archived (it is still passed through)", "spool", s.name, "dir", s.dir, "bytes", len(p)-n, "err", err)
		}
		s.failing = true
		if s.f != nil {
			s.f.Close()
			s.f = nil
		}
	} else if s.failing {
		s.failing = false
		s.log.Info("run: the spool is written again", "spool", s.name)
	}
	s.boundLocked()
	s.signal()
	return len(p), nil
}

func (s *spool) startLocked() error {
	if len(s.files) == 0 {
		if err := os.MkdirAll(s.dir, 0o700); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(s.path(s.end), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	s.f = f
	s.files = append(s.files, s.end)
	return nil
}

// boundLocked drops the oldest files while the spool holds more than max
// bytes; the file being written is never dropped.
func (s *spool) boundLocked() {
	for len(s.files) > 1 && s.end-s.files[0] > s.max {
		lost := s.files[1] - max(s.files[0], s.acked)
		os.Remove(s.path(s.files[0]))
		s.files = s.files[1:]
		s.log.Warn("run: spool full (run.spool_max_bytes): the oldest output not yet archived is dropped", "spool", s.name, "bytes", max(lost, 0), "spool_max_bytes", s.max)
	}
}

func (s *spool) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Close ends the stream: nothing more is appended.
func (s *spool) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	s.signal()
}

// current returns the file being appended to (the last one), "" when
// nothing was written yet. After a rotation it is still the full file
// until the next write starts a new one.
func (s *spool) current() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.files) == 0 {
		return ""
	}
	return s.path(s.files[len(s.files)-1])
}

// state returns the end and whether the spool is closed.
func (s *spool) state() (end int64, closed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.end, s.closed
}

// ack records that everything before pos is durable and deletes the files
// wholly before it (the last one too once the spool is closed and read).
func (s *spool) ack(pos int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acked = max(s.acked, pos)
	for len(s.files) > 0 {
		fileEnd := s.end
		if len(s.files) > 1 {
			fileEnd = s.files[1]
		} else if !s.closed {
			return // being written
		}
		if fileEnd > s.acked {
			return
		}
		os.Remove(s.path(s.files[0]))
		s.files = s.files[1:]
	}
}

// first returns the position of the oldest byte on disk, if any.
func (s *spool) first() (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.files) == 0 {
		return 0, false
	}
	return s.files[0], true
}

// empty reports whether the spool is closed and nothing is left on disk.
func (s *spool) empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed && len(s.files) == 0
}

// spoolReader reads a spool by stream position, holding one file open.
type spoolReader struct {
	s     *spool
	f     *os.File
	start int64 // position of f's first byte
}

// read reads at pos into buf. It returns the bytes read and the position
// they start at: beyond pos when the bytes at pos are gone (dropped when
// the spool was full, or never written): the caller records the gap. It
// reads nothing (n == 0, at == pos) when there is nothing more yet.
func (r *spoolReader) read(pos int64, buf []byte) (at int64, n int, err error) {
	for range 3 { // a file can be dropped between the look-up and the open
		s := r.s
		s.mu.Lock()
		end := s.end
		i, _ := slices.BinarySearch(s.files, pos+1) // first file starting after pos
		if len(s.files) == 0 || pos >= end {
			s.mu.Unlock()
			return max(pos, end), 0, nil
		}
		if i == 0 { // pos is before every file left: dropped
			pos, i = s.files[0], 1
		}
		start := s.files[i-1]
		fileEnd := end
		if i < len(s.files) {
			fileEnd = s.files[i]
		}
		s.mu.Unlock()
		if r.f == nil || r.start != start {
			r.close()
			f, err := os.Open(s.path(start))
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return pos, 0, err
			}
			r.f, r.start = f, start
		}
		want := min(int64(len(buf)), fileEnd-pos)
		n, err := r.f.ReadAt(buf[:want], pos-start)
		if n == 0 && (err == nil || err == io.EOF) {
			// The file is shorter than its range (a failed write): the rest is a gap.
			return fileEnd, 0, nil
		}
		if err == io.EOF {
			err = nil
		}
		return pos, n, err
	}
	return pos, 0, nil
}

func (r *spoolReader) close() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}
