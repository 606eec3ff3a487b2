package kmsg

import (
	"context"
	"errors"
	"os"

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
