package osstest

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"io"
	"strings"
	"testing"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
)

// TestNoCRC64 checks that with Options.NoCRC64 no answer carries a CRC-64
// (and that without it every one does, so the check can fail).
func TestNoCRC64(t *testing.T) {
	for _, noCRC := range []bool{false, true} {
		t.Run(map[bool]string{false: "default", true: "NoCRC64"}[noCRC], func(t *testing.T) {
			srv := newServer(t, func(o *Options) { o.NoCRC64 = noCRC })
			c := newClient(t, srv, func(c *oss.Config) {
				c.WithDisableUploadCRC64Check(true).WithDisableDownloadCRC64Check(true)
			})
			seen := map[string]bool{}
			note := func(op string, v *string) { seen[op] = oss.ToString(v) != "" }

			put, err := c.PutObject(ctx(t), &oss.PutObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("k"), Body: strings.NewReader("data")})
			if err != nil {
				t.Fatal(err)
			}
			note("PutObject", put.HashCRC64)
			get, err := c.GetObject(ctx(t), &oss.GetObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("k")})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(get.Body)
			get.Body.Close()
			if string(b) != "data" {
				t.Fatalf("read %q", b)
			}
			note("GetObject", get.HashCRC64)
			head, err := c.HeadObject(ctx(t), &oss.HeadObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("k")})
			if err != nil {
				t.Fatal(err)
			}
			note("HeadObject", head.HashCRC64)

			init, err := c.InitiateMultipartUpload(ctx(t), &oss.InitiateMultipartUploadRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("m")})
			if err != nil {
				t.Fatal(err)
			}
			part, err := c.UploadPart(ctx(t), &oss.UploadPartRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("m"), UploadId: init.UploadId,
				PartNumber: 1, Body: strings.NewReader("part one")})
			if err != nil {
				t.Fatal(err)
			}
			note("UploadPart", part.HashCRC64)
			lp, err := c.ListParts(ctx(t), &oss.ListPartsRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("m"), UploadId: init.UploadId})
			if err != nil || len(lp.Parts) != 1 {
				t.Fatalf("ListParts: %v", err)
			}
			note("ListParts", lp.Parts[0].HashCRC64)
			done, err := c.CompleteMultipartUpload(ctx(t), &oss.CompleteMultipartUploadRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("m"), UploadId: init.UploadId,
				CompleteMultipartUpload: &oss.CompleteMultipartUpload{Parts: []oss.UploadPart{{PartNumber: 1, ETag: part.ETag}}}})
			if err != nil {
				t.Fatal(err)
			}
			note("CompleteMultipartUpload", done.HashCRC64)

			for _, op := range []string{"PutObject", "GetObject", "HeadObject", "UploadPart", "ListParts", "CompleteMultipartUpload"} {
				if seen[op] == noCRC {
					t.Errorf("%s: CRC-64 in the answer: %v, want %v", op, seen[op], !noCRC)
				}
			}
			// ETags stay MD5s: what a client without CRC-64 compares.
			sum := md5.Sum([]byte("data"))
			if got := strings.Trim(oss.ToString(put.ETag), `"`); !strings.EqualFold(got, fmtHex(sum[:])) {
				t.Errorf("PutObject ETag %s, want the MD5 %x", got, sum)
			}
		})
	}
}

func fmtHex(b []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// TestFlipBody damages a request body on the way in: with Content-MD5 the
// server refuses it and stores nothing; without, the damaged bytes are
// stored (what Content-MD5 is for).
func TestFlipBody(t *testing.T) {
	body := []byte("0123456789abcdef")
	for _, withMD5 := range []bool{true, false} {
		t.Run(map[bool]string{true: "Content-MD5", false: "no digest"}[withMD5], func(t *testing.T) {
			srv := newServer(t, func(o *Options) { o.NoCRC64 = true })
			c := newClient(t, srv, withNoRetry, func(c *oss.Config) { c.WithDisableUploadCRC64Check(true) })
			srv.Inject(Fault{Op: "PutObject", Times: 1, FlipBody: true})
			req := &oss.PutObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("k"), Body: bytes.NewReader(body)}
			if withMD5 {
				sum := md5.Sum(body)
				req.ContentMD5 = oss.Ptr(base64.StdEncoding.EncodeToString(sum[:]))
			}
			_, err := c.PutObject(ctx(t), req)
			got, _, stored := srv.Get(testBucket, "k")
			if withMD5 {
				wantCode(t, err, 400, "InvalidDigest")
				if stored {
					t.Fatal("a refused body was stored")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !stored || bytes.Equal(got, body) || len(got) != len(body) {
				t.Fatalf("stored %q, want the body with one bit flipped", got)
			}
		})
	}
}
