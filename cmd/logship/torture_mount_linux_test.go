package main

import "syscall"

// mountTmpfs mounts a tmpfs with opts on dir and returns its unmount.
func mountTmpfs(dir, opts string) (func() error, error) {
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		return nil, err
	}
	return func() error { return syscall.Unmount(dir, syscall.MNT_DETACH) }, nil
}
