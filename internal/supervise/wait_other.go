//go:build !linux

package supervise

import (
	"errors"
	"log/slog"
	"syscall"
	"time"
)

func becomeSubreaper() error { return errors.New("a subreaper needs Linux") }

// waitChild waits for the child; reaping orphans needs Linux.
func waitChild(pid int, started time.Time, reap bool, log *slog.Logger) Status {
	if reap {
		log.Warn("run: reaping orphans needs Linux; only the child is waited for")
	}
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	return statusOf(pid, ws, time.Since(started))
}
