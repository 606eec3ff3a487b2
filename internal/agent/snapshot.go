package agent

import (
	"log/slog"

	"github.com/logship/logship/internal/config"
	"github.com/logship/logship/internal/pipeline"
	"github.com/logship/logship/internal/sinks"
	osssink "github.com/logship/logship/internal/sinks/oss"
	"github.com/logship/logship/internal/snapshot"
)

// SnapshotOptions maps a config onto the options of a snapshot Taker:
// file sources give the logs to tail, crash sources the crash files, the
// sink its secrets (masked in every bundle), the snapshot: section the
// rest. Uploader is SnapshotUploader's when sink is not nil.
func SnapshotOptions(cfg *config.Config, sink sinks.Sink, version string, log *slog.Logger) snapshot.Options {
	o := snapshot.Options{App: cfg.App, Host: cfg.Host, Version: version, Config: cfg.Snapshot, Log: log}
	for _, s := range cfg.Sources {
		switch s.Type {
		case config.SourceFile:
			o.Logs = append(o.Logs, snapshot.Globs{Paths: s.File.Paths, Exclude: s.File.Exclude})
		case config.SourceCrash:
			o.Crash = append(o.Crash, snapshot.Globs{Paths: s.Crash.Paths, Exclude: s.Crash.Exclude})
		}
	}
	o.Secrets = []string{cfg.Sink.OSS.AccessKeyID.Reveal(), cfg.Sink.OSS.AccessKeySecret.Reveal()}
	if sink != nil {
		o.Uploader = &snapshot.SinkUploader{Sink: sink, Prefix: cfg.Sink.Prefix, App: cfg.App, Host: cfg.Host,
			Retry: pipeline.Retry{Permanent: cfg.Pipeline.RetryRefused.Std()}, Log: log}
	}
	AddEndpointProbe(&o, cfg, sink)
	return o
}

// AddEndpointProbe puts the OSS endpoint first among the probes of o
// (probes.txt), in place of an earlier one: every bundle of an agent
// that ships to OSS says whether the container reached it — taken on an
// event, on a remote request or by hand, uploaded or written to a file.
// The endpoint is the sink's when it is open (the region learnt from the
// bucket included), else the config's.
func AddEndpointProbe(o *snapshot.Options, cfg *config.Config, sink sinks.Sink) {
	if cfg.Sink.Type != config.SinkOSS {
		return
	}
	url := osssink.EndpointURL(cfg.Sink.OSS)
	if ep, ok := sink.(interface{ Endpoint() string }); ok {
		url = ep.Endpoint()
	}
	if url == "" {
		return
	}
	probes := []snapshot.Probe{{Name: endpointProbe, URL: url}}
	for _, p := range o.Config.Probes {
		if p.Name != endpointProbe {
			probes = append(probes, p)
		}
	}
	o.Config.Probes = probes
}

// endpointProbe names the probe of the OSS endpoint.
const endpointProbe = "oss-endpoint"

// EventSnapshots returns the trigger that takes snapshots on events
// (snapshot.on_events, at most one per snapshot.min_interval), uploading
// them into sink. Run wraps the kmsg sources and the crash sources'
// uploader with it; `logship run` calls its Take on an abnormal exit, and
// passes adjust to name its child (Options.AppPID) and to take thread
// dumps from the child's stdout (Options.ThreadDumpFrom, with
// snapshot.SigquitFrom).
func EventSnapshots(cfg *config.Config, sink sinks.Sink, version string, log *slog.Logger, adjust ...func(*snapshot.Options)) (*snapshot.Trigger, error) {
	o := SnapshotOptions(cfg, sink, version, log)
	for _, f := range adjust {
		f(&o)
	}
	t, err := snapshot.New(o)
	if err != nil {
		return nil, err
	}
	return snapshot.NewTrigger(t, snapshot.TriggerOptions{Config: cfg.Snapshot, Log: log}), nil
}
