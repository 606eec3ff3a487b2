package control

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"

	"github.com/logship/logship/internal/osstest"
	"github.com/logship/logship/internal/schema"
	osssink "github.com/logship/logship/internal/sinks/oss"
)

// The poller, run against osstest through the real oss sink, calls
// exactly the operations the generated RAM policy grants on the control
// prefix (osssink.ControlOps): `logship check --policy` is neither short
// of what remote snapshots need nor wider.
func TestPollerCallsAreControlOps(t *testing.T) {
	const ak, sk, bucket = "LTAI5tPolicyTest0001", "policy-test-secret", "ctl-bucket"
	srv := osstest.New(osstest.Options{AccessKeyID: ak, AccessKeySecret: sk, Buckets: []string{bucket}})
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, err := osssink.New(ctx, osssink.Config{Bucket: bucket, Region: "cn-hangzhou", Endpoint: srv.Endpoint(),
		Concurrency: 2, PartSize: 8 << 20, Timeout: schema.Duration(10 * time.Second)}, slog.New(slog.DiscardHandler),
		osssink.WithCredentials("test", credentials.NewStaticCredentialsProvider(ak, sk)))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	c := &Client{Store: store, Prefix: testPrefix, App: "shop"}
	q, err := c.Send(ctx, "h1", "policy", false, 0)
	mustf(t, err, "send")

	srv.ResetCounts()                                                // from here on, only the poller and its snapshot
	taker := &fakeTaker{store: newStore(t), app: "shop", host: "h1"} // the bundle goes elsewhere: only control calls reach osstest
	p := newPoller(t, store, "h1", t.TempDir(), taker, nil)
	go p.Run(ctx)
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	answered := func() bool { // read on the server's side: no request counted
		for _, o := range srv.Objects(bucket) {
			if strings.HasPrefix(o.Key, Root(testPrefix, "shop")+"responses/"+q.ID+"/") {
				return true
			}
		}
		return false
	}
	for !answered() {
		if wctx.Err() != nil {
			t.Fatal("the poller did not answer")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	var called []string
	for op := range srv.Counts() {
		called = append(called, op)
	}
	slices.Sort(called)
	ops := slices.Clone(osssink.ControlOps)
	slices.Sort(ops)
	if !slices.Equal(called, ops) {
		t.Fatalf("calls %v, ControlOps %v", called, ops)
	}
}
