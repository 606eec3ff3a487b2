package osstest

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	defaultMaxKeys = 100
	maxMaxKeys     = 1000
	ownerID        = "1234567890123456"
)

// ossEscape is the url encoding OSS applies to keys and prefixes when a
// listing asks for encoding-type=url: every byte but unreserved characters
// and '/' as %XX (spaces as %20, '+' as %2B).
func ossEscape(s string) string { return escapePath(s) }

// urlEncoding is whether a request asks for encoding-type=url: then the
// keys and prefixes of the response go through ossEscape and its
// EncodingType says "url".
type urlEncoding bool

func encodingOf(q url.Values) urlEncoding { return q.Get("encoding-type") == "url" }

// name returns s as the response carries it.
func (e urlEncoding) name(s string) string {
	if e {
		return ossEscape(s)
	}
	return s
}

// String is the EncodingType element of the response ("" leaves it out).
func (e urlEncoding) String() string {
	if e {
		return "url"
	}
	return ""
}

type owner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

type contents struct {
	Key          string `xml:"Key"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Type         string `xml:"Type"`
	Size         int64  `xml:"Size"`
	StorageClass string `xml:"StorageClass"`
	Owner        *owner `xml:"Owner,omitempty"`
}

type commonPrefix struct {
	Prefix string `xml:"Prefix"`
}

// listing is one page of a bucket listing.
type listing struct {
	contents  []*object
	prefixes  []string
	truncated bool
	next      string // last key or common prefix returned
}

// list pages through the keys after marker (exclusive) that start with
// prefix, folding keys that contain delimiter after the prefix into common
// prefixes; keys and common prefixes together count against maxKeys.
func (b *bucket) list(prefix, marker, delimiter string, maxKeys int) listing {
	keys := make([]string, 0, len(b.objects))
	for k := range b.objects {
		if strings.HasPrefix(k, prefix) && k > marker {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var l listing
	lastPrefix := ""
	count := 0
	for _, k := range keys {
		cp := ""
		if delimiter != "" {
			if i := strings.Index(k[len(prefix):], delimiter); i >= 0 {
				cp = k[:len(prefix)+i+len(delimiter)]
			}
		}
		if cp != "" && (cp == lastPrefix || cp == marker) {
			continue // folded into a prefix already returned
		}
		if count == maxKeys {
			l.truncated = true
			break
		}
		count++
		if cp != "" {
			l.prefixes = append(l.prefixes, cp)
			lastPrefix = cp
			l.next = cp
		} else {
			l.contents = append(l.contents, b.objects[k])
			l.next = k
		}
	}
	return l
}

func parseMaxKeys(q map[string][]string, name string, def int) (int, *ossError) {
	v := ""
	if vs := q[name]; len(vs) > 0 {
		v = vs[0]
	}
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > maxMaxKeys {
		return 0, errInvalidArgument(fmt.Sprintf("Argument %s must be an integer between 0 and %d.", name, maxMaxKeys), name, v)
	}
	return n, nil
}

func objectContents(o *object, withOwner bool, enc urlEncoding) contents {
	c := contents{
		Key: enc.name(o.key), LastModified: o.modified.Format("2006-01-02T15:04:05.000Z"), ETag: o.etag,
		Type: o.typ, Size: o.size, StorageClass: o.header.Get("x-oss-storage-class"),
	}
	if withOwner {
		c.Owner = &owner{ID: ownerID, DisplayName: ownerID}
	}
	return c
}

type listBucketResult struct {
	XMLName        xml.Name       `xml:"ListBucketResult"`
	Name           string         `xml:"Name"`
	Prefix         string         `xml:"Prefix"`
	Marker         string         `xml:"Marker"`
	MaxKeys        int            `xml:"MaxKeys"`
	Delimiter      string         `xml:"Delimiter"`
	EncodingType   string         `xml:"EncodingType,omitempty"`
	IsTruncated    bool           `xml:"IsTruncated"`
	NextMarker     string         `xml:"NextMarker,omitempty"`
	Contents       []contents     `xml:"Contents"`
	CommonPrefixes []commonPrefix `xml:"CommonPrefixes"`
}

func (s *Server) listObjectsV1(w http.ResponseWriter, r *http.Request, req *request) *ossError {
	q := r.URL.Query()
	maxKeys, oerr := parseMaxKeys(q, "max-keys", defaultMaxKeys)
	if oerr != nil {
		return oerr
	}
	prefix, marker, delim := q.Get("prefix"), q.Get("marker"), q.Get("delimiter")
	enc := encodingOf(q)
	res := listBucketResult{Name: req.bucket, Prefix: enc.name(prefix), Marker: enc.name(marker), MaxKeys: maxKeys,
		Delimiter: enc.name(delim), EncodingType: enc.String()}
	s.mu.Lock()
	l := s.buckets[req.bucket].list(prefix, marker, delim, maxKeys)
	for _, o := range l.contents {
		res.Contents = append(res.Contents, objectContents(o, true, enc))
	}
	s.mu.Unlock()
	for _, p := range l.prefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{enc.name(p)})
	}
	res.IsTruncated = l.truncated
	if l.truncated {
		res.NextMarker = enc.name(l.next)
	}
	writeXML(w, res)
	return nil
}

type listBucketV2Result struct {
	XMLName               xml.Name       `xml:"ListBucketResult"`
	Name                  string         `xml:"Name"`
	Prefix                string         `xml:"Prefix"`
	ContinuationToken     string         `xml:"ContinuationToken,omitempty"`
	StartAfter            string         `xml:"StartAfter,omitempty"`
	MaxKeys               int            `xml:"MaxKeys"`
	Delimiter             string         `xml:"Delimiter"`
	EncodingType          string         `xml:"EncodingType,omitempty"`
	IsTruncated           bool           `xml:"IsTruncated"`
	NextContinuationToken string         `xml:"NextContinuationToken,omitempty"`
	KeyCount              int            `xml:"KeyCount"`
	Contents              []contents     `xml:"Contents"`
	CommonPrefixes        []commonPrefix `xml:"CommonPrefixes"`
}

// Continuation tokens are opaque to clients; these are the unpadded
// base64url of the marker they stand for, which url-decoding leaves alone.
func encodeToken(marker string) string { return base64.RawURLEncoding.EncodeToString([]byte(marker)) }

func decodeToken(tok string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	return string(b), err == nil
}

func (s *Server) listObjectsV2(w http.ResponseWriter, r *http.Request, req *request) *ossError {
	q := r.URL.Query()
	maxKeys, oerr := parseMaxKeys(q, "max-keys", defaultMaxKeys)
	if oerr != nil {
		return oerr
	}
	prefix, startAfter, delim, token := q.Get("prefix"), q.Get("start-after"), q.Get("delimiter"), q.Get("continuation-token")
	enc := encodingOf(q)
	marker := startAfter
	if q.Has("continuation-token") {
		m, ok := decodeToken(token)
		if !ok || token == "" {
			return errInvalidArgument("The continuation token provided is incorrect.", "continuation-token", token)
		}
		marker = m
	}
	fetchOwner := q.Get("fetch-owner") == "true"
	res := listBucketV2Result{Name: req.bucket, Prefix: enc.name(prefix), StartAfter: enc.name(startAfter), MaxKeys: maxKeys,
		Delimiter: enc.name(delim), ContinuationToken: token, EncodingType: enc.String()}
	s.mu.Lock()
	l := s.buckets[req.bucket].list(prefix, marker, delim, maxKeys)
	for _, o := range l.contents {
		res.Contents = append(res.Contents, objectContents(o, fetchOwner, enc))
	}
	s.mu.Unlock()
	for _, p := range l.prefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{enc.name(p)})
	}
	res.KeyCount = len(res.Contents) + len(res.CommonPrefixes)
	res.IsTruncated = l.truncated
	if l.truncated {
		res.NextContinuationToken = encodeToken(l.next)
	}
	writeXML(w, res)
	return nil
}

type bucketSummary struct {
	Name             string `xml:"Name"`
	CreationDate     string `xml:"CreationDate"`
	Location         string `xml:"Location"`
	ExtranetEndpoint string `xml:"ExtranetEndpoint"`
	IntranetEndpoint string `xml:"IntranetEndpoint"`
	Region           string `xml:"Region"`
	StorageClass     string `xml:"StorageClass"`
}

type listAllMyBucketsResult struct {
	XMLName xml.Name        `xml:"ListAllMyBucketsResult"`
	Owner   owner           `xml:"Owner"`
	Buckets []bucketSummary `xml:"Buckets>Bucket"`
}

func (s *Server) summary(b *bucket) bucketSummary {
	loc := "oss-" + s.opts.Region
	return bucketSummary{
		Name: b.name, CreationDate: b.created.Format(time.RFC3339), Location: loc,
		ExtranetEndpoint: loc + ".aliyuncs.com", IntranetEndpoint: loc + "-internal.aliyuncs.com",
		Region: s.opts.Region, StorageClass: "Standard",
	}
}

func (s *Server) listBuckets(w http.ResponseWriter, r *http.Request, req *request) *ossError {
	q := r.URL.Query()
	prefix := q.Get("prefix")
	res := listAllMyBucketsResult{Owner: owner{ID: ownerID, DisplayName: ownerID}}
	s.mu.Lock()
	for _, b := range s.buckets {
		if strings.HasPrefix(b.name, prefix) {
			res.Buckets = append(res.Buckets, s.summary(b))
		}
	}
	s.mu.Unlock()
	sort.Slice(res.Buckets, func(i, j int) bool { return res.Buckets[i].Name < res.Buckets[j].Name })
	writeXML(w, res)
	return nil
}

type bucketInfo struct {
	XMLName xml.Name `xml:"BucketInfo"`
	Bucket  struct {
		bucketSummary
		AccessMonitor      string `xml:"AccessMonitor"`
		DataRedundancyType string `xml:"DataRedundancyType"`
		Owner              owner  `xml:"Owner"`
		ACL                string `xml:"AccessControlList>Grant"`
		Versioning         string `xml:"Versioning"`
		SSE                struct {
			SSEAlgorithm string `xml:"SSEAlgorithm"`
		} `xml:"ServerSideEncryptionRule"`
	} `xml:"Bucket"`
}

func (s *Server) getBucketInfo(w http.ResponseWriter, r *http.Request, req *request) *ossError {
	var res bucketInfo
	s.mu.Lock()
	b := s.buckets[req.bucket]
	res.Bucket.bucketSummary = s.summary(b)
	res.Bucket.ACL = "private"
	if b.public {
		res.Bucket.ACL = "public-read"
	}
	s.mu.Unlock()
	res.Bucket.AccessMonitor = "Disabled"
	res.Bucket.DataRedundancyType = "LRS"
	res.Bucket.Owner = owner{ID: ownerID, DisplayName: ownerID}
	res.Bucket.SSE.SSEAlgorithm = "None"
	writeXML(w, res)
	return nil
}

type locationConstraint struct {
	XMLName  xml.Name `xml:"LocationConstraint"`
	Location string   `xml:",chardata"`
}

func (s *Server) getBucketLocation(w http.ResponseWriter, r *http.Request, req *request) *ossError {
	writeXML(w, locationConstraint{Location: "oss-" + s.opts.Region})
	return nil
}
