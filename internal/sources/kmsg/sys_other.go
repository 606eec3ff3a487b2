//go:build !linux

package kmsg

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// The kernel log is a Linux interface: elsewhere (a laptop running pull)
// the package builds, and the source says why it cannot run.

// OpenDevice fails: there is no /dev/kmsg outside Linux.
func OpenDevice(path string) (Device, error) {
	return nil, fmt.Errorf("kmsg: %s: the kernel log can be read on Linux only, not on %s: %w", path, runtime.GOOS, unix.ENOSYS)
}

// klogctl fails: syslog(2) is Linux only.
func klogctl(int, []byte) (int, error) { return 0, unix.ENOSYS }
