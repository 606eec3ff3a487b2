package osstest

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// maxSkew is how far a signed request time may be from the server clock.
const maxSkew = 15 * time.Minute

const (
	v4Algorithm  = "OSS4-HMAC-SHA256"
	v4Terminator = "aliyun_v4_request"
	iso8601      = "20060102T150405Z"
)

// authenticate checks the request signature, in the four forms OSS
// accepts: V4 or V1, in the Authorization header or in the URL (presigned).
// Anonymous requests pass only for reads of a public bucket.
func (s *Server) authenticate(r *http.Request, req *request) *ossError {
	q := r.URL.Query()
	auth := r.Header.Get("Authorization")
	switch {
	case q.Get("x-oss-signature-version") != "":
		return s.authV4Query(r, req, q)
	case q.Has("OSSAccessKeyId") || q.Has("Signature"):
		return s.authV1Query(r, req, q)
	case strings.HasPrefix(auth, v4Algorithm+" "):
		return s.authV4Header(r, req, auth)
	case strings.HasPrefix(auth, "OSS "):
		return s.authV1Header(r, req, auth)
	case auth != "":
		return errInvalidArgument("Authorization header is invalid.", "Authorization", auth)
	}
	if req.bucket != "" && !writeOps[req.op] {
		s.mu.Lock()
		public := s.buckets[req.bucket] != nil && s.buckets[req.bucket].public
		s.mu.Unlock()
		if public {
			return nil
		}
	}
	return errAccessDenied("You have no right to access this object because of bucket acl.")
}

func (s *Server) checkKeyID(id string) *ossError {
	if id != s.opts.AccessKeyID {
		e := errorf(403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records.")
		return e.with("OSSAccessKeyId", id)
	}
	return nil
}

func (s *Server) checkSkew(t time.Time) *ossError {
	now := s.now()
	if d := now.Sub(t); d > maxSkew || d < -maxSkew {
		e := errorf(403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.")
		return e.with("RequestTime", t.UTC().Format(time.RFC3339)).
			with("ServerTime", now.Format(time.RFC3339)).
			with("MaxAllowedSkewMilliseconds", strconv.Itoa(int(maxSkew/time.Millisecond)))
	}
	return nil
}

func sigMismatch(provided, stringToSign string) *ossError {
	e := errorf(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	e.EC = "0002-00000040"
	return e.with("SignatureProvided", provided).with("StringToSign", stringToSign)
}

// ---- V1 ----

// v1Subresources are the query parameters that V1 signs (besides x-oss-*).
var v1Subresources = map[string]bool{
	"acl": true, "bucketInfo": true, "location": true, "stat": true, "delete": true,
	"append": true, "tagging": true, "objectMeta": true, "uploads": true, "uploadId": true,
	"partNumber": true, "security-token": true, "position": true,
	"response-content-type": true, "response-content-language": true, "response-expires": true,
	"response-cache-control": true, "response-content-disposition": true,
	"response-content-encoding": true, "restore": true, "callback": true, "callback-var": true,
	"versions": true, "versioning": true, "versionId": true, "sequential": true,
	"continuation-token": true, "regionList": true, "cloudboxes": true, "symlink": true,
	"cors": true, "lifecycle": true, "logging": true, "website": true, "referer": true,
	"policy": true, "encryption": true, "worm": true, "inventory": true, "qos": true,
}

func (s *Server) v1StringToSign(r *http.Request, req *request, date string) string {
	var hdrs []string
	for k := range r.Header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-oss-") {
			hdrs = append(hdrs, lk)
		}
	}
	sort.Strings(hdrs)
	var b strings.Builder
	b.WriteString(r.Method + "\n" + r.Header.Get("Content-MD5") + "\n" + r.Header.Get("Content-Type") + "\n" + date + "\n")
	for _, k := range hdrs {
		vals := r.Header.Values(k)
		trimmed := make([]string, len(vals))
		for i, v := range vals {
			trimmed[i] = strings.TrimSpace(v)
		}
		b.WriteString(k + ":" + strings.Join(trimmed, ",") + "\n")
	}
	b.WriteString(canonicalResource(req))
	q := r.URL.Query()
	var params []string
	for k := range q {
		if v1Subresources[k] || strings.HasPrefix(k, "x-oss-") {
			params = append(params, k)
		}
	}
	sort.Strings(params)
	for i, k := range params {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(k)
		if v := q.Get(k); v != "" {
			b.WriteString("=" + v)
		}
	}
	return b.String()
}

// canonicalResource is "/bucket/key" unescaped ("/bucket/" for a bucket,
// "/" for the service).
func canonicalResource(req *request) string {
	if req.bucket == "" {
		return "/"
	}
	return "/" + req.bucket + "/" + req.key
}

func v1Sign(secret, stringToSign string) string {
	h := hmac.New(sha1.New, []byte(secret))
	h.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

func (s *Server) authV1Header(r *http.Request, req *request, auth string) *ossError {
	id, sig, ok := strings.Cut(strings.TrimPrefix(auth, "OSS "), ":")
	if !ok || id == "" || sig == "" {
		return errInvalidArgument("Authorization header is invalid.", "Authorization", auth)
	}
	if err := s.checkKeyID(id); err != nil {
		return err
	}
	date := r.Header.Get("Date")
	t, err := http.ParseTime(date)
	if err != nil {
		return errAccessDenied("OSS authentication requires a valid Date.")
	}
	if err := s.checkSkew(t); err != nil {
		return err
	}
	sts := s.v1StringToSign(r, req, date)
	if !hmac.Equal([]byte(sig), []byte(v1Sign(s.opts.AccessKeySecret, sts))) {
		return sigMismatch(sig, sts).with("OSSAccessKeyId", id)
	}
	return nil
}

func (s *Server) authV1Query(r *http.Request, req *request, q url.Values) *ossError {
	id, expires, sig := q.Get("OSSAccessKeyId"), q.Get("Expires"), q.Get("Signature")
	if id == "" || expires == "" || sig == "" {
		return errAccessDenied("Query-string authentication requires the Signature, Expires and OSSAccessKeyId parameters")
	}
	if err := s.checkKeyID(id); err != nil {
		return err
	}
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil {
		return errInvalidArgument("Expires is invalid.", "Expires", expires)
	}
	sts := s.v1StringToSign(r, req, expires)
	if !hmac.Equal([]byte(sig), []byte(v1Sign(s.opts.AccessKeySecret, sts))) {
		return sigMismatch(sig, sts).with("OSSAccessKeyId", id)
	}
	if now := s.now(); now.Unix() > exp {
		return errAccessDenied("Request has expired.").
			with("Expires", time.Unix(exp, 0).UTC().Format(time.RFC3339)).
			with("ServerTime", now.Format(time.RFC3339))
	}
	return nil
}

// ---- V4 ----

// v4Credential is AK/DATE/REGION/PRODUCT/aliyun_v4_request.
type v4Credential struct {
	id, date, region, product string
}

func (s *Server) parseCredential(cred string) (v4Credential, *ossError) {
	p := strings.Split(cred, "/")
	if len(p) != 5 || p[4] != v4Terminator || p[0] == "" || len(p[1]) != 8 {
		return v4Credential{}, errInvalidArgument("Invalid credential in Authorization header.", "Credential", cred)
	}
	c := v4Credential{id: p[0], date: p[1], region: p[2], product: p[3]}
	if err := s.checkKeyID(c.id); err != nil {
		return c, err
	}
	if c.product != "oss" {
		return c, errInvalidArgument("Invalid signing product in Authorization header.", "Credential", cred)
	}
	if c.region != s.opts.Region {
		// OSS answers a V4 signature scoped to another region than the
		// bucket's with this error (EC 0002-00000228).
		e := errorf(403, "SignatureDoesNotMatch", fmt.Sprintf("Invalid signing region in Authorization header: %q, the bucket is in %q.", c.region, s.opts.Region))
		e.EC = "0002-00000228"
		return c, e.with("Region", s.opts.Region)
	}
	return c, nil
}

func (s *Server) authV4Header(r *http.Request, req *request, auth string) *ossError {
	fields := map[string]string{}
	for _, part := range strings.Split(strings.TrimPrefix(auth, v4Algorithm+" "), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	if fields["Credential"] == "" || fields["Signature"] == "" {
		return errInvalidArgument("Authorization header is invalid.", "Authorization", auth)
	}
	cred, oerr := s.parseCredential(fields["Credential"])
	if oerr != nil {
		return oerr
	}
	datetime := r.Header.Get("x-oss-date")
	t, err := time.Parse(iso8601, datetime)
	if err != nil {
		return errAccessDenied("OSS V4 authentication requires a valid x-oss-date header.")
	}
	if err := s.checkSkew(t); err != nil {
		return err
	}
	var additional []string
	if a := fields["AdditionalHeaders"]; a != "" {
		additional = strings.Split(a, ";")
	}
	canonical := v4CanonicalRequest(r, req, r.URL.RawQuery, additional)
	return s.verifyV4(cred, datetime, canonical, fields["Signature"])
}

func (s *Server) authV4Query(r *http.Request, req *request, q url.Values) *ossError {
	if v := q.Get("x-oss-signature-version"); v != v4Algorithm {
		return errInvalidArgument("Unsupported signature version.", "x-oss-signature-version", v)
	}
	sig, datetime, expires := q.Get("x-oss-signature"), q.Get("x-oss-date"), q.Get("x-oss-expires")
	if sig == "" || datetime == "" || expires == "" || q.Get("x-oss-credential") == "" {
		return errAccessDenied("Query-string authentication requires the x-oss-signature, x-oss-date, x-oss-expires and x-oss-credential parameters")
	}
	cred, oerr := s.parseCredential(q.Get("x-oss-credential"))
	if oerr != nil {
		return oerr
	}
	t, err := time.Parse(iso8601, datetime)
	if err != nil {
		return errInvalidArgument("x-oss-date is invalid.", "x-oss-date", datetime)
	}
	secs, err := strconv.ParseInt(expires, 10, 64)
	if err != nil || secs <= 0 || secs > 7*24*3600 {
		return errInvalidArgument("x-oss-expires is invalid.", "x-oss-expires", expires)
	}
	var additional []string
	if a := q.Get("x-oss-additional-headers"); a != "" {
		additional = strings.Split(a, ";")
	}
	// The signature covers the query without itself.
	var kept []string
	for _, p := range strings.Split(r.URL.RawQuery, "&") {
		if k, _, _ := strings.Cut(p, "="); k != "x-oss-signature" {
			kept = append(kept, p)
		}
	}
	canonical := v4CanonicalRequest(r, req, strings.Join(kept, "&"), additional)
	if err := s.verifyV4(cred, datetime, canonical, sig); err != nil {
		return err
	}
	if now := s.now(); now.After(t.Add(time.Duration(secs) * time.Second)) {
		return errAccessDenied("Request has expired.").
			with("Expires", t.Add(time.Duration(secs)*time.Second).Format(time.RFC3339)).
			with("ServerTime", now.Format(time.RFC3339))
	}
	return nil
}

func (s *Server) verifyV4(cred v4Credential, datetime, canonical, provided string) *ossError {
	scope := cred.date + "/" + cred.region + "/" + cred.product + "/" + v4Terminator
	sum := sha256.Sum256([]byte(canonical))
	sts := v4Algorithm + "\n" + datetime + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := []byte("aliyun_v4" + s.opts.AccessKeySecret)
	for _, part := range []string{cred.date, cred.region, cred.product, v4Terminator} {
		key = hmacSHA256(key, part)
	}
	want := hex.EncodeToString(hmacSHA256(key, sts))
	if !hmac.Equal([]byte(provided), []byte(want)) {
		return sigMismatch(provided, sts).with("CanonicalRequest", canonical).with("OSSAccessKeyId", cred.id)
	}
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// v4CanonicalRequest builds the canonical request exactly as the SDK's
// signer does: method, escaped /bucket/key, the raw query sorted by key,
// the default signed headers (x-oss-*, content-type, content-md5) plus the
// additional ones, the additional header list, and the payload hash.
func v4CanonicalRequest(r *http.Request, req *request, rawQuery string, additional []string) string {
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	b.WriteString(escapePath(canonicalResource(req)) + "\n")

	rawQuery = strings.ReplaceAll(rawQuery, "+", "%20")
	values := map[string]string{}
	var keys []string
	for _, p := range strings.Split(rawQuery, "&") {
		if p == "" {
			continue
		}
		// Like the SDK: a repeated key is listed twice, with its last value.
		k, v, _ := strings.Cut(p, "=")
		keys = append(keys, k)
		values[k] = v
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		if values[k] != "" {
			b.WriteString("=" + values[k])
		}
	}
	b.WriteString("\n")

	add := map[string]bool{}
	for _, h := range additional {
		add[strings.ToLower(h)] = true
	}
	var hdrs []string
	for k := range r.Header {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-oss-") || lk == "content-type" || lk == "content-md5" || add[lk] {
			hdrs = append(hdrs, lk)
		}
	}
	if add["host"] {
		hdrs = append(hdrs, "host")
	}
	sort.Strings(hdrs)
	for _, k := range hdrs {
		var vals []string
		if k == "host" {
			vals = []string{r.Host}
		} else {
			vals = append([]string(nil), r.Header.Values(k)...)
		}
		for i, v := range vals {
			vals[i] = strings.TrimSpace(v)
		}
		b.WriteString(k + ":" + strings.Join(vals, ",") + "\n")
	}
	b.WriteString("\n")
	b.WriteString(strings.Join(additional, ";") + "\n")
	payload := r.Header.Get("x-oss-content-sha256")
	if payload == "" {
		payload = "UNSIGNED-PAYLOAD"
	}
	b.WriteString(payload)
	return b.String()
}

// escapePath percent-encodes everything but unreserved characters and '/',
// as the SDK does for URL paths and the V4 canonical URI.
func escapePath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if isUnreserved(c) || c == '/' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
