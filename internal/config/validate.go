package config

import (
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/schema"
)

// Known values of the enumerated keys of this package; the components
// list their own (file.ReadFroms, kmsg.Modes, pipeline.Compressions,
// oss.StorageClasses).
var (
	SourceTypes = []string{SourceFile, SourceCrash, SourceKmsg}
	SinkTypes   = []string{SinkDir, SinkOSS}
	LogLevels   = []string{"debug", "info", "warn", "error"}
	LogFormats  = []string{"text", "json"}
)

// Validate reports every problem of a config at once as Problems, each
// with its key path and, for a config read from a file, its line. Run it
// after SetDefaults: it checks values, not absence of optional ones.
//
// Each component checks its own keys (its Validate); this adds the
// top-level keys, the types and names of entries, keys set on an entry of
// another type, and the rules that span components: a file source's
// max_line_bytes and read_buffer must fit in pipeline.max_bytes.
func (c *Config) Validate() error {
	var ps Problems
	c.check(&ps)
	for i := range ps {
		p := c.where(ps[i].Path)
		ps[i].Origin, ps[i].Line = p.origin, p.line
	}
	return ps.Err()
}

func (c *Config) check(ps *Problems) {
	checkName(ps, "app", c.App, "the name of your application, e.g. app: order-service (or LOGSHIP_APP)")
	checkName(ps, "host", c.Host, "the hostname could not be read; set host: or LOGSHIP_HOST")
	ps.OneOf("log_level", c.LogLevel, LogLevels)
	ps.OneOf("log_format", c.LogFormat, LogFormats)
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			ps.Add("metrics_addr", "%s is not host:port: write e.g. 127.0.0.1:9108", schema.Quote(c.MetricsAddr))
		}
	}
	ps.Positive("shutdown_timeout", c.ShutdownTimeout)

	if len(c.Sources) == 0 {
		ps.Add("sources", "at least one source is needed, e.g. sources: [{type: file, paths: [\"/var/log/app/*.log\"]}]")
	}
	names := map[string]int{}
	for i := range c.Sources {
		s := &c.Sources[i]
		p := fmt.Sprintf("sources[%d]", i)
		if j, dup := names[s.Name]; dup && s.Name != "" {
			ps.Add(p+".name", "%s is also the name of sources[%d]: names must be unique (they name checkpoints)", schema.Quote(s.Name), j)
		}
		names[s.Name] = i
		c.source(ps, p, s)
	}
	ps.Nest("pipeline", c.Pipeline.Validate())
	ps.Nest("snapshot", c.Snapshot.Validate())
	c.sink(ps)
	ps.Nest("run", c.Run.Validate())
	ps.Nest("limits", c.Limits.Validate())
}

// checkName checks a name that goes into every key (app, host): required
// says what to write when it is empty.
func checkName(ps *Problems, key, name, required string) {
	if name == "" {
		ps.Add(key, "required: %s", required)
		return
	}
	if err := archive.CheckName(name); err != nil {
		ps.Add(key, "%v; e.g. %s", err, archive.SafeName(name))
	}
}

// foreignKeys reports the keys set in struct val that belong to another
// type than typ.
func foreignKeys(ps *Problems, p string, val reflect.Value, typ, what string) {
	fs := fieldsOf(val.Type())
	for _, key := range foreign(val, typ) {
		ps.Add(p+"."+key, "%s is for %s %ss, not %s: remove it", key, strings.Join(kindsOf(fs, key), " and "), what, typ)
	}
}

func (c *Config) source(ps *Problems, p string, s *Source) {
	if !slices.Contains(SourceTypes, s.Type) {
		ps.OneOf(p+".type", s.Type, SourceTypes)
		return
	}
	if s.Name == "" {
		ps.Add(p+".name", "required (SetDefaults names it %s)", s.Type)
	} else if err := archive.CheckName(s.Name); err != nil {
		ps.Add(p+".name", "%v", err)
	}
	foreignKeys(ps, p, reflect.ValueOf(s).Elem(), s.Type, "source")
	switch s.Type {
	case SourceFile:
		ps.Nest(p, s.File.Validate())
		// Rules across components: a line, and one read, must fit in one
		// chunk of the pipeline.
		c.fits(ps, p+".max_line_bytes", s.File.MaxLineBytes, "a line must fit in one chunk")
		c.fits(ps, p+".read_buffer", s.File.ReadBufferBytes, "one read must fit in one chunk")
	case SourceCrash:
		ps.Nest(p, s.Crash.Validate())
	case SourceKmsg:
		ps.Nest(p, s.Kmsg.Validate())
	}
}

// fits checks that a size is no larger than pipeline.max_bytes.
func (c *Config) fits(ps *Problems, path string, n Size, why string) {
	if limit := c.Pipeline.MaxBytes; limit > 0 && n > limit {
		ps.Add(path, "%s is larger than pipeline.max_bytes (%s): %s", n, limit, why)
	}
}

func (c *Config) sink(ps *Problems) {
	k := &c.Sink
	if !slices.Contains(SinkTypes, k.Type) {
		ps.OneOf("sink.type", k.Type, SinkTypes)
		return
	}
	foreignKeys(ps, "sink", reflect.ValueOf(k).Elem(), k.Type, "sink")
	checkPrefix(ps, k.Prefix)
	switch k.Type {
	case SinkDir:
		ps.Nest("sink", k.Dir.Validate())
	case SinkOSS:
		ps.Nest("sink", k.OSS.Validate())
	}
}

// checkPrefix checks that the key prefix is a clean relative path.
func checkPrefix(ps *Problems, prefix string) {
	t := strings.Trim(prefix, "/")
	if t == "" {
		return
	}
	for seg := range strings.SplitSeq(t, "/") {
		ok := seg != "" && seg[0] != '.' && strings.Trim(seg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._=-") == ""
		if !ok {
			ps.Add("sink.prefix", "%s: each folder must be letters, digits, '.', '_', '=' or '-', not starting with '.', e.g. logs/", schema.Quote(prefix))
			return
		}
	}
}
