package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"

	"github.com/logship/logship/configs"
	"github.com/logship/logship/internal/config"
	"github.com/logship/logship/internal/governor"
	"github.com/logship/logship/internal/pipeline"
	"github.com/logship/logship/internal/pipeline/pipelinetest"
	"github.com/logship/logship/internal/sinks/dir"
	osssink "github.com/logship/logship/internal/sinks/oss"
	"github.com/logship/logship/internal/sources/crash"
	"github.com/logship/logship/internal/sources/file"
	"github.com/logship/logship/internal/sources/kmsg"
)

// TestPrintShowsRunningValues holds validate --print to the values the
// components run with. Each component is built by its constructor from
// the config as written (every key it does not set is zero, so the
// constructor must apply the defaults itself), and the values it runs
// with, read back from it, must be those printed. A constructor that
// applies a default of its own, or a default that config prints but the
// component does not use, fails it.
func TestPrintShowsRunningValues(t *testing.T) {
	work := t.TempDir()
	written := strings.ReplaceAll(`app: shop
sources:
  - type: file
    paths: ["WORK/logs/*.log"]
  - type: crash
  - type: kmsg
pipeline:
  state_dir: WORK/state
sink:
  type: oss
  bucket: my-logs
  region: cn-hangzhou
  prefix: logs/
`, "WORK", work)
	path := writeConfig(t, work, written)
	stdout, stderr, code := runLogship(t, nil, "validate", "--print", "-c", path)
	if code != 0 {
		t.Fatalf("validate --print: exit %d\n%s", code, stderr)
	}
	printed, err := config.Parse([]byte(stdout), "printed")
	if err != nil {
		t.Fatalf("the printed config does not parse: %v\n%s", err, stdout)
	}
	raw, err := config.Parse([]byte(written), path) // no defaults
	if err != nil {
		t.Fatal(err)
	}
	if len(printed.Sources) != len(raw.Sources) {
		t.Fatalf("printed %d sources, wrote %d", len(printed.Sources), len(raw.Sources))
	}

	same := func(what string, running, shown any) {
		t.Helper()
		if !reflect.DeepEqual(emptyToNil(running), emptyToNil(shown)) {
			t.Errorf("%s runs with\n  %s\nbut validate --print shows\n  %s", what, show(running), show(shown))
		}
	}
	for i, s := range raw.Sources {
		p := printed.Sources[i]
		switch s.Type {
		case config.SourceFile:
			src, err := file.New(s.Name, s.File, nil)
			if err != nil {
				t.Fatal(err)
			}
			same("the file source", src.Config(), p.File)
		case config.SourceCrash:
			src, err := crash.New(s.Name, s.Crash, pipelinetest.NewArtifacts(), nil)
			if err != nil {
				t.Fatal(err)
			}
			same("the crash source", src.Config(), p.Crash)
		case config.SourceKmsg:
			src, err := kmsg.New(s.Name, s.Kmsg, nil)
			if err != nil {
				t.Fatal(err)
			}
			same("the kmsg source", src.Config(), p.Kmsg)
		}
	}

	d, err := dir.New(filepath.Join(work, "archive"))
	if err != nil {
		t.Fatal(err)
	}
	pl, err := pipeline.New(pipeline.Options{Config: raw.Pipeline, App: raw.App, Host: "h", Sink: d})
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	same("the pipeline", pl.Config(), printed.Pipeline)

	sink, err := osssink.New(context.Background(), raw.Sink.OSSConfig(), nil,
		osssink.WithCredentials("test", credentials.NewStaticCredentialsProvider("id", "secret", "")))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	running := sink.Config()
	shown := printed.Sink.OSSConfig()
	// Requests go to the endpoint resolved from region and internal.
	if want := "https://oss-cn-hangzhou-internal.aliyuncs.com"; running.Endpoint != want {
		t.Errorf("the oss sink sends to %s, want %s", running.Endpoint, want)
	}
	running.Endpoint = shown.Endpoint
	same("the oss sink", running, shown)
}

// emptyToNil returns struct v with its empty slices nil: a list printed
// as [] reads back empty, not nil, and means the same.
func emptyToNil(v any) any {
	rv := reflect.ValueOf(v)
	c := reflect.New(rv.Type()).Elem()
	c.Set(rv)
	for i := range c.NumField() {
		if f := c.Field(i); f.Kind() == reflect.Slice && f.Len() == 0 && f.CanSet() {
			f.Set(reflect.Zero(f.Type()))
		}
	}
	return c.Interface()
}

// show writes the fields of struct v, with the values pointers point to.
func show(v any) string {
	rv := reflect.ValueOf(v)
	var b strings.Builder
	for i := range rv.NumField() {
		f := rv.Field(i)
		if f.Kind() == reflect.Pointer && !f.IsNil() {
			f = f.Elem()
		}
		if f.CanInterface() {
			fmt.Fprintf(&b, "%s:%v ", rv.Type().Field(i).Name, f.Interface())
		}
	}
	return b.String()
}

// TestValidatePrintMachineNote: the settings left at 0 (automatic) are
// followed by what they come to on this machine, as YAML comments (the
// config printed stays portable): compressors, cpus, the memory limit
// from the cgroup's, the upload rate. A setting given is not annotated.
func TestValidatePrintMachineNote(t *testing.T) {
	cg := t.TempDir()
	if err := os.WriteFile(filepath.Join(cg, "memory.max"), []byte("1073741824\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.ResolveDefault("", configs.Default(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOMEMLIMIT", "")
	note := machineNote(cfg, governor.Cgroup{Root: cg, Self: []byte("0::/\n")})
	for _, w := range []string{"# On this machine", "pipeline.compressors: ", "limits.cpus: ", "pipeline.upload_rate: unlimited",
		"at most 25% of the cgroup's 1.0 GiB"} {
		if !strings.Contains(note, w) {
			t.Errorf("note lacks %q:\n%s", w, note)
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(note), "\n") {
		if !strings.HasPrefix(l, "#") {
			t.Errorf("not a comment: %q", l)
		}
	}
	cfg.Pipeline.Compressors, cfg.Limits.CPUs, cfg.Limits.Memory, cfg.Pipeline.UploadRate = 1, 1, 64<<20, 1<<20
	if note := machineNote(cfg, governor.Cgroup{Root: cg, Self: []byte("0::/\n")}); note != "" {
		t.Errorf("all set, yet:\n%s", note)
	}
	// The Go runtime's variables win over the config: said even then.
	t.Setenv("GOMEMLIMIT", "off")
	t.Setenv("GOMAXPROCS", "1")
	note = machineNote(cfg, governor.Cgroup{Root: cg, Self: []byte("0::/\n")})
	for _, w := range []string{"limits.memory: no limit ($GOMEMLIMIT=off", "limits.cpus: 1, from $GOMAXPROCS"} {
		if !strings.Contains(note, w) {
			t.Errorf("note lacks %q:\n%s", w, note)
		}
	}
}
