package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestApplyEnv(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		check   func(c *Config) string // "" when fine
		wantErr []string               // the problems, in order
	}{
		{
			name:    "scalars at every level",
			environ: []string{"LOGSHIP_APP=shop", "LOGSHIP_HOST=h1", "LOGSHIP_LOG_LEVEL=debug", "LOGSHIP_PIPELINE_MAX_BYTES=8MiB", "LOGSHIP_PIPELINE_MAX_AGE=30s", "LOGSHIP_SINK_BUCKET=b", "LOGSHIP_SINK_PATH=/x", "LOGSHIP_SINK_INTERNAL=false"},
			check: func(c *Config) string {
				if c.App != "shop" || c.Host != "h1" || c.LogLevel != "debug" || c.Pipeline.MaxBytes != 8<<20 ||
					c.Pipeline.MaxAge != Duration(30e9) || c.Sink.OSS.Bucket != "b" || c.Sink.Dir.Path != "/x" || *c.Sink.OSS.Internal {
					return "values not applied"
				}
				return ""
			},
		},
		{
			name:    "other variables and reserved ones are ignored",
			environ: []string{"PATH=/bin", "LOGSHIP_CONFIG=/etc/logship.yaml", "LOGSHIP_FROM=oss://b/logs", "OSS_ACCESS_KEY_ID=x", "LOGSHIPPER=1"},
		},
		{
			name:    "empty value counts as unset",
			environ: []string{"LOGSHIP_APP=", "LOGSHIP_PIPELINE_MAX_AGE="},
			check: func(c *Config) string {
				if c.App != "base" {
					return "app changed to " + c.App
				}
				return ""
			},
		},
		{
			name:    "unknown variable with suggestion",
			environ: []string{"LOGSHIP_SINK_BUKET=b"},
			wantErr: []string{"$LOGSHIP_SINK_BUKET: unknown variable: every LOGSHIP_* variable is a config key; did you mean LOGSHIP_SINK_BUCKET?"},
		},
		{
			name:    "list keys are not variables",
			environ: []string{"LOGSHIP_SOURCES=x"},
			wantErr: []string{"$LOGSHIP_SOURCES: unknown variable: every LOGSHIP_* variable is a config key"},
		},
		{
			name:    "values parse with the file rules, all reported",
			environ: []string{"LOGSHIP_PIPELINE_MAX_AGE=30", "LOGSHIP_PIPELINE_MAX_BYTES=lots", "LOGSHIP_APP=ok"},
			wantErr: []string{
				`$LOGSHIP_PIPELINE_MAX_AGE: pipeline.max_age: "30" has no unit: write 30s (or ms, m, h)`,
				`$LOGSHIP_PIPELINE_MAX_BYTES: pipeline.max_bytes: "lots" is not a size`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Config{App: "base"}
			err := c.ApplyEnv(tt.environ)
			checkProblems(t, err, tt.wantErr)
			if tt.check != nil {
				if msg := tt.check(c); msg != "" {
					t.Error(msg)
				}
			}
		})
	}
}

func TestSet(t *testing.T) {
	tests := []struct {
		key, value string
		get        func(c *Config) any
		want       any
		wantErr    string
	}{
		{key: "app", value: "shop", get: func(c *Config) any { return c.App }, want: "shop"},
		{key: "pipeline.max_bytes", value: "16MiB", get: func(c *Config) any { return c.Pipeline.MaxBytes }, want: Size(16 << 20)},
		{key: "sink.path", value: "/data", get: func(c *Config) any { return c.Sink.Dir.Path }, want: "/data"},
		{key: "sink.concurrency", value: "8", get: func(c *Config) any { return c.Sink.OSS.Concurrency }, want: 8},
		{key: "sink.internal", value: "true", get: func(c *Config) any { return *c.Sink.OSS.Internal }, want: true},
		{key: "pipeline.max_age", value: "30", wantErr: `pipeline.max_age: "30" has no unit: write 30s`},
		{key: "pipeline.max_byte", value: "1", wantErr: "pipeline.max_byte: unknown key; did you mean pipeline.max_bytes?"},
		{key: "app.name", value: "1", wantErr: "app.name: unknown key"},
		{key: "sources", value: "x", wantErr: "sources: is a list: set it in the config file"},
		{key: "pipeline", value: "x", wantErr: "pipeline: is a section: set one of its keys, e.g. pipeline.max_bytes, pipeline.max_age, pipeline.compression, ..."},
		{key: "sink.concurrency", value: "4.5", wantErr: `sink.concurrency: "4.5" is not a whole number`},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			c := &Config{}
			err := c.Set(tt.key, tt.value)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("Set: %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.get(c); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "logship.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	doc := "app: shop\nsources:\n  - type: file\n    paths: [a.log]\npipeline:\n  max_age: 3s\n  state_dir: ./state\nsink:\n  type: dir\n"
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(strings.Replace(doc, "3s", "30", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		path     string
		environ  []string
		sets     []string
		wantErr  []string
		wantApp  string
		wantSink string
	}{
		{
			name:    "every step reports, a bad value only once",
			path:    bad,
			environ: []string{"LOGSHIP_PIPELINE_MAX_BYTES=1KiB", "LOGSHIP_APPP=x", "LOGSHIP_PIPELINE_MAX_AGE=3s"},
			sets:    []string{"sink.type=oss", "nokey"},
			wantErr: []string{
				bad + `:6: pipeline.max_age: "30" has no unit: write 30s (or ms, m, h)`, // still wrong in the file
				"$LOGSHIP_APPP: unknown variable: every LOGSHIP_* variable is a config key; did you mean LOGSHIP_APP?",
				"--set: nokey: write key=value, e.g. --set pipeline.max_age=10s",
				bad + ":3: sources[0].max_line_bytes: 1MiB is larger than pipeline.max_bytes (1KiB): a line must fit in one chunk",
				bad + ":3: sources[0].read_buffer: 256KiB is larger than pipeline.max_bytes (1KiB): one read must fit in one chunk",
				"$LOGSHIP_PIPELINE_MAX_BYTES: pipeline.max_bytes: 1KiB is too small: at least 64KiB",
				bad + ":8: sink.bucket: required",
				bad + ":8: sink.region: required (or endpoint)",
			},
		},
		{
			name:     "overrides in order: file, env, sets; defaults after",
			path:     file,
			environ:  []string{"LOGSHIP_APP=env-app", "LOGSHIP_SINK_TYPE=oss"},
			sets:     []string{"app=flag-app", "sink.bucket=my-logs", "sink.region=cn-hangzhou"},
			wantApp:  "flag-app",
			wantSink: "oss",
		},
		{
			name:     "LOGSHIP_CONFIG names the file",
			environ:  []string{"LOGSHIP_CONFIG=" + file},
			wantApp:  "shop",
			wantSink: "dir",
		},
		{
			name:     "embedded default",
			wantApp:  "demo",
			wantSink: "dir",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Resolve(tt.path, tt.environ, tt.sets)
			checkProblems(t, err, tt.wantErr)
			if err != nil {
				return
			}
			if c.App != tt.wantApp || c.Sink.Type != tt.wantSink {
				t.Errorf("app %q sink %q, want %q %q", c.App, c.Sink.Type, tt.wantApp, tt.wantSink)
			}
		})
	}
}

// checkProblems checks that err holds exactly the problems want, each
// matched as a prefix.
func checkProblems(t *testing.T, err error, want []string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error:\n%v", err)
		}
		return
	}
	ps, ok := AsProblems(err)
	if !ok {
		t.Fatalf("error %T is not Problems: %v", err, err)
	}
	if len(ps) != len(want) {
		t.Fatalf("problems:\n%v\nwant %d:\n%s", ps, len(want), strings.Join(want, "\n"))
	}
	for i, p := range ps {
		if !strings.HasPrefix(p.Error(), want[i]) {
			t.Errorf("problem %d:\n%s\nwant prefix:\n%s", i, p.Error(), want[i])
		}
	}
}

// The limits: section is layered and validated like the others: its keys
// have variables, and a bad value is reported with its key path.
func TestLimitsSection(t *testing.T) {
	env := []string{"LOGSHIP_APP=shop", "LOGSHIP_SINK_PATH=" + t.TempDir(), "LOGSHIP_PIPELINE_STATE_DIR=" + t.TempDir()}
	c, err := Resolve("", append(env, "LOGSHIP_LIMITS_CPUS=1", "LOGSHIP_LIMITS_MEMORY=48MiB"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits.CPUs != 1 || c.Limits.Memory != 48<<20 || c.Limits.MemoryPercent != 25 {
		t.Fatalf("limits %+v", c.Limits)
	}
	_, err = Resolve("", append(env, "LOGSHIP_LIMITS_MEMORY_PERCENT=150", "LOGSHIP_PIPELINE_UPLOAD_RATE=1KiB"), nil)
	for _, want := range []string{"limits.memory_percent", "pipeline.upload_rate"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s: %v", want, err)
		}
	}
}
