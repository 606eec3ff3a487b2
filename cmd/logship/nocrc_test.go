package main

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/logship/logship/internal/osstest"
)

// noCRCServer is an osstest server with the keys and bucket of the e2e
// tests that, like Aliyun's oss-emulator, sends no CRC-64; rejected counts
// the uploads it refused as damaged (400 InvalidDigest).
func noCRCServer(t *testing.T) (srv *osstest.Server, rejected *atomic.Int32) {
	rejected = &atomic.Int32{}
	srv = osstest.New(osstest.Options{AccessKeyID: e2eAK, AccessKeySecret: e2eSK, Buckets: []string{e2eBucket}, NoCRC64: true,
		Logf: func(format string, args ...any) {
			if l := strings.TrimSpace(fmt.Sprintf(format, args...)); strings.HasSuffix(l, "-> 400") &&
				(strings.Contains(l, " PutObject ") || strings.Contains(l, " UploadPart ")) {
				rejected.Add(1)
			}
		}})
	t.Cleanup(srv.Close)
	return srv, rejected
}

// Issue 13: the agent ships to a server that returns no CRC-64, bodies
// damaged on the way in are refused and sent again, and pull rebuilds
// every file byte for byte. (Multipart uploads, which this round trip
// does not make, are covered in internal/sinks/oss.)
func TestPullOSSAgentRoundTripNoCRC64(t *testing.T) {
	srv, rejected := noCRCServer(t)
	srv.Inject(osstest.Fault{Op: "PutObject", Times: 3, FlipBody: true})
	testAgentRoundTrip(t, ossRoundTripStore(t, srv))
	if n := rejected.Load(); n != 3 {
		t.Errorf("%d damaged uploads refused, want 3", n)
	}
}

// check passes against such a server and says, on a line of its own, how
// uploads are verified; with sink.require_crc64 the write step fails and
// says why.
func TestCheckNoCRC64(t *testing.T) {
	srv, _ := noCRCServer(t)
	sink := "  region: cn-hangzhou\n  endpoint: " + srv.Endpoint() + "\n"
	cfg := "app: demo\nsources:\n  - type: kmsg\nsink:\n  type: oss\n  bucket: " + e2eBucket + "\n  prefix: logs/\n"

	r := runCheckTest(t, cfg+sink, creds(e2eAK, e2eSK))
	if r.code != exitOK || verdict(r.out, "write") != "ok" || verdict(r.out, "read") != "ok" {
		t.Fatalf("exit %d: %v", r.code, r.err)
	}
	if verdict(r.out, "crc64") != "warn" || !strings.Contains(r.out, "server returns no CRC-64: verifying with Content-MD5") {
		t.Fatalf("no crc64 warning line:\n%s", r.out)
	}
	if strings.Contains(r.out, "CRC64 verified") {
		t.Fatalf("check claims a CRC-64 check the server cannot do:\n%s", r.out)
	}

	r = runCheckTest(t, cfg+sink+"  require_crc64: true\n", creds(e2eAK, e2eSK))
	if r.code != exitProblems || verdict(r.out, "write") != "FAIL" ||
		!strings.Contains(r.out, "no x-oss-hash-crc64ecma and sink.require_crc64 is true") {
		t.Fatalf("require_crc64: exit %d, want %d and the reason:\n%s", r.code, exitProblems, r.out)
	}

	// Against a server that sends it, no such line.
	r = runCheckTest(t, cfg+"  region: cn-hangzhou\n  endpoint: "+e2eServer(t).Endpoint()+"\n", creds(e2eAK, e2eSK))
	if r.code != exitOK || verdict(r.out, "crc64") != "" {
		t.Fatalf("exit %d, crc64 line %q on a server with CRC-64", r.code, verdict(r.out, "crc64"))
	}
}
