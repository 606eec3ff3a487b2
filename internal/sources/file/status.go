package file

import (
	"fmt"
	"os"
	"time"

	"github.com/logship/logship/internal/pipeline"
)

// Live is the file of a saved stream as it is now, for `logship status`.
type Live struct {
	Path     string // where it was found
	Identity string // "dev:ino gen N fp HEX", from the checkpoint
	Size     int64
	ModTime  time.Time
}

// FindLive looks for the file of a saved file stream at its last known
// path (Meta's, else Info.Path): found when the inode there is still the
// stream's. It reads metadata only, so it is safe beside a running agent.
func FindLive(info pipeline.StreamInfo) (Live, bool) {
	id, ok := parseIdentity(info.Meta)
	if !ok {
		return Live{Path: info.Path}, false
	}
	l := Live{Path: id.Path, Identity: fmt.Sprintf("%d:%d gen %d fp %s", id.Dev, id.Ino, id.Gen, id.FP)}
	if l.Path == "" {
		l.Path = info.Path
	}
	fi, err := os.Stat(l.Path)
	if err != nil {
		return l, false
	}
	key, _, ok := statKey(fi)
	if !ok || key != (fileKey{dev: id.Dev, ino: id.Ino}) {
		return l, false
	}
	l.Size, l.ModTime = fi.Size(), fi.ModTime()
	return l, true
}
