package oss

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/logship/logship/internal/osstest"
	"github.com/logship/logship/internal/sinks"
	"github.com/logship/logship/internal/sinks/sinktest"
)

func partBody(n, seed int) []byte {
	r := rand.New(rand.NewPCG(uint64(seed), 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return b
}

// A process that dies mid-upload leaves parts behind; the next one finds
// the upload, gets the stored parts, sends only the rest (counted in
// osstest), and the completed object is verified and byte-exact.
func TestOSSMultipartResume(t *testing.T) {
	srv := newServer(t)
	ctx := context.Background()
	h := sinktest.Object(t, "crash-1", 0, []byte("x\n")).Header
	key := "logs/app=app/source=crash/java_pid1.hprof.zst"
	bodies := [][]byte{partBody(sinks.MinPartSize, 1), partBody(sinks.MinPartSize+7, 2), partBody(1234, 3)}

	s1 := newTestSink(t, srv)
	up, parts, err := s1.ResumeUpload(ctx, key, h, "application/zstd")
	if err != nil || len(parts) != 0 {
		t.Fatalf("first ResumeUpload: %v %v", parts, err)
	}
	p1, err := up.PutPart(ctx, 1, bodies[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.PutPart(ctx, 2, bodies[1]); err != nil {
		t.Fatal(err)
	}
	s1.Close() // the process dies here

	srv.ResetCounts()
	s2 := newTestSink(t, srv)
	up2, parts, err := s2.ResumeUpload(ctx, key, h, "application/zstd")
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 || parts[0] != p1 || parts[1].Number != 2 || parts[1].Size != int64(len(bodies[1])) {
		t.Fatalf("stored parts %+v", parts)
	}
	p3, err := up2.PutPart(ctx, 3, bodies[2])
	if err != nil {
		t.Fatal(err)
	}
	if err := up2.Complete(ctx, append(parts, p3)); err != nil {
		t.Fatal(err)
	}
	if n := srv.Count("UploadPart"); n != 1 {
		t.Fatalf("%d UploadPart after the restart, want 1", n)
	}
	if n := srv.Count("InitiateMultipartUpload"); n != 0 {
		t.Fatalf("a new upload was started")
	}
	got, meta, ok := srv.Get(testBucket, key)
	if !ok || !bytes.Equal(got, bytes.Join(bodies, nil)) {
		t.Fatal("assembled object differs")
	}
	if meta["logship-stream"] != "crash-1" {
		t.Fatalf("meta %v", meta)
	}
	for _, o := range srv.Objects(testBucket) {
		if o.Key == key && o.ContentType != "application/zstd" {
			t.Fatalf("content type %q", o.ContentType)
		}
	}
	if ups := srv.Uploads(testBucket); len(ups) != 0 {
		t.Fatalf("uploads left: %+v", ups)
	}
}

// Complete whose answer is lost: the retry finds the upload gone and the
// object in place with the right CRC64, and succeeds.
func TestOSSMultipartCompleteLostAnswer(t *testing.T) {
	srv := newServer(t)
	ctx := context.Background()
	s := newTestSink(t, srv)
	up, _, err := s.ResumeUpload(ctx, "logs/a.bin", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	var parts []sinks.Part
	for i, b := range [][]byte{partBody(sinks.MinPartSize, 4), partBody(10, 5)} {
		p, err := up.PutPart(ctx, i+1, b)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
	}
	srv.Inject(osstest.Fault{Op: "CompleteMultipartUpload", Times: 1, Reset: true, AfterOp: true})
	err = up.Complete(ctx, parts)
	if err == nil || sinks.IsPermanent(err) {
		t.Fatalf("lost answer: %v, want a retryable error", err)
	}
	// The retry cannot look at the object for a moment: still retryable.
	srv.Inject(osstest.Fault{Op: "HeadObject", Times: 1, Status: 503, Code: "ServiceUnavailable"})
	if err := up.Complete(ctx, parts); err == nil || sinks.IsPermanent(err) {
		t.Fatalf("lost answer, HEAD refused: %v, want a retryable error", err)
	}
	if err := up.Complete(ctx, parts); err != nil {
		t.Fatalf("retry after a lost answer: %v", err)
	}
	// Aborted instead: the retry cannot succeed, and says so.
	up2, _, err := s.ResumeUpload(ctx, "logs/b.bin", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := up2.PutPart(ctx, 1, partBody(50, 6))
	if err != nil {
		t.Fatal(err)
	}
	if err := up2.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	if err := up2.Abort(ctx); err != nil {
		t.Fatalf("second Abort: %v", err)
	}
	if err := up2.Complete(ctx, []sinks.Part{p}); !sinks.IsPermanent(err) {
		t.Fatalf("Complete of an aborted upload: %v", err)
	}
}

// A damaged part (CRC64 mismatch reported by the server) is refused
// retryably, and a wrong part list does not complete.
func TestOSSMultipartErrors(t *testing.T) {
	srv := newServer(t)
	ctx := context.Background()
	s := newTestSink(t, srv)
	up, _, err := s.ResumeUpload(ctx, "logs/c.bin", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.PutPart(ctx, 0, []byte("x")); !sinks.IsPermanent(err) {
		t.Fatalf("part 0: %v", err)
	}
	srv.Inject(osstest.Fault{Op: "UploadPart", Times: 1, Status: 503, Code: "SlowDown"})
	if _, err := up.PutPart(ctx, 1, []byte("x")); err == nil || sinks.IsPermanent(err) {
		t.Fatalf("throttled part: %v", err)
	}
	p, err := up.PutPart(ctx, 1, partBody(10, 1))
	if err != nil {
		t.Fatal(err)
	}
	p.ETag = `"00000000000000000000000000000000"`
	var e *Error
	if err := up.Complete(ctx, []sinks.Part{p}); !errors.As(err, &e) || e.Code != "InvalidPart" || !sinks.IsPermanent(err) {
		t.Fatalf("wrong etag: %v", err)
	}
}

// Without oss:ListMultipartUploads the upload starts fresh instead of
// failing.
func TestOSSMultipartWithoutListPermission(t *testing.T) {
	srv := newServer(t)
	s := newTestSink(t, srv)
	srv.Inject(osstest.Fault{Op: "ListMultipartUploads", Status: 403, Code: "AccessDenied"})
	up, parts, err := s.ResumeUpload(context.Background(), "logs/d.bin", nil, "")
	if err != nil || up == nil || len(parts) != 0 {
		t.Fatalf("%v %v", parts, err)
	}
}

// Without oss:ListParts an unfinished upload cannot be resumed: a new one
// starts.
func TestOSSMultipartWithoutListPartsPermission(t *testing.T) {
	srv := newServer(t)
	s := newTestSink(t, srv)
	ctx := context.Background()
	up, _, err := s.ResumeUpload(ctx, "logs/e.bin", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.PutPart(ctx, 1, partBody(10, 1)); err != nil {
		t.Fatal(err)
	}
	srv.Inject(osstest.Fault{Op: "ListParts", Status: 403, Code: "AccessDenied"})
	srv.ResetCounts()
	_, parts, err := s.ResumeUpload(ctx, "logs/e.bin", nil, "")
	if err != nil || len(parts) != 0 || srv.Count("InitiateMultipartUpload") != 1 {
		t.Fatalf("%v %v %v", parts, err, srv.Counts())
	}
}

// Complete compares the CRC-64 OSS reports for the whole object with the
// parts' combined: a mismatch is a retryable ErrChecksum, not success.
func TestOSSMultipartCompleteVerifiesCRC64(t *testing.T) {
	srv := newServer(t)
	var lie atomic.Bool
	rw := rewriter{rt: srv.HTTPClient().Transport, fn: func(r *http.Request, res *http.Response) {
		if lie.Load() && r.Method == http.MethodPost && r.URL.Query().Has("uploadId") {
			res.Header.Set("x-oss-hash-crc64ecma", "12345")
		}
	}}
	s := newSinkWith(t, srv, nil, staticCreds(testAK, testSK), WithHTTPClient(&http.Client{Transport: rw}))
	ctx := context.Background()
	up, _, err := s.ResumeUpload(ctx, "logs/c.bin", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := up.PutPart(ctx, 1, partBody(100, 9))
	if err != nil {
		t.Fatal(err)
	}
	lie.Store(true)
	if err := up.Complete(ctx, []sinks.Part{p}); !errors.Is(err, ErrChecksum) || sinks.IsPermanent(err) {
		t.Fatalf("wrong CRC on Complete: %v, want a retryable ErrChecksum", err)
	}
}
