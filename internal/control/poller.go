package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/logship/logship/internal/atomicfile"
	"github.com/logship/logship/internal/sinks"
)

// Snapshot is what a request may ask of a snapshot: nothing that names
// a path. The Snapshotter takes it with trigger "remote".
type Snapshot struct {
	RequestID string
	Note      string
	HeapDumps bool // already limited by the agent's config
}

// Bundle says where a stored bundle went.
type Bundle struct {
	Path string   // the bundle's file name (its header path)
	Keys []string // object keys, in stream order
	Size int64    // bundle bytes
}

// Snapshotter takes one snapshot and stores it (the agent adapts a
// snapshot.Taker). On an error, the Bundle may still name objects
// already stored.
type Snapshotter interface {
	Take(ctx context.Context, s Snapshot) (Bundle, error)
}

// Store is the bucket (or folder) the control objects live in: keys are
// whole (they start with the archive prefix). The sinks dir and oss are
// Stores.
type Store interface {
	sinks.Sink
	sinks.Lister
	sinks.Getter
}

// PollerOptions configure a Poller.
type PollerOptions struct {
	Store       Store
	Prefix      string // the archive prefix (sink.prefix)
	App, Host   string
	StateDir    string // handled requests are remembered in STATE_DIR/control/handled.json
	Config      Config
	Snapshotter Snapshotter
	Log         *slog.Logger
	Now         func() time.Time
}

// Poller answers the remote snapshot requests of one agent.
type Poller struct {
	o     PollerOptions
	state string
	seen  map[string]handled // by request object key
}

// handled is what the poller remembers of a request object.
type handled struct {
	State string    `json:"state"` // started, answering, done, ignored, other (another host's)
	At    time.Time `json:"at"`
	// Response is the answer not yet written (state answering): it is
	// written at the next poll or start, and the snapshot is not taken
	// again.
	Response *Response `json:"response,omitempty"`
}

const (
	stateStarted   = "started"
	stateAnswering = "answering"
	stateDone      = "done"
	stateIgnored   = "ignored"
	stateOther     = "other"
)

// NewPoller checks the options and loads the handled requests.
func NewPoller(o PollerOptions) (*Poller, error) {
	o.Config.SetDefaults()
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	if o.Store == nil || o.Snapshotter == nil || o.App == "" || o.Host == "" || o.StateDir == "" {
		return nil, errors.New("control: poller needs a store, a snapshotter, app, host and state dir")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	p := &Poller{o: o, state: filepath.Join(o.StateDir, "control", "handled.json"), seen: map[string]handled{}}
	b, err := os.ReadFile(p.state)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("control: %w", err)
	default:
		if err := json.Unmarshal(b, &p.seen); err != nil {
			return nil, fmt.Errorf("control: %s: %w (remove it to start afresh)", p.state, err)
		}
	}
	return p, nil
}

// Run polls until ctx ends. A failed poll is logged and the wait doubles,
// up to max_backoff; it returns only ctx's error.
func (p *Poller) Run(ctx context.Context) error {
	log := p.o.Log
	log.Info("remote snapshots: polling", "prefix", Root(p.o.Prefix, p.o.App), "interval", p.o.Config.PollInterval)
	p.finishInterrupted(ctx)
	wait := p.o.Config.PollInterval.Std()
	failures := 0
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if err := p.Poll(ctx); err != nil && ctx.Err() == nil {
			failures++
			wait = min(wait*2, p.o.Config.MaxBackoff.Std())
			if failures == 1 || failures%10 == 0 {
				log.Warn("remote snapshots: polling failed", "err", err, "failures", failures, "next_in", wait)
			}
		} else {
			failures, wait = 0, p.o.Config.PollInterval.Std()
		}
		t.Reset(wait)
	}
}

// Poll writes the answers still pending, lists the requests once and
// answers the new ones addressed to this host, one at a time.
func (p *Poller) Poll(ctx context.Context) error {
	if err := p.flush(ctx); err != nil {
		return err
	}
	now := p.o.Now().UTC()
	days := []string{RequestsDay(p.o.Prefix, p.o.App, now)}
	if y := now.Add(-MaxLife - clockSkewSlack); y.Format("2006-01-02") != now.Format("2006-01-02") {
		days = append([]string{RequestsDay(p.o.Prefix, p.o.App, y)}, days...)
	}
	var keys []string
	for _, d := range days {
		err := p.o.Store.List(ctx, d, func(oi sinks.ObjectInfo) error {
			if _, ok := p.seen[oi.Key]; !ok && strings.HasSuffix(oi.Key, ".json") {
				keys = append(keys, oi.Key)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("control: listing %s: %w", d, err)
		}
	}
	for _, k := range keys {
		if err := p.handle(ctx, k); err != nil {
			return err
		}
	}
	return p.prune(now)
}

// handle answers one request object; an error is about the store (the
// request is tried again at the next poll).
func (p *Poller) handle(ctx context.Context, key string) error {
	log := p.o.Log.With("request", key)
	q, err := p.fetch(ctx, key)
	if err != nil {
		if errors.Is(err, errBadRequest) {
			log.Warn("remote snapshots: ignoring a malformed request", "err", err)
			return p.mark(ctx, key, stateIgnored)
		}
		return err
	}
	log = log.With("id", q.ID)
	now := p.o.Now()
	switch {
	case q.App != p.o.App:
		log.Warn("remote snapshots: ignoring a request for another app", "app", q.App)
		return p.mark(ctx, key, stateIgnored)
	case q.Host != AllHosts && q.Host != p.o.Host:
		log.Debug("remote snapshots: request for another host", "host", q.Host)
		return p.mark(ctx, key, stateOther)
	case now.After(q.Expires):
		log.Warn("remote snapshots: ignoring a stale request", "created", q.Created, "expired", q.Expires)
		return p.mark(ctx, key, stateIgnored)
	case RequestKey(p.o.Prefix, q) != key:
		log.Warn("remote snapshots: ignoring a request stored under another key than its id and time say")
		return p.mark(ctx, key, stateIgnored)
	}
	// Another process of this host (a lost state dir) may have answered.
	rkey := ResponseKey(p.o.Prefix, p.o.App, q.ID, p.o.Host)
	if rc, _, err := p.o.Store.Get(ctx, rkey); err == nil {
		rc.Close()
		log.Info("remote snapshots: request already answered", "response", rkey)
		return p.mark(ctx, key, stateDone)
	} else if !errors.Is(err, sinks.ErrNotFound) {
		return fmt.Errorf("control: %s: %w", rkey, err)
	}
	// Remembered before the snapshot starts: a restart from here on never
	// takes it again (finishInterrupted answers it with an error).
	if err := p.mark(ctx, key, stateStarted); err != nil {
		return err
	}
	return p.answer(ctx, key, q)
}

var errBadRequest = errors.New("bad request")

func (p *Poller) fetch(ctx context.Context, key string) (*Request, error) {
	rc, _, err := p.o.Store.Get(ctx, key)
	if err != nil {
		if errors.Is(err, sinks.ErrNotFound) { // removed since the LIST
			return nil, fmt.Errorf("%w: %v", errBadRequest, err)
		}
		return nil, fmt.Errorf("control: %s: %w", key, err)
	}
	defer rc.Close()
	q, err := DecodeRequest(rc)
	if err != nil {
		var re interface{ Timeout() bool }
		if errors.As(err, &re) || ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errBadRequest, err)
	}
	return q, nil
}

// answer takes the snapshot and writes the response, an error included.
func (p *Poller) answer(ctx context.Context, key string, q *Request) error {
	log := p.o.Log.With("id", q.ID)
	resp := &Response{V: Version, ID: q.ID, App: p.o.App, Host: p.o.Host, Started: p.o.Now().UTC()}
	req := Snapshot{Note: q.Note, RequestID: q.ID, HeapDumps: q.HeapDumps && p.o.Config.HeapDumps}
	resp.HeapDumps = req.HeapDumps
	var notes []string
	if q.HeapDumps && !p.o.Config.HeapDumps {
		notes = append(notes, "heap dumps not taken: this agent's config does not allow them (remote_snapshots.heap_dumps)")
	}
	log.Info("remote snapshots: taking a snapshot", "note", q.Note, "heap_dumps", req.HeapDumps)
	tctx, cancel := context.WithTimeout(ctx, p.o.Config.Timeout.Std())
	res, err := p.o.Snapshotter.Take(tctx, req)
	cancel()
	if ctx.Err() != nil {
		return ctx.Err() // shutting down: the restart answers it as interrupted
	}
	resp.Status = StatusOK
	resp.Bundle, resp.Keys, resp.Size = res.Path, res.Keys, res.Size
	if err != nil {
		resp.Status = StatusError
		notes = append([]string{err.Error()}, notes...)
		log.Warn("remote snapshots: snapshot failed", "err", err)
	}
	resp.Message = strings.Join(notes, "; ")
	resp.Finished = p.o.Now().UTC()
	if len(resp.Message) > MaxNote {
		resp.Message = resp.Message[:MaxNote]
	}
	// Remembered before it is written: a failed write (or a restart)
	// writes it later; the snapshot is never taken again.
	p.seen[key] = handled{State: stateAnswering, At: p.o.Now().UTC(), Response: resp}
	if err := p.save(ctx); err != nil {
		return err
	}
	return p.flush(ctx)
}

// flush writes the answers remembered but not yet written.
func (p *Poller) flush(ctx context.Context) error {
	for key, h := range p.seen {
		if h.State != stateAnswering || h.Response == nil {
			continue
		}
		if err := p.respond(ctx, h.Response); err != nil {
			return err
		}
		p.o.Log.Info("remote snapshots: answered", "id", h.Response.ID, "status", h.Response.Status, "bundle", h.Response.Bundle, "bytes", h.Response.Size)
		if err := p.mark(ctx, key, stateDone); err != nil {
			return err
		}
	}
	return nil
}

func (p *Poller) respond(ctx context.Context, resp *Response) error {
	b, err := Encode(resp)
	if err != nil {
		return err
	}
	k := ResponseKey(p.o.Prefix, p.o.App, resp.ID, resp.Host)
	if err := p.o.Store.Put(ctx, &sinks.Object{Key: k, Body: b, ContentType: "application/json"}); err != nil {
		return fmt.Errorf("control: writing %s: %w", k, err)
	}
	return nil
}

// finishInterrupted writes the answers a restart left pending, and
// answers with an error each request this host started before a restart
// and never finished: a snapshot is never taken twice for one request.
func (p *Poller) finishInterrupted(ctx context.Context) {
	if err := p.flush(ctx); err != nil {
		p.o.Log.Warn("remote snapshots: writing pending answers", "err", err)
	}
	for key, h := range p.seen {
		if h.State != stateStarted {
			continue
		}
		q, err := p.fetch(ctx, key)
		if err == nil {
			err = p.respond(ctx, &Response{V: Version, ID: q.ID, App: p.o.App, Host: p.o.Host, Status: StatusError,
				Message: "interrupted: the agent stopped while taking this snapshot; not taken again (send a new request)",
				Started: h.At, Finished: p.o.Now().UTC()})
		}
		if err != nil && !errors.Is(err, errBadRequest) {
			p.o.Log.Warn("remote snapshots: answering an interrupted request", "request", key, "err", err)
			continue // tried again at the next start
		}
		p.o.Log.Warn("remote snapshots: a request was interrupted by a restart; answered with an error", "request", key)
		if err := p.mark(ctx, key, stateDone); err != nil {
			p.o.Log.Warn("remote snapshots: saving state", "err", err)
		}
	}
}

// mark remembers key's state durably.
func (p *Poller) mark(ctx context.Context, key, state string) error {
	p.seen[key] = handled{State: state, At: p.o.Now().UTC()}
	return p.save(ctx)
}

func (p *Poller) save(ctx context.Context) error {
	b, err := json.Marshal(p.seen)
	if err != nil {
		return err
	}
	if err := atomicfile.MkdirAll(filepath.Dir(p.state), 0o700); err != nil {
		return fmt.Errorf("control: %w", err)
	}
	if err := atomicfile.WriteFile(ctx, p.state, b, 0o600, nil); err != nil {
		return fmt.Errorf("control: saving handled requests: %w", err)
	}
	return nil
}

// prune forgets requests in partitions no longer listed.
func (p *Poller) prune(now time.Time) error {
	changed := false
	for k, h := range p.seen {
		if h.State != stateStarted && h.State != stateAnswering && now.Sub(h.At) > 2*(MaxLife+clockSkewSlack)+24*time.Hour {
			delete(p.seen, k)
			changed = true
		}
	}
	if changed {
		return p.save(context.Background())
	}
	return nil
}
