package archive

import (
	"errors"
	"fmt"
	"strings"
)

// Bounds of a header path made into an output name (SafePath).
const (
	MaxPathBytes    = 1024 // whole relative path
	MaxSegmentBytes = 255  // one file or folder name (NAME_MAX)
	maxInputPath    = 4096 // longer header paths are refused before parsing
)

// SafePath maps the original path of a stream (from a header: outside
// input), or any other name from outside such as a tar entry's, to a
// clean relative path that stays below the folder it is joined
// to, or refuses it with the reason.
//
// An absolute path becomes relative ("/home/admin/logs/app.log" →
// "home/admin/logs/app.log"); empty and "." segments are dropped. A path
// with a ".." segment, NUL, a backslash or another control character, a
// segment longer than 255 bytes, more than 1024 bytes in all, or nothing
// left is refused: renaming such a path could silently merge it with
// another, and no agent writes one.
func SafePath(p string) (string, error) {
	if len(p) > maxInputPath {
		return "", fmt.Errorf("path of %d bytes, limit %d", len(p), maxInputPath)
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == 0:
			return "", errors.New("path holds NUL")
		case c == '\\':
			return "", fmt.Errorf("path %q holds a backslash", p)
		case c < 0x20 || c == 0x7f:
			return "", fmt.Errorf("path %q holds control character %#02x", p, c)
		}
	}
	var segs []string
	for _, s := range strings.Split(p, "/") {
		switch {
		case s == "" || s == ".":
			continue
		case s == "..":
			return "", fmt.Errorf("path %q has a \"..\" segment", p)
		case len(s) > MaxSegmentBytes:
			return "", fmt.Errorf("path %q has a segment of %d bytes, limit %d", Shorten(p), len(s), MaxSegmentBytes)
		}
		segs = append(segs, s)
	}
	if len(segs) == 0 {
		return "", fmt.Errorf("path %q names no file", p)
	}
	out := strings.Join(segs, "/")
	if len(out) > MaxPathBytes {
		return "", fmt.Errorf("path %q is %d bytes, limit %d", Shorten(p), len(out), MaxPathBytes)
	}
	return out, nil
}

// Shorten cuts a long path for a message: its head and tail.
func Shorten(s string) string {
	if len(s) > 80 {
		return s[:40] + "..." + s[len(s)-37:]
	}
	return s
}
