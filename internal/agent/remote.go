package agent

import (
	"context"
	"log/slog"

	"github.com/logship/logship/internal/config"
	"github.com/logship/logship/internal/control"
	"github.com/logship/logship/internal/sinks"
	"github.com/logship/logship/internal/snapshot"
)

// RemoteSnapshots returns the poller that answers remote snapshot
// requests (snapshot.remote), or nil when it is off or the sink cannot be
// read back. Its snapshots go into sink like those of `logship snapshot`;
// adjust changes their options as for EventSnapshots.
func RemoteSnapshots(cfg *config.Config, sink sinks.Sink, version string, log *slog.Logger, adjust ...func(*snapshot.Options)) (*control.Poller, error) {
	rc := cfg.Snapshot.Remote
	if !rc.On() {
		return nil, nil
	}
	store, ok := sink.(control.Store)
	if !ok {
		log.Warn("remote snapshots: off: the sink cannot be read back", "sink", cfg.Sink.Type)
		return nil, nil
	}
	o := SnapshotOptions(cfg, sink, version, log)
	for _, f := range adjust {
		f(&o)
	}
	t, err := snapshot.New(o)
	if err != nil {
		return nil, err
	}
	return control.NewPoller(control.PollerOptions{Store: store, Prefix: cfg.Sink.Prefix, App: cfg.App, Host: cfg.Host,
		StateDir: cfg.Pipeline.StateDir, Config: rc, Snapshotter: remoteTaker{t}, Log: log.With("component", "control")})
}

// remoteTaker takes a request's snapshot with trigger "remote".
type remoteTaker struct{ t *snapshot.Taker }

func (r remoteTaker) Take(ctx context.Context, s control.Snapshot) (control.Bundle, error) {
	res, err := r.t.Take(ctx, snapshot.Request{Trigger: snapshot.TriggerRemote, Note: s.Note, RequestID: s.RequestID, HeapDumps: s.HeapDumps})
	var b control.Bundle
	if res != nil {
		b = control.Bundle{Path: res.Path, Keys: res.Stored.Keys, Size: res.Stored.Size}
	}
	return b, err
}

// startRemote runs p (when not nil) until ctx ends; the returned function
// waits for it to stop.
func startRemote(ctx context.Context, p *control.Poller) (wait func()) {
	if p == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx)
	}()
	return func() { <-done }
}
