package supervise

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// orphanGrace is how long a zombie that is not the child stays unreaped:
// a process that another part of logship started (exec.Cmd) is reaped by
// its own Wait within microseconds, and its status must not be stolen;
// an orphan has nobody else to wait for it.
const orphanGrace = 250 * time.Millisecond

// reapPoll paces the reaper besides SIGCHLD (signals coalesce, and a young
// zombie is looked at again after orphanGrace).
const reapPoll = 200 * time.Millisecond

// becomeSubreaper makes orphaned descendants ours (PR_SET_CHILD_SUBREAPER),
// as they would be if we were PID 1.
func becomeSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// waitChild waits for the child pid and returns its status. With reap, it
// also reaps the other processes that end as our children (orphans handed
// to PID 1 or to a subreaper): the child is waited for by its pid, so its
// status is never taken by the reaper; another zombie of ours (found in
// /proc) is reaped once it has been one for orphanGrace, so that a process
// another part of logship started is left to its own Wait.
func waitChild(pid int, started time.Time, reap bool, log *slog.Logger) Status {
	if !reap {
		return wait4(pid, started)
	}
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGCHLD)
	defer signal.Stop(sigc)
	t := time.NewTicker(reapPoll)
	defer t.Stop()
	self := os.Getpid()
	seen := map[int]time.Time{} // zombie pid -> first seen
	for {
		var ws syscall.WaitStatus
		if got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil); got == pid {
			return statusOf(pid, ws, time.Since(started))
		} else if errors.Is(err, syscall.ECHILD) {
			return wait4(pid, started) // cannot happen: the child is ours until waited for
		}
		now := time.Now()
		zs := zombies(self)
		for _, z := range zs {
			first, ok := seen[z]
			if !ok {
				seen[z] = now
				continue
			}
			if z == pid || now.Sub(first) < orphanGrace {
				continue
			}
			if got, err := syscall.Wait4(z, &ws, syscall.WNOHANG, nil); err == nil && got == z {
				log.Debug("run: reaped an orphaned process", "pid", z, "status", statusOf(z, ws, 0).ExitCode)
				mReaped.Inc()
			}
		}
		for z := range seen {
			if !slices.Contains(zs, z) {
				delete(seen, z)
			}
		}
		select {
		case <-sigc:
		case <-t.C:
		}
	}
}

// zombies lists the processes whose parent is ppid and that have ended
// (state Z in /proc/PID/stat).
func zombies(ppid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(b[i+1:])
		if len(f) > 1 && string(f[0]) == "Z" && string(f[1]) == strconv.Itoa(ppid) {
			out = append(out, pid)
		}
	}
	return out
}

func wait4(pid int, started time.Time) Status {
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	return statusOf(pid, ws, time.Since(started))
}
