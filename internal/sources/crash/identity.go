package crash

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"

	"github.com/logship/logship/archive"
)

// identity is the checkpoint metadata of an artifact's stream.
type identity struct {
	V     int    `json:"v"`
	Size  int64  `json:"size"`
	MTime int64  `json:"mtime_ns"`
	FP    string `json:"fp"` // hex of the first 16 bytes of SHA-256 of the first 4 KiB
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	Path  string `json:"path"`
}

const metaVersion = 1

func parseIdentity(m json.RawMessage) (identity, bool) {
	var id identity
	if len(m) == 0 || json.Unmarshal(m, &id) != nil || id.V != metaVersion || id.Path == "" {
		return identity{}, false
	}
	return id, true
}

func (id identity) json() json.RawMessage {
	b, err := json.Marshal(id)
	if err != nil {
		panic(err) // plain struct
	}
	return b
}

// streamID names the artifact's stream: its base name and a hash of its
// content's identity.
func (id identity) streamID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[0:], uint64(id.Size))
	binary.BigEndian.PutUint64(b[8:], uint64(id.MTime))
	h := sha256.New()
	h.Write(b[:])
	h.Write([]byte(id.FP))
	h.Write([]byte(filepath.Base(id.Path)))
	return archive.SafeName(filepath.Base(id.Path)) + "-" + hex.EncodeToString(h.Sum(nil)[:8])
}

// sameFile reports whether two identities describe the same content.
func (id identity) sameFile(o identity) bool {
	return id.Size == o.Size && id.MTime == o.MTime && (id.FP == "" || o.FP == "" || id.FP == o.FP)
}

// statOf is the identity of a stat result, without the fingerprint.
func statOf(path string, fi fs.FileInfo) identity {
	id := identity{V: metaVersion, Size: fi.Size(), MTime: fi.ModTime().UnixNano(), Path: path}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.Dev, id.Ino = uint64(st.Dev), uint64(st.Ino)
	}
	return id
}

func sameStat(a, b identity) bool {
	return a.Size == b.Size && a.MTime == b.MTime && a.Dev == b.Dev && a.Ino == b.Ino
}

var pidInName = regexp.MustCompile(`(?:hs_err_pid|java_pid|_pid)(\d{1,10})`)

// pidOf returns the pid in a crash file's name, or 0.
func pidOf(path string) int {
	m := pidInName.FindStringSubmatch(filepath.Base(path))
	if m == nil {
		return 0
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n <= 0 || n > 1<<22 {
		return 0
	}
	return n
}

// classification is what a file is.
type classification struct {
	kind, event string
	extra       map[string]string
}

// classify looks at a file's head (content first, then its name).
func classify(path string, head []byte) classification {
	base := filepath.Base(path)
	var c classification
	if h, ok := ParseHsErr(head); ok {
		c = classification{KindHsErr, archive.EventJVMCrash, h.Extra()}
	} else if h, ok := ParseHprof(head); ok {
		c = classification{KindHeapDump, archive.EventHeapDump, h.Extra()}
	} else if ok, _ := filepath.Match("hs_err*", base); ok {
		c = classification{KindHsErr, archive.EventJVMCrash, map[string]string{}}
	} else if filepath.Ext(base) == ".hprof" {
		c = classification{KindHeapDump, archive.EventHeapDump, map[string]string{}}
	} else {
		c = classification{KindFile, "", map[string]string{}}
	}
	c.extra["artifact"] = c.kind
	if pid := pidOf(path); pid > 0 && c.extra["pid"] == "" {
		c.extra["pid"] = strconv.Itoa(pid)
	}
	return c
}
