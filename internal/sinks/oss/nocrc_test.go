package oss

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	sdk "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"

	"github.com/logship/logship/internal/osstest"
	"github.com/logship/logship/internal/sinks"
	"github.com/logship/logship/internal/sinks/sinktest"
)

// noCRCSink is a default sink on a server that sends no CRC-64, and the
// buffer its logs go to.
func noCRCSink(t *testing.T, mod ...func(*Config)) (*Sink, *osstest.Server, *syncBuffer) {
	t.Helper()
	srv := newServer(t, func(o *osstest.Options) { o.NoCRC64 = true })
	c := sinkConfig(srv)
	for _, m := range mod {
		m(&c)
	}
	logs := &syncBuffer{}
	s, err := New(context.Background(), c, slog.New(slog.NewTextHandler(logs, nil)), staticCreds(testAK, testSK))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, srv, logs
}

// A server that returns no CRC-64 (Aliyun's oss-emulator, gateways,
// OSS-compatible stores) still gets the data: every upload carries
// Content-MD5, so a body damaged on the way is refused (retryably) and
// never stored, from the very first upload on; the sink warns once.
func TestOSSNoCRC64Put(t *testing.T) {
	s, srv, logs := noCRCSink(t)
	ctx := context.Background()
	objs := []*sinks.Object{
		sinktest.Object(t, "a-1", 0, []byte("first line\n")),
		sinktest.Object(t, "a-1", 11, []byte("second\nthird\n")),
		sinktest.Object(t, "a-1", 24, bytes.Repeat([]byte("more lines\n"), 500)),
	}
	for i, obj := range objs {
		if i != 1 {
			// Damaged on the way in: refused before it is stored. The
			// first object is sent before the sink has seen any answer.
			srv.Inject(osstest.Fault{Op: "PutObject", Times: 1, FlipBody: true})
			err := s.Put(ctx, obj)
			var e *Error
			if !errors.As(err, &e) || e.Code != "InvalidDigest" || sinks.IsPermanent(err) {
				t.Fatalf("object %d damaged on the way: %v, want a retryable InvalidDigest", i, err)
			}
			if _, _, ok := srv.Get(testBucket, obj.Key); ok {
				t.Fatalf("object %d: a damaged body was stored", i)
			}
		}
		if err := s.Put(ctx, obj); err != nil {
			t.Fatalf("object %d: %v", i, err)
		}
		got, _, ok := srv.Get(testBucket, obj.Key)
		if !ok || !bytes.Equal(got, obj.Body) {
			t.Fatalf("object %d: stored bytes differ", i)
		}
	}
	if !s.VerifiedByMD5() {
		t.Error("VerifiedByMD5 is false")
	}
	if n := strings.Count(logs.String(), "server returns no CRC-64: verifying with Content-MD5"); n != 1 {
		t.Errorf("the warning was logged %d times, want once:\n%s", n, logs)
	}
	// The read side needs no CRC-64 either (the length is still checked,
	// and readers check each chunk's CRC-32C).
	rc, _, err := s.Get(ctx, objs[2].Key)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	_, err = got.ReadFrom(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got.Bytes(), objs[2].Body) {
		t.Fatalf("Get: %v", err)
	}
}

// Without CRC-64, an ETag that is an MD5 must be the body's.
func TestOSSNoCRC64WrongETag(t *testing.T) {
	srv := newServer(t, func(o *osstest.Options) { o.NoCRC64 = true })
	wrong := false
	rw := rewriter{rt: srv.HTTPClient().Transport, fn: func(r *http.Request, res *http.Response) {
		if r.Method == http.MethodPut && wrong {
			res.Header.Set("ETag", `"0123456789ABCDEF0123456789ABCDEF"`)
		}
	}}
	s := newSinkWith(t, srv, nil, staticCreds(testAK, testSK), WithHTTPClient(&http.Client{Transport: rw}))
	obj := sinktest.Object(t, "a-1", 0, []byte("x\n"))
	wrong = true
	err := s.Put(context.Background(), obj)
	if !errors.Is(err, ErrChecksum) || sinks.IsPermanent(err) {
		t.Fatalf("wrong ETag: %v, want a retryable ErrChecksum", err)
	}
	wrong = false
	if err := s.Put(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

// sink.require_crc64 refuses such a server, for simple and multipart
// uploads, with a message that names the switch.
func TestOSSNoCRC64Strict(t *testing.T) {
	s, srv, _ := noCRCSink(t, func(c *Config) { c.RequireCRC64 = sdk.Ptr(true) })
	ctx := context.Background()
	obj := sinktest.Object(t, "a-1", 0, []byte("x\n"))
	check := func(what string, err error) {
		t.Helper()
		if err == nil || !sinks.IsPermanent(err) || !strings.Contains(err.Error(), "no x-oss-hash-crc64ecma and sink.require_crc64 is true") {
			t.Fatalf("%s with require_crc64: %v, want a permanent error naming the switch", what, err)
		}
	}
	check("Put", s.Put(ctx, obj))
	up, _, err := s.ResumeUpload(ctx, "logs/app=app/source=crash/x.hprof.zst", obj.Header, "application/zstd")
	if err != nil {
		t.Fatal(err)
	}
	_, err = up.PutPart(ctx, 1, partBody(sinks.MinPartSize, 1))
	check("PutPart", err)
	if s.VerifiedByMD5() {
		t.Error("a strict sink says it verifies with Content-MD5")
	}
	_ = srv
}

// Multipart uploads (heap dumps) to a server without CRC-64: each part
// travels with Content-MD5 (a damaged one is refused and sent again), the
// object assembles byte for byte, and a Complete whose answer was lost is
// recognised by the object's ETag (the MD5 of the parts' MD5s).
func TestOSSNoCRC64Multipart(t *testing.T) {
	s, srv, logs := noCRCSink(t)
	ctx := context.Background()
	h := sinktest.Object(t, "crash-1", 0, []byte("x\n")).Header
	key := "logs/app=app/source=crash/java_pid1.hprof.zst"
	bodies := [][]byte{partBody(sinks.MinPartSize, 1), partBody(sinks.MinPartSize+7, 2), partBody(1234, 3)}
	up, _, err := s.ResumeUpload(ctx, key, h, "application/zstd")
	if err != nil {
		t.Fatal(err)
	}
	var parts []sinks.Part
	for i, b := range bodies {
		if i == 1 {
			srv.Inject(osstest.Fault{Op: "UploadPart", Times: 1, FlipBody: true})
			_, err := up.PutPart(ctx, i+1, b)
			var e *Error
			if !errors.As(err, &e) || e.Code != "InvalidDigest" || sinks.IsPermanent(err) {
				t.Fatalf("part damaged on the way: %v, want a retryable InvalidDigest", err)
			}
		}
		p, err := up.PutPart(ctx, i+1, b)
		if err != nil {
			t.Fatalf("part %d: %v", i+1, err)
		}
		parts = append(parts, p)
	}
	// The first Complete is carried out but its answer is lost.
	srv.Inject(osstest.Fault{Op: "CompleteMultipartUpload", Times: 1, Status: 500, AfterOp: true})
	if err := up.Complete(ctx, parts); err == nil || sinks.IsPermanent(err) {
		t.Fatalf("lost answer: %v, want a retryable error", err)
	}
	if err := up.Complete(ctx, parts); err != nil {
		t.Fatalf("Complete after a lost answer: %v", err)
	}
	got, _, ok := srv.Get(testBucket, key)
	if !ok || !bytes.Equal(got, bytes.Join(bodies, nil)) {
		t.Fatal("assembled object differs")
	}
	// Another object's parts do not pass for these.
	if sameMultipartETag(srv.Objects(testBucket)[0].ETag, parts[:2]) {
		t.Error("the ETag of 3 parts matches 2 of them")
	}
	if n := strings.Count(logs.String(), "server returns no CRC-64"); n != 1 {
		t.Errorf("the warning was logged %d times, want once", n)
	}

	// Put of a body big enough for parts goes the same way.
	s.mpAt, s.partSize = sinks.MinPartSize, sinks.MinPartSize
	big := sinktest.Object(t, "a-2", 0, bytes.Repeat([]byte("a line of a big chunk\n"), 3*sinks.MinPartSize/22+5))
	if err := s.Put(ctx, big); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := srv.Get(testBucket, big.Key); !bytes.Equal(got, big.Body) {
		t.Fatal("multipart Put: stored bytes differ")
	}
}
