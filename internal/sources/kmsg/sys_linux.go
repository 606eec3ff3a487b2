package kmsg

import "golang.org/x/sys/unix"

// klogctl is syslog(2).
func klogctl(typ int, buf []byte) (int, error) { return unix.Klogctl(typ, buf) }
