package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/schema"
)

// Config is the pipeline: section of the config file (batching,
// compression, checkpoints). The yaml tags are the config keys.
type Config struct {
	MaxBytes           schema.Size     `yaml:"max_bytes"`           // raw bytes per chunk; default 4MiB
	MaxAge             schema.Duration `yaml:"max_age"`             // oldest byte waits at most this; default 5s
	Compression        string          `yaml:"compression"`         // zstd|gzip|none; default zstd
	MaxInFlight        int             `yaml:"max_in_flight"`       // max_in_flight × max_bytes is the memory of chunks in flight (see budget); when it is taken, sources block; default 6
	StateDir           string          `yaml:"state_dir"`           // checkpoint folder; default /var/lib/logship, or the user's state folder where that cannot be written
	CheckpointInterval schema.Duration `yaml:"checkpoint_interval"` // pace of checkpoint saves; default 1s
	RetryRefused       schema.Duration `yaml:"retry_refused"`       // retry pace after a refusal (AccessDenied, bad key, skewed clock); default 1m
	UploadRate         schema.Size     `yaml:"upload_rate"`         // bytes per second of log chunks sent to the sink (compressed); 0: unlimited
	Compressors        int             `yaml:"compressors"`         // compression workers; 0: one per CPU the Go runtime uses (GOMAXPROCS), at most max_in_flight

	// stateDirWhy says why SetDefaults chose a state_dir other than
	// DefaultStateDir; New logs it.
	stateDirWhy string
}

// Compressions are the values of compression (archive codecs).
var Compressions = []string{archive.CodecZstd, archive.CodecGzip, archive.CodecNone}

// Defaults of the keys, and the limits Validate holds them to.
const (
	DefaultMaxBytes           = 4 << 20
	DefaultMaxAge             = 5 * time.Second
	DefaultCompression        = archive.CodecZstd
	DefaultMaxInFlight        = 6
	DefaultStateDir           = "/var/lib/logship"
	DefaultCheckpointInterval = time.Second
	DefaultRetryRefused       = time.Minute

	MinMaxBytes    = 64 << 10  // so that a chunk is worth an object
	MaxMaxBytes    = 256 << 20 // so that a typo cannot exhaust memory
	MaxMaxAge      = time.Hour
	MaxMaxInFlight = 1024
	MinUploadRate  = 64 << 10 // below it a chunk would wait minutes
	MaxUploadRate  = 1 << 40
)

// encoderMemory is what one compressor's zstd encoder holds once used
// (history and tables; measured 4.6 MiB, see archive.NewEncoder).
const encoderMemory = 5 << 20

// MemoryNeed is the memory the pipeline's buffers need with compressors
// workers: the budget (max_in_flight × max_bytes), which raw buffers in
// use and compressed bodies waiting on the sink share; the body buffers
// kept for reuse (max_in_flight of about a quarter of max_bytes each for
// logs); and the encoders. The agent's soft memory limit is this plus a
// little for the rest of the process: a limit at or below the live heap
// makes the garbage collector run after nearly every allocation (179
// times shipping 512 MiB with a limit of 56 MiB and 8.6 MiB encoders,
// against 5 above it), and one far above it lets garbage fill the
// difference (peak RSS 82 MiB with a limit of 78 MiB).
func (c Config) MemoryNeed(compressors int) int64 {
	budget := int64(c.MaxInFlight) * c.MaxBytes.Int64()
	return budget + budget/4 + int64(compressors)*encoderMemory
}

// Workers is the number of compression workers the pipeline runs:
// compressors, or one per CPU of GOMAXPROCS; never more than chunks can
// be in flight (max_in_flight), which would only hold encoders.
func (c Config) Workers() int {
	n := c.Compressors
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return max(min(n, c.MaxInFlight), 1)
}

// SetDefaults fills every zero value with its default. It is idempotent.
// An unset state_dir is DefaultStateDir when this user can write it (or
// create it), else the user's state folder (see StateDirFor).
func (c *Config) SetDefaults() {
	schema.Default(&c.MaxBytes, DefaultMaxBytes)
	schema.Default(&c.MaxAge, schema.Duration(DefaultMaxAge))
	schema.Default(&c.Compression, DefaultCompression)
	schema.Default(&c.MaxInFlight, DefaultMaxInFlight)
	if c.StateDir == "" {
		c.StateDir, c.stateDirWhy = StateDirFor(DefaultStateDir, os.Getenv, os.UserHomeDir, Writable)
	}
	schema.Default(&c.CheckpointInterval, schema.Duration(DefaultCheckpointInterval))
	schema.Default(&c.RetryRefused, schema.Duration(DefaultRetryRefused))
}

// Validate reports every problem of a config that SetDefaults has
// completed, as schema.Problems with keys relative to the section. That
// a source's line and read fit in max_bytes is checked by package config,
// which sees both.
func (c Config) Validate() error {
	var ps schema.Problems
	ps.Between("max_bytes", c.MaxBytes.Int64(), MinMaxBytes, MaxMaxBytes, schema.ShowSize)
	ps.Positive("max_age", c.MaxAge)
	if c.MaxAge > schema.Duration(MaxMaxAge) {
		ps.Add("max_age", "%s is too long: at most %s", c.MaxAge, schema.Duration(MaxMaxAge))
	}
	ps.OneOf("compression", c.Compression, Compressions)
	ps.Between("max_in_flight", int64(c.MaxInFlight), 1, MaxMaxInFlight, schema.Count)
	ps.Between("compressors", int64(c.Compressors), 0, MaxMaxInFlight, schema.Count)
	if c.StateDir == "" {
		ps.Add("state_dir", "required: a folder for checkpoints that survives restarts, e.g. %s", DefaultStateDir)
	}
	ps.Positive("checkpoint_interval", c.CheckpointInterval)
	ps.Positive("retry_refused", c.RetryRefused)
	if c.UploadRate != 0 {
		ps.Between("upload_rate", c.UploadRate.Int64(), MinUploadRate, MaxUploadRate, schema.ShowSize)
	}
	return ps.Err()
}

// Retry is the retry policy of the config: refusals are retried at
// retry_refused (the backoff of other failures is not configurable).
func (c Config) Retry() Retry { return Retry{Permanent: c.RetryRefused.Std()} }

// StateDirFor decides the state_dir of a config that sets none: preferred
// when writable says this user can write it, else $XDG_STATE_HOME/logship,
// else HOME/.local/state/logship (the XDG default), which a non-root
// container user can write. why is "" for preferred, else the reason, to
// be logged at start. When no home can be found, preferred stays: opening
// it then fails with a message that names pipeline.state_dir.
func StateDirFor(preferred string, getenv func(string) string, home func() (string, error), writable func(string) bool) (dir, why string) {
	if writable(preferred) {
		return preferred, ""
	}
	base := getenv("XDG_STATE_HOME")
	if !filepath.IsAbs(base) { // the XDG rule: a relative value is ignored
		h, err := home()
		if err != nil || h == "" {
			return preferred, ""
		}
		base = filepath.Join(h, ".local", "state")
	}
	dir = filepath.Join(base, "logship")
	return dir, fmt.Sprintf("%s cannot be written by this user; using %s (set pipeline.state_dir to a folder that survives restarts)", preferred, dir)
}

// Writable reports whether this process may create files in dir, or,
// when dir does not exist, create it: whether its nearest existing parent
// is a folder it may write.
func Writable(dir string) bool {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil {
			return fi.IsDir() && unix.Access(d, unix.W_OK|unix.X_OK) == nil
		}
		if !os.IsNotExist(err) || d == filepath.Dir(d) {
			return false
		}
	}
}
