package osstest

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/retry"
)

func putErr(t *testing.T, c *oss.Client, key string) error {
	t.Helper()
	_, err := c.PutObject(ctx(t), &oss.PutObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr(key), Body: strings.NewReader("data")})
	return err
}

// TestRetriedStatuses shows which injected errors the SDK's standard
// retryer retries (5xx, throttling) and how many attempts it makes.
func TestRetriedStatuses(t *testing.T) {
	cases := []struct {
		name     string
		fault    Fault
		requests int // with retry.DefaultMaxAttempts (3)
		ok       bool
		code     string
	}{
		{"500 twice then success", Fault{Op: "PutObject", Times: 2, Status: 500}, 3, true, ""},
		{"503 twice then success", Fault{Op: "PutObject", Times: 2, Status: 503}, 3, true, ""},
		{"500 beyond max attempts", Fault{Op: "PutObject", Times: 5, Status: 500, Code: "InternalError"}, 3, false, "InternalError"},
		{"403 is not retried", Fault{Op: "PutObject", Times: 1, Status: 403, Code: "AccessDenied"}, 1, false, "AccessDenied"},
		{"429 is retried", Fault{Op: "PutObject", Times: 1, Status: 429, Code: "TooManyRequests"}, 2, true, ""},
		{"other op unaffected", Fault{Op: "GetObject", Status: 500}, 1, true, ""},
		{"other key prefix unaffected", Fault{KeyPrefix: "other/", Status: 500}, 1, true, ""},
		{"write faults hit puts", Fault{Op: WriteOp, Times: 1, Status: 500}, 2, true, ""},
		{"read faults spare puts", Fault{Op: ReadOp, Status: 500}, 1, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t)
			c := newClient(t, srv)
			srv.Inject(tc.fault)
			err := putErr(t, c, "app/k")
			if tc.ok && err != nil {
				t.Fatalf("want success, got %v", err)
			}
			if !tc.ok {
				se := serviceError(t, err)
				if se.Code != tc.code || se.StatusCode != tc.fault.Status {
					t.Errorf("got %d %s", se.StatusCode, se.Code)
				}
			}
			if n := srv.Count("PutObject"); n != tc.requests {
				t.Errorf("%d PutObject requests, want %d", n, tc.requests)
			}
		})
	}
}

// TestDefaultRetryer uses the SDK's default retryer (no test tuning).
func TestDefaultRetryer(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, func(c *oss.Config) { c.WithRetryer(retry.NewStandard()) })
	srv.Throttle("PutObject", 2)
	if err := putErr(t, c, "k"); err != nil {
		t.Fatalf("throttled twice, then: %v", err)
	}
	if n := srv.Count("PutObject"); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
	srv.Throttle("", 0)
	err := putErr(t, newClient(t, srv), "k") // fast retries: 3 attempts, all throttled
	se := wantCode(t, err, 503, "SlowDown")
	if !strings.Contains(se.Message, "Please reduce your request rate") {
		t.Errorf("message %q", se.Message)
	}
}

func TestAccessDeniedUntilRemoved(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	put(t, c, "k", []byte("v"))
	id := srv.Inject(Fault{Op: WriteOp, Status: 403, Code: "AccessDenied", Message: "The bucket you access does not belong to you."})
	for i := 0; i < 3; i++ {
		wantCode(t, putErr(t, c, "k"), 403, "AccessDenied")
	}
	if got := get(t, c, "k"); string(got) != "v" { // reads still work
		t.Errorf("got %q", got)
	}
	srv.Remove(id)
	if err := putErr(t, c, "k"); err != nil {
		t.Fatalf("after Remove: %v", err)
	}
}

func TestConnectionReset(t *testing.T) {
	srv := newServer(t)
	// One reset: the SDK retries and succeeds.
	srv.Inject(Fault{Op: "PutObject", Times: 1, Reset: true})
	if err := putErr(t, newClient(t, srv), "k"); err != nil {
		t.Fatalf("after one reset: %v", err)
	}
	if n := srv.Count("PutObject"); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
	// Without retries the reset surfaces as a transport error, not a
	// service error, and nothing is stored.
	srv.Inject(Fault{Op: "PutObject", Times: 1, Reset: true})
	err := putErr(t, newClient(t, srv, withNoRetry), "reset")
	var se *oss.ServiceError
	if err == nil || errors.As(err, &se) {
		t.Fatalf("want a transport error, got %v", err)
	}
	if _, _, ok := srv.Get(testBucket, "reset"); ok {
		t.Error("object stored despite the reset")
	}
}

// TestAfterOp loses the response of a write that did happen.
func TestAfterOp(t *testing.T) {
	srv := newServer(t)
	srv.Inject(Fault{Op: "PutObject", Times: 1, Status: 500, AfterOp: true})
	wantCode(t, putErr(t, newClient(t, srv, withNoRetry), "k"), 500, "InternalError")
	if _, _, ok := srv.Get(testBucket, "k"); !ok {
		t.Error("the write should be durable")
	}
	srv.Inject(Fault{Op: "PutObject", Times: 1, Reset: true, AfterOp: true})
	if err := putErr(t, newClient(t, srv, withNoRetry), "k2"); err == nil {
		t.Error("want an error")
	}
	if _, _, ok := srv.Get(testBucket, "k2"); !ok {
		t.Error("the write should be durable")
	}
}

func TestCutBody(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	body := randomBytes(256<<10, 9)
	put(t, c, "big", body)
	srv.Inject(Fault{Op: "GetObject", Times: 1, CutBody: true})
	res, err := c.GetObject(ctx(t), &oss.GetObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("big")})
	if err != nil {
		t.Fatalf("headers should arrive: %v", err)
	}
	got, err := io.ReadAll(res.Body)
	res.Body.Close()
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(got) != len(body)/2 {
		t.Errorf("read %d bytes, err %v; want %d and unexpected EOF", len(got), err, len(body)/2)
	}
	// The next read is whole again.
	if got := get(t, c, "big"); len(got) != len(body) {
		t.Errorf("read %d bytes", len(got))
	}
	// Listings read their whole body inside the SDK's request loop, so a
	// cut listing is an unexpected EOF that the retryer retries.
	put(t, c, "k", nil)
	srv.Inject(Fault{Op: "ListObjectsV2", Times: 1, CutBody: true})
	srv.ResetCounts()
	if _, err := c.ListObjectsV2(ctx(t), &oss.ListObjectsV2Request{Bucket: oss.Ptr(testBucket)}); err != nil {
		t.Errorf("cut listing not retried: %v", err)
	}
	if n := srv.Count("ListObjectsV2"); n != 2 {
		t.Errorf("%d listings, want 2", n)
	}
	srv.Inject(Fault{Op: "ListObjectsV2", Times: 1, CutBody: true})
	if _, err := newClient(t, srv, withNoRetry).ListObjectsV2(ctx(t), &oss.ListObjectsV2Request{Bucket: oss.Ptr(testBucket)}); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut listing without retries: %v", err)
	}
}

func TestOutage(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, withNoRetry)
	id := srv.Outage(0)
	wantCode(t, putErr(t, c, "k"), 503, "ServiceUnavailable")
	_, err := c.ListObjectsV2(ctx(t), &oss.ListObjectsV2Request{Bucket: oss.Ptr(testBucket)})
	wantCode(t, err, 503, "ServiceUnavailable")
	srv.Remove(id)
	if err := putErr(t, c, "k"); err != nil {
		t.Fatal(err)
	}

	// A timed outage ends by itself.
	start := time.Now()
	srv.Outage(150 * time.Millisecond)
	wantCode(t, putErr(t, c, "k"), 503, "ServiceUnavailable")
	eventually(t, 5*time.Second, "the outage to end", func() bool { return putErr(t, c, "k") == nil })
	if time.Since(start) < 150*time.Millisecond {
		t.Error("outage ended early")
	}

	// A blackout resets connections instead.
	id = srv.Blackout(0)
	if err := putErr(t, c, "k"); err == nil || errors.As(err, new(*oss.ServiceError)) {
		t.Errorf("want a transport error, got %v", err)
	}
	srv.ClearFaults()
	if err := putErr(t, c, "k"); err != nil {
		t.Fatal(err)
	}
}

func TestLatency(t *testing.T) {
	srv := newServer(t)
	put(t, newClient(t, srv), "k", []byte("v"))
	srv.Inject(Fault{Op: "GetObject", Latency: 200 * time.Millisecond})
	start := time.Now()
	get(t, newClient(t, srv), "k")
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("GetObject took %v, want at least the injected 200ms", d)
	}
	// A client timeout shorter than the latency fails the request.
	slow := newClient(t, srv, withNoRetry, func(c *oss.Config) { c.WithReadWriteTimeout(50 * time.Millisecond) })
	if _, err := slow.GetObject(ctx(t), &oss.GetObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("k")}); err == nil {
		t.Error("want a timeout")
	}
}

// TestBandwidth: a Bandwidth fault reads the upload at its pace; a client
// whose timeout is shorter than the transfer fails.
func TestBandwidth(t *testing.T) {
	srv := newServer(t)
	body := bytes.Repeat([]byte("x"), 32<<10)
	srv.Inject(Fault{Op: "PutObject", Times: 1, Bandwidth: 64 << 10})
	start := time.Now()
	put(t, newClient(t, srv), "slow", body)
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("32KiB at 64KiB/s took %v, want about 500ms", d)
	}
	if got, _, ok := srv.Get(testBucket, "slow"); !ok || !bytes.Equal(got, body) {
		t.Fatalf("stored %d bytes (found %v), want the %d sent", len(got), ok, len(body))
	}
	srv.Inject(Fault{Op: "PutObject", Times: 1, Bandwidth: 4 << 10})
	short := newClient(t, srv, withNoRetry, func(c *oss.Config) { c.WithReadWriteTimeout(200 * time.Millisecond) })
	_, err := short.PutObject(ctx(t), &oss.PutObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("cut"), Body: bytes.NewReader(body[:8<<10])})
	if err == nil {
		t.Fatal("8KiB at 4KiB/s with a 200ms timeout: want a timeout")
	}
	eventually(t, 5*time.Second, "the cut request to end", srv.Idle)
	start = time.Now() // spent: full speed again
	put(t, newClient(t, srv), "fast", body)
	if d := time.Since(start); d > 300*time.Millisecond {
		t.Errorf("after the fault, a put took %v", d)
	}
}

func TestFaultExpiry(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, withNoRetry)
	srv.Inject(Fault{Status: 500, Duration: 100 * time.Millisecond})
	wantCode(t, putErr(t, c, "k"), 500, "InternalError")
	eventually(t, 5*time.Second, "the fault to expire", func() bool { return putErr(t, c, "k") == nil })
	srv.mu.Lock()
	n := len(srv.faults)
	srv.mu.Unlock()
	if n != 0 {
		t.Errorf("%d faults left after expiry", n)
	}
}

// TestCloseDuringRequest: Close does not wait for an injected latency to
// pass, and no handler outlives it.
func TestCloseDuringRequest(t *testing.T) {
	srv := newServer(t)
	srv.Put(testBucket, "k", []byte("v"), nil)
	srv.Inject(Fault{Op: "GetObject", Latency: time.Hour})
	errc := make(chan error, 1)
	c := newClient(t, srv, withNoRetry)
	go func() {
		_, err := c.GetObject(ctx(t), &oss.GetObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("k")})
		errc <- err
	}()
	eventually(t, 5*time.Second, "the request to arrive", func() bool { return srv.Count("GetObject") == 1 })
	done := make(chan struct{})
	go func() { srv.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close blocked on a request in flight")
	}
	if err := <-errc; err == nil {
		t.Error("the request in flight should fail")
	}
}

// TestIdle: Idle is false while a request is being served (held by an
// injected latency) and true once it has been answered.
func TestIdle(t *testing.T) {
	srv := newServer(t)
	srv.Put(testBucket, "k", []byte("v"), nil)
	if !srv.Idle() {
		t.Fatal("a new server is not idle")
	}
	srv.Inject(Fault{Op: "GetObject", Latency: 300 * time.Millisecond})
	done := make(chan struct{})
	go func() { defer close(done); get(t, newClient(t, srv), "k") }()
	eventually(t, 5*time.Second, "the request to arrive", func() bool { return srv.Count("GetObject") == 1 })
	if srv.Idle() {
		t.Fatal("idle while a request is held by its latency")
	}
	<-done
	eventually(t, 5*time.Second, "idle after the answer", srv.Idle)
}
