package kmsg

import "github.com/logship/logship/internal/schema"

// Config is one `type: kmsg` entry of sources: (its keys; type and name
// belong to the entry). The yaml tags are the config keys.
type Config struct {
	Device     string `yaml:"device"`      // default /dev/kmsg
	CgroupRoot string `yaml:"cgroup_root"` // default /sys/fs/cgroup
	Mode       string `yaml:"mode"`        // auto|kmsg|klogctl|cgroup; default auto
}

// Modes are the values of mode.
var Modes = []string{ModeAuto, ModeKmsg, ModeKlogctl, ModeCgroup}

// SetDefaults fills every zero value with its default. It is idempotent.
func (c *Config) SetDefaults() {
	schema.Default(&c.Device, DefaultDevice)
	schema.Default(&c.CgroupRoot, DefaultCgroupRoot)
	schema.Default(&c.Mode, ModeAuto)
}

// Validate reports every problem of a config that SetDefaults has
// completed, as schema.Problems with keys relative to the entry.
func (c Config) Validate() error {
	var ps schema.Problems
	if c.Device == "" {
		ps.Add("device", "required, e.g. /dev/kmsg")
	}
	if c.CgroupRoot == "" {
		ps.Add("cgroup_root", "required, e.g. /sys/fs/cgroup")
	}
	ps.OneOf("mode", c.Mode, Modes)
	return ps.Err()
}
