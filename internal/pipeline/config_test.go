package pipeline

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/logship/logship/internal/sinks/dir"
)

// StateDirFor: /var/lib/logship when this user can write it, else the
// user's XDG state folder, with the reason to log. The writability test
// is injected, so this does not depend on running as root or not.
func TestStateDirFor(t *testing.T) {
	home := func() (string, error) { return "/home/app", nil }
	noHome := func() (string, error) { return "", errors.New("no home") }
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	tests := []struct {
		name     string
		writable bool
		env      map[string]string
		home     func() (string, error)
		want     string
		why      bool
	}{
		{"root", true, nil, home, "/var/lib/logship", false},
		{"non-root", false, nil, home, "/home/app/.local/state/logship", true},
		{"non-root, XDG_STATE_HOME", false, map[string]string{"XDG_STATE_HOME": "/state"}, home, "/state/logship", true},
		{"relative XDG_STATE_HOME is ignored", false, map[string]string{"XDG_STATE_HOME": "state"}, home, "/home/app/.local/state/logship", true},
		{"no home: the default stays, and fails with its fix", false, nil, noHome, "/var/lib/logship", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var asked string
			writable := func(d string) bool { asked = d; return tt.writable }
			got, why := StateDirFor(DefaultStateDir, env(tt.env), tt.home, writable)
			if asked != DefaultStateDir {
				t.Errorf("asked whether %q is writable, want %q", asked, DefaultStateDir)
			}
			if got != tt.want || (why != "") != tt.why {
				t.Fatalf("StateDirFor = %q, %q; want %q (reason: %v)", got, why, tt.want, tt.why)
			}
			if tt.why && (!strings.Contains(why, DefaultStateDir) || !strings.Contains(why, "pipeline.state_dir")) {
				t.Errorf("reason %q names neither the default nor the key", why)
			}
		})
	}
}

func TestWritable(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		dir  string
		want bool
	}{
		{tmp, true},
		{filepath.Join(tmp, "not", "yet"), true}, // created under tmp
		{file, false},                            // not a folder
		{filepath.Join(file, "state"), false},    // below a file
	} {
		if got := Writable(tt.dir); got != tt.want {
			t.Errorf("Writable(%s) = %v, want %v", tt.dir, got, tt.want)
		}
	}
}

// A state dir that cannot be made names the key and the fix; a state dir
// chosen because the default could not be written is logged at start.
func TestStateDirMessages(t *testing.T) {
	tmp := t.TempDir()
	d, err := dir.New(filepath.Join(tmp, "archive"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = New(Options{App: "a", Host: "h", Sink: d, Config: Config{StateDir: filepath.Join(file, "state")}})
	if err == nil || !strings.Contains(err.Error(), "pipeline.state_dir: mkdir ") || !strings.Contains(err.Error(), "set pipeline.state_dir") {
		t.Fatalf("New with a state dir below a file: %v; want the key, the cause and the fix", err)
	}

	var logs bytes.Buffer
	c := Config{StateDir: filepath.Join(tmp, "state")}
	c.stateDirWhy = "/var/lib/logship cannot be written by this user"
	p, err := New(Options{App: "a", Host: "h", Sink: d, Config: c, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !strings.Contains(logs.String(), "state_dir="+c.StateDir) || !strings.Contains(logs.String(), "cannot be written by this user") {
		t.Errorf("start log does not say which state dir and why:\n%s", logs.String())
	}
}

func TestWorkers(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	for _, c := range []struct {
		compressors, inFlight, want int
	}{
		{0, 64, procs},
		{0, 1, 1},
		{3, 6, 3},
		{10, 4, 4},
	} {
		if got := (Config{Compressors: c.compressors, MaxInFlight: c.inFlight}).Workers(); got != c.want {
			t.Errorf("compressors %d, max_in_flight %d: %d workers, want %d", c.compressors, c.inFlight, got, c.want)
		}
	}
	c := Config{Compressors: -1}
	c.SetDefaults()
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "compressors") {
		t.Errorf("compressors -1: %v", err)
	}
}
