package snapshot

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"
)

// Config is the snapshot: section of the agent's config. It is a plain
// struct with yaml tags; the agent's config embeds it.
type Config struct {
	// LogTailBytes is how much of the end of each configured log goes in
	// the bundle; default 8 MiB.
	LogTailBytes int64 `yaml:"log_tail_bytes"`
	// MaxLogFiles bounds how many logs are tailed (the newest first);
	// default 32.
	MaxLogFiles int `yaml:"max_log_files"`
	// Timeout is the time limit of each collector; default 20s.
	Timeout time.Duration `yaml:"timeout"`
	// PresignExpiry is the life of the printed download URL; default 1h,
	// at most 7 days (OSS's limit for V4 signatures).
	PresignExpiry time.Duration `yaml:"presign_expiry"`
	// Probes are the connectivity checks; the OSS endpoint is always one.
	Probes []Probe `yaml:"probes"`
	// OnEvents says which events take a snapshot on their own.
	OnEvents OnEvents `yaml:"on_events"`
	// MinInterval is the least time between two snapshots taken on events;
	// default 10m.
	MinInterval time.Duration `yaml:"min_interval"`
}

// Probe is one connectivity check: a URL (http, https) or host:port (a
// TCP connect only).
type Probe struct {
	Name string `yaml:"name"`
	URL  string `yaml:"url"`
	Addr string `yaml:"addr"` // host:port
}

// OnEvents switches the event triggers. Nil means the default: on for
// oom_kill, jvm_crash and exit.
type OnEvents struct {
	OOMKill  *bool `yaml:"oom_kill"`
	JVMCrash *bool `yaml:"jvm_crash"`
	Exit     *bool `yaml:"exit"`
}

// Defaults.
const (
	DefaultLogTailBytes  = 8 << 20
	DefaultMaxLogFiles   = 32
	DefaultTimeout       = 20 * time.Second
	DefaultPresignExpiry = time.Hour
	MaxPresignExpiry     = 7 * 24 * time.Hour
	DefaultMinInterval   = 10 * time.Minute
)

// SetDefaults fills what is unset.
func (c *Config) SetDefaults() {
	if c.LogTailBytes == 0 {
		c.LogTailBytes = DefaultLogTailBytes
	}
	if c.MaxLogFiles == 0 {
		c.MaxLogFiles = DefaultMaxLogFiles
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.PresignExpiry == 0 {
		c.PresignExpiry = DefaultPresignExpiry
	}
	if c.MinInterval == 0 {
		c.MinInterval = DefaultMinInterval
	}
	on := true
	for _, p := range []**bool{&c.OnEvents.OOMKill, &c.OnEvents.JVMCrash, &c.OnEvents.Exit} {
		if *p == nil {
			*p = &on
		}
	}
	for i := range c.Probes {
		if c.Probes[i].Name == "" {
			c.Probes[i].Name = fmt.Sprintf("probe-%d", i+1)
		}
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

// Validate reports every problem at once, each with its key path.
func (c *Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("snapshot.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.LogTailBytes < 0 {
		add("log_tail_bytes", "%d is negative; use a size such as 8MiB (0: the default)", c.LogTailBytes)
	}
	if c.MaxLogFiles < 0 {
		add("max_log_files", "%d is negative", c.MaxLogFiles)
	}
	if c.Timeout < 0 {
		add("timeout", "%s is negative; use e.g. 20s", c.Timeout)
	}
	if c.PresignExpiry < 0 || c.PresignExpiry > MaxPresignExpiry {
		add("presign_expiry", "%s: use 1s..168h (OSS signs URLs for at most 7 days)", c.PresignExpiry)
	}
	if c.MinInterval < 0 {
		add("min_interval", "%s is negative", c.MinInterval)
	}
	for i, p := range c.Probes {
		key := fmt.Sprintf("probes[%d]", i)
		switch {
		case (p.URL == "") == (p.Addr == ""):
			add(key, "set exactly one of url (https://host/path) and addr (host:port)")
		case p.URL != "":
			u, err := url.Parse(p.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				add(key+".url", "%q is not an http(s) URL such as https://example.com/health", p.URL)
			}
		default:
			if _, port, err := net.SplitHostPort(p.Addr); err != nil || port == "" {
				add(key+".addr", "%q is not host:port", p.Addr)
			}
		}
	}
	return errors.Join(errs...)
}
