package osstest

import (
	"bytes"
	"io"
	"testing"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
)

// BenchmarkPutGet measures a 64 MiB PutObject and GetObject through the
// SDK, in memory and on disk; it bounds what benchmarks of logship
// against this server can show.
func BenchmarkPutGet(b *testing.B) {
	for _, mode := range []string{"memory", "disk"} {
		b.Run(mode, func(b *testing.B) {
			opts := Options{AccessKeyID: testAK, AccessKeySecret: testSK, Buckets: []string{testBucket}}
			if mode == "disk" {
				opts.DiskDir = b.TempDir()
			}
			srv := New(opts)
			defer srv.Close()
			c := oss.NewClient(oss.LoadDefaultConfig().WithRegion("cn-hangzhou").WithEndpoint(srv.Endpoint()).
				WithCredentialsProvider(staticCreds()))
			body := randomBytes(64<<20, 1)
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.PutObject(b.Context(), &oss.PutObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("k"), Body: bytes.NewReader(body)}); err != nil {
					b.Fatal(err)
				}
				res, err := c.GetObject(b.Context(), &oss.GetObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("k")})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, res.Body); err != nil {
					b.Fatal(err)
				}
				res.Body.Close()
			}
		})
	}
}
