package config

import (
	"os"
	"reflect"
	"strconv"

	"github.com/logship/logship/archive"
)

// Source and sink types.
const (
	SourceFile  = "file"
	SourceCrash = "crash"
	SourceKmsg  = "kmsg"
	SinkDir     = "dir"
	SinkOSS     = "oss"
)

// DefaultCrashPaths are where a JVM writes crash files; relative paths are
// taken from the working directory of the app (and of logship run).
var DefaultCrashPaths = []string{"hs_err_pid*.log", "java_pid*.hprof", "/tmp/hs_err_pid*.log", "/tmp/java_pid*.hprof"}

// SetDefaults fills every unset value with its default. Run it after
// ApplyEnv and Set, so that an override of a type (sink.type) does not
// inherit the defaults of the type it replaced. It is idempotent.
func (c *Config) SetDefaults() {
	if c.Host == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			c.Host = archive.SafeName(h)
		}
	}
	def(&c.LogLevel, "info")
	def(&c.LogFormat, "text")
	def(&c.ShutdownTimeout, Duration(10e9))

	seen := map[string]bool{}
	for _, s := range c.Sources {
		seen[s.Name] = true
	}
	n := map[string]int{}
	for i := range c.Sources {
		s := &c.Sources[i]
		if s.Name == "" && s.Type != "" {
			// The first of a type is TYPE, the next TYPE-2, TYPE-3: adding a
			// second source later does not rename the first (its checkpoints).
			for s.Name == "" || seen[s.Name] {
				n[s.Type]++
				s.Name = s.Type
				if n[s.Type] > 1 {
					s.Name += "-" + strconv.Itoa(n[s.Type])
				}
			}
			seen[s.Name] = true
		}
		s.setDefaults()
	}

	p := &c.Pipeline
	def(&p.MaxBytes, 4<<20)
	def(&p.MaxAge, Duration(5e9))
	def(&p.Compression, "zstd")
	def(&p.MaxInFlight, 6)
	def(&p.StateDir, "/var/lib/logship")
	def(&p.CheckpointInterval, Duration(1e9))
	def(&p.RetryRefused, Duration(60e9))

	k := &c.Sink
	if k.Type == "" && len(foreign(reflect.ValueOf(k).Elem(), SinkDir)) == 0 {
		k.Type = SinkDir // no sink given, or only a dir's keys
	}
	switch k.Type {
	case SinkDir:
		def(&k.Path, "./archive")
	case SinkOSS:
		if k.Internal == nil {
			t := true
			k.Internal = &t
		}
		if k.ContentMD5 == nil {
			f := false
			k.ContentMD5 = &f
		}
		def(&k.Concurrency, 4)
		def(&k.PartSize, 8<<20)
		def(&k.Timeout, Duration(60e9))
		def(&k.StorageClass, "Standard")
	}
}

func (s *Source) setDefaults() {
	switch s.Type {
	case SourceFile:
		def(&s.ReadFrom, "beginning")
		def(&s.MaxLineBytes, 1<<20)
		def(&s.ScanInterval, Duration(1e9))
		def(&s.PartialLineAfter, Duration(2e9))
		def(&s.MaxOpenFiles, 256)
		def(&s.RotatedKeepOpen, Duration(5*60e9))
		def(&s.MaxRotatedOpen, 32)
		def(&s.FingerprintBytes, 1024)
		def(&s.ReadBufferBytes, 256<<10)
	case SourceCrash:
		if len(s.Paths) == 0 {
			s.Paths = append([]string(nil), DefaultCrashPaths...)
		}
		def(&s.Settle, Duration(5e9))
	case SourceKmsg:
		def(&s.Device, "/dev/kmsg")
		def(&s.CgroupRoot, "/sys/fs/cgroup")
		def(&s.Mode, "auto")
	}
}

// foreign lists the keys set (non-zero) in struct v that do not belong to
// type typ.
func foreign(v reflect.Value, typ string) []string {
	var keys []string
	for _, f := range fieldsOf(v.Type()) {
		if !f.belongs(typ) && !v.Field(f.index).IsZero() {
			keys = append(keys, f.key)
		}
	}
	return keys
}

// def sets *p to v when *p is the zero value.
func def[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}
