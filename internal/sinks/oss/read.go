package oss

import (
	"context"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"

	sdk "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"

	"github.com/logship/logship/internal/crc64ecma"
	"github.com/logship/logship/internal/sinks"
)

// List implements sinks.Lister with ListObjectsV2 pages (1000 keys each),
// which OSS returns in key order.
func (s *Sink) List(ctx context.Context, prefix string, fn func(sinks.ObjectInfo) error) error {
	p := s.client.NewListObjectsV2Paginator(&sdk.ListObjectsV2Request{Bucket: &s.bucket, Prefix: &prefix, MaxKeys: 1000})
	for p.HasNext() {
		page, err := s.page(ctx, func(ctx context.Context) (*sdk.ListObjectsV2Result, error) { return p.NextPage(ctx) })
		if err != nil {
			return s.classify(err, "")
		}
		for _, o := range page.Contents {
			oi := sinks.ObjectInfo{Key: sdk.ToString(o.Key), Size: o.Size}
			if o.LastModified != nil {
				oi.Modified = *o.LastModified
			}
			if err := fn(oi); err != nil {
				return err
			}
		}
	}
	return nil
}

// ListPrefixes implements sinks.PrefixLister: a listing with delimiter "/".
func (s *Sink) ListPrefixes(ctx context.Context, prefix string) ([]string, error) {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		return nil, fmt.Errorf("oss: prefix %q does not end in /", prefix)
	}
	p := s.client.NewListObjectsV2Paginator(&sdk.ListObjectsV2Request{Bucket: &s.bucket, Prefix: &prefix, Delimiter: sdk.Ptr("/"), MaxKeys: 1000})
	var out []string
	for p.HasNext() {
		page, err := s.page(ctx, func(ctx context.Context) (*sdk.ListObjectsV2Result, error) { return p.NextPage(ctx) })
		if err != nil {
			return nil, s.classify(err, "")
		}
		for _, cp := range page.CommonPrefixes {
			out = append(out, sdk.ToString(cp.Prefix))
		}
	}
	return out, nil
}

// page runs one listing request under the request timeout.
func (s *Sink) page(ctx context.Context, next func(context.Context) (*sdk.ListObjectsV2Result, error)) (*sdk.ListObjectsV2Result, error) {
	ctx, _, done := watchdog(ctx, s.timeout)
	defer done()
	res, err := next(ctx)
	if err != nil {
		return nil, withCause(ctx, err)
	}
	return res, nil
}

// withCause replaces a cancellation caused by the watchdog with errTimeout.
func withCause(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil && c != ctx.Err() {
		return &opError{op: opName(err), err: c}
	}
	return err
}

// Get implements sinks.Getter. The body verifies, when it reaches EOF,
// that the bytes read have the length and the CRC64-ECMA OSS announced,
// and returns an error wrapping ErrChecksum (or io.ErrUnexpectedEOF)
// instead of io.EOF when they do not. The request is cancelled when no
// byte arrives for sink.timeout, and by Close.
func (s *Sink) Get(ctx context.Context, key string) (io.ReadCloser, sinks.ObjectInfo, error) {
	ctx, kick, done := watchdog(ctx, s.timeout)
	res, err := s.client.GetObject(ctx, &sdk.GetObjectRequest{Bucket: &s.bucket, Key: &key})
	if err != nil {
		err = withCause(ctx, err)
		done()
		return nil, sinks.ObjectInfo{}, s.classify(err, key)
	}
	oi := sinks.ObjectInfo{Key: key, Size: res.ContentLength, Meta: res.Metadata}
	if res.LastModified != nil {
		oi.Modified = *res.LastModified
	}
	r := &crcReader{body: res.Body, key: key, ctx: ctx, kick: kick, done: done, size: res.ContentLength, h: crc64ecma.New()}
	if v := sdk.ToString(res.HashCRC64); v != "" {
		want, err := strconv.ParseUint(v, 10, 64)
		if err == nil {
			r.want, r.check = want, true
		}
	}
	return r, oi, nil
}

// Stat implements sinks.Stater with HeadObject: the object's size, time
// and x-oss-meta-* (the mirrored chunk header), without its body.
func (s *Sink) Stat(ctx context.Context, key string) (sinks.ObjectInfo, error) {
	ctx, _, done := watchdog(ctx, s.timeout)
	defer done()
	res, err := s.client.HeadObject(ctx, &sdk.HeadObjectRequest{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return sinks.ObjectInfo{}, s.classify(withCause(ctx, err), key)
	}
	oi := sinks.ObjectInfo{Key: key, Size: res.ContentLength, Meta: res.Metadata}
	if res.LastModified != nil {
		oi.Modified = *res.LastModified
	}
	return oi, nil
}

// crcReader streams an object body and checks it at EOF.
type crcReader struct {
	body  io.ReadCloser
	key   string
	ctx   context.Context
	kick  func()
	done  func()
	h     hash.Hash64
	n     int64
	size  int64 // -1 when unknown
	want  uint64
	check bool
	err   error
}

func (r *crcReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.body.Read(p)
	if n > 0 {
		r.kick()
		r.h.Write(p[:n])
		r.n += int64(n)
	}
	switch {
	case err == io.EOF:
		if r.size >= 0 && r.n != r.size {
			err = fmt.Errorf("oss: %s: %w after %d of %d bytes", r.key, io.ErrUnexpectedEOF, r.n, r.size)
		} else if r.check && r.h.Sum64() != r.want {
			err = fmt.Errorf("oss: %s: %w: read %d, OSS says %d", r.key, ErrChecksum, r.h.Sum64(), r.want)
		}
		r.err = err
	case err != nil:
		if c := context.Cause(r.ctx); c != nil && c != r.ctx.Err() {
			err = c
		}
		err = fmt.Errorf("oss: %s: %w", r.key, err)
		r.err = err
	}
	return n, err
}

func (r *crcReader) Close() error {
	err := r.body.Close()
	r.done()
	return err
}

// stat is HeadObject, for Complete's check after a lost response: the
// object's CRC-64 (ok is false when the server sent none) and ETag.
func (s *Sink) stat(ctx context.Context, key string) (crc uint64, ok bool, etag string, err error) {
	ctx, _, done := watchdog(ctx, s.timeout)
	defer done()
	res, err := s.client.HeadObject(ctx, &sdk.HeadObjectRequest{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return 0, false, "", s.classify(withCause(ctx, err), key)
	}
	v, perr := strconv.ParseUint(sdk.ToString(res.HashCRC64), 10, 64)
	return v, perr == nil, sdk.ToString(res.ETag), nil
}
