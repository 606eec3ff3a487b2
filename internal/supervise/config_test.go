package supervise

import (
	"strings"
	"testing"

	"github.com/logship/logship/internal/schema"
)

func TestConfigDefaultsAndValidate(t *testing.T) {
	var d Config
	d.SetDefaults()
	if d.CrashWait.Std() != DefaultCrashWait || d.FinalFlushTimeout.Std() != DefaultFinalFlushTimeout || !*d.SnapshotOnExit || *d.Subreaper ||
		d.SpoolMaxBytes != DefaultSpoolMaxBytes || d.SpoolFileBytes != DefaultSpoolFileBytes {
		t.Fatalf("defaults %+v", d)
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
	for _, tc := range []struct {
		name string
		set  func(*Config)
		want string // the key path of the problem
	}{
		{"negative crash_wait", func(c *Config) { c.CrashWait = -1 }, "crash_wait"},
		{"negative final_flush_timeout", func(c *Config) { c.FinalFlushTimeout = -schema.Duration(DefaultCrashWait) }, "final_flush_timeout"},
		{"tiny spool file", func(c *Config) { c.SpoolFileBytes = 1 << 10 }, "spool_file_bytes"},
		{"spool smaller than two files", func(c *Config) { c.SpoolMaxBytes = c.SpoolFileBytes }, "spool_max_bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := d
			tc.set(&c)
			ps, ok := schema.AsProblems(c.Validate())
			if !ok || len(ps) != 1 || ps[0].Path != tc.want || strings.TrimSpace(ps[0].Msg) == "" {
				t.Fatalf("problems %v, want one at %s", ps, tc.want)
			}
		})
	}
}
