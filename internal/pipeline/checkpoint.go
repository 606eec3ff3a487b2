package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/logship/logship/internal/atomicfile"
)

// checkpointVersion is the version of the checkpoint file format.
const checkpointVersion = 1

const checkpointFile = "checkpoints.json"

// savedEntry is one stream in the checkpoint file.
type savedEntry struct {
	Source    string          `json:"source"`
	ID        string          `json:"id"`
	Kind      string          `json:"kind"`
	Path      string          `json:"path,omitempty"`
	Unit      string          `json:"unit"`
	Meta      json.RawMessage `json:"meta,omitempty"`
	Committed int64           `json:"committed"`
	Finished  bool            `json:"finished,omitempty"`
	Updated   time.Time       `json:"updated"`
}

type savedState struct {
	Version int          `json:"version"`
	Saved   time.Time    `json:"saved"`
	Streams []savedEntry `json:"streams"`
}

// Store keeps the checkpoint file in a state folder. Saves are atomic: a
// temporary file is written and fsynced, renamed over the old one, and the
// folder fsynced, so a crash at any moment leaves either the old or the new
// state, never a torn one.
type Store struct {
	dir string
	// beforeRename, when set (tests), runs between the temp file's fsync
	// and the rename; an error aborts the save like a crash would.
	beforeRename func(tmp string) error
}

// ErrCheckpoint is returned for an unreadable checkpoint file.
var ErrCheckpoint = errors.New("pipeline: bad checkpoint file")

// OpenStore creates the folder if needed and removes temporary files left
// by a crash during a save.
func OpenStore(dir string) (*Store, error) {
	if err := atomicfile.MkdirAll(dir, 0o750); err != nil { // durable: a lost state dir would look like a first start
		return nil, err
	}
	tmps, _ := filepath.Glob(filepath.Join(dir, checkpointFile+".tmp*"))
	for _, t := range tmps {
		os.Remove(t)
	}
	return &Store{dir: dir}, nil
}

// Load reads the saved entries. exists is false when there is no state at
// all (a first start). A file that cannot be decoded is moved aside and
// reported with ErrCheckpoint; the caller decides whether to go on.
func (s *Store) Load() (entries []savedEntry, exists bool, err error) {
	path := filepath.Join(s.dir, checkpointFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	var st savedState
	if err := json.Unmarshal(b, &st); err != nil || st.Version != checkpointVersion {
		aside := path + ".corrupt-" + time.Now().UTC().Format("20060102T150405")
		os.Rename(path, aside)
		if err == nil {
			err = fmt.Errorf("version %d, this build reads %d", st.Version, checkpointVersion)
		}
		return nil, true, fmt.Errorf("%w: %s: %v (moved to %s)", ErrCheckpoint, path, err, aside)
	}
	return st.Streams, true, nil
}

// Save writes entries atomically.
func (s *Store) Save(entries []savedEntry) error {
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].Source != entries[j].Source {
			return entries[i].Source < entries[j].Source
		}
		return entries[i].ID < entries[j].ID
	})
	b, err := json.MarshalIndent(savedState{Version: checkpointVersion, Saved: time.Now().UTC(), Streams: entries}, "", " ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(context.Background(), filepath.Join(s.dir, checkpointFile), b, 0o600,
		&atomicfile.Options{BeforeRename: s.beforeRename})
}
