package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// statusFile sits beside the checkpoint: what the agent did last, for
// `logship status`. It is advisory (not fsynced); the checkpoint is the
// record of what is durable.
const statusFile = "status.json"

// Status is what an agent reports about itself in its state folder.
type Status struct {
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	Saved   time.Time `json:"saved"`
	// LastUpload is when a chunk was last made durable, and its key.
	LastUpload    time.Time `json:"last_upload,omitzero"`
	LastUploadKey string    `json:"last_upload_key,omitempty"`
	// LastError is the last failed write of a chunk (retried since);
	// Failures counts those after LastUpload.
	LastError *StatusError `json:"last_error,omitempty"`
	Failures  int          `json:"failures_since_upload"`
	// Artifacts are the artifact uploads in progress (crash files, heap
	// dumps), by stream id.
	Artifacts map[string]ArtifactProgress `json:"artifacts,omitempty"`
	// Unreadable are the paths a source cannot read now (a file it may
	// not open, a folder it may not list), by path: retried at every
	// scan, and gone from here once read again.
	Unreadable map[string]SourceProblem `json:"unreadable,omitempty"`
}

// SourceProblem is a path a source cannot read.
type SourceProblem struct {
	Source string    `json:"source"`
	Msg    string    `json:"msg"`
	Error  string    `json:"error"`
	Since  time.Time `json:"since"`
}

// ArtifactProgress is an artifact upload in progress: how many of its
// parts are stored (counting those a restart found stored).
type ArtifactProgress struct {
	Path      string    `json:"path,omitempty"`
	Size      int64     `json:"size"`
	Parts     int       `json:"parts"`
	PartsDone int       `json:"parts_done"`
	Updated   time.Time `json:"updated"`
}

// StatusError is one failed write.
type StatusError struct {
	Time   time.Time `json:"time"`
	Object string    `json:"object"`
	Error  string    `json:"error"`
}

// Failing reports whether the last write failed and none succeeded since.
func (s Status) Failing() bool {
	return s.LastError != nil && s.LastError.Time.After(s.LastUpload)
}

// statusTracker keeps the Status of a running pipeline.
type statusTracker struct {
	mu    sync.Mutex
	st    Status
	dirty bool
}

func (t *statusTracker) uploaded(key string, now time.Time) {
	t.mu.Lock()
	t.st.LastUpload, t.st.LastUploadKey, t.st.Failures, t.dirty = now, key, 0, true
	t.mu.Unlock()
}

func (t *statusTracker) failed(key string, err error, now time.Time) {
	t.mu.Lock()
	t.st.LastError = &StatusError{Time: now, Object: key, Error: err.Error()}
	t.st.Failures++
	t.dirty = true
	t.mu.Unlock()
}

// artifact records the progress of the artifact id; done removes it.
func (t *statusTracker) artifact(id string, pr ArtifactProgress, done bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if done {
		delete(t.st.Artifacts, id)
	} else {
		if t.st.Artifacts == nil {
			t.st.Artifacts = map[string]ArtifactProgress{}
		}
		t.st.Artifacts[id] = pr
	}
	t.dirty = true
}

// problem records a path a source cannot read; solved removes it.
func (t *statusTracker) problem(source, path, msg string, err error, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.st.Unreadable == nil {
		t.st.Unreadable = map[string]SourceProblem{}
	}
	if old, ok := t.st.Unreadable[path]; ok && old.Error == err.Error() {
		return
	}
	t.st.Unreadable[path] = SourceProblem{Source: source, Msg: msg, Error: err.Error(), Since: now}
	t.dirty = true
}

func (t *statusTracker) solved(path string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.st.Unreadable[path]; ok {
		delete(t.st.Unreadable, path)
		t.dirty = true
	}
}

// save writes the status if it changed (or always when force): temp file
// and rename, so a reader sees the old or the new one.
func (t *statusTracker) save(dir string, force bool) error {
	t.mu.Lock()
	if !t.dirty && !force {
		t.mu.Unlock()
		return nil
	}
	t.st.Saved = time.Now().UTC()
	b, err := json.MarshalIndent(t.st, "", " ")
	t.dirty = false
	t.mu.Unlock()
	if err != nil {
		return err
	}
	path := filepath.Join(dir, statusFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// SavedStream is one stream of a checkpoint file, with the source it
// belongs to.
type SavedStream struct {
	Source string
	Checkpoint
}

// State is what an agent left in its state folder.
type State struct {
	// Saved is when the checkpoint was written (zero: no checkpoint).
	Saved   time.Time
	Streams []SavedStream
	// Status is the agent's status file; HasStatus is false when there
	// is none (an agent of an older version, or never started).
	Status    Status
	HasStatus bool
}

// ReadState reads the checkpoint and status files of a state folder
// without changing anything (no lock, no clean-up): it is safe while the
// agent runs, whose saves replace the files atomically.
func ReadState(dir string) (State, error) {
	var s State
	b, err := os.ReadFile(filepath.Join(dir, checkpointFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return s, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	default:
		var st savedState
		if err := json.Unmarshal(b, &st); err != nil || st.Version != checkpointVersion {
			return s, fmt.Errorf("%w: %s: version %d, err %v", ErrCheckpoint, dir, st.Version, err)
		}
		s.Saved = st.Saved
		for _, e := range st.Streams {
			s.Streams = append(s.Streams, SavedStream{Source: e.Source, Checkpoint: Checkpoint{
				Info:      StreamInfo{ID: e.ID, Kind: e.Kind, Path: e.Path, Unit: e.Unit, Meta: e.Meta},
				Committed: e.Committed, Finished: e.Finished, Updated: e.Updated,
			}})
		}
	}
	b, err = os.ReadFile(filepath.Join(dir, statusFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return s, fmt.Errorf("status file: %w", err)
	default:
		if err := json.Unmarshal(b, &s.Status); err != nil {
			return s, fmt.Errorf("status file %s: %w", dir, err)
		}
		s.HasStatus = true
	}
	return s, nil
}
