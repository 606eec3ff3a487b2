package supervise

import (
	"time"

	"github.com/logship/logship/internal/schema"
)

// Config is the run: section of the config file, read by logship run only.
// The yaml tags are the config keys.
type Config struct {
	CrashWait         schema.Duration `yaml:"crash_wait"`          // after the child ends, time for crash files and the kernel log; default 2s
	FinalFlushTimeout schema.Duration `yaml:"final_flush_timeout"` // then everything must be durable within this; default 10s
	SnapshotOnExit    *bool           `yaml:"snapshot_on_exit"`    // a snapshot after an abnormal exit (when a Snapshotter is set); default true
	SpoolMaxBytes     schema.Size     `yaml:"spool_max_bytes"`     // disk per pipe for output not yet archived; default 256MiB
	SpoolFileBytes    schema.Size     `yaml:"spool_file_bytes"`    // spool file size before rotation; default 16MiB
	Subreaper         *bool           `yaml:"subreaper"`           // reap orphans also when not PID 1 (PR_SET_CHILD_SUBREAPER); default false
}

// Defaults of the keys, and the limits Validate holds them to.
const (
	DefaultCrashWait         = 2 * time.Second
	DefaultFinalFlushTimeout = 10 * time.Second
	DefaultSpoolMaxBytes     = 256 << 20
	DefaultSpoolFileBytes    = 16 << 20

	MinSpoolFileBytes = 64 << 10
	MaxSpoolFileBytes = 1 << 30
)

// SetDefaults fills every zero value with its default. It is idempotent.
func (c *Config) SetDefaults() {
	schema.Default(&c.CrashWait, schema.Duration(DefaultCrashWait))
	schema.Default(&c.FinalFlushTimeout, schema.Duration(DefaultFinalFlushTimeout))
	if c.SnapshotOnExit == nil {
		t := true
		c.SnapshotOnExit = &t
	}
	if c.Subreaper == nil {
		f := false
		c.Subreaper = &f
	}
	schema.Default(&c.SpoolMaxBytes, DefaultSpoolMaxBytes)
	schema.Default(&c.SpoolFileBytes, DefaultSpoolFileBytes)
}

// Validate reports every problem of a config that SetDefaults has
// completed, as schema.Problems with keys relative to the section.
func (c Config) Validate() error {
	var ps schema.Problems
	ps.Positive("crash_wait", c.CrashWait)
	ps.Positive("final_flush_timeout", c.FinalFlushTimeout)
	ps.Between("spool_file_bytes", c.SpoolFileBytes.Int64(), MinSpoolFileBytes, MaxSpoolFileBytes, schema.ShowSize)
	if c.SpoolMaxBytes < 2*c.SpoolFileBytes {
		ps.Add("spool_max_bytes", "%s is less than two spool files (spool_file_bytes %s): raise it, e.g. %s",
			c.SpoolMaxBytes, c.SpoolFileBytes, schema.Size(DefaultSpoolMaxBytes))
	}
	return ps.Err()
}
