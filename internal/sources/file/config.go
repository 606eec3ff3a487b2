package file

import (
	"time"

	"github.com/logship/logship/internal/schema"
	"github.com/logship/logship/internal/sources/glob"
)

// Config is one `type: file` entry of sources: (its keys; type and name
// belong to the entry). The yaml tags are the config keys.
type Config struct {
	Paths            []string        `yaml:"paths"`              // globs, ** matches any number of folders; required
	Exclude          []string        `yaml:"exclude"`            // globs matched against the full path and the base name
	ReadFrom         string          `yaml:"read_from"`          // beginning|end, for files found at the very first start; default beginning
	MaxLineBytes     schema.Size     `yaml:"max_line_bytes"`     // longer lines are split; default 1MiB
	ScanInterval     schema.Duration `yaml:"scan_interval"`      // glob rescan; default 1s
	PartialLineAfter schema.Duration `yaml:"partial_line_after"` // ship an unterminated last line after this idle time; default 2s
	MaxOpenFiles     int             `yaml:"max_open_files"`     // cap on open descriptors; default 256
	RotatedKeepOpen  schema.Duration `yaml:"rotated_keep_open"`  // how long a rotated/deleted file is held to finish reading; default 5m
	MaxRotatedOpen   int             `yaml:"max_rotated_open"`   // how many rotated/deleted files may be held; default 32, at most max_open_files
	FingerprintBytes int             `yaml:"fingerprint_bytes"`  // bytes of the file head in its identity; default 1024
	ReadBufferBytes  schema.Size     `yaml:"read_buffer"`        // read size; default 256KiB
}

// Values of read_from.
const (
	ReadFromBeginning = "beginning"
	ReadFromEnd       = "end"
)

// ReadFroms are the values of read_from.
var ReadFroms = []string{ReadFromBeginning, ReadFromEnd}

// Defaults of the keys, and the limits Validate holds them to.
const (
	DefaultMaxLineBytes     = 1 << 20
	DefaultScanInterval     = time.Second
	DefaultPartialLineAfter = 2 * time.Second
	DefaultMaxOpenFiles     = 256
	DefaultRotatedKeepOpen  = 5 * time.Minute
	DefaultMaxRotatedOpen   = 32
	DefaultFingerprintBytes = 1024
	DefaultReadBufferBytes  = 256 << 10

	MinMaxLineBytes     = 16
	MaxMaxOpenFiles     = 1 << 20
	MinFingerprintBytes = 16
	MaxFingerprintBytes = 64 << 10
)

// examplePath completes a path glob that ends with ** in messages.
const examplePath = "*.log"

// SetDefaults fills every zero value with its default. It is idempotent.
func (c *Config) SetDefaults() {
	schema.Default(&c.ReadFrom, ReadFromBeginning)
	schema.Default(&c.MaxLineBytes, DefaultMaxLineBytes)
	schema.Default(&c.ScanInterval, schema.Duration(DefaultScanInterval))
	schema.Default(&c.PartialLineAfter, schema.Duration(DefaultPartialLineAfter))
	schema.Default(&c.MaxOpenFiles, DefaultMaxOpenFiles)
	schema.Default(&c.RotatedKeepOpen, schema.Duration(DefaultRotatedKeepOpen))
	schema.Default(&c.MaxRotatedOpen, min(DefaultMaxRotatedOpen, c.MaxOpenFiles))
	schema.Default(&c.FingerprintBytes, DefaultFingerprintBytes)
	schema.Default(&c.ReadBufferBytes, DefaultReadBufferBytes)
}

// Validate reports every problem of a config that SetDefaults has
// completed, as schema.Problems with keys relative to the entry. That a
// line and a read fit in one chunk (pipeline.max_bytes) is checked by
// package config, which sees both.
func (c Config) Validate() error {
	var ps schema.Problems
	if len(c.Paths) == 0 {
		ps.Add("paths", "required: the files to read, e.g. paths: [\"/home/admin/logs/**/*.log\"]")
	}
	glob.Check(&ps, c.Paths, c.Exclude, examplePath)
	ps.OneOf("read_from", c.ReadFrom, ReadFroms)
	ps.Between("max_line_bytes", c.MaxLineBytes.Int64(), MinMaxLineBytes, 1<<62, schema.ShowSize)
	if c.ReadBufferBytes <= 0 {
		ps.Add("read_buffer", "must be more than 0, e.g. 64KiB")
	}
	ps.Positive("scan_interval", c.ScanInterval)
	ps.Positive("partial_line_after", c.PartialLineAfter)
	ps.Positive("rotated_keep_open", c.RotatedKeepOpen)
	ps.Between("max_open_files", int64(c.MaxOpenFiles), 1, MaxMaxOpenFiles, schema.Count)
	ps.Between("max_rotated_open", int64(c.MaxRotatedOpen), 1, int64(max(c.MaxOpenFiles, 1)), schema.Count)
	ps.Between("fingerprint_bytes", int64(c.FingerprintBytes), MinFingerprintBytes, MaxFingerprintBytes, schema.Count)
	return ps.Err()
}
