package snapshot

import (
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/logship/logship/internal/control"
	"github.com/logship/logship/internal/schema"
)

// Config is the snapshot: section of the config file. The yaml tags are
// the config keys.
type Config struct {
	// LogTailBytes is how much of the end of each configured log goes in
	// the bundle; default 8MiB.
	LogTailBytes schema.Size `yaml:"log_tail_bytes"`
	// MaxLogFiles bounds how many logs are tailed (the newest first);
	// default 32.
	MaxLogFiles int `yaml:"max_log_files"`
	// Timeout is the time limit of each collector; default 20s.
	Timeout schema.Duration `yaml:"timeout"`
	// PresignExpiry is the life of the printed download URL; default 1h,
	// at most 7 days (OSS's limit for V4 signatures).
	PresignExpiry schema.Duration `yaml:"presign_expiry"`
	// Probes are the connectivity checks; an OSS sink's endpoint is
	// always one.
	Probes []Probe `yaml:"probes"`
	// OnEvents says which events take a snapshot on their own.
	OnEvents OnEvents `yaml:"on_events"`
	// MinInterval is the least time between two snapshots taken on
	// events; default 10m.
	MinInterval schema.Duration `yaml:"min_interval"`
	// Remote is the poller of remote snapshot requests (internal/control).
	Remote control.Config `yaml:"remote"`
}

// Probe is one connectivity check: a URL (http, https: DNS, TCP, TLS and
// the HTTP status) or host:port (DNS and a TCP connect).
type Probe struct {
	Name string `yaml:"name"` // default probe-N
	URL  string `yaml:"url"`
	Addr string `yaml:"addr"` // host:port
}

// OnEvents switches the event triggers; unset means on.
type OnEvents struct {
	OOMKill  *bool `yaml:"oom_kill"`  // the kernel's OOM killer killed a process
	JVMCrash *bool `yaml:"jvm_crash"` // a new hs_err_pid*.log was shipped
	Exit     *bool `yaml:"exit"`      // the child of logship run exited abnormally
}

// Defaults of the keys, and the limits Validate holds them to.
const (
	DefaultLogTailBytes  = 8 << 20
	MaxLogTailBytes      = 1 << 40
	DefaultMaxLogFiles   = 32
	DefaultTimeout       = 20 * time.Second
	DefaultPresignExpiry = time.Hour
	MaxPresignExpiry     = 7 * 24 * time.Hour
	DefaultMinInterval   = 10 * time.Minute
)

// SetDefaults fills every zero value with its default. It is idempotent.
func (c *Config) SetDefaults() {
	schema.Default(&c.LogTailBytes, schema.Size(DefaultLogTailBytes))
	schema.Default(&c.MaxLogFiles, DefaultMaxLogFiles)
	schema.Default(&c.Timeout, schema.Duration(DefaultTimeout))
	schema.Default(&c.PresignExpiry, schema.Duration(DefaultPresignExpiry))
	schema.Default(&c.MinInterval, schema.Duration(DefaultMinInterval))
	c.Remote.SetDefaults()
	for _, p := range []**bool{&c.OnEvents.OOMKill, &c.OnEvents.JVMCrash, &c.OnEvents.Exit} {
		if *p == nil {
			on := true
			*p = &on
		}
	}
	for i := range c.Probes {
		schema.Default(&c.Probes[i].Name, fmt.Sprintf("probe-%d", i+1))
	}
}

// Enabled reports whether trigger takes a snapshot on its own.
func (o OnEvents) Enabled(trigger string) bool {
	var p *bool
	switch trigger {
	case TriggerOOMKill:
		p = o.OOMKill
	case TriggerJVMCrash:
		p = o.JVMCrash
	case TriggerExit:
		p = o.Exit
	default:
		return false
	}
	return p == nil || *p
}

// Validate reports every problem of a config that SetDefaults has
// completed, as schema.Problems with keys relative to the section.
func (c Config) Validate() error {
	var ps schema.Problems
	ps.Between("log_tail_bytes", c.LogTailBytes.Int64(), 1, MaxLogTailBytes, schema.ShowSize)
	ps.Between("max_log_files", int64(c.MaxLogFiles), 1, 100000, schema.Count)
	ps.Positive("timeout", c.Timeout)
	ps.Positive("presign_expiry", c.PresignExpiry)
	if c.PresignExpiry.Std() > MaxPresignExpiry {
		ps.Add("presign_expiry", "%s is too long: OSS signs URLs for at most 168h (7 days)", c.PresignExpiry)
	}
	ps.Positive("min_interval", c.MinInterval)
	ps.Nest("remote", c.Remote.Validate())
	for i, p := range c.Probes {
		key := fmt.Sprintf("probes[%d]", i)
		switch {
		case (p.URL == "") == (p.Addr == ""):
			ps.Add(key, "set exactly one of url (https://host/path) and addr (host:port)")
		case p.URL != "":
			u, err := url.Parse(p.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				ps.Add(key+".url", "%s is not an http(s) URL such as https://example.com/health", schema.Quote(p.URL))
			}
		default:
			if _, port, err := net.SplitHostPort(p.Addr); err != nil || port == "" {
				ps.Add(key+".addr", "%s is not host:port, e.g. db.internal:3306", schema.Quote(p.Addr))
			}
		}
	}
	return ps.Err()
}
