package osstest

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const maxKeyLen = 1023

func checkKey(key string) *ossError {
	if len(key) > maxKeyLen || strings.HasPrefix(key, "/") || strings.HasPrefix(key, `\`) {
		return errorf(400, "InvalidObjectName", "The specified object name is invalid.").with("Key", key)
	}
	return nil
}

// receiveChecked reads an upload body and verifies the Content-MD5 and
// x-oss-hash-crc64ecma request headers when present.
func (s *Server) receiveChecked(r *http.Request) (*blob, digest, *ossError) {
	var wantMD5 []byte
	if v := r.Header.Get("Content-MD5"); v != "" {
		sum, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(sum) != md5.Size {
			return nil, digest{}, errInvalidDigest("The Content-MD5 you specified was invalid.").with("Content-MD5", v)
		}
		wantMD5 = sum
	}
	var wantCRC *uint64
	if v := r.Header.Get("x-oss-hash-crc64ecma"); v != "" && !s.opts.NoCRC64 {
		c, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, digest{}, errInvalidArgument("The x-oss-hash-crc64ecma you specified is not a number.", "x-oss-hash-crc64ecma", v)
		}
		wantCRC = &c
	}
	b, d, err := s.receive(r.Body, r.ContentLength)
	if err != nil {
		return nil, digest{}, errorf(400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.")
	}
	if wantMD5 != nil && !bytes.Equal(wantMD5, d.md5) {
		b.release()
		return nil, digest{}, errInvalidDigest("The Content-MD5 you specified did not match what we received.").
			with("Content-MD5", r.Header.Get("Content-MD5")).
			with("CalculatedContentMD5", base64.StdEncoding.EncodeToString(d.md5))
	}
	if wantCRC != nil && *wantCRC != d.crc {
		b.release()
		return nil, digest{}, errInvalidDigest("The CRC64 you specified did not match what we received.").
			with("ClientCRC64", strconv.FormatUint(*wantCRC, 10)).
			with("ServerCRC64", strconv.FormatUint(d.crc, 10))
	}
	return b, d, nil
}

func forbidOverwrite(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("x-oss-forbid-overwrite"), "true")
}

func errAlreadyExists() *ossError {
	return errorf(409, "FileAlreadyExists", "The object you specified already exists and can not be overwritten.")
}

func (s *Server) putObject(w http.ResponseWriter, r *http.Request, req *request) *ossError {
	if err := checkKey(req.key); err != nil {
		return err
	}
	b, d, oerr := s.receiveChecked(r)
	if oerr != nil {
		return oerr
	}
	o := &object{
		key: req.key, blobs: []*blob{b}, size: b.size, etag: etagOf(d.md5), crc: d.crc,
		md5: base64.StdEncoding.EncodeToString(d.md5), typ: "Normal", header: entityHeaders(r.Header),
	}
	s.mu.Lock()
	bk := s.buckets[req.bucket]
	if bk == nil {
		s.mu.Unlock()
		b.release()
		return errNoSuchBucket(req.bucket)
	}
	if forbidOverwrite(r) && bk.objects[req.key] != nil {
		s.mu.Unlock()
		b.release()
		return errAlreadyExists()
	}
	o.modified = s.nowLocked()
	s.storeLocked(bk, o)
	s.mu.Unlock()

	h := w.Header()
	h.Set("ETag", o.etag)
	h.Set("Content-MD5", o.md5)
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.crc, 10))
	echoEncryption(h, o.header)
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

func echoEncryption(dst, stored http.Header) {
	for _, k := range []string{"x-oss-server-side-encryption", "x-oss-server-side-data-encryption", "x-oss-server-side-encryption-key-id"} {
		if v := stored.Get(k); v != "" {
			dst.Set(k, v)
		}
	}
}

type copyObjectResult struct {
	XMLName      xml.Name `xml:"CopyObjectResult"`
	ETag         string   `xml:"ETag"`
	LastModified string   `xml:"LastModified"`
}

// copyObject implements CopyObject within this server (the source may be
// in another bucket); it shares the source's data, so it is instant.
func (s *Server) copyObject(w http.ResponseWriter, r *http.Request, req *request) *ossError {
	if err := checkKey(req.key); err != nil {
		return err
	}
	src, err := url.PathUnescape(strings.TrimPrefix(r.Header.Get("x-oss-copy-source"), "/"))
	if err != nil {
		return errInvalidArgument("The x-oss-copy-source is invalid.", "x-oss-copy-source", r.Header.Get("x-oss-copy-source"))
	}
	src, _, _ = strings.Cut(src, "?")
	srcBucket, srcKey, _ := strings.Cut(src, "/")

	s.mu.Lock()
	defer s.mu.Unlock()
	sb, db := s.buckets[srcBucket], s.buckets[req.bucket]
	if sb == nil {
		return errNoSuchBucket(srcBucket)
	}
	so := sb.objects[srcKey]
	if so == nil {
		return errNoSuchKey(srcKey)
	}
	if forbidOverwrite(r) && db.objects[req.key] != nil {
		return errAlreadyExists()
	}
	header := so.header
	if strings.EqualFold(r.Header.Get("x-oss-metadata-directive"), "REPLACE") {
		header = entityHeaders(r.Header)
	} else if sc := r.Header.Get("x-oss-storage-class"); sc != "" {
		header = header.Clone()
		header.Set("x-oss-storage-class", sc)
	}
	o := &object{
		key: req.key, size: so.size, etag: so.etag, crc: so.crc, md5: so.md5,
		typ: so.typ, header: header, modified: s.nowLocked(),
	}
	for _, b := range so.blobs {
		o.blobs = append(o.blobs, b.acquire())
	}
	s.storeLocked(db, o)
	w.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.crc, 10))
	writeXML(w, copyObjectResult{ETag: o.etag, LastModified: o.modified.Format(time.RFC3339Nano)})
	return nil
}

// lookup finds an object and takes a reference on its data; the caller
// must call o.release.
func (s *Server) lookup(req *request) (*object, *ossError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[req.bucket]
	if b == nil {
		return nil, errNoSuchBucket(req.bucket)
	}
	o := b.objects[req.key]
	if o == nil {
		return nil, errNoSuchKey(req.key)
	}
	for _, bl := range o.blobs {
		bl.acquire()
	}
	return o, nil
}

func (s *Server) getObject(w http.ResponseWriter, r *http.Request, req *request) *ossError {
	return s.sendObject(w, r, req, true)
}

func (s *Server) headObject(w http.ResponseWriter, r *http.Request, req *request) *ossError {
	return s.sendObject(w, r, req, false)
}

func (s *Server) sendObject(w http.ResponseWriter, r *http.Request, req *request, body bool) *ossError {
	o, oerr := s.lookup(req)
	if oerr != nil {
		return oerr
	}
	defer o.release()
	h := w.Header()
	status, oerr := checkConditions(r, o)
	if oerr != nil {
		return oerr
	}
	h.Set("ETag", o.etag)
	h.Set("Last-Modified", o.modified.Format(http.TimeFormat))
	if status == http.StatusNotModified {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	for k, v := range o.header {
		h[k] = v
	}
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.crc, 10))
	h.Set("x-oss-object-type", o.typ)
	h.Set("Accept-Ranges", "bytes")
	if o.md5 != "" {
		h.Set("Content-MD5", o.md5)
	}
	q := r.URL.Query()
	for _, name := range []string{"Content-Type", "Content-Language", "Expires", "Cache-Control", "Content-Disposition", "Content-Encoding"} {
		if v := q.Get("response-" + strings.ToLower(name)); v != "" {
			h.Set(name, v)
		}
	}
	start, n, partial, oerr := parseRange(r, o.size)
	if oerr != nil {
		h.Set("Content-Range", "bytes */"+strconv.FormatInt(o.size, 10))
		return oerr
	}
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	status = http.StatusOK
	if partial {
		status = http.StatusPartialContent
		h.Set("Content-Range", "bytes "+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(start+n-1, 10)+"/"+strconv.FormatInt(o.size, 10))
	}
	w.WriteHeader(status)
	if body {
		_, _ = io.Copy(w, o.reader(start, n))
	}
	return nil
}

// parseRange applies the Range header as OSS does: by default a range that
// is malformed or out of bounds is ignored (200, whole object); with
// x-oss-range-behavior: standard the end is clamped and a start past the
// end is 416 InvalidRange. Only the first of several ranges is used.
func parseRange(r *http.Request, size int64) (start, n int64, partial bool, err *ossError) {
	hdr := r.Header.Get("Range")
	standard := strings.EqualFold(r.Header.Get("x-oss-range-behavior"), "standard")
	spec, ok := strings.CutPrefix(hdr, "bytes=")
	if hdr == "" || !ok {
		return 0, size, false, nil
	}
	spec, _, _ = strings.Cut(spec, ",")
	a, b, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, size, false, nil
	}
	invalid := errorf(416, "InvalidRange", "The requested range cannot be satisfied").
		with("RangeRequested", hdr).with("ActualObjectSize", strconv.FormatInt(size, 10))
	if a == "" { // suffix: the last b bytes
		m, e := strconv.ParseInt(b, 10, 64)
		if e != nil || m <= 0 {
			return 0, size, false, nil
		}
		if m > size {
			if !standard || size == 0 {
				if standard {
					return 0, 0, false, invalid
				}
				return 0, size, false, nil
			}
			m = size
		}
		return size - m, m, true, nil
	}
	first, e := strconv.ParseInt(a, 10, 64)
	if e != nil || first < 0 {
		return 0, size, false, nil
	}
	last := size - 1
	if b != "" {
		if last, e = strconv.ParseInt(b, 10, 64); e != nil || last < first {
			return 0, size, false, nil
		}
	}
	if first >= size {
		if standard {
			return 0, 0, false, invalid
		}
		return 0, size, false, nil
	}
	if last >= size {
		if !standard {
			return 0, size, false, nil
		}
		last = size - 1
	}
	return first, last - first + 1, true, nil
}

// checkConditions evaluates If-Match, If-None-Match, If-Modified-Since and
// If-Unmodified-Since; it returns 304 or a 412 error when they say so.
func checkConditions(r *http.Request, o *object) (int, *ossError) {
	failed := func(cond string) *ossError {
		return errorf(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold.").with("Condition", cond)
	}
	etagEq := func(v string) bool { return strings.Trim(v, `"`) == strings.Trim(o.etag, `"`) || v == "*" }
	mod := o.modified.Truncate(time.Second)
	if v := r.Header.Get("If-Match"); v != "" && !etagEq(v) {
		return 0, failed("If-Match")
	}
	if v := r.Header.Get("If-Unmodified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && mod.After(t) {
			return 0, failed("If-Unmodified-Since")
		}
	}
	if v := r.Header.Get("If-None-Match"); v != "" && etagEq(v) {
		return http.StatusNotModified, nil
	}
	if v := r.Header.Get("If-Modified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && !mod.After(t) {
			return http.StatusNotModified, nil
		}
	}
	return 0, nil
}

func (s *Server) getObjectMeta(w http.ResponseWriter, r *http.Request, req *request) *ossError {
	o, oerr := s.lookup(req)
	if oerr != nil {
		return oerr
	}
	defer o.release()
	h := w.Header()
	h.Set("ETag", o.etag)
	h.Set("Last-Modified", o.modified.Format(http.TimeFormat))
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.crc, 10))
	h.Set("Content-Length", strconv.FormatInt(o.size, 10))
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) deleteObject(w http.ResponseWriter, r *http.Request, req *request) *ossError {
	s.mu.Lock()
	if b := s.buckets[req.bucket]; b != nil {
		if o := b.objects[req.key]; o != nil {
			o.release()
			delete(b.objects, req.key)
		}
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent) // deleting a missing key succeeds, as in OSS
	return nil
}

type deleteRequest struct {
	Quiet   bool `xml:"Quiet"`
	Objects []struct {
		Key string `xml:"Key"`
	} `xml:"Object"`
}

type deleteResult struct {
	XMLName      xml.Name `xml:"DeleteResult"`
	EncodingType string   `xml:"EncodingType,omitempty"`
	Deleted      []struct {
		Key string `xml:"Key"`
	} `xml:"Deleted"`
}

const maxDeleteKeys = 1000

func (s *Server) deleteMultipleObjects(w http.ResponseWriter, r *http.Request, req *request) *ossError {
	body, err := io.ReadAll(io.LimitReader(r.Body, 2<<20))
	if err != nil {
		return errorf(400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.")
	}
	md := r.Header.Get("Content-MD5")
	if md == "" {
		return errInvalidArgument("Missing required header for this request: Content-MD5.", "Content-MD5", "")
	}
	if sum := md5.Sum(body); md != base64.StdEncoding.EncodeToString(sum[:]) {
		return errInvalidDigest("The Content-MD5 you specified did not match what we received.").with("Content-MD5", md)
	}
	var dr deleteRequest
	if err := xml.Unmarshal(body, &dr); err != nil || len(dr.Objects) == 0 {
		return errMalformedXML()
	}
	if len(dr.Objects) > maxDeleteKeys {
		return errorf(400, "MalformedXML", "The number of objects to delete exceeds 1000.")
	}
	encode := r.URL.Query().Get("encoding-type") == "url"
	var res deleteResult
	if encode {
		res.EncodingType = "url"
	}
	s.mu.Lock()
	b := s.buckets[req.bucket]
	for _, ob := range dr.Objects {
		if o := b.objects[ob.Key]; o != nil {
			o.release()
			delete(b.objects, ob.Key)
		}
		if !dr.Quiet {
			k := ob.Key
			if encode {
				k = ossEscape(k)
			}
			res.Deleted = append(res.Deleted, struct {
				Key string `xml:"Key"`
			}{k})
		}
	}
	s.mu.Unlock()
	writeXML(w, res)
	return nil
}
