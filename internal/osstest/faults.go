package osstest

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Op values with a special meaning in Fault.Op.
const (
	AnyOp   = ""      // every operation
	WriteOp = "write" // every operation that changes the store
	ReadOp  = "read"  // every operation that does not
)

var writeOps = map[string]bool{
	"PutObject": true, "CopyObject": true, "DeleteObject": true, "DeleteMultipleObjects": true,
	"InitiateMultipartUpload": true, "UploadPart": true, "UploadPartCopy": true,
	"CompleteMultipartUpload": true, "AbortMultipartUpload": true,
}

// Fault describes a failure to inject. A request matches when its
// operation, bucket and key match; the first matching fault (in injection
// order) applies. Status, Reset, CutBody and FlipBody are exclusive ways to fail;
// Latency and Bandwidth combine with them or stand alone (a slow but
// successful request).
type Fault struct {
	// Op is an operation name as the SDK names it ("PutObject",
	// "UploadPart", ...), or AnyOp, WriteOp, ReadOp.
	Op string
	// Bucket, if set, must equal the request's bucket.
	Bucket string
	// KeyPrefix, if set, must prefix the request's object key (bucket-level
	// requests such as listings never match it).
	KeyPrefix string

	// Times is how many matching requests fail; 0 means until the fault is
	// removed or its Duration has passed.
	Times int
	// Duration, if set, ends the fault this long after Inject.
	Duration time.Duration

	// Status with Code and Message: answer with this OSS error instead of
	// serving the request (e.g. 500 InternalError, 503 ServiceUnavailable,
	// 403 AccessDenied). Code and Message default from the status.
	Status  int
	Code    string
	Message string
	// Latency delays the request before it is served (or failed).
	Latency time.Duration
	// Bandwidth, in bytes per second, is the pace at which the server
	// reads the request body (a slow or congested link): an upload of n
	// bytes takes about n/Bandwidth, so a client's timeout may end it
	// first. The body the client sent is already in the server's socket
	// buffers, so such a request may still be served: the client does not
	// know whether the object was stored. Only requests with a body are
	// affected.
	Bandwidth int64
	// Reset closes the TCP connection abruptly (RST) without answering.
	Reset bool
	// CutBody serves the request but closes the connection after half of
	// the response body (the headers announce all of it). Only responses
	// with a body are affected (GetObject, listings, ...).
	CutBody bool
	// AfterOp performs the operation first and then fails the response
	// (Status or Reset): the write is durable but the client does not know.
	AfterOp bool
	// FlipBody damages the request body on the way in: one bit of its
	// middle byte is flipped before the server reads it, as a faulty
	// proxy or NIC would. The server then checks Content-MD5 (and, unless
	// Options.NoCRC64, a CRC-64 in the request) against the damaged bytes,
	// so a client that sent one is refused (400 InvalidDigest); a client
	// that sent neither gets the damaged bytes stored. Only requests with
	// a body are affected (PutObject, UploadPart, ...).
	FlipBody bool
}

type activeFault struct {
	Fault
	id    int
	until time.Time // zero: no deadline
	left  int       // remaining times when Times > 0
}

func (f *activeFault) matches(req *request, now time.Time) bool {
	if !f.until.IsZero() && !now.Before(f.until) {
		return false
	}
	switch f.Op {
	case AnyOp:
	case WriteOp:
		if !writeOps[req.op] {
			return false
		}
	case ReadOp:
		if writeOps[req.op] {
			return false
		}
	default:
		if f.Op != req.op {
			return false
		}
	}
	if f.Bucket != "" && f.Bucket != req.bucket {
		return false
	}
	if f.KeyPrefix != "" && (req.key == "" || !strings.HasPrefix(req.key, f.KeyPrefix)) {
		return false
	}
	return true
}

// Inject adds a fault and returns its id for Remove.
func (s *Server) Inject(f Fault) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextFault++
	af := &activeFault{Fault: f, id: s.nextFault, left: f.Times}
	if f.Duration > 0 {
		af.until = time.Now().Add(f.Duration)
	}
	s.faults = append(s.faults, af)
	return af.id
}

// Remove deletes a fault; removing an unknown or spent fault is a no-op.
func (s *Server) Remove(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.id == id {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
			return
		}
	}
}

// ClearFaults removes every fault, including outages and throttling.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

// Outage makes every request fail with 503 ServiceUnavailable for d from
// now (0: until removed). It returns the fault id.
func (s *Server) Outage(d time.Duration) int {
	return s.Inject(Fault{Duration: d, Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable",
		Message: "Service is temporarily unavailable, please retry later."})
}

// Blackout makes every request fail with a connection reset for d from
// now (0: until removed): the endpoint is reachable but nothing answers.
func (s *Server) Blackout(d time.Duration) int {
	return s.Inject(Fault{Duration: d, Reset: true})
}

// Throttle answers the next n requests of op (n = 0: all of them until
// removed) with the throttling error OSS sends when a QPS limit is
// exceeded: 503 SlowDown, "Please reduce your request rate.".
func (s *Server) Throttle(op string, n int) int {
	return s.Inject(Fault{Op: op, Times: n, Status: http.StatusServiceUnavailable, Code: "SlowDown",
		Message: "Please reduce your request rate."})
}

// takeFault returns the fault for a request, consuming one of its Times.
func (s *Server) takeFault(req *request) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	kept := s.faults[:0]
	var hit *Fault
	for _, f := range s.faults {
		if !f.until.IsZero() && !now.Before(f.until) {
			continue // expired
		}
		if hit == nil && f.matches(req, now) {
			c := f.Fault
			hit = &c
			if f.Times > 0 {
				f.left--
				if f.left == 0 {
					continue // spent
				}
			}
		}
		kept = append(kept, f)
	}
	for i := len(kept); i < len(s.faults); i++ {
		s.faults[i] = nil
	}
	s.faults = kept
	return hit
}

func (s *Server) serveWithFaults(w *statusRecorder, r *http.Request, req *request) {
	f := s.takeFault(req)
	if f == nil {
		s.serve(w, r, req)
		return
	}
	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if f.Bandwidth > 0 && r.ContentLength != 0 && r.Body != nil {
		r.Body = &slowReader{r: r.Body, rate: f.Bandwidth, ctx: r.Context().Done(), start: time.Now()}
	}
	switch {
	case f.FlipBody:
		if r.ContentLength > 0 {
			r.Body = &flipReader{r: r.Body, at: r.ContentLength / 2}
		}
		s.serve(w, r, req)
	case f.CutBody:
		cw := &cutWriter{statusRecorder: w}
		s.serve(cw, r, req)
		if cw.cut {
			resetConn(w, false)
		}
	case f.Reset || f.Status != 0:
		if f.AfterOp {
			s.serve(&discardWriter{header: http.Header{}}, r, req)
		}
		if f.Reset {
			resetConn(w, true)
			return
		}
		s.writeError(w, r, faultError(f))
	default:
		s.serve(w, r, req)
	}
}

func faultError(f *Fault) *ossError {
	e := &ossError{Status: f.Status, Code: f.Code, Message: f.Message}
	if e.Code == "" {
		switch f.Status {
		case 500:
			e.Code = "InternalError"
		case 503:
			e.Code = "ServiceUnavailable"
		case 403:
			e.Code = "AccessDenied"
		case 404:
			e.Code = "NoSuchKey"
		default:
			e.Code = strings.ReplaceAll(http.StatusText(f.Status), " ", "")
		}
	}
	if e.Message == "" {
		e.Message = "injected by osstest: " + http.StatusText(f.Status)
	}
	return e
}

// resetConn takes over the connection and closes it: with rst, abruptly
// (SO_LINGER 0 sends a TCP RST), else after flushing what was written.
func resetConn(w http.ResponseWriter, rst bool) {
	rc := http.NewResponseController(w)
	if !rst {
		_ = rc.Flush()
	}
	conn, _, err := rc.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok && rst {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// cutWriter passes the response through until half of the announced
// Content-Length is written, then refuses further writes.
type cutWriter struct {
	*statusRecorder
	limit   int64
	written int64
	cut     bool
	started bool
}

func (w *cutWriter) WriteHeader(code int) {
	if !w.started {
		w.started = true
		n, err := strconv.ParseInt(w.Header().Get("Content-Length"), 10, 64)
		if err != nil || n <= 0 {
			w.limit = -1
		} else {
			w.limit = n / 2
		}
	}
	w.statusRecorder.WriteHeader(code)
}

func (w *cutWriter) Write(p []byte) (int, error) {
	if !w.started {
		w.WriteHeader(http.StatusOK)
	}
	if w.cut {
		return 0, net.ErrClosed
	}
	if w.limit < 0 || w.written+int64(len(p)) <= w.limit {
		n, err := w.statusRecorder.Write(p)
		w.written += int64(n)
		return n, err
	}
	n, _ := w.statusRecorder.Write(p[:w.limit-w.written])
	w.written += int64(n)
	w.cut = true
	return n, net.ErrClosed
}

func (w *cutWriter) Unwrap() http.ResponseWriter { return w.statusRecorder }

// flipReader flips the lowest bit of the byte at offset at.
type flipReader struct {
	r   io.ReadCloser
	at  int64
	off int64
}

func (f *flipReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if i := f.at - f.off; i >= 0 && i < int64(n) {
		p[i] ^= 1
	}
	f.off += int64(n)
	return n, err
}

func (f *flipReader) Close() error { return f.r.Close() }

// slowReader passes a body through at rate bytes per second.
type slowReader struct {
	r     io.ReadCloser
	rate  int64
	ctx   <-chan struct{}
	start time.Time
	n     int64
}

func (s *slowReader) Read(p []byte) (int, error) {
	if len(p) > 4096 { // small steps: the pace stays even
		p = p[:4096]
	}
	n, err := s.r.Read(p)
	s.n += int64(n)
	if wait := time.Until(s.start.Add(time.Duration(s.n * int64(time.Second) / s.rate))); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.ctx:
			t.Stop()
			return n, errors.New("osstest: request cancelled during a Bandwidth fault")
		}
	}
	return n, err
}

func (s *slowReader) Close() error { return s.r.Close() }

// discardWriter swallows a response (Fault.AfterOp).
type discardWriter struct{ header http.Header }

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}
