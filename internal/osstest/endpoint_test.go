package osstest

import (
	"encoding/xml"
	"testing"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
)

// A request for a bucket sent to another region's endpoint is refused as
// OSS refuses it, naming the bucket's endpoint; the bucket's own endpoint,
// the acceleration endpoint, and GetBucketLocation anywhere are served.
func TestWrongRegionEndpoint(t *testing.T) {
	srv := newServer(t, func(o *Options) { o.Region = "cn-shanghai" })
	client := func(endpoint string) *oss.Client {
		return newClient(t, srv, withNoRetry, func(c *oss.Config) {
			c.WithRegion("cn-shanghai").WithEndpoint(endpoint).WithHttpClient(srv.HTTPClient())
		})
	}
	info := &oss.GetBucketInfoRequest{Bucket: oss.Ptr(testBucket)}
	_, err := client("http://oss-cn-hangzhou.aliyuncs.com").GetBucketInfo(ctx(t), info)
	se := wantCode(t, err, 403, "AccessDenied")
	var d struct {
		Endpoint string `xml:"Endpoint"`
	}
	if xml.Unmarshal(se.Snapshot, &d); d.Endpoint != "oss-cn-shanghai.aliyuncs.com" {
		t.Fatalf("Endpoint %q in %s", d.Endpoint, se.Snapshot)
	}
	for _, ep := range []string{"http://oss-cn-shanghai.aliyuncs.com", "http://oss-cn-shanghai-internal.aliyuncs.com", "http://oss-accelerate.aliyuncs.com"} {
		if _, err := client(ep).GetBucketInfo(ctx(t), info); err != nil {
			t.Errorf("%s: %v", ep, err)
		}
	}
	loc, err := client("http://oss-cn-hangzhou.aliyuncs.com").GetBucketLocation(ctx(t), &oss.GetBucketLocationRequest{Bucket: oss.Ptr(testBucket)})
	if err != nil || oss.ToString(loc.LocationConstraint) != "oss-cn-shanghai" {
		t.Fatalf("GetBucketLocation elsewhere: %v", err)
	}
}
