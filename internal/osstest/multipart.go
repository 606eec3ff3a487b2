package osstest

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	maxPartNumber = 10000
	minPartSize   = 100 << 10 // every part but the last, as in OSS
)

type upload struct {
	id        string
	key       string
	initiated time.Time
	header    http.Header
	parts     map[int]*part
}

type part struct {
	num      int
	blob     *blob
	md5      []byte
	crc      uint64
	modified time.Time
}

func (p *part) etag() string { return etagOf(p.md5) }

func (u *upload) release() {
	for _, p := range u.parts {
		p.blob.release()
	}
}

type initiateResult struct {
	XMLName      xml.Name `xml:"InitiateMultipartUploadResult"`
	Bucket       string   `xml:"Bucket"`
	Key          string   `xml:"Key"`
	UploadID     string   `xml:"UploadId"`
	EncodingType string   `xml:"EncodingType,omitempty"`
}

func (s *Server) initiateMultipartUpload(w http.ResponseWriter, r *http.Request, req *request) *ossError {
	if err := checkKey(req.key); err != nil {
		return err
	}
	u := &upload{id: newID(16), key: req.key, header: entityHeaders(r.Header), parts: map[int]*part{}}
	s.mu.Lock()
	b := s.buckets[req.bucket]
	if forbidOverwrite(r) && b.objects[req.key] != nil {
		s.mu.Unlock()
		return errAlreadyExists()
	}
	u.initiated = s.nowLocked()
	b.uploads[u.id] = u
	s.mu.Unlock()
	enc := encodingOf(r.URL.Query())
	res := initiateResult{Bucket: req.bucket, Key: enc.name(req.key), UploadID: u.id, EncodingType: enc.String()}
	writeXML(w, res)
	return nil
}

// findUpload returns the upload named by the uploadId query parameter; it
// must be called with s.mu held.
func (s *Server) findUploadLocked(r *http.Request, req *request) (*bucket, *upload, *ossError) {
	id := r.URL.Query().Get("uploadId")
	b := s.buckets[req.bucket]
	if b == nil {
		return nil, nil, errNoSuchBucket(req.bucket)
	}
	u := b.uploads[id]
	if u == nil || u.key != req.key {
		return nil, nil, errNoSuchUpload(id)
	}
	return b, u, nil
}

func (s *Server) uploadPart(w http.ResponseWriter, r *http.Request, req *request) *ossError {
	pn := r.URL.Query().Get("partNumber")
	num, err := strconv.Atoi(pn)
	if err != nil || num < 1 || num > maxPartNumber {
		return errInvalidArgument("Part number must be an integer between 1 and 10000, inclusive.", "partNumber", pn)
	}
	s.mu.Lock()
	_, _, oerr := s.findUploadLocked(r, req)
	s.mu.Unlock()
	if oerr != nil {
		return oerr
	}
	b, d, oerr := s.receiveChecked(r)
	if oerr != nil {
		return oerr
	}
	p := &part{num: num, blob: b, md5: d.md5, crc: d.crc}
	s.mu.Lock()
	_, u, oerr := s.findUploadLocked(r, req) // it may have been aborted meanwhile
	if oerr != nil {
		s.mu.Unlock()
		b.release()
		return oerr
	}
	p.modified = s.nowLocked()
	if old := u.parts[num]; old != nil {
		old.blob.release()
	}
	u.parts[num] = p
	s.mu.Unlock()

	h := w.Header()
	h.Set("ETag", p.etag())
	h.Set("Content-MD5", base64.StdEncoding.EncodeToString(p.md5))
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(p.crc, 10))
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

type completeRequest struct {
	Parts []struct {
		PartNumber int    `xml:"PartNumber"`
		ETag       string `xml:"ETag"`
	} `xml:"Part"`
}

type completeResult struct {
	XMLName      xml.Name `xml:"CompleteMultipartUploadResult"`
	EncodingType string   `xml:"EncodingType,omitempty"`
	Location     string   `xml:"Location"`
	Bucket       string   `xml:"Bucket"`
	Key          string   `xml:"Key"`
	ETag         string   `xml:"ETag"`
}

func errInvalidPart(num int, msg string) *ossError {
	return errorf(400, "InvalidPart", msg).with("PartNumber", strconv.Itoa(num))
}

func (s *Server) completeMultipartUpload(w http.ResponseWriter, r *http.Request, req *request) *ossError {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return errorf(400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.")
	}
	if md := r.Header.Get("Content-MD5"); md != "" {
		if sum := md5.Sum(body); md != base64.StdEncoding.EncodeToString(sum[:]) {
			return errInvalidDigest("The Content-MD5 you specified did not match what we received.").with("Content-MD5", md)
		}
	}
	completeAll := strings.EqualFold(r.Header.Get("x-oss-complete-all"), "yes")
	var cr completeRequest
	if completeAll {
		if len(strings.TrimSpace(string(body))) > 0 {
			return errInvalidArgument("Should not specify both complete all header and http body.", "x-oss-complete-all", "yes")
		}
	} else if err := xml.Unmarshal(body, &cr); err != nil || len(cr.Parts) == 0 {
		return errMalformedXML()
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	b, u, oerr := s.findUploadLocked(r, req)
	if oerr != nil {
		return oerr
	}
	var parts []*part
	if completeAll {
		for _, p := range u.parts {
			parts = append(parts, p)
		}
		sort.Slice(parts, func(i, j int) bool { return parts[i].num < parts[j].num })
		if len(parts) == 0 {
			return errInvalidArgument("The upload has no part.", "x-oss-complete-all", "yes")
		}
	} else {
		for i, cp := range cr.Parts {
			if i > 0 && cp.PartNumber <= cr.Parts[i-1].PartNumber {
				return errorf(400, "InvalidPartOrder", "The list of parts was not in ascending order. Parts must be ordered by part number.")
			}
			p := u.parts[cp.PartNumber]
			if p == nil {
				return errInvalidPart(cp.PartNumber, "One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag.")
			}
			if strings.Trim(cp.ETag, `"`) != strings.Trim(p.etag(), `"`) {
				return errInvalidPart(cp.PartNumber, "One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag.").with("ETag", cp.ETag)
			}
			parts = append(parts, p)
		}
	}
	for i, p := range parts[:len(parts)-1] {
		if p.blob.size < minPartSize {
			return errorf(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size.").
				with("PartNumber", strconv.Itoa(parts[i].num)).with("PartSize", strconv.FormatInt(p.blob.size, 10))
		}
	}
	if forbidOverwrite(r) && b.objects[req.key] != nil {
		return errAlreadyExists()
	}

	o := &object{key: req.key, typ: "Multipart", header: u.header, modified: s.nowLocked()}
	sums := md5.New()
	used := map[int]bool{}
	for _, p := range parts {
		o.blobs = append(o.blobs, p.blob)
		o.crc = crc64Combine(o.crc, p.crc, p.blob.size)
		o.size += p.blob.size
		sums.Write(p.md5)
		used[p.num] = true
	}
	o.etag = `"` + strings.ToUpper(hex.EncodeToString(sums.Sum(nil))) + "-" + strconv.Itoa(len(parts)) + `"`
	for num, p := range u.parts { // parts left out of the list are discarded
		if !used[num] {
			p.blob.release()
		}
	}
	delete(b.uploads, u.id)
	s.storeLocked(b, o)

	enc := encodingOf(r.URL.Query())
	res := completeResult{Location: s.endpoint + "/" + req.bucket + "/" + escapePath(req.key), Bucket: req.bucket,
		Key: enc.name(req.key), ETag: o.etag, EncodingType: enc.String()}
	w.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.crc, 10))
	writeXML(w, res)
	return nil
}

func (s *Server) abortMultipartUpload(w http.ResponseWriter, r *http.Request, req *request) *ossError {
	s.mu.Lock()
	b, u, oerr := s.findUploadLocked(r, req)
	if oerr == nil {
		u.release()
		delete(b.uploads, u.id)
	}
	s.mu.Unlock()
	if oerr != nil {
		return oerr
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type partXML struct {
	PartNumber    int    `xml:"PartNumber"`
	LastModified  string `xml:"LastModified"`
	ETag          string `xml:"ETag"`
	HashCrc64ecma string `xml:"HashCrc64ecma,omitempty"`
	Size          int64  `xml:"Size"`
}

type listPartsResult struct {
	XMLName              xml.Name  `xml:"ListPartsResult"`
	EncodingType         string    `xml:"EncodingType,omitempty"`
	Bucket               string    `xml:"Bucket"`
	Key                  string    `xml:"Key"`
	UploadID             string    `xml:"UploadId"`
	StorageClass         string    `xml:"StorageClass"`
	PartNumberMarker     int       `xml:"PartNumberMarker"`
	NextPartNumberMarker int       `xml:"NextPartNumberMarker"`
	MaxParts             int       `xml:"MaxParts"`
	IsTruncated          bool      `xml:"IsTruncated"`
	Parts                []partXML `xml:"Part"`
}

func (s *Server) listParts(w http.ResponseWriter, r *http.Request, req *request) *ossError {
	q := r.URL.Query()
	maxParts, oerr := parseMaxKeys(q, "max-parts", maxMaxKeys)
	if oerr != nil {
		return oerr
	}
	marker := 0
	if v := q.Get("part-number-marker"); v != "" {
		var err error
		if marker, err = strconv.Atoi(v); err != nil || marker < 0 {
			return errInvalidArgument("part-number-marker must be a non-negative integer.", "part-number-marker", v)
		}
	}
	enc := encodingOf(q)
	res := listPartsResult{Bucket: req.bucket, Key: enc.name(req.key), UploadID: q.Get("uploadId"), PartNumberMarker: marker,
		MaxParts: maxParts, EncodingType: enc.String()}
	s.mu.Lock()
	_, u, oerr := s.findUploadLocked(r, req)
	if oerr != nil {
		s.mu.Unlock()
		return oerr
	}
	res.StorageClass = u.header.Get("x-oss-storage-class")
	var nums []int
	for n := range u.parts {
		if n > marker {
			nums = append(nums, n)
		}
	}
	sort.Ints(nums)
	for i, n := range nums {
		if i == maxParts {
			res.IsTruncated = true
			break
		}
		p := u.parts[n]
		px := partXML{
			PartNumber: n, LastModified: p.modified.Format("2006-01-02T15:04:05.000Z"), ETag: p.etag(),
			HashCrc64ecma: strconv.FormatUint(p.crc, 10), Size: p.blob.size,
		}
		if s.opts.NoCRC64 {
			px.HashCrc64ecma = ""
		}
		res.Parts = append(res.Parts, px)
		res.NextPartNumberMarker = n
	}
	s.mu.Unlock()
	writeXML(w, res)
	return nil
}

type uploadXML struct {
	Key       string `xml:"Key"`
	UploadID  string `xml:"UploadId"`
	Initiated string `xml:"Initiated"`
}

type listUploadsResult struct {
	XMLName            xml.Name       `xml:"ListMultipartUploadsResult"`
	EncodingType       string         `xml:"EncodingType,omitempty"`
	Bucket             string         `xml:"Bucket"`
	KeyMarker          string         `xml:"KeyMarker"`
	UploadIDMarker     string         `xml:"UploadIdMarker"`
	NextKeyMarker      string         `xml:"NextKeyMarker"`
	NextUploadIDMarker string         `xml:"NextUploadIdMarker"`
	Delimiter          string         `xml:"Delimiter"`
	Prefix             string         `xml:"Prefix"`
	MaxUploads         int            `xml:"MaxUploads"`
	IsTruncated        bool           `xml:"IsTruncated"`
	Uploads            []uploadXML    `xml:"Upload"`
	CommonPrefixes     []commonPrefix `xml:"CommonPrefixes"`
}

func (s *Server) listMultipartUploads(w http.ResponseWriter, r *http.Request, req *request) *ossError {
	q := r.URL.Query()
	maxUploads, oerr := parseMaxKeys(q, "max-uploads", maxMaxKeys)
	if oerr != nil {
		return oerr
	}
	prefix, delim, keyMarker, idMarker := q.Get("prefix"), q.Get("delimiter"), q.Get("key-marker"), q.Get("upload-id-marker")
	enc := encodingOf(q)
	res := listUploadsResult{Bucket: req.bucket, KeyMarker: enc.name(keyMarker), UploadIDMarker: idMarker,
		Delimiter: enc.name(delim), Prefix: enc.name(prefix), MaxUploads: maxUploads, EncodingType: enc.String()}
	s.mu.Lock()
	var ups []*upload
	for _, u := range s.buckets[req.bucket].uploads {
		if !strings.HasPrefix(u.key, prefix) {
			continue
		}
		// after (key-marker, upload-id-marker); without an id marker, after every upload of key-marker
		if u.key < keyMarker || (u.key == keyMarker && (idMarker == "" || u.id <= idMarker)) {
			continue
		}
		ups = append(ups, u)
	}
	sort.Slice(ups, func(i, j int) bool {
		if ups[i].key != ups[j].key {
			return ups[i].key < ups[j].key
		}
		return ups[i].id < ups[j].id
	})
	count, lastPrefix := 0, ""
	for _, u := range ups {
		cp := ""
		if delim != "" {
			if i := strings.Index(u.key[len(prefix):], delim); i >= 0 {
				cp = u.key[:len(prefix)+i+len(delim)]
			}
		}
		if cp != "" && cp == lastPrefix {
			continue
		}
		if count == maxUploads {
			res.IsTruncated = true
			break
		}
		count++
		if cp != "" {
			res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{enc.name(cp)})
			lastPrefix = cp
			res.NextKeyMarker, res.NextUploadIDMarker = enc.name(cp), ""
			continue
		}
		res.Uploads = append(res.Uploads, uploadXML{Key: enc.name(u.key), UploadID: u.id, Initiated: u.initiated.Format("2006-01-02T15:04:05.000Z")})
		res.NextKeyMarker, res.NextUploadIDMarker = enc.name(u.key), u.id
	}
	s.mu.Unlock()
	writeXML(w, res)
	return nil
}
