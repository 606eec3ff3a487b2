// Package config is logship's configuration file: strict decoding with
// line numbers, LOGSHIP_* environment and flag overrides, and reporting of
// every problem at once with its file, line and key path.
//
// It owns no component's keys: each component declares its config type
// with its defaults and checks next to its code (file.Config,
// crash.Config, kmsg.Config, pipeline.Config, dir.Config, osssink.Config), and
// its constructor applies those same defaults, so what validate --print
// shows is what runs. This package assembles them (Config), names the
// sources, places the components' problems at their key path and line,
// and holds the rules that span components (a line must fit in a chunk:
// file's max_line_bytes against pipeline.max_bytes), the only place that
// sees both.
//
// A command builds its config in this order (Resolve does all of it):
//
//	c, err := config.Load(path)  // strict: unknown keys, types, units; no defaults
//	err = c.ApplyEnv(os.Environ()) // LOGSHIP_PIPELINE_MAX_BYTES=8MiB ...
//	err = c.Set("sink.path", dir)  // --set key=value and specific flags
//	c.SetDefaults()                // after overrides: a changed type gets its own defaults
//	err = c.Validate()
//
// Every error from these is Problems, one Problem per line with the file,
// line, key path, bad value and fix; AsProblems gets it back.
package config

import (
	"github.com/logship/logship/internal/governor"
	"github.com/logship/logship/internal/pipeline"
	"github.com/logship/logship/internal/schema"
	"github.com/logship/logship/internal/sinks/dir"
	osssink "github.com/logship/logship/internal/sinks/oss"
	"github.com/logship/logship/internal/snapshot"
	"github.com/logship/logship/internal/sources/crash"
	"github.com/logship/logship/internal/sources/file"
	"github.com/logship/logship/internal/sources/kmsg"
	"github.com/logship/logship/internal/supervise"
)

// The value types of config keys and the problems, from package schema
// (where the components find them too).
type (
	Duration = schema.Duration
	Size     = schema.Size
	Secret   = schema.Secret
	Problem  = schema.Problem
	Problems = schema.Problems
)

// ParseDuration, ParseSize and AsProblems are schema's.
var (
	ParseDuration = schema.ParseDuration
	ParseSize     = schema.ParseSize
	AsProblems    = schema.AsProblems
)

// Config is the whole configuration file.
type Config struct {
	App             string           `yaml:"app"`              // identity in every key; required
	Host            string           `yaml:"host"`             // default: the hostname
	LogLevel        string           `yaml:"log_level"`        // debug|info|warn|error; default info
	LogFormat       string           `yaml:"log_format"`       // text|json; default text
	MetricsAddr     string           `yaml:"metrics_addr"`     // e.g. 127.0.0.1:9108; empty: no metrics endpoint
	ShutdownTimeout Duration         `yaml:"shutdown_timeout"` // drain deadline on SIGTERM; default 10s
	Sources         []Source         `yaml:"sources"`
	Pipeline        pipeline.Config  `yaml:"pipeline"`
	Sink            Sink             `yaml:"sink"`
	Run             supervise.Config `yaml:"run"`      // logship run only
	Snapshot        snapshot.Config  `yaml:"snapshot"` // logship snapshot and snapshots on events
	Limits          governor.Config  `yaml:"limits"`   // the agent's share of the container

	origin *origin // where each key was set, for messages; nil for a Config built in code
}

// Source is one entry of sources:. Type selects which component's keys
// apply: the keys of file.Config, crash.Config and kmsg.Config are written
// flat beside type and name (yaml:",inline"); the for:"..." tag of each
// says which type it belongs to, and Validate refuses a key set on a
// source of another type. A key two components share (paths, exclude) is
// decoded into the component of the entry's type.
//
// A union of three plain structs, rather than one struct per type behind
// an interface: each component owns its struct, defaults and checks, while
// the decoder, env layering, messages and --print keep walking plain
// fields by reflection, as they do for every other section.
type Source struct {
	Type string `yaml:"type"` // file|crash|kmsg
	Name string `yaml:"name"` // unique; default TYPE or TYPE-N; names checkpoint entries

	File  file.Config  `yaml:",inline" for:"file"`
	Crash crash.Config `yaml:",inline" for:"crash"`
	Kmsg  kmsg.Config  `yaml:",inline" for:"kmsg"`
}

// Sink is where chunks go. Type selects which component's keys apply, as
// for Source; prefix applies to every type.
type Sink struct {
	Type   string `yaml:"type"`   // dir|oss
	Prefix string `yaml:"prefix"` // key prefix, e.g. logs/

	Dir dir.Config     `yaml:",inline" for:"dir"`
	OSS osssink.Config `yaml:",inline" for:"oss"`
}

// OSSConfig returns the config of an oss sink, with the prefix.
func (k Sink) OSSConfig() osssink.Config {
	c := k.OSS
	c.Prefix = k.Prefix
	return c
}
