package retrieve

import (
	"errors"
	"fmt"
	"sync"

	"github.com/logship/logship/archive"
)

// Kinds of problems. Every one makes the command exit 3.
const (
	KindCorrupt = "corrupt" // an object failed verification: checksum, size, decompression bomb, bad or lying header
	KindUnsafe  = "unsafe"  // a key or a header path was refused (.., absolute escape, NUL, backslash, too long)
	KindFetch   = "fetch"   // an object could not be read (missing, I/O or network error)
	KindGap     = "gap"     // a range in the middle of a stream that no object covers
	KindWrite   = "write"   // an output file could not be written (a symlink in the way, a name clash)
)

// Problem is one thing that went wrong; the run goes on past it.
type Problem struct {
	Kind string `json:"kind"`
	Key  string `json:"key,omitempty"`  // the object, when one is to blame
	File string `json:"file,omitempty"` // the output file or stream concerned
	Msg  string `json:"msg"`
}

func (p Problem) String() string {
	s := p.Kind
	if p.File != "" {
		s += " " + p.File
	}
	if p.Key != "" {
		s += fmt.Sprintf(" (object %q)", p.Key)
	}
	return s + ": " + p.Msg
}

// classify maps a read error to a problem kind.
func classify(err error) string {
	switch {
	case errors.Is(err, archive.ErrChecksum), errors.Is(err, archive.ErrCorrupt), errors.Is(err, archive.ErrTooLarge),
		errors.Is(err, archive.ErrHeader):
		return KindCorrupt
	}
	return KindFetch // missing objects, network and permission errors
}

// problems collects problems from several goroutines.
type problems struct {
	mu   sync.Mutex
	list []Problem
	fn   func(Problem) // called as each is found (progress output), one at a time
}

func (ps *problems) add(p Problem) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.list = append(ps.list, p)
	if ps.fn != nil {
		ps.fn(p) // serialised: callers need no lock of their own
	}
}

func (ps *problems) all() []Problem {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return append([]Problem(nil), ps.list...)
}
