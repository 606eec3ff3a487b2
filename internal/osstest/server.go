// Package osstest is an Aliyun OSS imitation for tests and benchmarks.
//
// A Server speaks the OSS REST protocol over real HTTP on 127.0.0.1, so
// that the official SDK (github.com/aliyun/alibabacloud-oss-go-sdk-v2)
// talks to it exactly as it talks to Aliyun: V1 and V4 signatures (header
// and presigned URL) are verified against the configured keys, error
// responses carry the codes, statuses and XML of OSS, every object has the
// CRC64 the SDK checks, and listings page like OSS. Objects live in memory,
// or in a temporary directory for big artifacts (Options.DiskDir).
//
// Supported operations: PutObject, GetObject (Range, conditional headers),
// HeadObject, GetObjectMeta, DeleteObject, DeleteMultipleObjects,
// CopyObject, ListObjects (v1 and v2), ListBuckets, GetBucketInfo,
// GetBucketLocation, InitiateMultipartUpload, UploadPart,
// CompleteMultipartUpload, AbortMultipartUpload, ListParts and
// ListMultipartUploads. Anything else gets 501 NotImplemented.
//
// Tests inject failures with Inject (a Fault: error status, latency,
// connection reset, truncated body, lost response of a durable write, a
// request body damaged on the way in; for some operations or keys, a
// number of times or a while), Outage (503s),
// Blackout (resets) and Throttle (503 SlowDown); shift the server clock
// with SetClockOffset; and inspect or seed the store with Objects, Get,
// Put, Delete, Uploads and Count. Options.NoCRC64 imitates the
// OSS-protocol servers that send no x-oss-hash-crc64ecma.
//
// The bucket comes from the first path segment (path style, which the SDK
// uses for an IP endpoint) or from the Host header when it is
// BUCKET.endpoint (virtual-hosted style; see HTTPClient).
package osstest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Server. The zero value is usable: keys "test-ak" /
// "test-sk", region cn-hangzhou, no bucket, bodies in memory.
type Options struct {
	// AccessKeyID and AccessKeySecret are the only valid credentials.
	AccessKeyID, AccessKeySecret string
	// Buckets are created empty at start.
	Buckets []string
	// Region is the region of every bucket, as in the V4 credential scope
	// (cn-hangzhou); the location is "oss-" + Region.
	Region string
	// Addr is the listen address; default 127.0.0.1:0 (a free port).
	Addr string
	// DiskDir, if set, keeps object and part bodies in temporary files
	// under it instead of memory; they are deleted on Close.
	DiskDir string
	// Logf, if set, receives one line per request.
	Logf func(format string, args ...any)
	// NoCRC64 makes the server behave like OSS-protocol servers that do
	// not compute CRC-64 (Aliyun's oss-emulator, some gateways and
	// OSS-compatible stores): no response carries x-oss-hash-crc64ecma
	// (PutObject, UploadPart, CompleteMultipartUpload, CopyObject,
	// GetObject, HeadObject, GetObjectMeta), ListParts has no
	// HashCrc64ecma, and a CRC-64 in a request is not checked. Content-MD5
	// is still checked and ETags are still MD5s.
	NoCRC64 bool
}

// Server is a running OSS imitation. Its methods are safe for concurrent use.
type Server struct {
	opts     Options
	ln       net.Listener
	srv      *http.Server
	endpoint string
	diskDir  string // per-server directory inside Options.DiskDir
	closeOne sync.Once
	inflight sync.WaitGroup // handlers running; Close waits for them
	active   atomic.Int64   // handlers running, for Idle

	mu          sync.Mutex
	buckets     map[string]*bucket
	counts      map[string]int
	faults      []*activeFault
	nextFault   int
	clockOffset time.Duration
	closed      bool
}

// New starts a server; it panics if it cannot listen, as httptest does.
// Close it when done.
func New(opts Options) *Server {
	s, err := Start(opts)
	if err != nil {
		panic(fmt.Sprintf("osstest: %v", err))
	}
	return s
}

// Start is New returning an error instead of panicking.
func Start(opts Options) (*Server, error) {
	if opts.AccessKeyID == "" {
		opts.AccessKeyID = "test-ak"
	}
	if opts.AccessKeySecret == "" {
		opts.AccessKeySecret = "test-sk"
	}
	if opts.Region == "" {
		opts.Region = "cn-hangzhou"
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	s := &Server{
		opts:    opts,
		buckets: map[string]*bucket{},
		counts:  map[string]int{},
	}
	if opts.DiskDir != "" {
		dir, err := os.MkdirTemp(opts.DiskDir, "osstest-*")
		if err != nil {
			return nil, fmt.Errorf("disk dir: %w", err)
		}
		s.diskDir = dir
	}
	for _, b := range opts.Buckets {
		s.createBucketLocked(b)
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		if s.diskDir != "" {
			_ = os.RemoveAll(s.diskDir)
		}
		return nil, fmt.Errorf("listen: %w", err)
	}
	s.ln = ln
	s.endpoint = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Endpoint is the base URL, "http://127.0.0.1:PORT". Because it is an IP,
// the SDK uses path-style URLs with it.
func (s *Server) Endpoint() string { return s.endpoint }

// Addr is the listening address, "127.0.0.1:PORT".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Region is the configured region (cn-hangzhou by default).
func (s *Server) Region() string { return s.opts.Region }

// Close stops the server, drops open connections, waits for the handlers
// still running and deletes the disk directory. It is safe to call twice.
func (s *Server) Close() {
	s.closeOne.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		_ = s.srv.Close()
		s.inflight.Wait()
		s.mu.Lock()
		for _, b := range s.buckets {
			for _, o := range b.objects {
				o.release()
			}
			for _, u := range b.uploads {
				u.release()
			}
		}
		s.buckets = map[string]*bucket{}
		s.mu.Unlock()
		if s.diskDir != "" {
			_ = os.RemoveAll(s.diskDir)
		}
	})
}

// HTTPClient returns a client that sends every request to this server
// whatever the host name, so a test can use a real-looking endpoint such
// as "http://oss-cn-hangzhou-internal.aliyuncs.com" (virtual-hosted style,
// BUCKET.oss-cn-hangzhou-internal.aliyuncs.com) with the SDK's
// WithHttpClient.
func (s *Server) HTTPClient() *http.Client {
	addr := s.Addr()
	var d net.Dialer
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost: 16,
	}
	return &http.Client{Transport: tr}
}

// SetClockOffset shifts the server clock (used for signature time checks,
// presigned URL expiry, Date and Last-Modified) by d from the real time.
func (s *Server) SetClockOffset(d time.Duration) {
	s.mu.Lock()
	s.clockOffset = d
	s.mu.Unlock()
}

func (s *Server) now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nowLocked()
}

func (s *Server) nowLocked() time.Time { return time.Now().Add(s.clockOffset).UTC() }

// Idle reports whether no request is being served: after a client was
// killed, a test polls it before counting what the server stored, since a
// request the client sent before it died may still complete.
func (s *Server) Idle() bool { return s.active.Load() == 0 }

// Count reports how many requests were received for an operation name as
// the SDK names them ("PutObject", "UploadPart", ...), faulted or not;
// Count("") is the total.
func (s *Server) Count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if op == "" {
		n := 0
		for _, c := range s.counts {
			n += c
		}
		return n
	}
	return s.counts[op]
}

// Counts returns a copy of all counters.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		m[k] = v
	}
	return m
}

// ResetCounts sets all counters to zero.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	s.counts = map[string]int{}
	s.mu.Unlock()
}

// Buckets lists the bucket names.
func (s *Server) Buckets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n := range s.buckets {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// request is what the router learned about one request.
type request struct {
	op     string
	bucket string // "" for service-level requests
	key    string // "" for bucket-level requests
	id     string
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	req := &request{id: newID(12)}
	h := w.Header()
	h.Set("Server", "AliyunOSS")
	h.Set("Date", now.Format(http.TimeFormat))
	h.Set("x-oss-request-id", req.id)
	h.Set("x-oss-server-time", "1")

	req.bucket, req.key = s.resolve(r)
	req.op = operation(r, req)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		resetConn(w, true)
		return
	}
	s.inflight.Add(1)
	defer s.inflight.Done()
	s.active.Add(1)
	defer s.active.Add(-1)
	s.counts[req.op]++
	s.mu.Unlock()

	if s.opts.NoCRC64 {
		w = &noCRCWriter{ResponseWriter: w}
	}
	rec := &statusRecorder{ResponseWriter: w}
	defer func() {
		if s.opts.Logf != nil {
			s.opts.Logf("osstest: %s %s %s bucket=%q key=%q -> %d", req.id, r.Method, req.op, req.bucket, req.key, rec.status)
		}
	}()

	s.serveWithFaults(rec, r, req)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, req *request) {
	if err := s.checkBucket(req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.checkEndpoint(r, req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.authenticate(r, req); err != nil {
		s.writeError(w, r, err)
		return
	}
	handler := handlers[req.op]
	if handler == nil {
		s.writeError(w, r, errNotImplemented())
		return
	}
	if err := handler(s, w, r, req); err != nil {
		s.writeError(w, r, err)
	}
}

func (s *Server) checkBucket(req *request) *ossError {
	if req.bucket == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets[req.bucket] == nil {
		return errNoSuchBucket(req.bucket)
	}
	return nil
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusRecorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
