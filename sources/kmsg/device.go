package kmsg

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Device is an open kernel log device such as /dev/kmsg.
//
// Read returns exactly one record per call. It returns unix.EAGAIN when no
// record is ready and unix.EPIPE when records were overwritten before they
// were read; the next Read then returns the oldest record still kept.
// Close releases the device.
type Device interface {
	Read(p []byte) (int, error)
	Close() error
}

// waiter is an optional ability of a Device: Wait returns when a Read may
// succeed (or fail with EPIPE), or with ctx.Err() once ctx ends. Devices
// without it are polled every PollInterval.
type waiter interface {
	Wait(ctx context.Context) error
}

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

// errNotKmsg means the device opened but is not a kernel log: read
// returned no data and no error, as /dev/null (which some container
// runtimes mount in its place) does.
var errNotKmsg = errors.New("read returned no data: not a kmsg device")

// probe reads the first record, so that a device that opens but cannot be
// read makes mode auto fall back, and hands it back with the device.
func probe(dev Device, path string) (Device, error) {
	buf := make([]byte, recordBufSize)
	n, err := dev.Read(buf)
	if err == nil && n == 0 {
		err = errNotKmsg
	}
	if err != nil && !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EPIPE) {
		dev.Close()
		return nil, &os.PathError{Op: "read", Path: path, Err: err}
	}
	p := &primed{Device: dev, first: buf[:n], err: err}
	if w, ok := dev.(waiter); ok {
		return primedWaiter{p, w}, nil
	}
	return p, nil
}

// primed is a Device whose first Read returns what probe read.
type primed struct {
	Device
	first []byte
	err   error
	used  bool
}

func (p *primed) Read(b []byte) (int, error) {
	if p.used {
		return p.Device.Read(b)
	}
	p.used = true
	if p.err != nil {
		return 0, p.err
	}
	if len(b) < len(p.first) {
		return 0, unix.EINVAL // as the kernel does
	}
	return copy(b, p.first), nil
}

type primedWaiter struct {
	*primed
	w waiter
}

func (p primedWaiter) Wait(ctx context.Context) error {
	if !p.used {
		return nil
	}
	return p.w.Wait(ctx)
}
