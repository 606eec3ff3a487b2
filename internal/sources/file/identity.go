package file

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/logship/logship/archive"
)

// fileKey is the identity of an inode.
type fileKey struct{ dev, ino uint64 }

// statKey returns the device, inode and link count of a stat result.
func statKey(fi os.FileInfo) (fileKey, uint64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileKey{}, 0, false
	}
	return fileKey{dev: uint64(st.Dev), ino: uint64(st.Ino)}, uint64(st.Nlink), true
}

// fdPath returns the current name of an open file (from /proc on Linux),
// "" when unknown.
func fdPath(h handle) string {
	fder, ok := h.(interface{ Fd() uintptr })
	if !ok {
		return ""
	}
	p, err := os.Readlink("/proc/self/fd/" + strconv.FormatUint(uint64(fder.Fd()), 10))
	if err != nil || !strings.HasPrefix(p, "/") {
		return ""
	}
	return strings.TrimSuffix(p, " (deleted)")
}

// metaVersion is the version of the identity saved with checkpoints.
const metaVersion = 1

// identity is the source-private part of a checkpoint (StreamInfo.Meta).
//
// A file stream is found again at a restart by (Dev, Ino) with a head whose
// first FPLen bytes hash to FP, or, when that inode is gone, by the
// fingerprint alone (the file was moved or copied).
type identity struct {
	V     int    `json:"v"`
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	FPLen int    `json:"fp_len"` // bytes of the file head covered by FP
	FP    string `json:"fp"`     // hex of the first 16 bytes of SHA-256(head[:fp_len])
	Gen   int    `json:"gen"`    // generation on this inode: a truncation starts a new one
	Path  string `json:"path"`   // where the file is now (StreamInfo.Path is where it was first seen)
}

func (id identity) json() json.RawMessage {
	b, err := json.Marshal(id)
	if err != nil {
		panic(err) // plain struct: cannot fail
	}
	return b
}

func parseIdentity(m json.RawMessage) (identity, bool) {
	var id identity
	if len(m) == 0 || json.Unmarshal(m, &id) != nil || id.V != metaVersion || id.FPLen <= 0 || id.FP == "" {
		return identity{}, false
	}
	return id, true
}

// fingerprint returns the hex hash saved as identity.FP.
func fingerprint(head []byte) string {
	sum := sha256.Sum256(head)
	return hex.EncodeToString(sum[:16])
}

// matches reports whether a file whose head is head holds the content this
// identity was taken from (the saved fingerprint is a prefix of head).
func (id identity) matches(head []byte) bool {
	return len(head) >= id.FPLen && fingerprint(head[:id.FPLen]) == id.FP
}

// idBytes returns the part of a head that goes into the stream id: the
// first line (with its newline) when it is complete within head, else all
// of head. It is what the file held when its stream could first be opened,
// so the same file yields the same id after a restart that lost its state.
func idBytes(head []byte) []byte {
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		return head[:i+1]
	}
	return head
}

// streamID is SafeName(base name) + "-" + 16 hex digits of a hash of
// (dev, inode, id bytes, generation).
func streamID(p string, k fileKey, idb []byte, gen int) string {
	h := sha256.New()
	var n [32]byte
	binary.BigEndian.PutUint64(n[0:], k.dev)
	binary.BigEndian.PutUint64(n[8:], k.ino)
	binary.BigEndian.PutUint64(n[16:], uint64(gen))
	binary.BigEndian.PutUint64(n[24:], uint64(len(idb)))
	h.Write(n[:])
	h.Write(idb)
	return archive.SafeName(filepath.Base(p)) + "-" + hex.EncodeToString(h.Sum(nil)[:8])
}

// headRelation compares a candidate's head with a known stream's head.
type headRelation int

const (
	headDiffers  headRelation = iota
	headContains              // the candidate holds all of the known head: same content
	headIsPrefix              // the candidate is shorter and a prefix of it: undecided yet
)

func compareHeads(cand, known []byte) headRelation {
	switch {
	case len(known) == 0 || len(cand) == 0:
		return headDiffers
	case len(cand) >= len(known) && bytes.Equal(cand[:len(known)], known):
		return headContains
	case len(cand) < len(known) && bytes.Equal(cand, known[:len(cand)]):
		return headIsPrefix
	}
	return headDiffers
}
