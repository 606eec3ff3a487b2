package control

import (
	"time"

	"github.com/logship/logship/internal/schema"
)

// Config is the remote_snapshots: section of the agent's config.
type Config struct {
	// Enabled starts the poller beside the pipeline; nil: on. The cost
	// is one LIST a poll (see the README), and the bucket is the only
	// way into a container.
	Enabled *bool `yaml:"enabled"`
	// PollInterval is the time between two LISTs of the requests;
	// default 30s.
	PollInterval schema.Duration `yaml:"poll_interval"`
	// MaxBackoff bounds the wait after failed LISTs (it doubles from
	// PollInterval); default 10m.
	MaxBackoff schema.Duration `yaml:"max_backoff"`
	// HeapDumps lets a request ask for java_pid*.hprof files; default
	// off (they can be GBs, and hold the app's data).
	HeapDumps bool `yaml:"heap_dumps"`
	// Timeout bounds one snapshot taken for a request, upload included;
	// default 10m.
	Timeout schema.Duration `yaml:"timeout"`
}

// Defaults.
const (
	DefaultPollInterval = 30 * time.Second
	DefaultMaxBackoff   = 10 * time.Minute
	DefaultTimeout      = 10 * time.Minute
)

// SetDefaults fills what is unset.
func (c *Config) SetDefaults() {
	if c.Enabled == nil {
		on := true
		c.Enabled = &on
	}
	schema.Default(&c.PollInterval, schema.Duration(DefaultPollInterval))
	schema.Default(&c.MaxBackoff, schema.Duration(DefaultMaxBackoff))
	schema.Default(&c.Timeout, schema.Duration(DefaultTimeout))
}

// On reports whether the poller runs.
func (c Config) On() bool { return c.Enabled == nil || *c.Enabled }

// Validate reports every problem, each with its key.
func (c Config) Validate() error {
	var ps schema.Problems
	ps.Positive("poll_interval", c.PollInterval)
	if c.PollInterval > 0 && c.PollInterval < schema.Duration(10*time.Millisecond) {
		ps.Add("poll_interval", "%s is too short: at least 10ms (each poll is a LIST, billed: the default 30s makes ~86,400 a month)", c.PollInterval)
	}
	ps.Positive("max_backoff", c.MaxBackoff)
	if c.MaxBackoff > 0 && c.MaxBackoff < c.PollInterval {
		ps.Add("max_backoff", "%s is shorter than poll_interval %s", c.MaxBackoff, c.PollInterval)
	}
	ps.Positive("timeout", c.Timeout)
	return ps.Err()
}
