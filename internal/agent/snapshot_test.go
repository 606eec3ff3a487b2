package agent

import (
	"context"
	"testing"

	"github.com/logship/logship/internal/config"
	"github.com/logship/logship/internal/sinks"
	osssink "github.com/logship/logship/internal/sinks/oss"
	"github.com/logship/logship/internal/snapshot"
)

// TestSnapshotProbesEndpoint: a bundle of an agent shipping to OSS probes
// its endpoint first — with no sink open (snapshot --out, or before the
// sink is built) from the config, else the sink's — and only once; an
// agent with the dir sink has no such probe.
func TestSnapshotProbesEndpoint(t *testing.T) {
	cfg := &config.Config{App: "shop", Host: "h", Sink: config.Sink{Type: config.SinkOSS, OSS: osssink.Config{Bucket: "b", Region: "cn-hangzhou"}}}
	cfg.Snapshot.Probes = []snapshot.Probe{{Name: "db", URL: "tcp://db:5432"}}
	o := SnapshotOptions(cfg, nil, "dev", nil)
	if len(o.Config.Probes) != 2 || o.Config.Probes[0].Name != "oss-endpoint" || o.Config.Probes[0].URL != "https://oss-cn-hangzhou-internal.aliyuncs.com" ||
		o.Config.Probes[1].Name != "db" {
		t.Fatalf("probes %+v", o.Config.Probes)
	}
	AddEndpointProbe(&o, cfg, endpointSink{"http://127.0.0.1:9000"})
	if len(o.Config.Probes) != 2 || o.Config.Probes[0].URL != "http://127.0.0.1:9000" {
		t.Fatalf("with the sink open: probes %+v", o.Config.Probes)
	}
	if len(cfg.Snapshot.Probes) != 1 {
		t.Fatalf("the config's probes changed: %+v", cfg.Snapshot.Probes)
	}
	cfg.Sink = config.Sink{Type: config.SinkDir}
	if o := SnapshotOptions(cfg, nil, "dev", nil); len(o.Config.Probes) != 1 {
		t.Fatalf("dir sink: probes %+v", o.Config.Probes)
	}
}

// endpointSink is a sink that only tells its endpoint.
type endpointSink struct{ ep string }

func (s endpointSink) Endpoint() string                         { return s.ep }
func (s endpointSink) Put(context.Context, *sinks.Object) error { return nil }
func (s endpointSink) Close() error                             { return nil }
