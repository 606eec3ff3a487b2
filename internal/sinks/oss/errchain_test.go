package oss

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/internal/osstest"
	"github.com/logship/logship/internal/schema"
	"github.com/logship/logship/internal/sinks/sinktest"
)

// Each layer of an error adds what it alone knows: the errors of a CRC-64
// mismatch (write and read) and of a timeout say "oss:" and name the
// operation once, not "oss: PutObject k: ...: PutObject: oss: CRC64
// mismatch".
func TestOSSErrorsSayOSSOnce(t *testing.T) {
	srv := newServer(t)
	rw := rewriter{rt: srv.HTTPClient().Transport, fn: func(r *http.Request, res *http.Response) {
		res.Header.Set("x-oss-hash-crc64ecma", "12345")
	}}
	s := newSinkWith(t, srv, nil, staticCreds(testAK, testSK), WithHTTPClient(&http.Client{Transport: rw}))
	obj := sinktest.Object(t, "a-1", 0, []byte("x\n"))
	put := s.Put(context.Background(), obj)
	srv.Put(testBucket, "k", []byte("body"), nil)
	var get error
	if rc, _, err := s.Get(context.Background(), "k"); err != nil {
		get = err
	} else {
		_, get = io.ReadAll(rc)
		rc.Close()
	}

	slow := newSinkWith(t, srv, []func(*Config){func(c *Config) { c.Timeout = schema.Duration(50 * time.Millisecond) }}, staticCreds(testAK, testSK))
	srv.Inject(osstest.Fault{Op: "PutObject", Latency: time.Second, Times: 1})
	timeout := slow.Put(context.Background(), obj)

	for name, err := range map[string]error{"put": put, "get": get, "timeout": timeout} {
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		msg := err.Error()
		if n := strings.Count(msg, "oss:"); n != 1 {
			t.Errorf("%s: %q says oss: %d times", name, msg, n)
		}
		if strings.Count(msg, "PutObject") > 1 {
			t.Errorf("%s: %q names the operation twice", name, msg)
		}
	}
	if !errors.Is(put, ErrChecksum) || !errors.Is(get, ErrChecksum) || !errors.Is(timeout, errTimeout) {
		t.Fatalf("sentinels lost: %v / %v / %v", put, get, timeout)
	}
}
