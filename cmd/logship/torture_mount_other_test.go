//go:build !linux

package main

import "errors"

// mountTmpfs: tmpfs mounts are Linux's.
func mountTmpfs(dir, opts string) (func() error, error) {
	return nil, errors.New("no tmpfs mounts on this system")
}
