package osstest

import (
	"context"
	"errors"
	"hash/crc64"
	"io"
	"testing"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/retry"
)

// crcTable is for the tests' own CRC-64s, by the standard library's code.
var crcTable = crc64.MakeTable(crc64.ECMA)

const (
	testAK     = "LTAI-osstest-id"
	testSK     = "osstest-secret"
	testBucket = "logs-bucket"
)

func newServer(t *testing.T, mod ...func(*Options)) *Server {
	t.Helper()
	opts := Options{AccessKeyID: testAK, AccessKeySecret: testSK, Buckets: []string{testBucket}, Logf: t.Logf}
	for _, m := range mod {
		m(&opts)
	}
	srv := New(opts)
	t.Cleanup(srv.Close)
	return srv
}

// newClient returns an SDK client for srv configured as a user would for
// Aliyun, except for the endpoint (an IP, so the SDK uses path style) and
// a retryer with a 1 ms backoff so that retries do not slow tests down.
func newClient(t *testing.T, srv *Server, mod ...func(*oss.Config)) *oss.Client {
	t.Helper()
	cfg := oss.LoadDefaultConfig().
		WithCredentialsProvider(staticCreds()).
		WithRegion("cn-hangzhou").
		WithEndpoint(srv.Endpoint()).
		WithRetryer(fastRetryer(retry.DefaultMaxAttempts))
	for _, m := range mod {
		m(cfg)
	}
	return oss.NewClient(cfg)
}

func staticCreds() credentials.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(testAK, testSK)
}

func fastRetryer(attempts int) retry.Retryer {
	return retry.NewStandard(func(o *retry.RetryOptions) {
		o.MaxAttempts = attempts
		o.Backoff = retry.NewFixedDelayBackoff(time.Millisecond)
	})
}

func withV1(c *oss.Config)      { c.WithSignatureVersion(oss.SignatureVersionV1) }
func withNoRetry(c *oss.Config) { c.WithRetryer(fastRetryer(1)) }

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// serviceError extracts the *oss.ServiceError from an SDK error, failing
// the test if there is none.
func serviceError(t *testing.T, err error) *oss.ServiceError {
	t.Helper()
	var se *oss.ServiceError
	if !errors.As(err, &se) {
		t.Fatalf("want an *oss.ServiceError, got %T: %v", err, err)
	}
	return se
}

func wantCode(t *testing.T, err error, status int, code string) *oss.ServiceError {
	t.Helper()
	se := serviceError(t, err)
	if se.StatusCode != status || se.Code != code {
		t.Fatalf("want %d %s, got %d %s: %s", status, code, se.StatusCode, se.Code, se.Message)
	}
	if se.RequestID == "" {
		t.Errorf("service error without request id: %v", se)
	}
	return se
}

func put(t *testing.T, c *oss.Client, key string, body []byte) *oss.PutObjectResult {
	t.Helper()
	res, err := c.PutObject(ctx(t), &oss.PutObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr(key), Body: bytesReader(body)})
	if err != nil {
		t.Fatalf("PutObject %q: %v", key, err)
	}
	return res
}

func get(t *testing.T, c *oss.Client, key string) []byte {
	t.Helper()
	res, err := c.GetObject(ctx(t), &oss.GetObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr(key)})
	if err != nil {
		t.Fatalf("GetObject %q: %v", key, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GetObject %q: read: %v", key, err)
	}
	return b
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		<-tick.C
	}
}
