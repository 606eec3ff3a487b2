package dir

import "github.com/logship/logship/internal/schema"

// Config is a dir sink: the keys of sink: that apply to `type: dir`. The
// yaml tags are the config keys.
type Config struct {
	Path string `yaml:"path"` // folder; default ./archive
}

// DefaultPath is the folder of a dir sink that names none.
const DefaultPath = "./archive"

// SetDefaults fills every zero value with its default. It is idempotent.
func (c *Config) SetDefaults() { schema.Default(&c.Path, DefaultPath) }

// Validate reports every problem of a config that SetDefaults has
// completed, as schema.Problems with keys relative to sink:.
func (c Config) Validate() error {
	var ps schema.Problems
	if c.Path == "" {
		ps.Add("path", "required: the folder to write to, e.g. %s", DefaultPath)
	}
	return ps.Err()
}
