package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseProblems(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // every problem, in order
	}{
		{
			name: "misspelt key with line and suggestion",
			yaml: "app: shop\nsources:\n  - type: file\n    paths: [a.log]\n    red_from: end\n",
			want: []string{"t.yaml:5: sources[0].red_from: unknown key; did you mean read_from?"},
		},
		{
			name: "duration without unit",
			yaml: "app: shop\npipeline:\n  max_age: 30\n",
			want: []string{`t.yaml:3: pipeline.max_age: "30" has no unit: write 30s (or ms, m, h)`},
		},
		{
			name: "several problems at once",
			yaml: "app: shop\nsource:\n  - type: file\npipeline:\n  max_age: 5\n  max_bytes: 8 parsecs\nsink:\n  type: oss\n  bukcet: x\n",
			want: []string{
				"t.yaml:2: source: unknown key; did you mean sources?",
				`t.yaml:5: pipeline.max_age: "5" has no unit: write 5s (or ms, m, h)`,
				`t.yaml:6: pipeline.max_bytes: "8 parsecs" is not a size: use bytes or a unit such as 512KiB, 8MiB, 1GiB`,
				"t.yaml:9: sink.bukcet: unknown key; did you mean bucket?",
			},
		},
		{
			name: "list where a string goes",
			yaml: "app: [a, b]\n",
			want: []string{"t.yaml:1: app: expected a string, found a list"},
		},
		{
			name: "string where a list goes",
			yaml: "sources:\n  - type: file\n    paths: /var/log/*.log\n",
			want: []string{`t.yaml:3: sources[0].paths: expected a list of strings, found "/var/log/*.log": write ["/var/log/*.log"]`},
		},
		{
			name: "mapping where a list goes",
			yaml: "sources:\n  type: file\n",
			want: []string{"t.yaml:2: sources: expected a list, found a mapping"},
		},
		{
			name: "scalar where a mapping goes",
			yaml: "pipeline: fast\nsources: [file]\n",
			want: []string{
				`t.yaml:1: pipeline: expected a mapping of keys (key: value), found "fast"`,
				`t.yaml:2: sources[0]: expected a mapping of keys (key: value), found "file"`,
			},
		},
		{
			name: "not a number",
			yaml: "pipeline:\n  max_in_flight: many\nsink:\n  internal: maybe\n",
			want: []string{
				`t.yaml:2: pipeline.max_in_flight: "many" is not a whole number`,
				`t.yaml:4: sink.internal: "maybe" is not true or false`,
			},
		},
		{
			name: "key in the wrong section",
			yaml: "app: shop\nbucket: logs\n",
			want: []string{"t.yaml:2: bucket: unknown key; bucket belongs in sink:"},
		},
		{
			name: "source key at the top",
			yaml: "read_from: end\n",
			want: []string{"t.yaml:1: read_from: unknown key; read_from belongs in an entry of sources:"},
		},
		{
			name: "duplicate key",
			yaml: "app: a\nhost: h\napp: b\n",
			want: []string{"t.yaml:3: app: set twice (first on line 1): keep one"},
		},
		{
			name: "tab indentation",
			yaml: "app: a\nsink:\n\ttype: dir\n",
			want: []string{"t.yaml:3: YAML syntax: found character that cannot start any token: indent with spaces; YAML does not allow tabs"},
		},
		{
			name: "indentation below a block's start",
			yaml: "app: x\nsources:\n  - type: file\n    paths: [a]\n     bad: 1\nsink:\n  type: dir\n",
			want: []string{"t.yaml:3: YAML syntax: did not find expected key in the block that starts here: a line below it is indented differently from its neighbours"},
		},
		{
			name: "unclosed flow list",
			yaml: "app: x\nsources:\n  - type: file\n    paths: [a\nsink:\n  type: dir\n",
			want: []string{"t.yaml:4: YAML syntax: did not find expected ',' or ']': a [ or { opened on this line is not closed"},
		},
		{
			name: "unclosed flow list, top level",
			yaml: "app: x\nsources: [{type: file, paths: [a]}\nsink:\n  type: dir\n",
			want: []string{"t.yaml:2: YAML syntax: did not find expected ',' or ']': a [ or { opened on this line is not closed"},
		},
		{
			name: "syntax error",
			yaml: "app: a\nsources: [\n",
			want: []string{"t.yaml:2: YAML syntax: did not find expected node content"},
		},
		{
			name: "top level is a list",
			yaml: "- app: a\n",
			want: []string{"t.yaml:1: expected a mapping of keys (key: value), found a list"},
		},
		{
			name: "second document",
			yaml: "app: a\n---\napp: b\n",
			want: []string{"t.yaml:2: a second YAML document (---): a config file holds one"},
		},
		{
			name: "negative duration",
			yaml: "shutdown_timeout: -5s\n",
			want: []string{`t.yaml:1: shutdown_timeout: "-5s" is negative`},
		},
		{
			name: "key that is not a name",
			yaml: "? [a]\n: b\n",
			want: []string{"t.yaml:1: a key must be a plain name, found a list"},
		},
		{
			name: "merge cycle",
			yaml: "pipeline: &x {<<: *x, max_age: 1s}\n",
			want: []string{"t.yaml:1: pipeline: << merges a mapping into itself"},
		},
		{
			name: "x- keys only at the top",
			yaml: "x-a: 1\npipeline:\n  x-b: 2\n",
			want: []string{"t.yaml:3: pipeline.x-b: unknown key; known keys: max_bytes, max_age, compression, max_in_flight, state_dir, checkpoint_interval, retry_refused, upload_rate, compressors"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml), "t.yaml")
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			ps, ok := AsProblems(err)
			if !ok {
				t.Fatalf("error %T is not Problems: %v", err, err)
			}
			if got, want := ps.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("problems:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestParseEmpty(t *testing.T) {
	for name, doc := range map[string]string{"empty": "", "comments only": "# nothing\n", "null": "~\n", "document marker": "---\n"} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(doc), "t.yaml")
			if err == nil || !strings.Contains(err.Error(), "t.yaml: the config is empty: write at least") ||
				!strings.Contains(err.Error(), "app: my-app") {
				t.Fatalf("err = %v, want the empty-file hint", err)
			}
		})
	}
}

func TestParseValues(t *testing.T) {
	doc := `
app: shop
shutdown_timeout: 1h30m
sources:
  - type: file
    paths: ["/a/**/*.log", b.log]
    max_line_bytes: 512KiB
    read_buffer: 4096
    max_open_files: 10
  - <<: {type: crash, settle: 500ms}
    rate_limit: 10MB
pipeline:
  max_bytes: 8MiB
sink:
  type: oss
  internal: false
  part_size: 1GiB
`
	c, err := Parse([]byte(doc), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"app", c.App, "shop"},
		{"shutdown_timeout", c.ShutdownTimeout, Duration(90 * 60e9)},
		{"paths", strings.Join(c.Sources[0].File.Paths, ","), "/a/**/*.log,b.log"},
		{"max_line_bytes 512KiB", c.Sources[0].File.MaxLineBytes, Size(512 << 10)},
		{"read_buffer plain bytes", c.Sources[0].File.ReadBufferBytes, Size(4096)},
		{"max_open_files", c.Sources[0].File.MaxOpenFiles, 10},
		{"merged type", c.Sources[1].Type, "crash"},
		{"merged settle", c.Sources[1].Crash.Settle, Duration(500e6)},
		{"rate_limit 10MB", c.Sources[1].Crash.RateLimit, Size(10_000_000)},
		{"max_bytes 8MiB", c.Pipeline.MaxBytes, Size(8 << 20)},
		{"internal", *c.Sink.OSS.Internal, false},
		{"part_size", c.Sink.OSS.PartSize, Size(1 << 30)},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
}

func TestParseAlias(t *testing.T) {
	doc := "x-paths: &p [a.log]\napp: shop\nsources:\n  - {type: file, paths: *p}\n  - {type: crash, paths: *p}\n"
	c, err := Parse([]byte(doc), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Sources[1].Crash.Paths; len(got) != 1 || got[0] != "a.log" {
		t.Errorf("aliased paths = %v", got)
	}
}

// A key that two source types share (paths) goes to the component of the
// entry's type, wherever type is written: after it, or in a merged mapping.
func TestSharedKeyFollowsType(t *testing.T) {
	doc := "app: shop\nx-crash: &crash {type: crash}\nx-type: &t crash\nsources:\n" +
		"  - {paths: [a.log], type: crash}\n" +
		"  - <<: *crash\n    paths: [b.log]\n" +
		"  - {paths: [c.log], type: file}\n" +
		"  - {paths: [d.log], type: *t, name: d}\n"
	c, err := Parse([]byte(doc), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Sources
	if len(s) != 4 || strings.Join(s[3].Crash.Paths, "") != "d.log" || strings.Join(s[0].Crash.Paths, "") != "a.log" || strings.Join(s[1].Crash.Paths, "") != "b.log" ||
		strings.Join(s[2].File.Paths, "") != "c.log" || s[0].File.Paths != nil || s[1].File.Paths != nil || s[2].Crash.Paths != nil {
		t.Fatalf("paths went to the wrong component: %+v", s)
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "logship.yaml")
	if err := os.WriteFile(p, []byte("app: shop\npipeline:\n  max_age: 30\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if want := p + `:3: pipeline.max_age: "30" has no unit: write 30s`; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Load: %v, want %s...", err, want)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !os.IsNotExist(err) && !strings.Contains(err.Error(), "no such file") {
		t.Errorf("Load(missing) = %v", err)
	}
}
