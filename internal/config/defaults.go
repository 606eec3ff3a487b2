package config

import (
	"os"
	"reflect"
	"slices"
	"strconv"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/schema"
)

// Source and sink types.
const (
	SourceFile  = "file"
	SourceCrash = "crash"
	SourceKmsg  = "kmsg"
	SinkDir     = "dir"
	SinkOSS     = "oss"
)

// SetDefaults fills every unset value with its default: the top-level keys
// and source names here, each component's keys by its own SetDefaults (for
// the component of the entry's type only). Run it after ApplyEnv and Set,
// so that an override of a type (sink.type) does not inherit the defaults
// of the type it replaced. It is idempotent.
func (c *Config) SetDefaults() {
	if c.Host == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			c.Host = archive.SafeName(h)
		}
	}
	schema.Default(&c.LogLevel, "info")
	schema.Default(&c.LogFormat, "text")
	schema.Default(&c.ShutdownTimeout, Duration(10e9))

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
		switch s.Type {
		case SourceFile:
			s.File.SetDefaults()
		case SourceCrash:
			s.Crash.SetDefaults()
		case SourceKmsg:
			s.Kmsg.SetDefaults()
		}
	}

	c.Pipeline.SetDefaults()
	c.Snapshot.SetDefaults()

	c.Run.SetDefaults()
	c.Limits.SetDefaults()

	k := &c.Sink
	if k.Type == "" && len(foreign(reflect.ValueOf(k).Elem(), SinkDir)) == 0 {
		k.Type = SinkDir // no sink given, or only a dir's keys
	}
	switch k.Type {
	case SinkDir:
		k.Dir.SetDefaults()
	case SinkOSS:
		k.OSS.SetDefaults()
	}
}

// foreign lists the keys set (non-zero) in struct v that do not belong to
// type typ, once each.
func foreign(v reflect.Value, typ string) []string {
	var keys []string
	for _, f := range fieldsOf(v.Type()) {
		if !f.belongs(typ) && !v.FieldByIndex(f.index).IsZero() && !slices.Contains(keys, f.key) {
			keys = append(keys, f.key)
		}
	}
	return keys
}
