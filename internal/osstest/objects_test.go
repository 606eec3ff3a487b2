package osstest

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"hash/crc64"
	"io"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
)

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func randomBytes(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func TestPutGetHeadDelete(t *testing.T) {
	for _, v := range []struct {
		name string
		mod  func(*oss.Config)
	}{{"v4", func(*oss.Config) {}}, {"v1", withV1}} {
		t.Run(v.name, func(t *testing.T) {
			srv := newServer(t)
			c := newClient(t, srv, v.mod)
			body := []byte("2024-01-01 line one\nline two\n")
			key := "app=demo/dt=2024-01-01/chunk 1+2%.log.zst"
			res, err := c.PutObject(ctx(t), &oss.PutObjectRequest{
				Bucket: oss.Ptr(testBucket), Key: oss.Ptr(key), Body: bytesReader(body),
				ContentType: oss.Ptr("application/zstd"), ContentEncoding: oss.Ptr("identity"),
				StorageClass: oss.StorageClassIA, ServerSideEncryption: oss.Ptr("AES256"),
				Metadata: map[string]string{"Stream": "s1", "range": "0-29", "unicode": "日志"},
			})
			if err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			sum := md5.Sum(body)
			wantETag := `"` + strings.ToUpper(string(hexOf(sum[:]))) + `"`
			wantCRC := strconv.FormatUint(crc64.Checksum(body, crc64.MakeTable(crc64.ECMA)), 10)
			if oss.ToString(res.ETag) != wantETag || oss.ToString(res.HashCRC64) != wantCRC {
				t.Errorf("put result ETag %s CRC %s, want %s %s", oss.ToString(res.ETag), oss.ToString(res.HashCRC64), wantETag, wantCRC)
			}
			if oss.ToString(res.ContentMD5) != base64.StdEncoding.EncodeToString(sum[:]) {
				t.Errorf("Content-MD5 %s", oss.ToString(res.ContentMD5))
			}
			if res.Headers.Get("x-oss-server-side-encryption") != "AES256" {
				t.Errorf("SSE not echoed: %v", res.Headers)
			}

			g, err := c.GetObject(ctx(t), &oss.GetObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr(key)})
			if err != nil {
				t.Fatalf("GetObject: %v", err)
			}
			got, _ := io.ReadAll(g.Body)
			g.Body.Close()
			if !bytes.Equal(got, body) {
				t.Errorf("body %q, want %q", got, body)
			}
			if g.ContentLength != int64(len(body)) || oss.ToString(g.ContentType) != "application/zstd" ||
				oss.ToString(g.ETag) != wantETag || oss.ToString(g.HashCRC64) != wantCRC ||
				oss.ToString(g.StorageClass) != "IA" || oss.ToString(g.ServerSideEncryption) != "AES256" ||
				oss.ToString(g.ObjectType) != "Normal" || g.Headers.Get("Content-Encoding") != "identity" {
				t.Errorf("get headers: %v", g.Headers)
			}
			wantMeta := map[string]string{"stream": "s1", "range": "0-29", "unicode": "日志"}
			if !equalMaps(g.Metadata, wantMeta) {
				t.Errorf("metadata %v, want %v", g.Metadata, wantMeta)
			}
			if g.LastModified == nil || time.Since(*g.LastModified) > time.Minute {
				t.Errorf("LastModified %v", g.LastModified)
			}

			h, err := c.HeadObject(ctx(t), &oss.HeadObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr(key)})
			if err != nil {
				t.Fatalf("HeadObject: %v", err)
			}
			if h.ContentLength != int64(len(body)) || oss.ToString(h.HashCRC64) != wantCRC || !equalMaps(h.Metadata, wantMeta) {
				t.Errorf("head: %+v", h)
			}
			m, err := c.GetObjectMeta(ctx(t), &oss.GetObjectMetaRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr(key)})
			if err != nil || m.ContentLength != int64(len(body)) || oss.ToString(m.ETag) != wantETag {
				t.Errorf("GetObjectMeta: %+v, %v", m, err)
			}

			if _, err := c.DeleteObject(ctx(t), &oss.DeleteObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr(key)}); err != nil {
				t.Fatalf("DeleteObject: %v", err)
			}
			_, err = c.GetObject(ctx(t), &oss.GetObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr(key)})
			wantCode(t, err, 404, "NoSuchKey")
			// HEAD has no body: the SDK reads the error from x-oss-err.
			_, err = c.HeadObject(ctx(t), &oss.HeadObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr(key)})
			wantCode(t, err, 404, "NoSuchKey")
			// Deleting a missing key succeeds, as on OSS.
			if _, err := c.DeleteObject(ctx(t), &oss.DeleteObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr(key)}); err != nil {
				t.Fatalf("DeleteObject of a missing key: %v", err)
			}
			if n := srv.Count("PutObject"); n != 1 {
				t.Errorf("Count(PutObject) = %d", n)
			}
		})
	}
}

func hexOf(b []byte) []byte {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return out
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestNoSuchBucket(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	_, err := c.PutObject(ctx(t), &oss.PutObjectRequest{Bucket: oss.Ptr("nope-bucket"), Key: oss.Ptr("k"), Body: strings.NewReader("x")})
	se := wantCode(t, err, 404, "NoSuchBucket")
	if se.EC != "0015-00000101" {
		t.Errorf("EC %q", se.EC)
	}
	_, err = c.ListObjectsV2(ctx(t), &oss.ListObjectsV2Request{Bucket: oss.Ptr("nope-bucket")})
	wantCode(t, err, 404, "NoSuchBucket")
}

func TestRange(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	body := []byte("0123456789")
	put(t, c, "r", body)
	cases := []struct {
		rng      string
		standard bool
		status   int
		want     string
		cr       string
		code     string
	}{
		{"bytes=0-3", false, 206, "0123", "bytes 0-3/10", ""},
		{"bytes=5-", false, 206, "56789", "bytes 5-9/10", ""},
		{"bytes=-3", false, 206, "789", "bytes 7-9/10", ""},
		{"bytes=8-20", false, 200, "0123456789", "", ""}, // out of bounds: ignored
		{"bytes=8-20", true, 206, "89", "bytes 8-9/10", ""},
		{"bytes=10-20", false, 200, "0123456789", "", ""},
		{"bytes=10-20", true, 416, "", "", "InvalidRange"},
		{"bytes=-30", true, 206, "0123456789", "bytes 0-9/10", ""},
		{"bytes=0-1,4-5", false, 206, "01", "bytes 0-1/10", ""}, // first range only
		{"bytes=5-2", false, 200, "0123456789", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.rng+strconv.FormatBool(tc.standard), func(t *testing.T) {
			req := &oss.GetObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("r"), Range: oss.Ptr(tc.rng)}
			if tc.standard {
				req.RangeBehavior = oss.Ptr("standard")
			}
			res, err := c.GetObject(ctx(t), req)
			if tc.code != "" {
				wantCode(t, err, tc.status, tc.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.status || string(got) != tc.want || oss.ToString(res.ContentRange) != tc.cr {
				t.Errorf("got %d %q %q, want %d %q %q", res.StatusCode, got, oss.ToString(res.ContentRange), tc.status, tc.want, tc.cr)
			}
			// The CRC64 is the whole object's, even for a range.
			if oss.ToString(res.HashCRC64) != strconv.FormatUint(crc64.Checksum(body, crcTable), 10) {
				t.Errorf("CRC64 %s", oss.ToString(res.HashCRC64))
			}
		})
	}
}

func TestIntegrityChecks(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	body := []byte("payload")
	wrong := md5.Sum([]byte("other"))
	_, err := c.PutObject(ctx(t), &oss.PutObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("k"),
		Body: bytesReader(body), ContentMD5: oss.Ptr(base64.StdEncoding.EncodeToString(wrong[:]))})
	wantCode(t, err, 400, "InvalidDigest")
	right := md5.Sum(body)
	if _, err := c.PutObject(ctx(t), &oss.PutObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("k"),
		Body: bytesReader(body), ContentMD5: oss.Ptr(base64.StdEncoding.EncodeToString(right[:]))}); err != nil {
		t.Fatalf("PutObject with a right Content-MD5: %v", err)
	}

	crc := crc64.Checksum(body, crcTable)
	req := func(v uint64) *oss.PutObjectRequest {
		r := &oss.PutObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("c"), Body: bytesReader(body)}
		r.Headers = map[string]string{"x-oss-hash-crc64ecma": strconv.FormatUint(v, 10)}
		return r
	}
	_, err = c.PutObject(ctx(t), req(crc+1))
	wantCode(t, err, 400, "InvalidDigest")
	if _, err := c.PutObject(ctx(t), req(crc)); err != nil {
		t.Fatalf("PutObject with a right CRC64: %v", err)
	}
	if _, _, ok := srv.Get(testBucket, "c"); !ok {
		t.Error("object not stored")
	}
}

func TestForbidOverwriteAndPreconditions(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	res := put(t, c, "k", []byte("v1"))
	_, err := c.PutObject(ctx(t), &oss.PutObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("k"),
		Body: strings.NewReader("v2"), ForbidOverwrite: oss.Ptr("true")})
	wantCode(t, err, 409, "FileAlreadyExists")
	_, err = c.GetObject(ctx(t), &oss.GetObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("k"), IfMatch: oss.Ptr(`"00"`)})
	wantCode(t, err, 412, "PreconditionFailed")
	g, err := c.GetObject(ctx(t), &oss.GetObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("k"), IfMatch: res.ETag})
	if err != nil {
		t.Fatalf("If-Match with the right ETag: %v", err)
	}
	g.Body.Close()
}

func TestDeleteMultipleAndCopy(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	keys := []string{"a b", "c+d", "e%f", "g&h<i>", "日志/1"}
	for _, k := range keys {
		put(t, c, k, []byte(k))
	}
	cp, err := c.CopyObject(ctx(t), &oss.CopyObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("copy"), SourceKey: oss.Ptr("日志/1")})
	if err != nil {
		t.Fatalf("CopyObject: %v", err)
	}
	if got := get(t, c, "copy"); string(got) != "日志/1" || oss.ToString(cp.HashCRC64) == "" {
		t.Errorf("copy body %q, %+v", got, cp)
	}
	var objs []oss.DeleteObject
	for _, k := range append(keys, "missing") {
		objs = append(objs, oss.DeleteObject{Key: oss.Ptr(k)})
	}
	res, err := c.DeleteMultipleObjects(ctx(t), &oss.DeleteMultipleObjectsRequest{Bucket: oss.Ptr(testBucket), Delete: &oss.Delete{Objects: objs}})
	if err != nil {
		t.Fatalf("DeleteMultipleObjects: %v", err)
	}
	var deleted []string
	for _, d := range res.DeletedObjects {
		deleted = append(deleted, oss.ToString(d.Key))
	}
	if strings.Join(deleted, "|") != strings.Join(append(keys, "missing"), "|") {
		t.Errorf("deleted %q", deleted)
	}
	if objs := srv.Objects(testBucket); len(objs) != 1 || objs[0].Key != "copy" {
		t.Errorf("left %v", objs)
	}
}

func TestDirectAccess(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	// A planted object is served like an uploaded one, CRC64 included.
	srv.Put(testBucket, "planted", []byte("hostile\x00bytes"), map[string]string{"Format": "v999"})
	res, err := c.GetObject(ctx(t), &oss.GetObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("planted")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(b) != "hostile\x00bytes" || res.Metadata["format"] != "v999" {
		t.Errorf("got %q %v", b, res.Metadata)
	}
	put(t, c, "up", []byte("xyz"))
	body, meta, ok := srv.Get(testBucket, "up")
	if !ok || string(body) != "xyz" || len(meta) != 0 {
		t.Errorf("Get: %q %v %v", body, meta, ok)
	}
	if _, _, ok := srv.Get(testBucket, "nothing"); ok {
		t.Error("Get of a missing key reported ok")
	}
	objs := srv.Objects(testBucket)
	if len(objs) != 2 || objs[0].Key != "planted" || objs[1].Size != 3 || objs[1].ContentType == "" {
		t.Errorf("Objects: %+v", objs)
	}
	if !srv.Delete(testBucket, "up") || srv.Delete(testBucket, "up") {
		t.Error("Delete")
	}
}

func TestBucketInfoLocationAndListBuckets(t *testing.T) {
	srv := newServer(t, func(o *Options) { o.Region = "cn-shanghai"; o.Buckets = append(o.Buckets, "zz-other") })
	c := newClient(t, srv, func(c *oss.Config) { c.WithRegion("cn-shanghai") })
	loc, err := c.GetBucketLocation(ctx(t), &oss.GetBucketLocationRequest{Bucket: oss.Ptr(testBucket)})
	if err != nil || oss.ToString(loc.LocationConstraint) != "oss-cn-shanghai" {
		t.Fatalf("GetBucketLocation: %v %v", oss.ToString(loc.LocationConstraint), err)
	}
	info, err := c.GetBucketInfo(ctx(t), &oss.GetBucketInfoRequest{Bucket: oss.Ptr(testBucket)})
	if err != nil {
		t.Fatal(err)
	}
	if oss.ToString(info.BucketInfo.Name) != testBucket || oss.ToString(info.BucketInfo.Location) != "oss-cn-shanghai" ||
		oss.ToString(info.BucketInfo.IntranetEndpoint) != "oss-cn-shanghai-internal.aliyuncs.com" || oss.ToString(info.BucketInfo.ACL) != "private" {
		t.Errorf("bucket info %+v", info.BucketInfo)
	}
	p := c.NewListBucketsPaginator(&oss.ListBucketsRequest{})
	var names []string
	for p.HasNext() {
		page, err := p.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range page.Buckets {
			names = append(names, oss.ToString(b.Name))
		}
	}
	if strings.Join(names, ",") != testBucket+",zz-other" {
		t.Errorf("buckets %v", names)
	}
}

// TestVirtualHosted uses a real-looking internal endpoint: the SDK then
// addresses the bucket in the Host header (BUCKET.oss-...), and the
// server's HTTPClient routes every host to it.
func TestVirtualHosted(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, func(c *oss.Config) {
		c.WithEndpoint("oss-cn-hangzhou-internal.aliyuncs.com").WithDisableSSL(true).WithHttpClient(srv.HTTPClient())
	})
	put(t, c, "dir/k", []byte("hello"))
	if got := get(t, c, "dir/k"); string(got) != "hello" {
		t.Errorf("got %q", got)
	}
	res, err := c.ListObjectsV2(ctx(t), &oss.ListObjectsV2Request{Bucket: oss.Ptr(testBucket), Prefix: oss.Ptr("dir/")})
	if err != nil || len(res.Contents) != 1 {
		t.Fatalf("list: %v %+v", err, res)
	}
	_, err = c.GetObject(ctx(t), &oss.GetObjectRequest{Bucket: oss.Ptr("missing-bucket"), Key: oss.Ptr("k")})
	wantCode(t, err, 404, "NoSuchBucket")
}

func TestDiskMode(t *testing.T) {
	dir := t.TempDir()
	srv := newServer(t, func(o *Options) { o.DiskDir = dir })
	c := newClient(t, srv)
	body := randomBytes(3<<20, 1)
	put(t, c, "big", body)
	if got := get(t, c, "big"); !bytes.Equal(got, body) {
		t.Fatal("disk-backed body differs")
	}
	put(t, c, "big", body[:10]) // overwrite frees the old file
	files := func() int {
		n := 0
		entries, _ := os.ReadDir(srv.diskDir)
		for range entries {
			n++
		}
		return n
	}
	if n := files(); n != 1 {
		t.Errorf("%d blob files after overwrite, want 1", n)
	}
	srv.Close()
	if _, err := os.Stat(srv.diskDir); !os.IsNotExist(err) {
		t.Errorf("disk dir left after Close: %v", err)
	}
	srv.Close() // twice is fine
}
