package kmsg

import (
	"context"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// OpenDevice opens a /dev/kmsg style device for reading, non-blocking,
// positioned at the oldest record in the ring buffer.
//
// It seeks with SEEK_SET, not SEEK_DATA: SEEK_DATA starts after the last
// `dmesg --clear`, which would skip records that were never shipped.
func OpenDevice(path string) (Device, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	if _, err := unix.Seek(fd, 0, io.SeekStart); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "seek", Path: path, Err: err}
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	return &fileDevice{fd: fd, efd: efd}, nil
}

// fileDevice is a character device read with read(2) and waited on with
// poll(2); an eventfd wakes the poll when the context ends, so Wait
// returns at once on cancellation without periodic wake-ups.
type fileDevice struct {
	fd, efd int
	mu      sync.Mutex // guards closed against the wake-up racing Close
	closed  bool
}

func (d *fileDevice) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(d.fd, p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err // the bare Errno: callers test EAGAIN and EPIPE
		}
		return n, nil
	}
}

func (d *fileDevice) Wait(ctx context.Context) error {
	stop := context.AfterFunc(ctx, d.wake)
	defer stop()
	fds := []unix.PollFd{{Fd: int32(d.fd), Events: unix.POLLIN}, {Fd: int32(d.efd), Events: unix.POLLIN}}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		fds[0].Revents, fds[1].Revents = 0, 0
		_, err := unix.Poll(fds, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("poll", err)
		}
		if fds[0].Revents != 0 {
			// POLLIN, or POLLERR|POLLPRI when records were overwritten:
			// the next Read tells which.
			return nil
		}
	}
}

func (d *fileDevice) wake() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		unix.Write(d.efd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	}
}

func (d *fileDevice) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	unix.Close(d.efd)
	if err := unix.Close(d.fd); err != nil {
		return os.NewSyscallError("close", err)
	}
	return nil
}
