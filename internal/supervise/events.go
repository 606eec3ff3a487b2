package supervise

import (
	"encoding/json"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

var (
	mReaped    = metrics.GetOrCreateCounter("logship_run_orphans_reaped_total")
	mSpoolLost = metrics.GetOrCreateCounter("logship_run_spool_write_lost_bytes_total")
	mAbandoned = metrics.GetOrCreateCounter("logship_run_output_abandoned_bytes_total")
)

// Run events, one JSON object per line of the events stream (source kind
// archive.KindEvent, path events.jsonl).
type startEvent struct {
	TS             string   `json:"ts"`
	Event          string   `json:"event"` // "start"
	Pid            int      `json:"pid"`
	Cmd            []string `json:"cmd"`
	LogshipVersion string   `json:"logship_version"`
}

type exitEvent struct {
	TS          string   `json:"ts"`
	Event       string   `json:"event"` // "exit"
	Pid         int      `json:"pid"`
	ExitCode    int      `json:"exit_code"`
	Signal      string   `json:"signal"` // "" for a normal exit
	CoreDumped  bool     `json:"core_dumped"`
	RuntimeMS   int64    `json:"runtime_ms"`
	Cmd         []string `json:"cmd"`
	Abnormal    bool     `json:"abnormal"`
	SnapshotKey string   `json:"snapshot_key,omitempty"`
}

type snapshotEvent struct {
	TS      string `json:"ts"`
	Event   string `json:"event"` // "snapshot"
	Trigger string `json:"trigger"`
	Key     string `json:"key"`
}

func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// line encodes one event as a JSON line.
func line(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("supervise: event: " + err.Error()) // plain structs of strings and numbers
	}
	return append(b, '\n')
}
