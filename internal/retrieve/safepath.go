package retrieve

import (
	"fmt"
	"strings"

	"github.com/logship/logship/archive"
)

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
		if rel, err = archive.SafePath(origPath); err != nil {
			return "", err
		}
		if split {
			rel += "@" + stream
			if i := strings.LastIndexByte(rel, '/'); len(rel)-i-1 > archive.MaxSegmentBytes {
				return "", fmt.Errorf("path %q with its generation suffix is too long", archive.Shorten(origPath))
			}
		}
	}
	return app + "/" + host + "/" + source + "/" + rel, nil
}
