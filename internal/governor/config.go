package governor

import (
	"github.com/logship/logship/internal/schema"
)

// Config is the limits: section: how much of the container the agent may
// take. The yaml tags are the config keys.
type Config struct {
	Memory        schema.Size `yaml:"memory"`         // Go soft memory limit; 0: what the pipeline needs, at most memory_percent of the container's
	MemoryPercent int         `yaml:"memory_percent"` // the share of the cgroup memory limit the agent allows itself; default 25
	CPUs          int         `yaml:"cpus"`           // GOMAXPROCS; 0: the Go runtime's, which follows the cgroup CPU quota
}

// DefaultMemoryPercent is memory_percent's default.
const DefaultMemoryPercent = 25

// SetDefaults fills every zero value with its default.
func (c *Config) SetDefaults() {
	schema.Default(&c.MemoryPercent, DefaultMemoryPercent)
}

// Validate reports every problem of a config that SetDefaults has
// completed, with keys relative to the section.
func (c Config) Validate() error {
	var ps schema.Problems
	if c.Memory != 0 {
		ps.Between("memory", c.Memory.Int64(), Floor, 1<<40, schema.ShowSize)
	}
	ps.Between("memory_percent", int64(c.MemoryPercent), 1, 100, schema.Count)
	ps.Between("cpus", int64(c.CPUs), 0, 1024, schema.Count)
	return ps.Err()
}
