package osstest

import (
	"bytes"
	"hash/crc64"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
)

// TestUploader runs the SDK's Uploader, which checks the CRC64 of the
// completed object against the combination of the parts' CRC64s.
func TestUploader(t *testing.T) {
	for _, mode := range []string{"memory", "disk"} {
		t.Run(mode, func(t *testing.T) {
			srv := newServer(t, func(o *Options) {
				if mode == "disk" {
					o.DiskDir = t.TempDir()
				}
			})
			c := newClient(t, srv)
			body := randomBytes(2<<20+12345, 2)
			path := filepath.Join(t.TempDir(), "hs_err_pid1.log")
			if err := os.WriteFile(path, body, 0o600); err != nil {
				t.Fatal(err)
			}
			const partSize = 256 << 10
			u := c.NewUploader(func(o *oss.UploaderOptions) { o.PartSize = partSize; o.ParallelNum = 3 })
			res, err := u.UploadFile(ctx(t), &oss.PutObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("crash/hs_err_pid1.log"),
				Metadata: map[string]string{"kind": "crash"}}, path)
			if err != nil {
				t.Fatalf("UploadFile: %v", err)
			}
			nParts := (len(body) + partSize - 1) / partSize
			wantCRC := strconv.FormatUint(crc64.Checksum(body, crcTable), 10)
			if oss.ToString(res.HashCRC64) != wantCRC || !strings.HasSuffix(oss.ToString(res.ETag), "-"+strconv.Itoa(nParts)+`"`) {
				t.Errorf("result CRC %s ETag %s, want %s and -%d", oss.ToString(res.HashCRC64), oss.ToString(res.ETag), wantCRC, nParts)
			}
			if n := srv.Count("UploadPart"); n != nParts {
				t.Errorf("%d UploadPart requests, want %d", n, nParts)
			}
			g, err := c.GetObject(ctx(t), &oss.GetObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("crash/hs_err_pid1.log")})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(g.Body)
			g.Body.Close()
			if !bytes.Equal(got, body) || oss.ToString(g.ObjectType) != "Multipart" || g.Metadata["kind"] != "crash" || oss.ToString(g.HashCRC64) != wantCRC {
				t.Errorf("object differs: %d bytes, type %s, meta %v", len(got), oss.ToString(g.ObjectType), g.Metadata)
			}
			// A ranged read across a part boundary.
			r, err := c.GetObject(ctx(t), &oss.GetObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("crash/hs_err_pid1.log"),
				Range: oss.Ptr("bytes=" + strconv.Itoa(partSize-10) + "-" + strconv.Itoa(partSize+9))})
			if err != nil {
				t.Fatal(err)
			}
			part, _ := io.ReadAll(r.Body)
			r.Body.Close()
			if !bytes.Equal(part, body[partSize-10:partSize+10]) {
				t.Error("range across parts differs")
			}
			if ups := srv.Uploads(testBucket); len(ups) != 0 {
				t.Errorf("uploads left: %v", ups)
			}
		})
	}
}

// TestUploaderFromStream uploads from a plain io.Reader (no seeking), with
// UploadPart failures that the SDK retries.
func TestUploaderFromStream(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	body := randomBytes(1<<20, 3)
	srv.Inject(Fault{Op: "UploadPart", Times: 2, Status: 500})
	u := c.NewUploader(func(o *oss.UploaderOptions) { o.PartSize = 200 << 10 })
	res, err := u.UploadFrom(ctx(t), &oss.PutObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("stream")}, io.MultiReader(bytes.NewReader(body)))
	if err != nil {
		t.Fatalf("UploadFrom: %v", err)
	}
	if oss.ToString(res.HashCRC64) != strconv.FormatUint(crc64.Checksum(body, crcTable), 10) {
		t.Errorf("CRC %s", oss.ToString(res.HashCRC64))
	}
	if n := srv.Count("UploadPart"); n != 6+2 {
		t.Errorf("%d UploadPart requests, want 6 parts + 2 retries", n)
	}
	if got, _, _ := srv.Get(testBucket, "stream"); !bytes.Equal(got, body) {
		t.Error("body differs")
	}
}

func TestMultipartLowLevel(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv, withV1) // V1 signs uploadId and partNumber as subresources
	b, k := oss.Ptr(testBucket), oss.Ptr("dir/a b+c.bin")
	init, err := c.InitiateMultipartUpload(ctx(t), &oss.InitiateMultipartUploadRequest{Bucket: b, Key: k, ContentType: oss.Ptr("text/plain")})
	if err != nil {
		t.Fatal(err)
	}
	if oss.ToString(init.Key) != "dir/a b+c.bin" || oss.ToString(init.UploadId) == "" {
		t.Fatalf("initiate: %+v", init)
	}
	id := init.UploadId
	bodies := [][]byte{randomBytes(100<<10, 4), randomBytes(100<<10, 5), []byte("tail"), randomBytes(100<<10, 6), []byte("small")}
	var parts []oss.UploadPart
	for i, body := range bodies {
		up, err := c.UploadPart(ctx(t), &oss.UploadPartRequest{Bucket: b, Key: k, UploadId: id, PartNumber: int32(i + 1), Body: bytes.NewReader(body)})
		if err != nil {
			t.Fatalf("UploadPart %d: %v", i+1, err)
		}
		if oss.ToString(up.HashCRC64) != strconv.FormatUint(crc64.Checksum(body, crcTable), 10) {
			t.Errorf("part %d CRC %s", i+1, oss.ToString(up.HashCRC64))
		}
		parts = append(parts, oss.UploadPart{PartNumber: int32(i + 1), ETag: up.ETag})
	}

	p := c.NewListPartsPaginator(&oss.ListPartsRequest{Bucket: b, Key: k, UploadId: id, MaxParts: 2})
	var listed []int32
	pages := 0
	for p.HasNext() {
		page, err := p.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, part := range page.Parts {
			listed = append(listed, part.PartNumber)
			if part.Size != int64(len(bodies[part.PartNumber-1])) || part.HashCRC64 == nil || part.ETag == nil {
				t.Errorf("part %+v", part)
			}
		}
	}
	if pages != 3 || len(listed) != 5 || listed[4] != 5 {
		t.Errorf("ListParts: %v in %d pages", listed, pages)
	}

	ups, err := c.ListMultipartUploads(ctx(t), &oss.ListMultipartUploadsRequest{Bucket: b, Prefix: oss.Ptr("dir/")})
	if err != nil || len(ups.Uploads) != 1 || oss.ToString(ups.Uploads[0].Key) != "dir/a b+c.bin" || oss.ToString(ups.Uploads[0].UploadId) != oss.ToString(id) {
		t.Fatalf("ListMultipartUploads: %+v %v", ups, err)
	}

	// A small part that is not the last is refused, as on OSS.
	_, err = c.CompleteMultipartUpload(ctx(t), &oss.CompleteMultipartUploadRequest{Bucket: b, Key: k, UploadId: id,
		CompleteMultipartUpload: &oss.CompleteMultipartUpload{Parts: parts[:4]}})
	wantCode(t, err, 400, "EntityTooSmall")
	bad := []oss.UploadPart{parts[0], {PartNumber: 2, ETag: oss.Ptr(`"0000"`)}}
	_, err = c.CompleteMultipartUpload(ctx(t), &oss.CompleteMultipartUploadRequest{Bucket: b, Key: k, UploadId: id,
		CompleteMultipartUpload: &oss.CompleteMultipartUpload{Parts: bad}})
	wantCode(t, err, 400, "InvalidPart")

	// Parts 1, 2 and 4: part 3 and 5 are dropped.
	sel := []oss.UploadPart{parts[0], parts[1], parts[3]}
	done, err := c.CompleteMultipartUpload(ctx(t), &oss.CompleteMultipartUploadRequest{Bucket: b, Key: k, UploadId: id,
		CompleteMultipartUpload: &oss.CompleteMultipartUpload{Parts: sel}})
	if err != nil {
		t.Fatal(err)
	}
	want := append(append(append([]byte(nil), bodies[0]...), bodies[1]...), bodies[3]...)
	if oss.ToString(done.HashCRC64) != strconv.FormatUint(crc64.Checksum(want, crcTable), 10) || oss.ToString(done.Key) != "dir/a b+c.bin" {
		t.Errorf("complete: %+v", done)
	}
	if got, _, _ := srv.Get(testBucket, "dir/a b+c.bin"); !bytes.Equal(got, want) {
		t.Error("completed body differs")
	}
	_, err = c.UploadPart(ctx(t), &oss.UploadPartRequest{Bucket: b, Key: k, UploadId: id, PartNumber: 1, Body: strings.NewReader("x")})
	wantCode(t, err, 404, "NoSuchUpload")
}

func TestCompleteAllAndAbort(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	b := oss.Ptr(testBucket)
	init, err := c.InitiateMultipartUpload(ctx(t), &oss.InitiateMultipartUploadRequest{Bucket: b, Key: oss.Ptr("all")})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range []string{strings.Repeat("a", 100<<10), "bc"} {
		if _, err := c.UploadPart(ctx(t), &oss.UploadPartRequest{Bucket: b, Key: oss.Ptr("all"), UploadId: init.UploadId, PartNumber: int32(i + 1), Body: strings.NewReader(s)}); err != nil {
			t.Fatal(err)
		}
	}
	done, err := c.CompleteMultipartUpload(ctx(t), &oss.CompleteMultipartUploadRequest{Bucket: b, Key: oss.Ptr("all"), UploadId: init.UploadId, CompleteAll: oss.Ptr("yes")})
	if err != nil {
		t.Fatalf("complete-all: %v", err)
	}
	if got, _, _ := srv.Get(testBucket, "all"); len(got) != 100<<10+2 || oss.ToString(done.ETag) == "" {
		t.Errorf("complete-all object: %d bytes", len(got))
	}

	init, err = c.InitiateMultipartUpload(ctx(t), &oss.InitiateMultipartUploadRequest{Bucket: b, Key: oss.Ptr("aborted")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadPart(ctx(t), &oss.UploadPartRequest{Bucket: b, Key: oss.Ptr("aborted"), UploadId: init.UploadId, PartNumber: 1, Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	if ups := srv.Uploads(testBucket); len(ups) != 1 || ups[0].Parts != 1 {
		t.Fatalf("Uploads: %+v", ups)
	}
	if _, err := c.AbortMultipartUpload(ctx(t), &oss.AbortMultipartUploadRequest{Bucket: b, Key: oss.Ptr("aborted"), UploadId: init.UploadId}); err != nil {
		t.Fatal(err)
	}
	if ups := srv.Uploads(testBucket); len(ups) != 0 {
		t.Errorf("upload left after abort: %+v", ups)
	}
	_, err = c.AbortMultipartUpload(ctx(t), &oss.AbortMultipartUploadRequest{Bucket: b, Key: oss.Ptr("aborted"), UploadId: init.UploadId})
	wantCode(t, err, 404, "NoSuchUpload")
}

// TestUploaderSurvivesResets: parts whose connection is reset are sent
// again by the SDK's retryer, and the CRC64 check still passes.
func TestUploaderSurvivesResets(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	body := randomBytes(1<<20, 8)
	srv.Inject(Fault{Op: "UploadPart", Times: 2, Reset: true})
	srv.Inject(Fault{Op: "CompleteMultipartUpload", Times: 1, Status: 503})
	u := c.NewUploader(func(o *oss.UploaderOptions) { o.PartSize = 128 << 10; o.ParallelNum = 4 })
	if _, err := u.UploadFrom(ctx(t), &oss.PutObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("r")}, bytes.NewReader(body)); err != nil {
		t.Fatalf("UploadFrom: %v", err)
	}
	if got, _, _ := srv.Get(testBucket, "r"); !bytes.Equal(got, body) {
		t.Error("body differs")
	}
	if n := srv.Count("UploadPart"); n != 8+2 {
		t.Errorf("%d UploadPart requests, want 8 + 2 resets", n)
	}
}
