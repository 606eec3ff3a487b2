package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	osssink "github.com/logship/logship/internal/sinks/oss"
	"github.com/logship/logship/internal/sources/file"
)

// valid returns a config that passes Validate after SetDefaults.
func valid() *Config {
	c := &Config{
		App:  "shop",
		Host: "host-1",
		Sources: []Source{
			{Type: SourceFile, File: file.Config{Paths: []string{"/home/admin/logs/**/*.log"}}},
			{Type: SourceCrash},
			{Type: SourceKmsg},
		},
		Sink: Sink{Type: SinkOSS, OSS: osssink.Config{Bucket: "my-logs", Region: "cn-hangzhou"}},
	}
	c.SetDefaults()
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Config)
		want   []string // substrings of the problems, one each, in order
	}{
		{"valid", func(c *Config) {}, nil},
		{"app required", func(c *Config) { c.App = "" }, []string{"app: required"}},
		{"app unsafe", func(c *Config) { c.App = "my app" }, []string{`app: "my app" has ' '`}},
		{"app starts with dot", func(c *Config) { c.App = ".x" }, []string{"app: \".x\" starts with a dot"}},
		{"explicit host unsafe", func(c *Config) { c.Host = "a/b" }, []string{`host: "a/b" has '/'`}},
		{"no sources", func(c *Config) { c.Sources = nil }, []string{"sources: at least one source"}},
		{"unknown source type", func(c *Config) { c.Sources[0].Type = "flie" }, []string{`sources[0].type: "flie" is not one of file, crash, kmsg; did you mean file?`}},
		{"file needs paths", func(c *Config) { c.Sources[0].File.Paths = nil }, []string{"sources[0].paths: required"}},
		{"bad glob", func(c *Config) { c.Sources[0].File.Paths = []string{"/logs/**/[a-.log"} }, []string{`sources[0].paths[0]: "/logs/**/[a-.log" is not a valid glob`}},
		{"bad exclude", func(c *Config) { c.Sources[1].Crash.Exclude = []string{"", "a\\"} }, []string{"sources[1].exclude[0]: empty pattern", "sources[1].exclude[1]"}},
		{"glob ending in **: refused here as the file source refuses it", func(c *Config) { c.Sources[0].File.Paths = []string{"/logs/**"} }, []string{`sources[0].paths[0]: "/logs/**" ends with **: add a file name pattern, e.g. /logs/**/*.log`}},
		{"line shorter than the file source takes", func(c *Config) { c.Sources[0].File.MaxLineBytes = 8 }, []string{"sources[0].max_line_bytes: 8 is too small: at least 16"}},
		{"read_from", func(c *Config) { c.Sources[0].File.ReadFrom = "start" }, []string{`sources[0].read_from: "start" is not one of beginning, end`}},
		{"setting of another type", func(c *Config) { c.Sources[0].Crash.Settle = Duration(1e9); c.Sources[2].File.Paths = []string{"x"} }, []string{
			"sources[0].settle: settle is for crash sources, not file: remove it",
			"sources[2].paths: paths is for file and crash sources, not kmsg: remove it",
		}},
		{"duplicate names", func(c *Config) { c.Sources[1].Name = "file" }, []string{`sources[1].name: "file" is also the name of sources[0]`}},
		{"line longer than chunk", func(c *Config) { c.Sources[0].File.MaxLineBytes = 8 << 20 }, []string{"sources[0].max_line_bytes: 8MiB is larger than pipeline.max_bytes (4MiB)"}},
		{"read buffer larger than chunk", func(c *Config) { c.Sources[0].File.ReadBufferBytes = 8 << 20 }, []string{"sources[0].read_buffer: 8MiB is larger than pipeline.max_bytes"}},
		{"counts", func(c *Config) { c.Sources[0].File.MaxOpenFiles = 0; c.Sources[0].File.FingerprintBytes = 4 }, []string{
			"sources[0].max_open_files: 0 is too small: at least 1",
			"sources[0].max_rotated_open: 32 is too large: at most 1",
			"sources[0].fingerprint_bytes: 4 is too small: at least 16",
		}},
		{"kmsg mode", func(c *Config) { c.Sources[2].Kmsg.Mode = "dmesg" }, []string{`sources[2].mode: "dmesg" is not one of auto, kmsg, klogctl, cgroup`}},
		{"max_bytes too small", func(c *Config) { c.Pipeline.MaxBytes = 1 << 10 }, []string{
			"sources[0].max_line_bytes: 1MiB is larger than pipeline.max_bytes (1KiB)",
			"sources[0].read_buffer: 256KiB is larger",
			"pipeline.max_bytes: 1KiB is too small: at least 64KiB",
		}},
		{"max_bytes too large", func(c *Config) { c.Pipeline.MaxBytes = 1 << 30 }, []string{"pipeline.max_bytes: 1GiB is too large: at most 256MiB"}},
		{"compression", func(c *Config) { c.Pipeline.Compression = "zstandard" }, []string{`pipeline.compression: "zstandard" is not one of zstd, gzip, none`}},
		{"zero durations", func(c *Config) { c.Pipeline.MaxAge = 0; c.ShutdownTimeout = 0 }, []string{"shutdown_timeout: must be more than 0s", "pipeline.max_age: must be more than 0s"}},
		{"unknown sink", func(c *Config) { c.Sink.Type = "s3" }, []string{`sink.type: "s3" is not one of dir, oss`}},
		{"oss needs bucket and region", func(c *Config) { c.Sink.OSS.Bucket, c.Sink.OSS.Region = "", "" }, []string{"sink.bucket: required", "sink.region: required (or endpoint)"}},
		{"oss endpoint instead of region", func(c *Config) { c.Sink.OSS.Region, c.Sink.OSS.Endpoint = "", "oss-cn-hangzhou-internal.aliyuncs.com" }, nil},
		{"region with oss- prefix", func(c *Config) { c.Sink.OSS.Region = "oss-cn-hangzhou" }, []string{"sink.region: \"oss-cn-hangzhou\": write the region without oss-: cn-hangzhou"}},
		{"bucket name", func(c *Config) { c.Sink.OSS.Bucket = "My_Logs" }, []string{`sink.bucket: "My_Logs" is not an OSS bucket name`}},
		{"storage class", func(c *Config) { c.Sink.OSS.StorageClass = "standard" }, []string{`sink.storage_class: "standard" is not one of Standard, IA, Archive, ColdArchive, DeepColdArchive; did you mean Standard?`}},
		{"sse", func(c *Config) { c.Sink.OSS.SSE = "AES" }, []string{`sink.sse: "AES" is not one of AES256, KMS`}},
		{"sse key without KMS", func(c *Config) { c.Sink.OSS.SSE, c.Sink.OSS.SSEKeyID = "AES256", "k" }, []string{"sink.sse_key_id: only with sse: KMS"}},
		{"sse KMS with key", func(c *Config) { c.Sink.OSS.SSE, c.Sink.OSS.SSEKeyID = "KMS", "k" }, nil},
		{"half credentials", func(c *Config) { c.Sink.OSS.AccessKeyID = "id" }, []string{"sink.access_key_id: access_key_id and access_key_secret go together"}},
		{"part size", func(c *Config) { c.Sink.OSS.PartSize = 1 << 10 }, []string{"sink.part_size: 1KiB is too small: at least 100KiB"}},
		{"prefix", func(c *Config) { c.Sink.Prefix = "logs/../x" }, []string{`sink.prefix: "logs/../x": each folder must be`}},
		{"dir with oss keys", func(c *Config) { c.Sink.Type, c.Sink.Dir.Path = SinkDir, "./a" }, []string{
			"sink.bucket: bucket is for oss sinks, not dir: remove it",
			"sink.region: region is for oss sinks, not dir: remove it",
			"sink.internal: internal is for oss sinks",
			"sink.storage_class:",
			"sink.concurrency:",
			"sink.part_size:",
			"sink.timeout:",
			"sink.content_md5:",
			"sink.require_crc64:",
		}},
		{"metrics addr", func(c *Config) { c.MetricsAddr = "9108" }, []string{`metrics_addr: "9108" is not host:port`}},
		{"log level", func(c *Config) { c.LogLevel = "warning" }, []string{`log_level: "warning" is not one of debug, info, warn, error; did you mean warn?`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.change(c)
			err := c.Validate()
			var got []string
			if ps, ok := AsProblems(err); ok {
				for _, p := range ps {
					got = append(got, p.Error())
				}
			} else if err != nil {
				t.Fatalf("error %T is not Problems", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("problems:\n%s\nwant %d:\n%s", strings.Join(got, "\n"), len(tt.want), strings.Join(tt.want, "\n"))
			}
			for i := range got {
				if !strings.Contains(got[i], tt.want[i]) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestValidateLines(t *testing.T) {
	doc := "app: shop\nsources:\n  - type: file\n    paths: [\"a[\"]\n    settle: 1s\n  - type: kmsg\nsink:\n  type: dir\n  bucket: b\n"
	c, err := Parse([]byte(doc), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	want := []string{
		"t.yaml:5: sources[0].settle: settle is for crash sources, not file: remove it",
		`t.yaml:4: sources[0].paths[0]: "a[" is not a valid glob (segment "a["): use *, ?, [a-z] and ** for any folders`,
		"t.yaml:9: sink.bucket: bucket is for oss sinks, not dir: remove it",
	}
	if err := c.Validate(); err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("Validate:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}

func TestSetDefaults(t *testing.T) {
	c := &Config{App: "shop", Sources: []Source{
		{Type: SourceFile, File: file.Config{Paths: []string{"a"}}},
		{Type: SourceFile, File: file.Config{Paths: []string{"b"}}},
		{Type: SourceFile, Name: "file-3", File: file.Config{Paths: []string{"c"}}},
		{Type: SourceFile, File: file.Config{Paths: []string{"d"}}},
		{Type: SourceCrash},
		{Type: SourceKmsg},
	}}
	c.SetDefaults()
	var names []string
	for _, s := range c.Sources {
		names = append(names, s.Name)
	}
	if want := []string{"file", "file-2", "file-3", "file-4", "crash", "kmsg"}; !slices.Equal(names, want) {
		t.Errorf("names = %v, want %v", names, want)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"host", c.Host != "", true},
		{"log_level", c.LogLevel, "info"},
		{"shutdown_timeout", c.ShutdownTimeout, Duration(10e9)},
		{"read_from", c.Sources[0].File.ReadFrom, "beginning"},
		{"read_buffer", c.Sources[0].File.ReadBufferBytes, Size(256 << 10)},
		{"rotated_keep_open", c.Sources[0].File.RotatedKeepOpen.String(), "5m"},
		{"crash paths", strings.Join(c.Sources[4].Crash.Paths, " "), "hs_err_pid*.log java_pid*.hprof /tmp/hs_err_pid*.log /tmp/java_pid*.hprof"},
		{"crash settle", c.Sources[4].Crash.Settle, Duration(5e9)},
		{"file has no settle", c.Sources[0].Crash.Settle, Duration(0)},
		{"kmsg device", c.Sources[5].Kmsg.Device, "/dev/kmsg"},
		{"max_bytes", c.Pipeline.MaxBytes, Size(4 << 20)},
		{"compression", c.Pipeline.Compression, "zstd"},
		{"sink", c.Sink.Type + " " + c.Sink.Dir.Path, "dir ./archive"},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}

	o := &Config{Sink: Sink{Type: SinkOSS}}
	o.SetDefaults()
	if o.Sink.OSS.Internal == nil || !*o.Sink.OSS.Internal || o.Sink.OSS.Concurrency != 4 || o.Sink.OSS.PartSize != 8<<20 ||
		o.Sink.OSS.Timeout != Duration(60e9) || o.Sink.OSS.StorageClass != "Standard" || o.Sink.Dir.Path != "" ||
		o.Sink.OSS.ContentMD5 == nil || *o.Sink.OSS.ContentMD5 || o.Sink.OSS.RequireCRC64 == nil || *o.Sink.OSS.RequireCRC64 {
		t.Errorf("oss defaults: %+v", o.Sink)
	}
	again := *o
	o.SetDefaults()
	if o.Sink != again.Sink {
		t.Error("SetDefaults is not idempotent")
	}
}

// TestResolveNamesFileOfMissingKey: a key the file lacks is the file's
// problem, and the message names it (there is no line to give).
func TestResolveNamesFileOfMissingKey(t *testing.T) {
	p := filepath.Join(t.TempDir(), "logship.yaml")
	if err := os.WriteFile(p, []byte("app: shop\nsink:\n  type: dir\n  path: /tmp/a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Resolve(p, nil, nil)
	if err == nil || !strings.HasPrefix(err.Error(), p+": sources: at least one source is needed") {
		t.Fatalf("%v", err)
	}
}
