package open

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logship/logship/internal/config"
	"github.com/logship/logship/internal/sinks"
	"github.com/logship/logship/internal/sinks/dir"
	osssink "github.com/logship/logship/internal/sinks/oss"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Location
		err  string
	}{
		{in: "./archive", want: Location{Scheme: "dir", Dir: "./archive"}},
		{in: "file:///tmp/a", want: Location{Scheme: "dir", Dir: "/tmp/a"}},
		{in: "oss://b/logs/", want: Location{Scheme: "oss", Bucket: "b", Prefix: "logs"}},
		{in: "OSS://b", want: Location{Scheme: "oss", Bucket: "b"}},
		{in: "", err: "empty location"},
		{in: "file://", err: "empty folder"},
		{in: "oss:///logs", err: "no bucket"},
		{in: "s3://b/logs", err: `unknown scheme "s3"`},
	} {
		got, err := Parse(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

// Config and URL open the same kind of sink for a folder; URL wants the
// folder to exist (a reader must not create an empty archive).
func TestOpenDir(t *testing.T) {
	root := filepath.Join(t.TempDir(), "archive")
	s, err := Config(context.Background(), config.Sink{Type: config.SinkDir, Dir: dir.Config{Path: root}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, ok := s.(*dir.Sink); !ok {
		t.Fatalf("%T, want *dir.Sink", s)
	}
	r, loc, err := URL(context.Background(), root, Reader{})
	if err != nil || loc.Dir != root {
		t.Fatalf("%v %+v", err, loc)
	}
	if _, ok := r.(sinks.Prober); !ok {
		t.Fatalf("%T cannot be probed", r)
	}
	if _, _, err := URL(context.Background(), filepath.Join(root, "none"), Reader{}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing folder: %v", err)
	}
	if _, err := Config(context.Background(), config.Sink{Type: "s3"}, Options{}); err == nil {
		t.Fatal("unknown type opened")
	}
}

// Check reports the steps of the sink's probe, and an error of opening as
// one failed step named by the constructor.
func TestCheck(t *testing.T) {
	var steps []sinks.Step
	report := func(st sinks.Step) { steps = append(steps, st) }
	if !Check(context.Background(), config.Sink{Type: config.SinkDir, Prefix: "logs/", Dir: dir.Config{Path: t.TempDir()}}, Options{}, report) {
		t.Fatalf("dir check failed: %+v", steps)
	}
	var names []string
	for _, st := range steps {
		names = append(names, st.Name+" "+string(st.Verdict))
	}
	if got := strings.Join(names, ", "); got != "write ok, read ok, delete ok" {
		t.Fatalf("steps %s", got)
	}

	steps = nil
	none := osssink.WithOssutilConfig(filepath.Join(t.TempDir(), "none")) // not this machine's ~/.ossutilconfig
	if Check(context.Background(), config.Sink{Type: config.SinkOSS, OSS: osssink.Config{Bucket: "b"}}, Options{OSS: []osssink.Option{none}}, report) {
		t.Fatal("an oss sink without region or endpoint passed")
	}
	if len(steps) != 1 || steps[0].Name != "endpoint" || steps[0].Verdict != sinks.Fail || !strings.Contains(steps[0].Diagnosis, "sink.region is required") {
		t.Fatalf("steps %+v", steps)
	}
}
