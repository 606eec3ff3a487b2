package oss

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"

	"github.com/logship/logship/internal/osstest"
	"github.com/logship/logship/internal/schema"
	"github.com/logship/logship/internal/sinks"
	"github.com/logship/logship/internal/sinks/sinktest"
)

const (
	testAK     = "LTAI5tTestKeyId0001"
	testSK     = "s3cr3t-Sk-never-print-me"
	testBucket = "logs-bucket"
)

func newServer(t testing.TB, mod ...func(*osstest.Options)) *osstest.Server {
	t.Helper()
	opts := osstest.Options{AccessKeyID: testAK, AccessKeySecret: testSK, Buckets: []string{testBucket}}
	for _, m := range mod {
		m(&opts)
	}
	srv := osstest.New(opts)
	t.Cleanup(srv.Close)
	return srv
}

func sinkConfig(srv *osstest.Server) Config {
	return Config{Bucket: testBucket, Region: "cn-hangzhou", Endpoint: srv.Endpoint(),
		Prefix: "logs/", Concurrency: 4, PartSize: 8 << 20, Timeout: schema.Duration(10 * time.Second)}
}

func staticCreds(id, secret string) Option {
	return WithCredentials("test", credentials.NewStaticCredentialsProvider(id, secret, ""))
}

func newTestSink(t testing.TB, srv *osstest.Server, mod ...func(*Config)) *Sink {
	t.Helper()
	return newSinkWith(t, srv, mod, staticCreds(testAK, testSK))
}

func newSinkWith(t testing.TB, srv *osstest.Server, mod []func(*Config), opts ...Option) *Sink {
	t.Helper()
	c := sinkConfig(srv)
	for _, m := range mod {
		m(&c)
	}
	s, err := New(context.Background(), c, slog.New(slog.DiscardHandler), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestOSSConformance(t *testing.T) {
	srvs := map[sinks.Sink]*osstest.Server{}
	var mu sync.Mutex
	sinktest.Run(t, sinktest.Harness{
		New: func(t *testing.T) sinks.Sink {
			srv := newServer(t)
			s := newTestSink(t, srv)
			mu.Lock()
			srvs[s] = srv
			mu.Unlock()
			return s
		},
		Break: func(t *testing.T, s sinks.Sink, key string) func() {
			mu.Lock()
			srv := srvs[s]
			mu.Unlock()
			id := srv.Inject(osstest.Fault{Op: "PutObject", KeyPrefix: key, Status: 500})
			return func() { srv.Remove(id) }
		},
	})
}

// What a browser or another tool sees: the type of the file, a download
// under its own name, no transfer encoding, the header in x-oss-meta-*,
// the storage class and the encryption asked for.
func TestOSSPutObjectHeaders(t *testing.T) {
	srv := newServer(t)
	s := newTestSink(t, srv, func(c *Config) { c.StorageClass = "IA"; c.SSE = "KMS"; c.SSEKeyID = "key-1" })
	obj := sinktest.Object(t, "a-1", 0, []byte("one\ntwo\n"))
	if err := s.Put(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	res, err := s.client.HeadObject(context.Background(), &sdk.HeadObjectRequest{Bucket: sdk.Ptr(testBucket), Key: &obj.Key})
	if err != nil {
		t.Fatal(err)
	}
	h := res.Headers
	want := map[string]string{
		"Content-Type":                        "application/zstd",
		"Content-Disposition":                 "attachment; filename=" + path.Base(obj.Key),
		"Content-Encoding":                    "",
		"x-oss-storage-class":                 "IA",
		"x-oss-server-side-encryption":        "KMS",
		"x-oss-server-side-encryption-key-id": "key-1",
		"x-oss-meta-logship-stream":           "a-1",
		"x-oss-meta-logship-checksum":         obj.Header.Checksum,
		"x-oss-meta-logship-end":              "8",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	// Get returns the metadata without the prefix.
	rc, oi, err := s.Get(context.Background(), obj.Key)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	for k, v := range obj.Header.Meta() {
		if oi.Meta[k] != v {
			t.Errorf("Get meta %s = %q, want %q", k, oi.Meta[k], v)
		}
	}
}

func TestOSSResolveEndpoint(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name             string
		c                Config
		url, region      string
		path, internal   bool
		wantErrSubstring string
	}{
		{name: "internal by default", c: Config{Bucket: "b", Region: "cn-hangzhou"}, url: "https://oss-cn-hangzhou-internal.aliyuncs.com", region: "cn-hangzhou", internal: true},
		{name: "internal true", c: Config{Bucket: "b", Region: "cn-shanghai", Internal: &yes}, url: "https://oss-cn-shanghai-internal.aliyuncs.com", region: "cn-shanghai", internal: true},
		{name: "public", c: Config{Bucket: "b", Region: "cn-shanghai", Internal: &no}, url: "https://oss-cn-shanghai.aliyuncs.com", region: "cn-shanghai"},
		{name: "endpoint without scheme", c: Config{Bucket: "b", Endpoint: "oss-cn-beijing.aliyuncs.com"}, url: "https://oss-cn-beijing.aliyuncs.com", region: "cn-beijing"},
		{name: "endpoint internal, region derived", c: Config{Bucket: "b", Endpoint: "https://oss-cn-beijing-internal.aliyuncs.com/"}, url: "https://oss-cn-beijing-internal.aliyuncs.com", region: "cn-beijing", internal: true},
		{name: "bucket domain pasted", c: Config{Bucket: "my-logs", Endpoint: "my-logs.oss-cn-beijing.aliyuncs.com"}, url: "https://oss-cn-beijing.aliyuncs.com", region: "cn-beijing"},
		{name: "ip is path style", c: Config{Bucket: "b", Region: "cn-hangzhou", Endpoint: "http://127.0.0.1:9000"}, url: "http://127.0.0.1:9000", region: "cn-hangzhou", path: true},
		{name: "localhost is path style", c: Config{Bucket: "b", Region: "cn-hangzhou", Endpoint: "http://localhost:9000"}, url: "http://localhost:9000", region: "cn-hangzhou", path: true},
		{name: "ipv6", c: Config{Bucket: "b", Region: "cn-hangzhou", Endpoint: "http://[::1]:9000"}, url: "http://[::1]:9000", region: "cn-hangzhou", path: true},
		{name: "region wins over endpoint", c: Config{Bucket: "b", Region: "cn-hangzhou", Endpoint: "oss-cn-beijing.aliyuncs.com"}, url: "https://oss-cn-beijing.aliyuncs.com", region: "cn-hangzhou"},
		{name: "no region for a custom endpoint", c: Config{Bucket: "b", Endpoint: "http://10.0.0.1"}, wantErrSubstring: "sink.region is required"},
		{name: "nothing", c: Config{Bucket: "b"}, wantErrSubstring: "sink.region is required"},
		{name: "bad scheme", c: Config{Bucket: "b", Region: "cn-hangzhou", Endpoint: "ftp://x"}, wantErrSubstring: "http or https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := resolveEndpoint(tc.c)
			if tc.wantErrSubstring != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrSubstring) {
					t.Fatalf("err = %v, want %q", err, tc.wantErrSubstring)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.url.String() != tc.url || e.region != tc.region || e.pathStyle != tc.path || e.internal != tc.internal {
				t.Fatalf("got %s region %s path %v internal %v", e.url, e.region, e.pathStyle, e.internal)
			}
		})
	}
}

// hostRecorder records the Host of every request.
type hostRecorder struct {
	rt    http.RoundTripper
	mu    sync.Mutex
	hosts []string
}

func (h *hostRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.hosts = append(h.hosts, r.Host+" "+r.URL.Path)
	h.mu.Unlock()
	return h.rt.RoundTrip(r)
}

// Against Aliyun host names the sink uses virtual-hosted addressing
// (OSS refuses path style with SecondLevelDomainForbidden).
func TestOSSVirtualHostedStyle(t *testing.T) {
	srv := newServer(t)
	rec := &hostRecorder{rt: srv.HTTPClient().Transport}
	s := newSinkWith(t, srv, []func(*Config){func(c *Config) { c.Endpoint = "http://oss-cn-hangzhou-internal.aliyuncs.com" }},
		staticCreds(testAK, testSK), WithHTTPClient(&http.Client{Transport: rec}))
	obj := sinktest.Object(t, "a-1", 0, []byte("x\n"))
	if err := s.Put(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	want := testBucket + ".oss-cn-hangzhou-internal.aliyuncs.com /" + obj.Key
	if len(rec.hosts) != 1 || rec.hosts[0] != want {
		t.Fatalf("requests %q, want %q", rec.hosts, want)
	}
	if _, ok := func() ([]byte, bool) { b, _, ok := srv.Get(testBucket, obj.Key); return b, ok }(); !ok {
		t.Fatal("object not stored")
	}
}

func TestOSSListPagesAndPrefixes(t *testing.T) {
	srv := newServer(t)
	s := newTestSink(t, srv)
	var want []string
	for i := 0; i < 2345; i++ {
		k := fmt.Sprintf("logs/app=a/dt=2026-11-%02d/x-%05d", 1+i%3, i)
		srv.Put(testBucket, k, []byte("x"), nil)
		want = append(want, k)
	}
	srv.Put(testBucket, "other/y", []byte("y"), nil)
	srv.ResetCounts()
	var got []string
	if err := s.List(context.Background(), "logs/", func(oi sinks.ObjectInfo) error {
		if oi.Size != 1 || oi.Modified.IsZero() {
			t.Fatalf("info %+v", oi)
		}
		got = append(got, oi.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("listed %d, want %d", len(got), len(want))
	}
	for i := 1; i < len(got); i++ {
		if got[i-1] >= got[i] {
			t.Fatalf("not in key order at %d", i)
		}
	}
	if n := srv.Count("ListObjectsV2"); n != 3 {
		t.Errorf("%d list requests, want 3 pages", n)
	}
	stop := errors.New("stop")
	n := 0
	if err := s.List(context.Background(), "", func(sinks.ObjectInfo) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("fn error not returned: %v after %d", err, n)
	}

	top, err := s.ListPrefixes(context.Background(), "")
	if err != nil || strings.Join(top, ",") != "logs/,other/" {
		t.Fatalf("top: %v %v", top, err)
	}
	days, err := s.ListPrefixes(context.Background(), "logs/app=a/")
	if err != nil || len(days) != 3 || days[0] != "logs/app=a/dt=2026-11-01/" {
		t.Fatalf("days: %v %v", days, err)
	}
	if _, err := s.ListPrefixes(context.Background(), "logs"); err == nil {
		t.Fatal("prefix without / accepted")
	}
}

// rewriter changes responses on their way back, to simulate a server or
// a network that damages data.
type rewriter struct {
	rt http.RoundTripper
	fn func(*http.Request, *http.Response)
}

func (w rewriter) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := w.rt.RoundTrip(r)
	if err == nil {
		w.fn(r, res)
	}
	return res, err
}

func TestOSSPutVerifiesCRC64(t *testing.T) {
	srv := newServer(t)
	var mode string
	rw := rewriter{rt: srv.HTTPClient().Transport, fn: func(r *http.Request, res *http.Response) {
		if r.Method != http.MethodPut {
			return
		}
		switch mode {
		case "wrong":
			res.Header.Set("x-oss-hash-crc64ecma", "12345")
		case "missing":
			res.Header.Del("x-oss-hash-crc64ecma")
		}
	}}
	strict := []func(*Config){func(c *Config) { c.RequireCRC64 = sdk.Ptr(true) }}
	s := newSinkWith(t, srv, strict, staticCreds(testAK, testSK), WithHTTPClient(&http.Client{Transport: rw}))
	obj := sinktest.Object(t, "a-1", 0, []byte("x\n"))

	mode = "wrong"
	err := s.Put(context.Background(), obj)
	if !errors.Is(err, ErrChecksum) || sinks.IsPermanent(err) {
		t.Fatalf("wrong CRC: %v (permanent %v), want a retryable ErrChecksum", err, sinks.IsPermanent(err))
	}
	mode = "missing"
	err = s.Put(context.Background(), obj)
	if err == nil || !sinks.IsPermanent(err) || !strings.Contains(err.Error(), "sink.require_crc64 is true") {
		t.Fatalf("missing CRC with require_crc64: %v, want a permanent error naming the switch", err)
	}
	mode = ""
	if err := s.Put(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

// A body damaged on the way never counts as shipped. By default OSS
// stores it, the CRC-64 it reports differs, Put fails retryably and the
// retry overwrites the same key with the right bytes. With
// sink.content_md5 OSS refuses the body (InvalidDigest, retryable) and
// stores nothing. Until a first answer shows that the server returns a
// CRC-64, uploads carry Content-MD5 either way.
func TestOSSPutDamagedBody(t *testing.T) {
	for _, withMD5 := range []bool{false, true} {
		t.Run(fmt.Sprintf("content_md5=%v", withMD5), func(t *testing.T) {
			srv := newServer(t)
			var damage atomic.Bool
			damage.Store(true)
			var sawMD5 atomic.Bool
			rw := rewriter{rt: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if r.Method == http.MethodPut {
					if r.Header.Get("Content-MD5") != "" {
						sawMD5.Store(true)
					}
					b, _ := io.ReadAll(r.Body)
					if damage.Load() {
						b[0] ^= 1 // damaged on the way
					}
					r.Body = io.NopCloser(bytes.NewReader(b))
				}
				return srv.HTTPClient().Transport.RoundTrip(r)
			}), fn: func(*http.Request, *http.Response) {}}
			mod := []func(*Config){func(c *Config) { c.ContentMD5 = &withMD5 }}
			s := newSinkWith(t, srv, mod, staticCreds(testAK, testSK), WithHTTPClient(&http.Client{Transport: rw}))
			obj := sinktest.Object(t, "a-1", 0, []byte("x\n"))
			damage.Store(false)
			if err := s.Put(context.Background(), sinktest.Object(t, "a-0", 0, []byte("first\n"))); err != nil {
				t.Fatal(err)
			}
			if !sawMD5.Load() {
				t.Fatal("the first upload, before any CRC-64 was seen, went without Content-MD5")
			}
			sawMD5.Store(false)
			damage.Store(true)
			err := s.Put(context.Background(), obj)
			if err == nil || sinks.IsPermanent(err) {
				t.Fatalf("damaged body: %v, want a retryable error", err)
			}
			if sawMD5.Load() != withMD5 {
				t.Fatalf("Content-MD5 sent: %v, want %v", sawMD5.Load(), withMD5)
			}
			var e *Error
			if withMD5 {
				if !errors.As(err, &e) || e.Code != "InvalidDigest" {
					t.Fatalf("damaged body: %v, want InvalidDigest", err)
				}
				if _, _, ok := srv.Get(testBucket, obj.Key); ok {
					t.Fatal("a damaged body was stored")
				}
			} else if !strings.Contains(err.Error(), "CRC") {
				t.Fatalf("damaged body: %v, want a CRC-64 mismatch", err)
			}
			damage.Store(false) // the retry
			if err := s.Put(context.Background(), obj); err != nil {
				t.Fatal(err)
			}
			got, _, ok := srv.Get(testBucket, obj.Key)
			if !ok || !bytes.Equal(got, obj.Body) {
				t.Fatal("the retry did not store the right bytes")
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestOSSGetVerifiesCRC64AndLength(t *testing.T) {
	srv := newServer(t)
	var mode string
	rw := rewriter{rt: srv.HTTPClient().Transport, fn: func(r *http.Request, res *http.Response) {
		if r.Method == http.MethodGet && mode == "wrong" {
			res.Header.Set("x-oss-hash-crc64ecma", "12345")
		}
	}}
	s := newSinkWith(t, srv, nil, staticCreds(testAK, testSK), WithHTTPClient(&http.Client{Transport: rw}))
	body := bytes.Repeat([]byte("0123456789abcdef"), 64<<10)
	srv.Put(testBucket, "k", body, nil)

	read := func() ([]byte, error) {
		rc, oi, err := s.Get(context.Background(), "k")
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		if oi.Size != int64(len(body)) {
			t.Fatalf("size %d", oi.Size)
		}
		return io.ReadAll(rc)
	}
	if b, err := read(); err != nil || !bytes.Equal(b, body) {
		t.Fatalf("clean read: %v", err)
	}
	mode = "wrong"
	if _, err := read(); !errors.Is(err, ErrChecksum) {
		t.Fatalf("wrong CRC: %v, want ErrChecksum", err)
	}
	mode = ""
	srv.Inject(osstest.Fault{Op: "GetObject", Times: 1, CutBody: true})
	if _, err := read(); err == nil {
		t.Fatal("a cut body read without error")
	}
	if _, _, err := s.Get(context.Background(), "nope"); !errors.Is(err, sinks.ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
}

// A request that makes no progress for sink.timeout fails, retryably.
func TestOSSRequestTimeout(t *testing.T) {
	srv := newServer(t)
	s := newTestSink(t, srv, func(c *Config) { c.Timeout = schema.Duration(200 * time.Millisecond) })
	srv.Inject(osstest.Fault{Op: "PutObject", Times: 1, Latency: time.Second})
	start := time.Now()
	err := s.Put(context.Background(), sinktest.Object(t, "a-1", 0, []byte("x\n")))
	if err == nil || sinks.IsPermanent(err) || !strings.Contains(err.Error(), "sink.timeout") {
		t.Fatalf("slow server: %v", err)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Fatalf("took %v", d)
	}
}

// A body larger than the multipart threshold goes up in parts, verified.
func TestOSSPutLargeInParts(t *testing.T) {
	srv := newServer(t)
	s := newTestSink(t, srv)
	s.partSize, s.mpAt = 128<<10, 256<<10
	body := bytes.Repeat([]byte("large artifact line\n"), 50000) // ~1 MB
	obj := &sinks.Object{Key: "logs/big.log", Body: body, ContentType: "text/plain; charset=utf-8"}
	if err := s.Put(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	if n := srv.Count("UploadPart"); n != 8 {
		t.Errorf("%d parts, want 8", n)
	}
	got, _, _ := srv.Get(testBucket, obj.Key)
	if !bytes.Equal(got, body) {
		t.Fatal("stored body differs")
	}
	// A failing part aborts the upload: nothing is left behind.
	srv.Inject(osstest.Fault{Op: "UploadPart", Times: 1, Status: 500})
	if err := s.Put(context.Background(), obj); err == nil {
		t.Fatal("Put succeeded with a failing part")
	}
	if ups := srv.Uploads(testBucket); len(ups) != 0 {
		t.Fatalf("uploads left behind: %+v", ups)
	}
}

// Stat (HeadObject) reports refusals like every other call: a HEAD has
// no error document, the code comes from the x-oss-err header.
func TestOSSStatErrors(t *testing.T) {
	srv := newServer(t)
	s := newTestSink(t, srv)
	srv.Put(testBucket, "k", []byte("body"), map[string]string{"logship-v": "1"})
	oi, err := s.Stat(context.Background(), "k")
	if err != nil || oi.Size != 4 || oi.Meta["logship-v"] != "1" {
		t.Fatalf("Stat: %+v, %v", oi, err)
	}
	if _, err := s.Stat(context.Background(), "missing"); !errors.Is(err, sinks.ErrNotFound) {
		t.Fatalf("missing: %v, want ErrNotFound", err)
	}
	// Something in the way that drops x-oss-err: a bare 404 still means
	// the object is missing.
	bare := rewriter{rt: srv.HTTPClient().Transport, fn: func(r *http.Request, res *http.Response) {
		if r.Method == http.MethodHead {
			res.Header.Del("x-oss-err")
			res.Header.Del("x-oss-ec")
		}
	}}
	sb := newSinkWith(t, srv, nil, staticCreds(testAK, testSK), WithHTTPClient(&http.Client{Transport: bare}))
	if _, err := sb.Stat(context.Background(), "missing"); !errors.Is(err, sinks.ErrNotFound) {
		t.Fatalf("missing, no x-oss-err: %v, want ErrNotFound", err)
	}
	srv.Inject(osstest.Fault{Op: "HeadObject", Times: 1, Status: 403, Code: "AccessDenied"})
	_, err = s.Stat(context.Background(), "k")
	var e *Error
	if !errors.As(err, &e) || e.Code != "AccessDenied" || !sinks.IsPermanent(err) || !strings.Contains(err.Error(), "oss:GetObject") {
		t.Fatalf("denied: %v, want a permanent AccessDenied naming oss:GetObject", err)
	}
	srv.Inject(osstest.Fault{Op: "HeadObject", Times: 1, Status: 503, Code: "ServiceUnavailable"})
	if _, err = s.Stat(context.Background(), "k"); err == nil || sinks.IsPermanent(err) {
		t.Fatalf("503: %v, want a retryable error", err)
	}
}
