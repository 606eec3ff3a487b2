package retrieve

import (
	"errors"
	"fmt"
	"strings"

	"github.com/logship/logship/archive"
)

// Bounds of the original path part of an output name.
const (
	maxPathBytes    = 1024 // whole relative path
	maxSegmentBytes = 255  // one file or folder name (NAME_MAX)
	maxInputPath    = 4096 // longer header paths are refused before parsing
)

// SafePath maps the original path of a stream (from a header: outside
// input) to a clean relative path that stays below the folder it is joined
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
		case len(s) > maxSegmentBytes:
			return "", fmt.Errorf("path %q has a segment of %d bytes, limit %d", shorten(p), len(s), maxSegmentBytes)
		}
		segs = append(segs, s)
	}
	if len(segs) == 0 {
		return "", fmt.Errorf("path %q names no file", p)
	}
	out := strings.Join(segs, "/")
	if len(out) > maxPathBytes {
		return "", fmt.Errorf("path %q is %d bytes, limit %d", shorten(p), len(out), maxPathBytes)
	}
	return out, nil
}

func shorten(s string) string {
	if len(s) > 80 {
		return s[:40] + "..." + s[len(s)-37:]
	}
	return s
}

// outputName is where a stream is written below --out:
// APP/HOST/SOURCE/<safe original path>, with "@STREAM" after the file name
// when generations are kept apart; a stream without a path (the kernel log
// read with klogctl) is written as STREAM.log.
func outputName(app, host, source, origPath, stream string, split bool) (string, error) {
	for _, s := range []string{app, host, source, stream} {
		if err := archive.CheckName(s); err != nil { // headers are validated; this is a second lock
			return "", fmt.Errorf("unsafe name: %v", err)
		}
	}
	rel := stream + ".log"
	if origPath != "" {
		var err error
		if rel, err = SafePath(origPath); err != nil {
			return "", err
		}
		if split {
			rel += "@" + stream
			if i := strings.LastIndexByte(rel, '/'); len(rel)-i-1 > maxSegmentBytes {
				return "", fmt.Errorf("path %q with its generation suffix is too long", shorten(origPath))
			}
		}
	}
	return app + "/" + host + "/" + source + "/" + rel, nil
}
