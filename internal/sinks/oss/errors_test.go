package oss

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"

	"github.com/logship/logship/internal/osstest"
	"github.com/logship/logship/internal/pipeline"
	"github.com/logship/logship/internal/sinks"
	"github.com/logship/logship/internal/sinks/sinktest"
)

// Every failure OSS or the network can produce, through the real SDK
// against osstest, comes out of classify with the right class and a
// message that says what to fix.
func TestOSSClassify(t *testing.T) {
	for _, tc := range []struct {
		name      string
		srvOpts   func(*osstest.Options)
		sinkCfg   func(*Config)
		id, sec   string
		setup     func(*osstest.Server)
		permanent bool
		code      string
		want      []string
	}{
		{name: "internal error", setup: func(s *osstest.Server) { s.Inject(osstest.Fault{Op: "PutObject", Status: 500}) },
			code: "InternalError", want: []string{"HTTP 500", "request id"}},
		{name: "service unavailable", setup: func(s *osstest.Server) { s.Outage(0) }, code: "ServiceUnavailable"},
		{name: "throttled", setup: func(s *osstest.Server) { s.Throttle("PutObject", 0) }, code: "SlowDown"},
		{name: "connection reset", setup: func(s *osstest.Server) { s.Blackout(0) }, want: []string{"PutObject"}},
		{name: "lost answer", setup: func(s *osstest.Server) {
			s.Inject(osstest.Fault{Op: "PutObject", Reset: true, AfterOp: true})
		}},
		{name: "access denied", setup: func(s *osstest.Server) {
			s.Inject(osstest.Fault{Op: "PutObject", Status: 403, Code: "AccessDenied", Message: "You have no right to access this object."})
		}, permanent: true, code: "AccessDenied",
			want: []string{"AccessDenied: the RAM policy of this key lacks oss:PutObject on acs:oss:*:*:logs-bucket/logs/*"}},
		{name: "no such bucket", sinkCfg: func(c *Config) { c.Bucket = "no-such-bucket" }, permanent: true, code: "NoSuchBucket",
			want: []string{`bucket "no-such-bucket" does not exist`, "sink.bucket and sink.region"}},
		{name: "unknown key id", id: "LTAI5tUnknownKey9999", permanent: true, code: "InvalidAccessKeyId",
			want: []string{"LTAI****9999", "does not exist or is disabled"}},
		{name: "wrong secret", sec: "wrong-secret-value", permanent: true, code: "SignatureDoesNotMatch",
			want: []string{"SignatureDoesNotMatch: the access key secret is wrong", "LTAI****0001"}},
		{name: "clock skew", setup: func(s *osstest.Server) { s.SetClockOffset(time.Hour) }, permanent: true, code: "RequestTimeTooSkewed",
			want: []string{"RequestTimeTooSkewed: the clock is off by", "this host is behind OSS", "NTP"}},
		{name: "bucket in another region", srvOpts: func(o *osstest.Options) { o.Region = "cn-shanghai" }, permanent: true, code: "SignatureDoesNotMatch",
			want: []string{"bucket logs-bucket is in cn-shanghai, config says cn-hangzhou: set sink.region: cn-shanghai"}},
		{name: "kms refused", setup: func(s *osstest.Server) {
			s.Inject(osstest.Fault{Op: "PutObject", Status: 403, Code: "AccessDenied", Message: "The specified KMS key is not allowed."})
		}, permanent: true, code: "AccessDenied", want: []string{"kms:GenerateDataKey"}},
		{name: "bad argument", setup: func(s *osstest.Server) {
			s.Inject(osstest.Fault{Op: "PutObject", Status: 400, Code: "InvalidArgument"})
		}, permanent: true, code: "InvalidArgument"},
		{name: "request timeout (a 400 that is retried)", setup: func(s *osstest.Server) {
			s.Inject(osstest.Fault{Op: "PutObject", Status: 400, Code: "RequestTimeout"})
		}, code: "RequestTimeout"},
		{name: "408", setup: func(s *osstest.Server) { s.Inject(osstest.Fault{Op: "PutObject", Status: 408, Code: "Timeout"}) }, code: "Timeout"},
		{name: "429", setup: func(s *osstest.Server) {
			s.Inject(osstest.Fault{Op: "PutObject", Status: 429, Code: "TooManyRequests"})
		}, code: "TooManyRequests"},
		{name: "409 conflict", setup: func(s *osstest.Server) {
			s.Inject(osstest.Fault{Op: "PutObject", Status: 409, Code: "OperationConflict"})
		}, code: "OperationConflict"},
		{name: "expired STS token", setup: func(s *osstest.Server) {
			s.Inject(osstest.Fault{Op: "PutObject", Status: 403, Code: "SecurityTokenExpired"})
		}, permanent: true, code: "SecurityTokenExpired", want: []string{"STS token"}},
		{name: "archived object", setup: func(s *osstest.Server) {
			s.Inject(osstest.Fault{Op: "PutObject", Status: 403, Code: "InvalidObjectState"})
		}, permanent: true, code: "InvalidObjectState", want: []string{"restore it first"}},
		{name: "not an oss answer", setup: func(s *osstest.Server) {
			s.Inject(osstest.Fault{Op: "PutObject", Status: 502, Code: "BadErrorResponse"})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mods []func(*osstest.Options)
			if tc.srvOpts != nil {
				mods = append(mods, tc.srvOpts)
			}
			srv := newServer(t, mods...)
			id, sec := testAK, testSK
			if tc.id != "" {
				id = tc.id
			}
			if tc.sec != "" {
				sec = tc.sec
			}
			var cm []func(*Config)
			if tc.sinkCfg != nil {
				cm = append(cm, tc.sinkCfg)
			}
			s := newSinkWith(t, srv, cm, staticCreds(id, sec))
			if tc.setup != nil {
				tc.setup(srv)
			}
			err := s.Put(context.Background(), sinktest.Object(t, "a-1", 0, []byte("x\n")))
			if err == nil {
				t.Fatal("Put succeeded")
			}
			t.Log(err)
			if sinks.IsPermanent(err) != tc.permanent {
				t.Fatalf("permanent = %v, want %v: %v", sinks.IsPermanent(err), tc.permanent, err)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("not an *Error: %T %v", err, err)
			}
			if e.Code != tc.code {
				t.Fatalf("code %q, want %q", e.Code, tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message lacks %q:\n%s", w, err)
				}
			}
			if strings.Contains(err.Error(), sec) || strings.Contains(err.Error(), testSK) {
				t.Fatalf("secret in the error: %s", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("multi-line error: %q", err)
			}
		})
	}
}

func TestOSSClassifySkewMeasured(t *testing.T) {
	srv := newServer(t)
	s := newTestSink(t, srv)
	srv.SetClockOffset(-2 * time.Hour)
	err := s.Put(context.Background(), sinktest.Object(t, "a-1", 0, []byte("x\n")))
	var e *Error
	if !errors.As(err, &e) || e.Code != "RequestTimeTooSkewed" {
		t.Fatalf("%v", err)
	}
	if d := e.Skew + 2*time.Hour; d < -3*time.Second || d > 3*time.Second {
		t.Fatalf("skew %v, want about -2h", e.Skew)
	}
	if !strings.Contains(err.Error(), "ahead of OSS") {
		t.Fatalf("%v", err)
	}
}

func TestOSSClassifyOperations(t *testing.T) {
	srv := newServer(t)
	s := newTestSink(t, srv)
	srv.Inject(osstest.Fault{Op: osstest.ReadOp, Status: 403, Code: "AccessDenied"})
	_, _, err := s.Get(context.Background(), "logs/x")
	if !sinks.IsPermanent(err) || !strings.Contains(err.Error(), "oss:GetObject on acs:oss:*:*:logs-bucket/logs/*") {
		t.Fatalf("Get: %v", err)
	}
	err = s.List(context.Background(), "logs/", func(sinks.ObjectInfo) error { return nil })
	if !sinks.IsPermanent(err) || !strings.Contains(err.Error(), "oss:ListObjects on acs:oss:*:*:logs-bucket ") {
		t.Fatalf("List: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv.ClearFaults()
	srv.Inject(osstest.Fault{Op: "PutObject", Latency: time.Second})
	go func() { time.Sleep(50 * time.Millisecond); cancel() }() // cancels mid-request
	err = s.Put(ctx, sinktest.Object(t, "a-1", 0, []byte("x\n")))
	if err == nil || sinks.IsPermanent(err) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Put: %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// No secret, STS token or signature reaches a log line or an error, with
// debug logging on both sides (slog and the SDK's OSS_SDK_LOG_LEVEL).
func TestOSSSecretsNeverPrinted(t *testing.T) {
	const token = "STS.SecretSessionToken-do-not-print"
	t.Setenv("OSS_SDK_LOG_LEVEL", "debug")
	for _, secret := range []string{testSK, "wrong-Secret-also-secret"} {
		t.Run(secret, func(t *testing.T) {
			srv := newServer(t)
			var logs syncBuffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			c := sinkConfig(srv)
			s, err := New(context.Background(), c, log, WithCredentials("test", credentials.NewStaticCredentialsProvider(testAK, secret, token)))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var out []string
			obj := sinktest.Object(t, "a-1", 0, []byte("x\n"))
			collect := func(err error) {
				if err != nil {
					out = append(out, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
				}
			}
			collect(s.Put(context.Background(), obj))
			rc, _, err := s.Get(context.Background(), obj.Key)
			collect(err)
			if err == nil {
				io.Copy(io.Discard, rc)
				rc.Close()
			}
			collect(s.List(context.Background(), "", func(sinks.ObjectInfo) error { return nil }))
			_, _, err = s.ResumeUpload(context.Background(), "logs/big", obj.Header, "")
			collect(err)
			srv.SetClockOffset(time.Hour)
			collect(s.Put(context.Background(), obj))
			all := logs.String() + strings.Join(out, "\n")
			for _, bad := range []string{secret, token, "Signature=", "OSS4-HMAC-SHA256 Credential"} {
				if strings.Contains(all, bad) {
					t.Fatalf("%q printed:\n%s", bad, all)
				}
			}
			if !strings.Contains(logs.String(), "LTAI****0001") {
				t.Errorf("the masked key id is not logged:\n%s", logs.String())
			}
		})
	}
}

// The pipeline's retry policy and classify together: an AccessDenied
// period is waited out at the slow pace, without losing the chunk, and
// ends as soon as the policy is fixed.
func TestOSSRetryPolicyOutlastsAccessDenied(t *testing.T) {
	srv := newServer(t)
	s := newTestSink(t, srv)
	id := srv.Inject(osstest.Fault{Op: "PutObject", Status: 403, Code: "AccessDenied"})
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	slept := map[bool]int{} // permanent → count
	r := pipeline.Retry{Initial: time.Millisecond, Max: time.Millisecond, Permanent: time.Hour,
		Sleep: func(ctx context.Context, d time.Duration) error {
			slept[d == time.Hour]++
			if slept[true] == 3 {
				srv.Remove(id) // the operator fixes the RAM policy
			}
			return nil
		}}
	obj := sinktest.Object(t, "a-1", 0, []byte("kept\n"))
	if err := r.Do(context.Background(), log, obj.Key, func(ctx context.Context) error { return s.Put(ctx, obj) }); err != nil {
		t.Fatal(err)
	}
	if slept[true] != 3 || slept[false] != 0 {
		t.Fatalf("waits %v, want 3 slow ones", slept)
	}
	if b, _, ok := srv.Get(testBucket, obj.Key); !ok || !bytes.Equal(b, obj.Body) {
		t.Fatal("object not stored")
	}
	if !strings.Contains(logs.String(), "oss:PutObject") {
		t.Fatalf("the refusal was not logged with its fix:\n%s", logs.String())
	}
}

// The SDK's own retryer is off: one request per call, whatever the error,
// so that pipeline.Retry is the only policy (and its backoff, logs and
// metrics see every attempt).
func TestOSSNoSDKRetries(t *testing.T) {
	srv := newServer(t)
	s := newTestSink(t, srv)
	obj := sinktest.Object(t, "a-1", 0, []byte("x\n"))
	for _, f := range []func(){
		func() { srv.Inject(osstest.Fault{Op: "PutObject", Times: 1, Status: 500}) },
		func() { srv.Throttle("PutObject", 1) },
		func() { srv.Inject(osstest.Fault{Op: "PutObject", Times: 1, Reset: true}) },
		func() { srv.SetClockOffset(time.Hour) },
	} {
		srv.ResetCounts()
		f()
		if err := s.Put(context.Background(), obj); err == nil {
			t.Fatal("Put succeeded")
		}
		if n := srv.Count("PutObject"); n != 1 {
			t.Fatalf("%d requests for one Put", n)
		}
		srv.SetClockOffset(0)
	}
}
