package osstest

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
)

var signatureVersions = []struct {
	name string
	mod  func(*oss.Config)
}{{"v4", func(*oss.Config) {}}, {"v1", withV1}}

func TestAuthErrors(t *testing.T) {
	for _, v := range signatureVersions {
		t.Run(v.name, func(t *testing.T) {
			srv := newServer(t)
			putReq := func() *oss.PutObjectRequest {
				return &oss.PutObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("k"), Body: strings.NewReader("x")}
			}

			wrong := newClient(t, srv, v.mod, func(c *oss.Config) {
				c.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(testAK, "wrong-secret"))
			})
			_, err := wrong.PutObject(ctx(t), putReq())
			se := wantCode(t, err, 403, "SignatureDoesNotMatch")
			if !strings.Contains(string(se.Snapshot), "<StringToSign>") {
				t.Errorf("no StringToSign in %s", se.Snapshot)
			}
			if n := srv.Count("PutObject"); n != 1 {
				t.Errorf("403 was retried: %d requests", n) // the SDK does not retry 403
			}

			unknown := newClient(t, srv, v.mod, func(c *oss.Config) {
				c.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("LTAI-nobody", testSK))
			})
			_, err = unknown.PutObject(ctx(t), putReq())
			wantCode(t, err, 403, "InvalidAccessKeyId")

			anon := newClient(t, srv, v.mod, func(c *oss.Config) { c.WithCredentialsProvider(credentials.NewAnonymousCredentialsProvider()) })
			_, err = anon.PutObject(ctx(t), putReq())
			wantCode(t, err, 403, "AccessDenied")

			// The right key: the signature covers user metadata, the
			// content type and odd characters in the key and query.
			good := newClient(t, srv, v.mod)
			if _, err := good.PutObject(ctx(t), &oss.PutObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("ü ~*'()!/x"),
				Body: strings.NewReader("x"), Metadata: map[string]string{"a": " padded  "}}); err != nil {
				t.Fatalf("right key: %v", err)
			}
			if _, err := good.ListObjectsV2(ctx(t), &oss.ListObjectsV2Request{Bucket: oss.Ptr(testBucket), Prefix: oss.Ptr("ü +&=%"),
				StartAfter: oss.Ptr("a b"), Delimiter: oss.Ptr("/")}); err != nil {
				t.Fatalf("list with odd parameters: %v", err)
			}
		})
	}
}

// TestAdditionalHeaders signs an extra header (V4 AdditionalHeaders).
func TestAdditionalHeaders(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, func(c *oss.Config) {
		c.WithAdditionalHeaders([]string{"x-logship-host"}).WithDefaultRequestHeaders(map[string]string{"X-Logship-Host": "pod-1"})
	})
	put(t, c, "k", []byte("v"))
	// Tampering with a signed additional header breaks the signature.
	tamper := newClient(t, srv, func(c *oss.Config) {
		c.WithAdditionalHeaders([]string{"x-logship-host"}).WithDefaultRequestHeaders(map[string]string{"X-Logship-Host": "pod-1"}).
			WithHttpClient(&http.Client{Transport: rewriteHeader{"X-Logship-Host", "pod-2"}})
	})
	_, err := tamper.PutObject(ctx(t), &oss.PutObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("k"), Body: strings.NewReader("v")})
	wantCode(t, err, 403, "SignatureDoesNotMatch")
}

type rewriteHeader struct{ name, value string }

func (rw rewriteHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(rw.name, rw.value)
	return http.DefaultTransport.RoundTrip(r)
}

func TestClockSkew(t *testing.T) {
	for _, v := range signatureVersions {
		t.Run(v.name, func(t *testing.T) {
			srv := newServer(t)
			srv.SetClockOffset(time.Hour)
			// Without retries the skew surfaces.
			_, err := newClient(t, srv, v.mod, withNoRetry).PutObject(ctx(t), &oss.PutObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("k"), Body: strings.NewReader("x")})
			wantCode(t, err, 403, "RequestTimeTooSkewed")
			// With its default retryer, the SDK reads the server time from the
			// Date header of the error, corrects its clock and succeeds.
			srv.ResetCounts()
			c := newClient(t, srv, v.mod)
			put(t, c, "k", []byte("x"))
			if n := srv.Count("PutObject"); n != 2 {
				t.Errorf("%d PutObject requests, want 2 (skewed, corrected)", n)
			}
			put(t, c, "k2", []byte("x")) // the correction sticks
			if n := srv.Count("PutObject"); n != 3 {
				t.Errorf("%d PutObject requests after the correction, want 3", n)
			}
		})
	}
}

func TestWrongRegion(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, func(c *oss.Config) { c.WithRegion("cn-beijing") })
	_, err := c.GetBucketInfo(ctx(t), &oss.GetBucketInfoRequest{Bucket: oss.Ptr(testBucket)})
	se := wantCode(t, err, 403, "SignatureDoesNotMatch")
	if se.EC != "0002-00000228" || !strings.Contains(se.Message, "region") {
		t.Errorf("region error %q %q", se.EC, se.Message)
	}
	// V1 does not sign the region: it works with any.
	if _, err := newClient(t, srv, withV1, func(c *oss.Config) { c.WithRegion("cn-beijing") }).
		GetBucketInfo(ctx(t), &oss.GetBucketInfoRequest{Bucket: oss.Ptr(testBucket)}); err != nil {
		t.Errorf("V1 with another region: %v", err)
	}
}

func TestPublicBucket(t *testing.T) {
	srv := newServer(t)
	srv.CreateBucket("public-bucket", true)
	srv.Put("public-bucket", "k", []byte("open"), nil)
	resp, err := http.Get(srv.Endpoint() + "/public-bucket/k")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "open" {
		t.Errorf("anonymous read of a public bucket: %d %q", resp.StatusCode, b)
	}
	req, _ := http.NewRequest(http.MethodPut, srv.Endpoint()+"/public-bucket/k", strings.NewReader("x"))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("x-oss-request-id") == "" {
		t.Errorf("anonymous write: %d", resp.StatusCode)
	}
}

func TestPresign(t *testing.T) {
	for _, v := range signatureVersions {
		t.Run(v.name, func(t *testing.T) {
			srv := newServer(t)
			c := newClient(t, srv, v.mod)
			key := "snapshots/pod 1/bundle+1.tar.gz"
			put(t, c, key, []byte("bundle"))

			pre, err := c.Presign(ctx(t), &oss.GetObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr(key)}, oss.PresignExpires(10*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]string{"v1": "OSSAccessKeyId=", "v4": "x-oss-signature-version=OSS4-HMAC-SHA256"}[v.name]; !strings.Contains(pre.URL, want) {
				t.Fatalf("presigned URL %s lacks %s", pre.URL, want)
			}
			fetch := func(u string) (int, string, http.Header) {
				resp, err := http.Get(u)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b), resp.Header
			}
			if code, body, _ := fetch(pre.URL); code != 200 || body != "bundle" {
				t.Fatalf("presigned GET: %d %s", code, body)
			}
			// A tampered signature fails.
			u, _ := url.Parse(pre.URL)
			q := u.Query()
			for _, p := range []string{"Signature", "x-oss-signature"} {
				if q.Has(p) {
					q.Set(p, "AAAA"+q.Get(p)[4:])
				}
			}
			u.RawQuery = q.Encode()
			if code, body, _ := fetch(u.String()); code != 403 || !strings.Contains(body, "SignatureDoesNotMatch") {
				t.Errorf("tampered URL: %d %s", code, body)
			}
			// Expired, once the server clock passes the expiry.
			srv.SetClockOffset(11 * time.Minute)
			if code, body, _ := fetch(pre.URL); code != 403 || !strings.Contains(body, "Request has expired") {
				t.Errorf("expired URL: %d %s", code, body)
			}
			srv.SetClockOffset(0)

			// Presigned PUT with a signed content type.
			pp, err := c.Presign(ctx(t), &oss.PutObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("up/loaded"), ContentType: oss.Ptr("text/plain")})
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(pp.Method, pp.URL, strings.NewReader("via presigned put"))
			for k, v := range pp.SignedHeaders {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got, _, _ := srv.Get(testBucket, "up/loaded"); resp.StatusCode != 200 || string(got) != "via presigned put" {
				t.Errorf("presigned PUT: %d %q", resp.StatusCode, got)
			}
		})
	}
}
