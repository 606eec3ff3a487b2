package oss

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	sdk "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/crc64ecma"
	"github.com/logship/logship/internal/sinks"
)

// ResumeUpload implements sinks.Multipart. It looks for an unfinished
// upload of key (ListMultipartUploads; the newest if there are several)
// and returns it with its stored parts (ListParts), so that a restarted
// process sends only what is missing; else it starts one
// (InitiateMultipartUpload) with the object's Content-Type,
// Content-Disposition, x-oss-meta-* header, storage class and encryption.
// Listing needs oss:ListMultipartUploads and oss:ListParts; without them
// (AccessDenied) a new upload is started and the refusal logged.
func (s *Sink) ResumeUpload(ctx context.Context, key string, h *archive.Header, contentType string) (sinks.Upload, []sinks.Part, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	u := &upload{s: s, key: key, crcs: map[int]uint64{}}
	id, err := s.findUpload(ctx, key)
	if err != nil && !isAccessDenied(err) {
		return nil, nil, err
	}
	if err != nil {
		s.log.Warn("cannot look for an unfinished upload to resume; starting a new one", "key", key, "err", err)
	}
	if id != "" {
		u.id = id
		parts, err := u.listParts(ctx)
		if err == nil {
			s.log.Info("resuming multipart upload", "key", key, "parts_stored", len(parts))
			return u, parts, nil
		}
		switch {
		case isAccessDenied(err):
			s.log.Warn("cannot list the parts of the unfinished upload; starting a new one", "key", key, "err", err)
		case !errors.Is(err, errNoSuchUpload):
			return nil, nil, err
		}
	}
	nu, err := s.initiate(ctx, key, contentType, h)
	if err != nil {
		return nil, nil, err
	}
	return nu, nil, nil
}

// initiate starts a new multipart upload of key.
func (s *Sink) initiate(ctx context.Context, key, ctype string, h *archive.Header) (*upload, error) {
	if ctype == "" {
		ctype = contentType(&sinks.Object{Key: key})
	}
	req := &sdk.InitiateMultipartUploadRequest{
		Bucket: &s.bucket, Key: &key,
		ContentType:        &ctype,
		ContentDisposition: sdk.Ptr(disposition(key)),
		StorageClass:       s.storage,
	}
	s.applySSE(&req.ServerSideEncryption, &req.ServerSideEncryptionKeyId)
	if h != nil {
		req.Metadata = h.Meta()
	}
	cctx, _, done := watchdog(ctx, s.timeout)
	defer done()
	res, err := s.client.InitiateMultipartUpload(cctx, req)
	if err != nil {
		return nil, s.classify(withCause(cctx, err), key)
	}
	return &upload{s: s, key: key, id: sdk.ToString(res.UploadId), crcs: map[int]uint64{}}, nil
}

func isAccessDenied(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == "AccessDenied"
}

var errNoSuchUpload = errors.New("oss: the multipart upload no longer exists (completed or aborted)")

// findUpload returns the id of the newest unfinished upload of key, or "".
func (s *Sink) findUpload(ctx context.Context, key string) (string, error) {
	var id string
	var newest time.Time
	err := s.unfinishedUploads(ctx, key, func(k, upID string, t time.Time) {
		if k == key && (id == "" || t.After(newest)) {
			id, newest = upID, t
		}
	})
	return id, err
}

// unfinishedUploads calls fn for every multipart upload in progress whose
// key starts with prefix (ListMultipartUploads, all pages).
func (s *Sink) unfinishedUploads(ctx context.Context, prefix string, fn func(key, id string, initiated time.Time)) error {
	p := s.client.NewListMultipartUploadsPaginator(&sdk.ListMultipartUploadsRequest{Bucket: &s.bucket, Prefix: &prefix})
	for p.HasNext() {
		page, err := nextPage(ctx, s.timeout, p.NextPage)
		if err != nil {
			return s.classify(err, prefix)
		}
		for _, up := range page.Uploads {
			var t time.Time
			if up.Initiated != nil {
				t = *up.Initiated
			}
			fn(sdk.ToString(up.Key), sdk.ToString(up.UploadId), t)
		}
	}
	return nil
}

// nextPage fetches one page of a paginator within the sink's timeout, the
// watchdog's cause (no progress for TIMEOUT) kept in the error.
func nextPage[T any](ctx context.Context, timeout time.Duration, next func(context.Context, ...func(*sdk.Options)) (T, error)) (T, error) {
	cctx, _, done := watchdog(ctx, timeout)
	defer done()
	page, err := next(cctx)
	if err != nil {
		err = withCause(cctx, err)
	}
	return page, err
}

// upload is one multipart upload; safe for concurrent PutPart calls.
type upload struct {
	s   *Sink
	key string
	id  string

	mu   sync.Mutex
	crcs map[int]uint64 // CRC64 of each part, from ListParts or PutPart
}

// listParts returns the stored parts in order and records their CRC64s.
func (u *upload) listParts(ctx context.Context) ([]sinks.Part, error) {
	s := u.s
	p := s.client.NewListPartsPaginator(&sdk.ListPartsRequest{Bucket: &s.bucket, Key: &u.key, UploadId: &u.id})
	var parts []sinks.Part
	for p.HasNext() {
		page, err := nextPage(ctx, s.timeout, p.NextPage)
		if err != nil {
			if isCode(err, "NoSuchUpload") {
				return nil, errNoSuchUpload
			}
			return nil, s.classify(err, u.key)
		}
		for _, pt := range page.Parts {
			parts = append(parts, sinks.Part{Number: int(pt.PartNumber), Size: pt.Size, ETag: sdk.ToString(pt.ETag)})
			if c, err := strconv.ParseUint(sdk.ToString(pt.HashCRC64), 10, 64); err == nil {
				u.mu.Lock()
				u.crcs[int(pt.PartNumber)] = c
				u.mu.Unlock()
			}
		}
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Number < parts[j].Number })
	return parts, nil
}

func isCode(err error, code string) bool {
	var se *sdk.ServiceError
	return errors.As(err, &se) && se.Code == code
}

// PutPart implements sinks.Upload: UploadPart, checked against the CRC64
// OSS reports, or verified with Content-MD5 and the part's ETag when the
// server sends no CRC-64 (see Sink.verify).
func (u *upload) PutPart(ctx context.Context, n int, body []byte) (sinks.Part, error) {
	if err := ctx.Err(); err != nil {
		return sinks.Part{}, err
	}
	if n < 1 || n > 10000 {
		return sinks.Part{}, sinks.Permanent(fmt.Errorf("oss: %s: part number %d is not in 1..10000", u.key, n))
	}
	s := u.s
	crc := crc64ecma.Checksum(body)
	cctx, kick, done := watchdog(ctx, s.timeout)
	defer done()
	sentMD5 := s.contentMD5(body)
	res, err := s.client.UploadPart(cctx, &sdk.UploadPartRequest{
		Bucket: &s.bucket, Key: &u.key, UploadId: &u.id, PartNumber: int32(n),
		Body:          newKickReader(body, kick),
		ContentLength: sdk.Ptr(int64(len(body))),
		ContentMD5:    sentMD5,
	})
	if err != nil {
		return sinks.Part{}, s.classify(withCause(cctx, err), u.key)
	}
	if err := s.verify(res.HashCRC64, crc, sentMD5, res.ETag, body); err != nil {
		return sinks.Part{}, s.classify(&opError{op: "UploadPart", err: err}, u.key)
	}
	u.mu.Lock()
	u.crcs[n] = crc
	u.mu.Unlock()
	return sinks.Part{Number: n, Size: int64(len(body)), ETag: sdk.ToString(res.ETag)}, nil
}

// Complete implements sinks.Upload. The CRC64 of the object OSS assembled
// is checked against the combination of the parts' CRC64s (a server that
// sends no CRC-64 checked each part's Content-MD5, and checks the ETags
// listed here). If the upload is gone because an earlier Complete
// succeeded but its answer was lost, the object is checked the same way
// (or, without CRC-64, its ETag against the parts' ETags) and the call
// succeeds.
func (u *upload) Complete(ctx context.Context, parts []sinks.Part) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(parts) == 0 {
		return sinks.Permanent(fmt.Errorf("oss: %s: complete without parts", u.key))
	}
	s := u.s
	sorted := append([]sinks.Part(nil), parts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Number < sorted[j].Number })
	want, known, err := u.combined(ctx, sorted)
	if err != nil {
		return err
	}
	list := make([]sdk.UploadPart, len(sorted))
	for i, p := range sorted {
		list[i] = sdk.UploadPart{PartNumber: int32(p.Number), ETag: sdk.Ptr(p.ETag)}
	}
	cctx, _, done := watchdog(ctx, s.timeout)
	res, err := s.client.CompleteMultipartUpload(cctx, &sdk.CompleteMultipartUploadRequest{
		Bucket: &s.bucket, Key: &u.key, UploadId: &u.id,
		CompleteMultipartUpload: &sdk.CompleteMultipartUpload{Parts: list},
	})
	if err != nil {
		err = withCause(cctx, err)
	}
	done()
	if err != nil {
		if !isCode(err, "NoSuchUpload") {
			return s.classify(err, u.key)
		}
		// Completed before (a lost answer) or aborted: look at the object.
		got, ok, etag, serr := s.stat(ctx, u.key)
		if serr != nil && !errors.Is(serr, sinks.ErrNotFound) {
			return serr // could not look (a 503, the network): classified, retried
		}
		same := ok && known && got == want
		if serr == nil && !ok && !s.strict {
			same = sameMultipartETag(etag, sorted)
		}
		if !same {
			return sinks.Permanent(&Error{Op: "CompleteMultipartUpload", Key: u.key, Code: "NoSuchUpload",
				Fix: "the upload was aborted or replaced, and the object does not hold these parts: start the upload again"})
		}
		return nil
	}
	if !known && sdk.ToString(res.HashCRC64) != "" {
		s.log.Warn("multipart object not verified: the CRC64 of some parts is unknown", "key", u.key)
		return nil
	}
	if err := s.verify(res.HashCRC64, want, nil, nil, nil); err != nil {
		return s.classify(&opError{op: "CompleteMultipartUpload", err: err}, u.key)
	}
	return nil
}

// sameMultipartETag reports an ETag of the form OSS (and S3) give an
// object assembled from parts: the MD5 of the parts' MD5s, "-", the
// number of parts; each part's ETag being its MD5.
func sameMultipartETag(etag string, parts []sinks.Part) bool {
	h := md5.New()
	for _, p := range parts {
		sum, ok := md5ETag(&p.ETag)
		if !ok {
			return false
		}
		h.Write(sum[:])
	}
	want := hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(parts))
	return strings.EqualFold(strings.Trim(etag, `"`), want)
}

// combined is the CRC64 of the parts put together; parts whose CRC64 is
// not known yet (stored by another process and not listed) are listed.
func (u *upload) combined(ctx context.Context, parts []sinks.Part) (uint64, bool, error) {
	u.mu.Lock()
	missing := false
	for _, p := range parts {
		if _, ok := u.crcs[p.Number]; !ok {
			missing = true
		}
	}
	u.mu.Unlock()
	if missing {
		if _, err := u.listParts(ctx); err != nil && !errors.Is(err, errNoSuchUpload) {
			return 0, false, err
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	var crc uint64
	for _, p := range parts {
		c, ok := u.crcs[p.Number]
		if !ok {
			return 0, false, nil
		}
		crc = sdk.CRC64Combine(crc, c, uint64(p.Size))
	}
	return crc, true, nil
}

// Abort implements sinks.Upload; aborting an upload that is gone is not
// an error.
func (u *upload) Abort(ctx context.Context) error {
	s := u.s
	cctx, _, done := watchdog(ctx, s.timeout)
	defer done()
	_, err := s.client.AbortMultipartUpload(cctx, &sdk.AbortMultipartUploadRequest{Bucket: &s.bucket, Key: &u.key, UploadId: &u.id})
	if err != nil && !isCode(err, "NoSuchUpload") {
		return s.classify(withCause(cctx, err), u.key)
	}
	return nil
}

// putMultipart stores a body too big for one PutObject in parts of
// sink.part_size, sink.concurrency at a time; on failure the upload is
// aborted, so a retry starts clean and no parts are left behind.
func (s *Sink) putMultipart(ctx context.Context, obj *sinks.Object) error {
	u, err := s.initiate(ctx, obj.Key, obj.ContentType, obj.Header)
	if err != nil {
		return err
	}
	n := (len(obj.Body) + int(s.partSize) - 1) / int(s.partSize)
	parts := make([]sinks.Part, n)
	errs := make([]error, n)
	sem := make(chan struct{}, s.conc)
	var wg sync.WaitGroup
	pctx, cancel := context.WithCancel(ctx)
	for i := 0; i < n; i++ {
		lo := i * int(s.partSize)
		hi := min(lo+int(s.partSize), len(obj.Body))
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			parts[i], errs[i] = u.PutPart(pctx, i+1, obj.Body[lo:hi])
			if errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	cancel()
	err = errors.Join(errs...)
	if err == nil {
		err = u.Complete(ctx, parts)
	}
	if err != nil {
		actx, acancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
		if aerr := u.Abort(actx); aerr != nil {
			s.log.Warn("aborting a failed multipart upload", "key", obj.Key, "err", aerr)
		}
		acancel()
		return firstErr(errs, err)
	}
	return nil
}

// firstErr prefers a part's own failure over the cancellations it caused.
func firstErr(errs []error, fallback error) error {
	for _, e := range errs {
		if e != nil && !errors.Is(e, context.Canceled) {
			return e
		}
	}
	return fallback
}
