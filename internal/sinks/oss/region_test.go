package oss

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logship/logship/internal/osstest"
	"github.com/logship/logship/internal/sinks"
)

// The acceleration endpoints serve buckets of every region: their names
// are not regions.
func TestOSSResolveEndpointAccelerate(t *testing.T) {
	for _, ep := range []string{"oss-accelerate.aliyuncs.com", "https://oss-accelerate-overseas.aliyuncs.com", "b.oss-accelerate.aliyuncs.com"} {
		e, err := resolveEndpoint(Config{Bucket: "b", Endpoint: ep})
		if !errors.Is(err, errNoRegion) || e.region != "" || e.url == nil {
			t.Errorf("%s: region %q, err %v; want no region and the URL", ep, e.region, err)
		}
	}
	e, err := resolveEndpoint(Config{Bucket: "b", Region: "cn-beijing", Endpoint: "oss-accelerate.aliyuncs.com"})
	if err != nil || e.region != "cn-beijing" || e.url.Host != "oss-accelerate.aliyuncs.com" {
		t.Fatalf("with sink.region: %+v, %v", e, err)
	}
}

// writeOssutil writes an ossutil config with the test keys and endpoint.
func writeOssutil(t *testing.T, endpoint string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), ".ossutilconfig")
	body := "[Credentials]\nlanguage=EN\nendpoint=" + endpoint + "\naccessKeyID=" + testAK + "\naccessKeySecret=" + testSK + "\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Without sink.region and sink.endpoint, ~/.ossutilconfig's endpoint says
// where the bucket is, and its Aliyun name the region to sign with.
func TestOSSRegionFromOssutilConfig(t *testing.T) {
	srv := newServer(t, func(o *osstest.Options) { o.Region = "cn-shanghai" })
	p := writeOssutil(t, "http://oss-cn-shanghai.aliyuncs.com") // osstest speaks plain HTTP
	s, err := New(context.Background(), Config{Bucket: testBucket}, nil,
		WithOssutilConfig(p), env(nil), deadMetadata(t), WithHTTPClient(srv.HTTPClient()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.region != "cn-shanghai" || s.Endpoint() != "http://oss-cn-shanghai.aliyuncs.com" {
		t.Fatalf("region %s endpoint %s", s.region, s.Endpoint())
	}
	if _, err := s.Stat(context.Background(), "none"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("the signed request did not reach the bucket: %v", err)
	}
}

// A custom endpoint names no region: the bucket is asked, with
// GetBucketLocation, else through the region its refusal of a request
// signed for another one names; failing both, the error says what was
// tried.
func TestOSSRegionFromBucket(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fault  *osstest.Fault
		region string // the server's; "" for an error
		want   []string
	}{
		{name: "GetBucketLocation", region: "cn-shanghai"},
		{name: "refusal names the region", fault: &osstest.Fault{Op: "GetBucketLocation", Times: 1, Status: 403, Code: "AccessDenied"}, region: "cn-shenzhen"},
		{name: "nothing says", fault: &osstest.Fault{Op: "GetBucketLocation", Status: 403, Code: "AccessDenied"},
			want: []string{"sink.region is required", "tried sink.region (empty)", "names no region", "GetBucketLocation of bucket " + testBucket, "AccessDenied, HTTP 403", "a request signed for cn-hangzhou"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, func(o *osstest.Options) { o.Region = tc.region })
			if tc.fault != nil {
				srv.Inject(*tc.fault)
			}
			c := sinkConfig(srv)
			c.Region = ""
			s, err := New(context.Background(), c, slog.New(slog.DiscardHandler), staticCreds(testAK, testSK))
			if tc.want != nil {
				var re *RegionError
				if !errors.As(err, &re) {
					t.Fatalf("err %v, want a RegionError", err)
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.region != tc.region {
				t.Fatalf("region %q, want %q", s.region, tc.region)
			}
			if err := s.Put(context.Background(), &sinks.Object{Key: "logs/x.txt", Body: []byte("x\n")}); err != nil {
				t.Fatalf("put signed for the region found: %v", err)
			}
		})
	}
}
