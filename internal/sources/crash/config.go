package crash

import (
	"time"

	"github.com/logship/logship/internal/schema"
	"github.com/logship/logship/internal/sources/glob"
)

// Config is one `type: crash` entry of sources: (its keys; type and name
// belong to the entry). The yaml tags are the config keys.
type Config struct {
	Paths     []string        `yaml:"paths"`      // globs, ** matches any number of folders; default DefaultPaths
	Exclude   []string        `yaml:"exclude"`    // globs matched against the full path and the base name
	Settle    schema.Duration `yaml:"settle"`     // size unchanged this long = complete; default 5s
	RateLimit schema.Size     `yaml:"rate_limit"` // bytes per second for artifact uploads; 0 = unlimited
}

// DefaultPaths are where a JVM writes crash files; relative paths are
// taken from the working directory of the app (and of logship run).
var DefaultPaths = []string{"hs_err_pid*.log", "java_pid*.hprof", "/tmp/hs_err_pid*.log", "/tmp/java_pid*.hprof"}

// Defaults of the keys, and the limits Validate holds them to.
const (
	DefaultSettle = 5 * time.Second
	MaxRateLimit  = 1 << 40
)

// examplePath completes a path glob that ends with ** in messages.
const examplePath = "hs_err_pid*.log"

// SetDefaults fills every zero value with its default. It is idempotent.
func (c *Config) SetDefaults() {
	if len(c.Paths) == 0 {
		c.Paths = append([]string(nil), DefaultPaths...)
	}
	schema.Default(&c.Settle, schema.Duration(DefaultSettle))
}

// Validate reports every problem of a config that SetDefaults has
// completed, as schema.Problems with keys relative to the entry.
func (c Config) Validate() error {
	var ps schema.Problems
	if len(c.Paths) == 0 {
		ps.Add("paths", "required: the files to watch, e.g. paths: [\"/home/admin/logs/hs_err_pid*.log\"]")
	}
	glob.Check(&ps, c.Paths, c.Exclude, examplePath)
	ps.Positive("settle", c.Settle)
	ps.Between("rate_limit", c.RateLimit.Int64(), 0, MaxRateLimit, schema.ShowSize)
	return ps.Err()
}
