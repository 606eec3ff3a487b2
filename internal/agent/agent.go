// Package agent wires a configuration into a running pipeline: the one
// place that lists the sources logship has (sinks are opened by package
// sinks/open).
package agent

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/logship/logship/internal/artifact"
	"github.com/logship/logship/internal/config"
	"github.com/logship/logship/internal/pipeline"
	"github.com/logship/logship/internal/sinks"
	"github.com/logship/logship/internal/sinks/open"
	"github.com/logship/logship/internal/snapshot"
	"github.com/logship/logship/internal/sources/crash"
	"github.com/logship/logship/internal/sources/file"
	"github.com/logship/logship/internal/sources/kmsg"
)

// NewSink opens the configured sink through open.Config, the one place
// sinks are opened. The config's file is passed on so the oss sink can
// warn when a secret sits in a file others can read.
func NewSink(ctx context.Context, cfg *config.Config, log *slog.Logger) (sinks.Sink, error) {
	return open.Config(ctx, cfg.Sink, open.Options{ConfigFile: cfg.File(), Log: log})
}

// NewSources builds the configured sources; crash sources ship their
// files through up.
func NewSources(cfg *config.Config, up artifact.Uploader, log *slog.Logger) ([]pipeline.Source, error) {
	var out []pipeline.Source
	for _, sc := range cfg.Sources {
		l := log // each source adds its own "source" attribute
		var (
			s   pipeline.Source
			err error
		)
		switch sc.Type {
		case config.SourceFile:
			s, err = file.New(sc.Name, sc.File, l)
		case config.SourceKmsg:
			s, err = kmsg.New(sc.Name, sc.Kmsg, l)
		case config.SourceCrash:
			s, err = crash.New(sc.Name, sc.Crash, up, l)
		default:
			err = fmt.Errorf("type %q is not available in this build", sc.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", sc.Name, err) // New's errors name keys of the source, not the source
		}
		out = append(out, s)
	}
	return out, nil
}

// Options returns the pipeline options of a config. Its Retry is also
// the artifact uploader's: both retry refusals at retry_refused.
func Options(cfg *config.Config, sink sinks.Sink, log *slog.Logger) pipeline.Options {
	return pipeline.Options{
		Config:    cfg.Pipeline,
		App:       cfg.App,
		Host:      cfg.Host,
		Prefix:    cfg.Sink.Prefix,
		Uploaders: uploaders(cfg),
		Sink:      sink,
		Retry:     cfg.Pipeline.Retry(),
		Log:       log,
	}
}

func uploaders(cfg *config.Config) int {
	if cfg.Sink.Type == config.SinkDir {
		return 2
	}
	return cfg.Sink.OSS.Concurrency
}

// Run runs the agent until ctx ends, then shuts down in order (sources,
// flush, drain within shutdown_timeout, checkpoint, sink).
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	return RunExtra(ctx, cfg, log, Extra{})
}

// Extra is what a command adds to the agent of a config (logship run: the
// child's output, and a last pass of the crash source at its exit).
type Extra struct {
	// Sources run beside the configured ones.
	Sources []pipeline.Source
	// Built, when set, is called with the configured sources, the
	// artifact uploader and the trigger of snapshots on events once they
	// are built, before anything runs.
	Built func(srcs []pipeline.Source, up artifact.Uploader, events *snapshot.Trigger)
	// Snapshot, when set, adjusts the options of every snapshot the agent
	// takes (on events and on remote requests): logship run names its
	// child (AppPID) and takes thread dumps from its stdout
	// (ThreadDumpFrom).
	Snapshot func(*snapshot.Options)
	// Version is the binary's version, recorded in the snapshots it takes.
	Version string
}

// RunExtra is Run with what a command adds.
func RunExtra(ctx context.Context, cfg *config.Config, log *slog.Logger, x Extra) error {
	sink, err := NewSink(ctx, cfg, log)
	if err != nil {
		return err // the sink names itself (oss:, dir:)
	}
	opts := Options(cfg, sink, log)
	var pl atomic.Pointer[pipeline.Pipeline] // built below, before any upload
	progress := func(id string, pr pipeline.ArtifactProgress, done bool) {
		if p := pl.Load(); p != nil {
			p.ArtifactProgress(id, pr, done)
		}
	}
	up, err := artifact.New(artifact.Options{App: opts.App, Host: opts.Host, Prefix: opts.Prefix, Sink: sink, Retry: opts.Retry, Log: log, Progress: progress})
	if err != nil {
		sink.Close()
		return err
	}
	var adjust []func(*snapshot.Options)
	if x.Snapshot != nil {
		adjust = append(adjust, x.Snapshot)
	}
	events, err := EventSnapshots(cfg, sink, x.Version, log, adjust...)
	if err != nil {
		sink.Close()
		return err
	}
	defer events.Wait() // snapshots in flight end with ctx
	srcs, err := NewSources(cfg, events.WatchUploads(ctx, up), log)
	if err != nil {
		sink.Close()
		return err
	}
	for i, sc := range cfg.Sources {
		if sc.Type == config.SourceKmsg {
			srcs[i] = events.Watch(srcs[i]) // an OOM kill takes a snapshot
		}
	}
	if x.Built != nil {
		x.Built(srcs, up, events)
	}
	srcs = append(srcs, x.Sources...)
	p, err := pipeline.New(opts)
	if err != nil {
		sink.Close()
		return err
	}
	pl.Store(p)
	remote, err := RemoteSnapshots(cfg, sink, x.Version, log, adjust...)
	if err != nil {
		sink.Close()
		return err
	}
	defer startRemote(ctx, remote)() // remote snapshot requests, polled beside the pipeline
	log.Info("agent started", "app", cfg.App, "host", cfg.Host, "sources", len(srcs), "sink", cfg.Sink.Type, "state_dir", cfg.Pipeline.StateDir)
	return pipeline.Run(ctx, p, srcs, cfg.ShutdownTimeout.Std())
}
