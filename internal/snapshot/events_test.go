package snapshot

import (
	"context"
	"fmt"
	"github.com/logship/logship/internal/schema"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/artifact"
	"github.com/logship/logship/internal/pipeline/pipelinetest"
	"github.com/logship/logship/internal/sources/kmsg"
)

// ring is a /dev/kmsg fake: records pushed by the test, EAGAIN when none
// is ready (the source polls it).
type ring struct {
	mu   sync.Mutex
	recs [][]byte
}

func (r *ring) push(recs ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range recs {
		r.recs = append(r.recs, []byte(s))
	}
}

func (r *ring) open(string) (kmsg.Device, error) { return &ringReader{r: r}, nil }

type ringReader struct {
	r    *ring
	next int
}

func (rr *ringReader) Read(p []byte) (int, error) {
	rr.r.mu.Lock()
	defer rr.r.mu.Unlock()
	if rr.next >= len(rr.r.recs) {
		return 0, unix.EAGAIN
	}
	rr.next++
	return copy(p, rr.r.recs[rr.next-1]), nil
}

func (rr *ringReader) Close() error { return nil }

// countingTaker records the requests it was asked to take.
type countingTaker struct {
	mu   sync.Mutex
	reqs []Request
}

func (c *countingTaker) Take(ctx context.Context, req Request) (*Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reqs = append(c.reqs, req)
	return &Result{Stored: Stored{Keys: []string{"k"}}}, nil
}

func (c *countingTaker) taken() []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Request(nil), c.reqs...)
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

var oomReport = []string{
	"4,%d,5000000000,-;java invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
	"6,%d,5000000030,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,task=java,pid=1234,uid=0",
	"3,%d,5000000040,-;Memory cgroup out of memory: Killed process 1234 (java) total-vm:4194304kB, anon-rss:2097152kB",
}

func oomRecords(seq int) []string {
	var out []string
	for i, f := range oomReport {
		out = append(out, fmt.Sprintf(f, seq+i))
	}
	return out
}

// TestOOMKillTriggersOneSnapshot runs the real kmsg source on a fake
// device, wrapped by Trigger.Watch: an OOM kill takes one snapshot, a
// second within min_interval none, one after min_interval another.
func TestOOMKillTriggersOneSnapshot(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "boot_id"), []byte("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\n"), 0o644)
	src, err := kmsg.New("kmsg", kmsg.Config{Mode: kmsg.ModeKmsg}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &ring{}
	r.push("6,1,1000,-;booting", "6,2,2000,-;eth0: link up")
	src.OpenDevice, src.BootIDPath, src.PollInterval = r.open, filepath.Join(dir, "boot_id"), 5*time.Millisecond
	src.BootTime = time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)

	ct := &countingTaker{}
	clk := &clock{t: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)}
	tr := NewTrigger(ct, TriggerOptions{Config: Config{MinInterval: schema.Duration(time.Hour)}, Now: clk.now})
	em := pipelinetest.New()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Watch(src).Run(ctx, em) }()
	defer func() {
		cancel()
		<-done
		tr.Wait()
	}()
	records := func() int64 {
		for _, s := range em.Streams() {
			ps := s.Pieces()
			if len(ps) > 0 {
				return ps[len(ps)-1].End
			}
		}
		return 0
	}
	waitFor(t, "the first records", func() bool { return records() == 3 })
	if n := len(ct.taken()); n != 0 {
		t.Fatalf("%d snapshots before any OOM kill", n)
	}

	r.push(oomRecords(3)...)
	waitFor(t, "a snapshot on the OOM kill", func() bool { return len(ct.taken()) == 1 })
	req := ct.taken()[0]
	if req.Trigger != TriggerOOMKill || req.Event["source"] != archive.KindKmsg || req.Event["stream"] == "" || req.Event["end"] != "6" {
		t.Errorf("request %+v", req)
	}

	clk.add(30 * time.Minute)
	r.push(oomRecords(6)...)
	waitFor(t, "the second OOM report archived", func() bool { return records() == 9 })
	tr.Wait()
	if n := len(ct.taken()); n != 1 {
		t.Fatalf("%d snapshots: the second OOM kill within min_interval took one", n)
	}

	clk.add(31 * time.Minute)
	r.push(oomRecords(9)...)
	waitFor(t, "a snapshot after min_interval", func() bool { return len(ct.taken()) == 2 })
}

// storer is an artifact uploader that stores nothing and returns a key.
type storer struct {
	mu   sync.Mutex
	sent []artifact.Artifact
}

func (s *storer) Upload(ctx context.Context, a artifact.Artifact) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, a)
	return "logs/key-of-" + a.ID, nil
}

// TestJVMCrashTriggers: an hs_err artifact stored through the watched
// uploader takes a snapshot whose request names the crash file's key; a
// heap dump does not; the trigger switched off takes none.
func TestJVMCrashTriggers(t *testing.T) {
	mod := time.Date(2026, 12, 6, 9, 30, 0, 0, time.UTC)
	hsErr := artifact.Artifact{Kind: archive.KindCrash, ID: "hs_err_pid42.log-abc", Path: "/app/hs_err_pid42.log", Time: mod, Event: archive.EventJVMCrash}
	heap := artifact.Artifact{Kind: archive.KindCrash, ID: "java_pid42.hprof-def", Path: "/app/java_pid42.hprof", Time: mod}
	for _, tc := range []struct {
		name string
		on   bool
		want int
	}{{"on", true, 1}, {"off", false, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			ct := &countingTaker{}
			on := tc.on
			tr := NewTrigger(ct, TriggerOptions{Config: Config{OnEvents: OnEvents{JVMCrash: &on}}})
			st := &storer{}
			up := tr.WatchUploads(context.Background(), st)
			for _, a := range []artifact.Artifact{heap, hsErr} {
				if _, err := up.Upload(context.Background(), a); err != nil {
					t.Fatal(err)
				}
			}
			tr.Wait()
			if len(st.sent) != 2 {
				t.Fatalf("%d artifacts stored, want 2", len(st.sent))
			}
			got := ct.taken()
			if len(got) != tc.want {
				t.Fatalf("%d snapshots, want %d", len(got), tc.want)
			}
			if tc.want == 1 && (got[0].Trigger != TriggerJVMCrash || got[0].Event["key"] != "logs/key-of-"+hsErr.ID || got[0].Event["path"] != hsErr.Path) {
				t.Errorf("request %+v", got[0])
			}
		})
	}
}

// TestExitTriggerRateLimit: Trigger.Take (what `logship run` calls on an
// abnormal exit) shares the rate limit with the other events.
func TestExitTriggerRateLimit(t *testing.T) {
	ct := &countingTaker{}
	tr := NewTrigger(ct, TriggerOptions{Config: Config{MinInterval: schema.Duration(time.Minute)}})
	if _, err := tr.Take(context.Background(), Request{Trigger: TriggerExit}); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Take(context.Background(), Request{Trigger: TriggerExit}); err == nil {
		t.Fatal("second snapshot within min_interval was taken")
	}
	if _, err := tr.Take(context.Background(), Request{Trigger: TriggerManual}); err == nil {
		t.Fatal("a manual request went through the event trigger")
	}
	if n := len(ct.taken()); n != 1 {
		t.Fatalf("%d snapshots", n)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// gatedTaker holds each snapshot until the test opens the gate.
type gatedTaker struct {
	countingTaker
	gate chan struct{}
}

func (g *gatedTaker) Take(ctx context.Context, req Request) (*Result, error) {
	<-g.gate
	res, _ := g.countingTaker.Take(ctx, req)
	return &Result{Stored: Stored{Keys: []string{"key-of-" + req.Trigger}}, Manifest: res.Manifest}, nil
}

// TestTakeOrJoin: the exit of `logship run`'s child a moment after its JVM
// crash file started a snapshot gets that snapshot (waited for), not a
// refusal, and no second one is taken.
func TestTakeOrJoin(t *testing.T) {
	g := &gatedTaker{gate: make(chan struct{})}
	tr := NewTrigger(g, TriggerOptions{Config: Config{MinInterval: schema.Duration(time.Minute)}})
	if !tr.Go(context.Background(), Request{Trigger: TriggerJVMCrash}) {
		t.Fatal("the crash's snapshot did not start")
	}
	type out struct {
		res *Result
		err error
	}
	joined := make(chan out, 1)
	go func() {
		res, err := tr.TakeOrJoin(context.Background(), Request{Trigger: TriggerExit})
		joined <- out{res, err}
	}()
	select {
	case o := <-joined:
		t.Fatalf("TakeOrJoin returned %v, %v before the snapshot in flight ended", o.res, o.err)
	case <-time.After(50 * time.Millisecond):
	}
	close(g.gate)
	o := <-joined
	if o.err != nil || len(o.res.Stored.Keys) != 1 || o.res.Stored.Keys[0] != "key-of-"+TriggerJVMCrash {
		t.Fatalf("TakeOrJoin: %v, %v; want the crash's snapshot", o.res, o.err)
	}
	if n := len(g.taken()); n != 1 {
		t.Fatalf("%d snapshots taken, want 1", n)
	}
	// Nothing taken before and nothing in flight: TakeOrJoin takes one.
	tr2 := NewTrigger(&countingTaker{}, TriggerOptions{Config: Config{MinInterval: schema.Duration(time.Minute)}})
	if res, err := tr2.TakeOrJoin(context.Background(), Request{Trigger: TriggerExit}); err != nil || len(res.Stored.Keys) != 1 {
		t.Fatalf("first TakeOrJoin: %v, %v", res, err)
	}
	// A context that ends while waiting ends the wait.
	g3 := &gatedTaker{gate: make(chan struct{})}
	defer close(g3.gate)
	tr3 := NewTrigger(g3, TriggerOptions{Config: Config{MinInterval: schema.Duration(time.Minute)}})
	tr3.Go(context.Background(), Request{Trigger: TriggerOOMKill})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := tr3.TakeOrJoin(ctx, Request{Trigger: TriggerExit}); err == nil {
		t.Fatal("TakeOrJoin did not end with its context")
	}
}
