package report

import "time"

// Result is what a report found. The text, HTML and JSON renderers all
// draw from it; nothing in it grows with the number of lines read (every
// list is capped, and what a cap dropped is counted). Every list of a
// Result that Build returns, nested ones too, is non-nil: in JSON it is
// an array, [] when empty, never null.
type Result struct {
	Dir      string    `json:"dir"`
	From     string    `json:"from,omitempty"` // the archive a cache was pulled from
	Since    time.Time `json:"since,omitzero"`
	Until    time.Time `json:"until,omitzero"`
	First    time.Time `json:"first,omitzero"` // earliest time seen in anything
	Last     time.Time `json:"last,omitzero"`
	Hosts    []*Host   `json:"hosts"`
	Timeline []Event   `json:"timeline"`
	// TimelineDropped counts minor events left out of Timeline (cap).
	TimelineDropped int           `json:"timeline_dropped,omitempty"`
	OOMKills        []OOMKill     `json:"oom_kills"`
	KernelErrors    []KernelIssue `json:"kernel_errors"`
	Crashes         []Crash       `json:"jvm_crashes"`
	HeapDumps       []HeapDump    `json:"heap_dumps"`
	Snapshots       []Snapshot    `json:"snapshots"`
	Files           []LogFile     `json:"files"`
	FilesDropped    int           `json:"files_dropped,omitempty"`
	Exceptions      []Exception   `json:"exceptions"`
	Templates       []Template    `json:"error_templates"`
	// TemplatesOverflow counts error and warning records whose template
	// was new once the template table was full.
	TemplatesOverflow int64      `json:"templates_overflow,omitempty"`
	Incidents         []Incident `json:"incidents"`
	Problems          []string   `json:"problems"`
}

// Levels of log records, as indexes of the per-level counters.
const (
	LevelError = iota
	LevelWarn
	LevelInfo
	LevelDebug
	LevelOther // no level found
	numLevels
)

// LevelNames names the levels in counter order.
var LevelNames = [numLevels]string{"error", "warn", "info", "debug", "other"}

// Host is one host (container) of one app.
type Host struct {
	App  string `json:"app"`
	Name string `json:"host"`
	// Shipping is when its data was ingested by the agent, from pull's
	// records of every chunk; zero when the folder has none.
	ShipFirst time.Time `json:"ship_first,omitzero"`
	ShipLast  time.Time `json:"ship_last,omitzero"`
	// Seen is the span of the timestamps in its data.
	SeenFirst time.Time        `json:"seen_first,omitzero"`
	SeenLast  time.Time        `json:"seen_last,omitzero"`
	Gaps      []Gap            `json:"gaps"`
	Starts    []Start          `json:"starts"`
	Exits     []Exit           `json:"exits"`
	Levels    [numLevels]int64 `json:"levels"`
	Records   int64            `json:"records"`
	Lines     int64            `json:"lines"`
	Bytes     int64            `json:"bytes"`
	// Histogram counts records per level over time.
	Histogram Histogram `json:"histogram"`
}

// ID is "app/host".
func (h *Host) ID() string { return h.App + "/" + h.Name }

// Gap is a time in which a host shipped nothing.
type Gap struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Start is a (re)start of the application: a `logship run` start event or
// a start banner in its logs.
type Start struct {
	Time time.Time `json:"time"`
	How  string    `json:"how"` // "run start", "Spring Boot", ...
	Text string    `json:"text"`
}

// Exit is the exit event of `logship run`.
type Exit struct {
	Time       time.Time `json:"time"`
	PID        int       `json:"pid,omitempty"`
	ExitCode   int       `json:"exit_code"`
	Signal     string    `json:"signal,omitempty"`
	CoreDumped bool      `json:"core_dumped,omitempty"`
	Runtime    string    `json:"runtime,omitempty"`
	Abnormal   bool      `json:"abnormal"`
	Cmd        string    `json:"cmd,omitempty"`
}

// OOMKill is one process killed by the kernel's OOM killer.
type OOMKill struct {
	Host       string    `json:"host"`
	Time       time.Time `json:"time"`
	Process    string    `json:"process,omitempty"`
	PID        int       `json:"pid,omitempty"`
	AnonRSSKB  int64     `json:"anon_rss_kb,omitempty"`
	FileRSSKB  int64     `json:"file_rss_kb,omitempty"`
	ShmemRSSKB int64     `json:"shmem_rss_kb,omitempty"`
	TotalVMKB  int64     `json:"total_vm_kb,omitempty"`
	Cgroup     string    `json:"cgroup,omitempty"`
	Constraint string    `json:"constraint,omitempty"`
	UsageKB    int64     `json:"usage_kb,omitempty"`
	LimitKB    int64     `json:"limit_kb,omitempty"`
	Failcnt    int64     `json:"failcnt,omitempty"`
	Source     string    `json:"source"` // "kernel log" or "cgroup counter"
}

// KernelIssue is a group of kernel messages of one kind and template.
type KernelIssue struct {
	Host   string    `json:"host"`
	Kind   string    `json:"kind"` // segfault, hung task, I/O error, error
	Count  int64     `json:"count"`
	First  time.Time `json:"first"`
	Last   time.Time `json:"last"`
	Sample string    `json:"sample"`
}

// Crash is one JVM fatal error file.
type Crash struct {
	Host             string    `json:"host"`
	Path             string    `json:"path"`
	Time             time.Time `json:"time,omitzero"`
	TimeText         string    `json:"time_text,omitempty"`
	Signal           string    `json:"signal,omitempty"`
	Error            string    `json:"error,omitempty"`
	PID              string    `json:"pid,omitempty"`
	ProblematicFrame string    `json:"problematic_frame,omitempty"`
	Thread           string    `json:"thread,omitempty"`
	Heap             []string  `json:"heap"`
	JREVersion       string    `json:"jre_version,omitempty"`
	CommandLine      string    `json:"command_line,omitempty"`
	Elapsed          string    `json:"elapsed,omitempty"`
}

// HeapDump is one .hprof file, here or left in the archive.
type HeapDump struct {
	App   string    `json:"app"`
	Host  string    `json:"host"`
	Path  string    `json:"path"`
	Size  int64     `json:"size"`
	Time  time.Time `json:"time,omitzero"`
	Local string    `json:"local,omitempty"` // the file on this machine, when pulled
	Fetch string    `json:"fetch,omitempty"` // the command that brings it
}

// Snapshot is one diagnostic bundle, summarised from its manifest.
type Snapshot struct {
	Host       string        `json:"host"`
	Path       string        `json:"path"`
	Time       time.Time     `json:"time,omitzero"`
	Trigger    string        `json:"trigger,omitempty"`
	Note       string        `json:"note,omitempty"`
	MemLimit   int64         `json:"memory_limit_bytes,omitempty"`
	MemUsage   int64         `json:"memory_usage_bytes,omitempty"`
	OOMKills   int64         `json:"oom_kills,omitempty"`
	Processes  int64         `json:"processes,omitempty"`
	JVMs       []SnapshotJVM `json:"jvm"`
	Collectors []string      `json:"collectors"`      // "name: status" of those not ok
	Error      string        `json:"error,omitempty"` // why the manifest could not be read
}

// SnapshotJVM is one JVM in a snapshot.
type SnapshotJVM struct {
	PID            int64  `json:"pid"`
	RSS            int64  `json:"rss_bytes,omitempty"`
	Threads        int64  `json:"threads,omitempty"`
	BlockedThreads int64  `json:"blocked_threads,omitempty"`
	ThreadDump     string `json:"thread_dump,omitempty"`
}

// LogFile is one application log file.
type LogFile struct {
	Host    string           `json:"host"`
	Source  string           `json:"source"`
	Path    string           `json:"path"`
	Format  string           `json:"format"`
	Zone    string           `json:"zone,omitempty"` // the zone given to timestamps without one, and why
	Bytes   int64            `json:"bytes"`
	Lines   int64            `json:"lines"`
	Records int64            `json:"records"`
	Levels  [numLevels]int64 `json:"levels"`
	Untimed int64            `json:"untimed,omitempty"` // records with no time at all
	First   time.Time        `json:"first,omitzero"`
	Last    time.Time        `json:"last,omitzero"`
}

// Exception is one exception class.
type Exception struct {
	Class     string    `json:"class"`
	Count     int64     `json:"count"`
	First     time.Time `json:"first,omitzero"`
	Last      time.Time `json:"last,omitzero"`
	Hosts     []string  `json:"hosts"`
	RootCause string    `json:"root_cause,omitempty"` // of the sample
	Sample    string    `json:"sample"`               // the first trace, capped
}

// Template is a group of error or warning messages that differ only in
// numbers, ids, addresses and the like.
type Template struct {
	Level    string    `json:"level"`
	Template string    `json:"template"`
	Count    int64     `json:"count"`
	First    time.Time `json:"first,omitzero"`
	Last     time.Time `json:"last,omitzero"`
	Hosts    []string  `json:"hosts"`
	Sample   string    `json:"sample"`
}

// Incident is a crash, OOM kill or abnormal exit with the first errors
// logged on its host in the minutes before it.
type Incident struct {
	Event  Event       `json:"event"`
	Errors []ErrorLine `json:"errors_before"`
}

// ErrorLine is one error record, its first line.
type ErrorLine struct {
	Time time.Time `json:"time"`
	File string    `json:"file"`
	Text string    `json:"text"`
}

// Event kinds of the timeline.
const (
	KindShipStart = "shipping-start"
	KindShipStop  = "shipping-stop"
	KindGap       = "gap"
	KindStart     = "start"
	KindRestart   = "restart"
	KindExit      = "exit"
	KindOOM       = "oom-kill"
	KindKernel    = "kernel"
	KindCrash     = "jvm-crash"
	KindHeapDump  = "heap-dump"
	KindSnapshot  = "snapshot"
	KindErrors    = "errors-climb"
	KindFirstErr  = "first-error"
)

// Severities of timeline events.
const (
	SevInfo  = "info"
	SevWarn  = "warn"
	SevError = "error"
)

// Event is one entry of the merged timeline.
type Event struct {
	Time     time.Time `json:"time"`
	Host     string    `json:"host"`
	Kind     string    `json:"kind"`
	Severity string    `json:"severity"`
	Text     string    `json:"text"`
}
