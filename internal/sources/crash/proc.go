package crash

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultProcRoot is where the open-file check looks.
const DefaultProcRoot = "/proc"

// pidAlive reports whether a process runs with this pid (in our pid
// namespace). A zombie (exited, not yet reaped) counts as gone.
func pidAlive(procRoot string) func(pid int) bool {
	return func(pid int) bool {
		if pid <= 0 {
			return false
		}
		err := unix.Kill(pid, 0)
		if errors.Is(err, unix.ESRCH) {
			return false
		}
		if err != nil && !errors.Is(err, unix.EPERM) {
			return true // cannot tell: assume it runs
		}
		if procRoot != "" {
			if b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat")); err == nil {
				// "pid (comm) S ...": the state follows the last ')'.
				if i := strings.LastIndexByte(string(b), ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'Z' {
					return false
				}
			}
		}
		return true
	}
}

// openFiles is what a scan of /proc/*/fd found.
type openFiles struct {
	listed     bool            // the process list could be read at all
	held       map[string]bool // target paths some process holds open
	unreadable map[int]bool    // processes whose descriptors could not be listed
}

// scanOpen looks for the target paths among the open descriptors of every
// process but ourselves. It is best effort: processes that vanish are
// skipped, and those whose descriptors are not ours to list are reported.
func scanOpen(procRoot string, targets map[string]bool) openFiles {
	of := openFiles{held: map[string]bool{}, unreadable: map[int]bool{}}
	if procRoot == "" || len(targets) == 0 {
		return of
	}
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return of
	}
	of.listed = true
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		fdDir := filepath.Join(procRoot, e.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			if errors.Is(err, os.ErrPermission) {
				of.unreadable[pid] = true
			}
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil {
				continue
			}
			if targets[link] {
				of.held[link] = true
			}
		}
	}
	return of
}
