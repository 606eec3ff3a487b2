package agent

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/config"
	"github.com/logship/logship/internal/pipeline"
	"github.com/logship/logship/internal/sources/file"
)

// Report is what `logship status` shows: the agent's checkpoint and status
// files read beside the live files, without touching either.
type Report struct {
	StateDir   string          `json:"state_dir"`
	Running    bool            `json:"running"` // the pid of the status file is alive
	Checkpoint time.Time       `json:"checkpoint_saved,omitzero"`
	Status     pipeline.Status `json:"status"`
	Streams    []StreamStatus  `json:"streams"`
	Artifacts  []ArtifactState `json:"artifacts"`
	// Problems say why the agent is not healthy; empty when it is.
	Problems []string `json:"problems"`
}

// StreamStatus is one log or kernel stream.
type StreamStatus struct {
	Source   string `json:"source"`
	Kind     string `json:"kind"`
	ID       string `json:"id"`
	Path     string `json:"path,omitempty"`
	Identity string `json:"identity,omitempty"` // files: device, inode, generation, fingerprint
	Mode     string `json:"mode,omitempty"`     // kernel: kmsg, klogctl or cgroup
	Archived int64  `json:"archived"`           // durable position (bytes or records)
	Unit     string `json:"unit"`
	Finished bool   `json:"finished,omitempty"`
	Found    bool   `json:"found"`          // files: the file is still where it was, same inode
	Size     int64  `json:"size,omitempty"` // files: its size now
	LagBytes int64  `json:"lag_bytes"`      // written and not yet durable
	// LagSeconds is, when bytes wait, how long the archived position has
	// not moved: the oldest waiting byte is at most this old plus the
	// checkpoint interval.
	LagSeconds  float64   `json:"lag_seconds"`
	LastArchive time.Time `json:"last_archived"` // when the archived position last moved
}

// ArtifactState is one crash file or heap dump.
type ArtifactState struct {
	Source string `json:"source"`
	ID     string `json:"id"`
	Path   string `json:"path,omitempty"`
	// State is "uploading" (registered, not complete: a restart resumes
	// it from the parts stored) or "done".
	State   string    `json:"state"`
	Size    int64     `json:"size,omitempty"`
	Updated time.Time `json:"updated"`
	// Parts and PartsDone: of a multipart upload in progress, as the
	// running agent last reported them (0: not known, or one part).
	Parts     int `json:"parts,omitempty"`
	PartsDone int `json:"parts_done,omitempty"`
}

// Status builds the report of the agent configured by cfg. A stream is
// lagging when bytes have waited more than maxLag; the agent is failing
// when its last write failed and none succeeded since.
func Status(cfg *config.Config, now time.Time, maxLag time.Duration) (Report, error) {
	r := Report{StateDir: cfg.Pipeline.StateDir, Streams: []StreamStatus{}, Artifacts: []ArtifactState{}, Problems: []string{}}
	st, err := pipeline.ReadState(cfg.Pipeline.StateDir)
	if err != nil {
		return r, err
	}
	if st.Saved.IsZero() && !st.HasStatus {
		r.Problems = append(r.Problems, fmt.Sprintf("no checkpoint in %s: the agent has not run with this state_dir", r.StateDir))
		return r, nil
	}
	r.Checkpoint, r.Status = st.Saved, st.Status
	r.Running = st.HasStatus && alive(st.Status.PID)
	progress := map[string]pipeline.ArtifactProgress{}
	if r.Running { // a stopped agent's uploads in progress are not
		maps.Copy(progress, st.Status.Artifacts)
	}
	for _, s := range st.Streams {
		if s.Info.Kind == archive.KindCrash {
			a := ArtifactState{Source: s.Source, ID: s.Info.ID, Path: s.Info.Path, State: "uploading", Updated: s.Updated}
			if s.Finished && s.Committed > 0 {
				a.State, a.Size = "done", s.Committed
			} else if pr, ok := progress[s.Info.ID]; ok {
				a.Size, a.Parts, a.PartsDone, a.Updated = pr.Size, pr.Parts, pr.PartsDone, pr.Updated
				delete(progress, s.Info.ID)
			}
			r.Artifacts = append(r.Artifacts, a)
			continue
		}
		ss := StreamStatus{Source: s.Source, Kind: s.Info.Kind, ID: s.Info.ID, Path: s.Info.Path, Archived: s.Committed,
			Unit: s.Info.Unit, Finished: s.Finished, LastArchive: s.Updated}
		switch s.Info.Kind {
		case archive.KindFile:
			live, found := file.FindLive(s.Info)
			ss.Path, ss.Identity, ss.Found = live.Path, live.Identity, found
			if found {
				ss.Size = live.Size
				ss.LagBytes = max(live.Size-s.Committed, 0)
			}
		case archive.KindKmsg:
			var m struct{ Mode string }
			json.Unmarshal(s.Info.Meta, &m)
			ss.Mode = m.Mode
		}
		if ss.LagBytes > 0 {
			ss.LagSeconds = now.Sub(s.Updated).Seconds()
			if ss.LagSeconds > maxLag.Seconds() {
				r.Problems = append(r.Problems, fmt.Sprintf("%s: %d bytes waiting, archived position unchanged for %s", ss.Path, ss.LagBytes, now.Sub(s.Updated).Round(time.Second)))
			}
		}
		r.Streams = append(r.Streams, ss)
	}
	for _, id := range slices.Sorted(maps.Keys(progress)) { // snapshot bundles: not in the checkpoint
		pr := progress[id]
		r.Artifacts = append(r.Artifacts, ArtifactState{ID: id, Path: pr.Path, State: "uploading", Size: pr.Size, Parts: pr.Parts, PartsDone: pr.PartsDone, Updated: pr.Updated})
	}
	for _, path := range slices.Sorted(maps.Keys(r.Status.Unreadable)) {
		if !r.Running {
			break // a stopped agent's may be solved since: the next run says
		}
		u := r.Status.Unreadable[path]
		r.Problems = append(r.Problems, fmt.Sprintf("%s: %s (%s source, since %s): %s", path, u.Msg, u.Source, u.Since.Format(time.RFC3339), u.Error))
	}
	if r.Status.Failing() {
		e := r.Status.LastError
		r.Problems = append(r.Problems, fmt.Sprintf("last upload failed at %s (%d failures since the last success): %s", e.Time.Format(time.RFC3339), r.Status.Failures, e.Error))
	}
	return r, nil
}

// alive reports whether pid is a running logship process.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && err != syscall.EPERM {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err != nil || strings.Contains(string(b), "logship")
}
