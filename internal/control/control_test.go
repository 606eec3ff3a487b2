package control

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/internal/sinks"
)

// Two agents of one app share the bucket: a request for H1 is answered by
// H1 alone; a request for all hosts by each once, each with its own
// bundle, which the client fetches and unpacks.
func TestRoundTripTwoHosts(t *testing.T) {
	store := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	takers := map[string]*fakeTaker{}
	for _, h := range []string{"h1", "h2"} {
		takers[h] = &fakeTaker{store: store, app: "shop", host: h}
		p := newPoller(t, store, h, t.TempDir(), takers[h], nil)
		go p.Run(ctx)
	}
	c := &Client{Store: store, Prefix: testPrefix, App: "shop"}

	q, err := c.Send(ctx, "h1", "slow checkout", false, 0)
	mustf(t, err, "send")
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	got, err := c.Wait(wctx, q, []string{"h1"}, 10*time.Millisecond, nil)
	wcancel()
	mustf(t, err, "wait for h1")
	r := got["h1"]
	if r.Status != StatusOK || r.Bundle == "" || len(r.Keys) != 1 {
		t.Fatalf("h1's response: %+v", r)
	}
	var bundle bytes.Buffer
	n, err := c.Fetch(ctx, r, &bundle)
	mustf(t, err, "fetch")
	if n != r.Size || n == 0 {
		t.Fatalf("fetched %d bytes, response says %d", n, r.Size)
	}
	out := t.TempDir()
	files, _, err := Extract(&bundle, out, ExtractLimits{})
	mustf(t, err, "extract")
	if b, _ := os.ReadFile(filepath.Join(out, "host.txt")); string(b) != "h1 slow checkout" || files != 2 {
		t.Fatalf("extracted %d files, host.txt %q", files, b)
	}

	// h2 saw the request (both poll every 20ms) and left it alone.
	qAll, err := c.Send(ctx, AllHosts, "", false, 0)
	mustf(t, err, "send all")
	wctx, wcancel = context.WithTimeout(ctx, 10*time.Second)
	got, err = c.Wait(wctx, qAll, []string{"h1", "h2"}, 10*time.Millisecond, nil)
	wcancel()
	mustf(t, err, "wait for all")
	for _, h := range []string{"h1", "h2"} {
		var b bytes.Buffer
		if _, err := c.Fetch(ctx, got[h], &b); err != nil {
			t.Fatalf("%s: %v", h, err)
		}
		if !bytes.Contains(mustDecompress(t, b.Bytes()), []byte(h+" ")) {
			t.Errorf("%s's bundle is not %s's", h, h)
		}
	}
	for h, want := range map[string]int{"h1": 2, "h2": 1} {
		if n := takers[h].count(); n != want {
			t.Errorf("%s took %d snapshots, want %d (h1's request, then the one for all)", h, n, want)
		}
	}
	// Exactly one response per host and request.
	for _, qq := range []*Request{q, qAll} {
		rs, err := c.Responses(ctx, qq, nil)
		mustf(t, err, "responses")
		want := map[*Request]int{q: 1, qAll: 2}[qq]
		if len(rs) != want {
			t.Errorf("request %s: %d responses, want %d", qq.ID, len(rs), want)
		}
	}
}

func mustDecompress(t *testing.T, b []byte) []byte {
	t.Helper()
	d, err := zstdDecode(b)
	mustf(t, err, "zstd")
	return d
}

// A request for a host that does not answer ends in ErrTimeout, with what
// the others sent.
func TestWaitTimeout(t *testing.T) {
	store := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ft := &fakeTaker{store: store, app: "shop", host: "h1"}
	go newPoller(t, store, "h1", t.TempDir(), ft, nil).Run(ctx)
	c := &Client{Store: store, Prefix: testPrefix, App: "shop"}
	q, err := c.Send(ctx, "gone", "", false, 0)
	mustf(t, err, "send")
	polls := 0
	wctx, wcancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer wcancel()
	got, err := c.Wait(wctx, q, []string{"gone"}, 20*time.Millisecond, func(map[string]*Response, error) { polls++ })
	if !errors.Is(err, ErrTimeout) || len(got) != 0 {
		t.Fatalf("got %v, %v; want ErrTimeout and nothing", got, err)
	}
	if polls < 2 {
		t.Errorf("%d polls in 300ms at 20ms", polls)
	}
	if ft.count() != 0 {
		t.Errorf("h1 took a snapshot for another host")
	}
}

// An agent killed after it took a request but before it answered never
// takes it again: the restarted agent answers it with an error. One that
// answered never answers again, even with its state dir lost.
func TestRestartDoesNotRunTwice(t *testing.T) {
	store := newStore(t)
	state := t.TempDir()
	c := &Client{Store: store, Prefix: testPrefix, App: "shop"}
	ctx := context.Background()
	q, err := c.Send(ctx, "h1", "", false, 0)
	mustf(t, err, "send")

	// First life: the snapshot hangs; the agent is stopped mid-way.
	ft1 := &fakeTaker{store: store, app: "shop", host: "h1", block: make(chan struct{}), started: make(chan struct{})}
	ctx1, kill := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- newPoller(t, store, "h1", state, ft1, nil).Run(ctx1) }()
	select {
	case <-ft1.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the request was not taken")
	}
	kill()
	<-done
	if rs, _ := c.Responses(ctx, q, nil); len(rs) != 0 {
		t.Fatalf("a response before the restart: %+v", rs[0])
	}

	// Second life: the request is answered with an error, not taken again.
	ft2 := &fakeTaker{store: store, app: "shop", host: "h1"}
	ctx2, stop := context.WithCancel(ctx)
	go newPoller(t, store, "h1", state, ft2, nil).Run(ctx2)
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	got, err := c.Wait(wctx, q, []string{"h1"}, 10*time.Millisecond, nil)
	wcancel()
	mustf(t, err, "wait")
	if r := got["h1"]; r.Status != StatusError || !strings.Contains(r.Message, "interrupted") {
		t.Fatalf("response after restart: %+v", r)
	}
	// A second request is answered normally by the same life.
	q2, err := c.Send(ctx, "h1", "", false, 0)
	mustf(t, err, "send 2")
	wctx, wcancel = context.WithTimeout(ctx, 10*time.Second)
	_, err = c.Wait(wctx, q2, []string{"h1"}, 10*time.Millisecond, nil)
	wcancel()
	mustf(t, err, "wait 2")
	stop()
	if ft2.count() != 1 || ft1.count() != 1 {
		t.Fatalf("snapshots taken: %d then %d, want 1 and 1", ft1.count(), ft2.count())
	}

	// Third life, after the answer: nothing is taken again; nor with the
	// state dir lost (the response in the bucket says it was answered).
	for _, st := range []string{state, t.TempDir()} {
		ft3 := &fakeTaker{store: store, app: "shop", host: "h1"}
		p := newPoller(t, store, "h1", st, ft3, nil)
		mustf(t, p.Poll(ctx), "poll")
		mustf(t, p.Poll(ctx), "poll again")
		if ft3.count() != 0 {
			t.Fatalf("state %s: a request was taken again", st)
		}
	}
	for _, qq := range []*Request{q, q2} {
		if rs, _ := c.Responses(ctx, qq, nil); len(rs) != 1 {
			t.Errorf("request %s: %d responses", qq.ID, len(rs))
		}
	}
}

// Stale, malformed and path-naming requests are ignored with a log line,
// once each; none takes a snapshot.
func TestIgnoredRequests(t *testing.T) {
	store := newStore(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	day := RequestsDay(testPrefix, "shop", now)
	good := func(id string, mod func(*Request)) (string, string) {
		q := &Request{V: Version, ID: id, App: "shop", Host: "h1", Created: now, Expires: now.Add(time.Minute)}
		mod(q)
		b, err := Encode(q)
		mustf(t, err, "encode")
		return RequestKey(testPrefix, q), string(b)
	}
	cases := map[string]struct{ key, body, log string }{}
	add := func(name, key, body, log string) { cases[name] = struct{ key, body, log string }{key, body, log} }
	k, b := good("old00001", func(q *Request) { q.Created = now.Add(-20 * time.Minute); q.Expires = now.Add(-10 * time.Minute) })
	// Stored under today's partition (a stale request from yesterday is not even listed).
	add("stale", k, b, "stale request")
	add("not json", day+"20260101T000000Z-bad00001.json", "{not json", "malformed request")
	k, b = good("path0001", func(*Request) {})
	add("a path", k, strings.Replace(b, `"v":1`, `"v":1,"paths":["/etc/shadow"]`, 1), "unknown field")
	k, b = good("big00001", func(*Request) {})
	add("too large", k, strings.Replace(b, `"v":1`, `"v":1,"note":"`+strings.Repeat("x", MaxObjectBytes)+`"`, 1), "over")
	k, b = good("two00001", func(*Request) {})
	add("two objects", k, b+b, "after")
	k, b = good("life0001", func(q *Request) { q.Expires = now.Add(48 * time.Hour) })
	add("long life", k, b, "life")
	k, b = good("app00001", func(q *Request) { q.App = "other" })
	add("other app", day+strings.TrimPrefix(k, RequestsDay(testPrefix, "other", now)), b, "request for another app")
	k, b = good("moved001", func(*Request) {})
	add("wrong key", day+"20200101T000000Z-moved001.json", b, "stored under another key")
	for _, c := range cases {
		putRaw(t, store, c.key, c.body)
	}
	lb := &logBuf{}
	ft := &fakeTaker{store: store, app: "shop", host: "h1"}
	gets := &countingStore{Store: store}
	p := newPoller(t, gets, "h1", t.TempDir(), ft, lb)
	mustf(t, p.Poll(ctx), "poll")
	if ft.count() != 0 {
		t.Fatalf("%d snapshots taken for bad requests: %+v", ft.count(), ft.taken)
	}
	logs := lb.String()
	for name, c := range cases {
		line := lineWith(logs, c.key)
		if !strings.Contains(line, "ignoring") || !strings.Contains(line, c.log) {
			t.Errorf("%s: log line %q, want ignoring ... %q", name, line, c.log)
		}
	}
	first := gets.n
	mustf(t, p.Poll(ctx), "poll again")
	if gets.n != first {
		t.Errorf("ignored requests were fetched again (%d GETs, then %d)", first, gets.n)
	}
}

func lineWith(logs, s string) string {
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

type countingStore struct {
	Store
	n int
}

func (c *countingStore) Get(ctx context.Context, key string) (rcT, oiT, error) {
	c.n++
	return c.Store.Get(ctx, key)
}

// A request cannot widen what is read: heap dumps are taken only when the
// agent's config allows them, and the request reaches the Snapshotter as
// id, note and that flag alone.
func TestHeapDumpsNeedTheConfig(t *testing.T) {
	for _, allow := range []bool{false, true} {
		store := newStore(t)
		ctx := context.Background()
		c := &Client{Store: store, Prefix: testPrefix, App: "shop"}
		q, err := c.Send(ctx, "h1", "oom", true, 0)
		mustf(t, err, "send")
		ft := &fakeTaker{store: store, app: "shop", host: "h1"}
		p := newPoller(t, store, "h1", t.TempDir(), ft, nil, func(o *PollerOptions) { o.Config.HeapDumps = allow })
		mustf(t, p.Poll(ctx), "poll")
		if ft.count() != 1 || ft.taken[0] != (Snapshot{RequestID: q.ID, Note: "oom", HeapDumps: allow}) {
			t.Fatalf("allow=%v: taken %+v", allow, ft.taken)
		}
		rs, err := c.Responses(ctx, q, nil)
		mustf(t, err, "responses")
		if rs[0].HeapDumps != allow || strings.Contains(rs[0].Message, "not allow") == allow {
			t.Errorf("allow=%v: response %+v", allow, rs[0])
		}
	}
}

// A failed snapshot is answered with status error and the message.
func TestErrorResponse(t *testing.T) {
	store := newStore(t)
	ctx := context.Background()
	c := &Client{Store: store, Prefix: testPrefix, App: "shop"}
	q, err := c.Send(ctx, AllHosts, "", false, 0)
	mustf(t, err, "send")
	ft := &fakeTaker{store: store, app: "shop", host: "h1", fail: errors.New("sink: access denied")}
	mustf(t, newPoller(t, store, "h1", t.TempDir(), ft, nil).Poll(ctx), "poll")
	rs, err := c.Responses(ctx, q, nil)
	mustf(t, err, "responses")
	if len(rs) != 1 || rs[0].Status != StatusError || !strings.Contains(rs[0].Message, "access denied") {
		t.Fatalf("responses %+v", rs)
	}
	if _, err := c.Fetch(ctx, rs[0], &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "access denied") {
		t.Errorf("fetch of an error response: %v", err)
	}
}

// failResponses refuses to store responses while on.
type failResponses struct {
	Store
	on bool
}

func (f *failResponses) Put(ctx context.Context, obj *sinks.Object) error {
	if f.on && strings.Contains(obj.Key, "/responses/") {
		return errors.New("503 ServiceUnavailable")
	}
	return f.Store.Put(ctx, obj)
}

// An agent that took the snapshot but could not write its answer (or was
// killed before) writes the same answer later, with the bundle, without
// taking the snapshot again.
func TestAnswerWrittenAfterRestart(t *testing.T) {
	store := newStore(t)
	state := t.TempDir()
	ctx := context.Background()
	c := &Client{Store: store, Prefix: testPrefix, App: "shop"}
	q, err := c.Send(ctx, "h1", "", false, 0)
	mustf(t, err, "send")
	fs := &failResponses{Store: store, on: true}
	ft1 := &fakeTaker{store: store, app: "shop", host: "h1"}
	if err := newPoller(t, fs, "h1", state, ft1, nil).Poll(ctx); err == nil {
		t.Fatal("the poll hid the failed answer")
	}
	if rs, _ := c.Responses(ctx, q, nil); len(rs) != 0 || ft1.count() != 1 {
		t.Fatalf("%d responses, %d snapshots", len(rs), ft1.count())
	}
	fs.on = false // the outage ends; the agent restarts
	ft2 := &fakeTaker{store: store, app: "shop", host: "h1"}
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	go newPoller(t, fs, "h1", state, ft2, nil).Run(rctx)
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	got, err := c.Wait(wctx, q, []string{"h1"}, 10*time.Millisecond, nil)
	wcancel()
	mustf(t, err, "wait")
	if r := got["h1"]; r.Status != StatusOK || len(r.Keys) != 1 {
		t.Fatalf("response %+v", r)
	}
	if _, err := c.Fetch(ctx, got["h1"], &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if ft2.count() != 0 {
		t.Fatal("the snapshot was taken again")
	}
}
