package osstest

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"strconv"
)

// ossError is an error response in the shape Aliyun OSS sends: an XML
// document <Error><Code/><Message/><RequestId/><HostId/>...</Error> with
// the matching HTTP status. Extra holds operation-specific elements
// (Key, BucketName, StringToSign, ...), written in order after HostId.
type ossError struct {
	Status  int
	Code    string
	Message string
	EC      string
	Extra   [][2]string
}

func (e *ossError) Error() string { return e.Code + ": " + e.Message }

func (e *ossError) with(name, value string) *ossError {
	e.Extra = append(e.Extra, [2]string{name, value})
	return e
}

func errorf(status int, code, msg string) *ossError {
	return &ossError{Status: status, Code: code, Message: msg}
}

// The errors below carry the codes, statuses and messages of real OSS.
// EC values are included where they are known to match OSS.

func errNoSuchBucket(bucket string) *ossError {
	e := &ossError{Status: 404, Code: "NoSuchBucket", Message: "The specified bucket does not exist.", EC: "0015-00000101"}
	return e.with("BucketName", bucket)
}

func errNoSuchKey(key string) *ossError {
	e := &ossError{Status: 404, Code: "NoSuchKey", Message: "The specified key does not exist.", EC: "0026-00000001"}
	return e.with("Key", key)
}

func errNoSuchUpload(id string) *ossError {
	e := errorf(404, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")
	return e.with("UploadId", id)
}

func errInvalidArgument(msg, name, value string) *ossError {
	e := errorf(400, "InvalidArgument", msg)
	if name != "" {
		e.with("ArgumentName", name).with("ArgumentValue", value)
	}
	return e
}

func errInvalidDigest(msg string) *ossError {
	return errorf(400, "InvalidDigest", msg)
}

func errAccessDenied(msg string) *ossError {
	return errorf(403, "AccessDenied", msg)
}

func errMalformedXML() *ossError {
	return errorf(400, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.")
}

func errNotImplemented() *ossError {
	return errorf(501, "NotImplemented", "A header or query you provided implies functionality that is not implemented.")
}

type errorDoc struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	RequestID string   `xml:"RequestId"`
	HostID    string   `xml:"HostId"`
	Extra     []extraElem
	EC        string `xml:"EC,omitempty"`
}

type extraElem struct {
	XMLName xml.Name
	Value   string `xml:",chardata"`
}

// writeError sends e. For HEAD requests the body is empty and, as OSS does,
// the document travels base64-encoded in the x-oss-err header (the SDK
// decodes it from there).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, e *ossError) {
	doc := errorDoc{
		Code:      e.Code,
		Message:   e.Message,
		RequestID: w.Header().Get("x-oss-request-id"),
		HostID:    r.Host,
		EC:        e.EC,
	}
	for _, kv := range e.Extra {
		doc.Extra = append(doc.Extra, extraElem{XMLName: xml.Name{Local: kv[0]}, Value: kv[1]})
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	_ = enc.Encode(doc)
	buf.WriteByte('\n')

	h := w.Header()
	h.Set("Content-Type", "application/xml")
	if e.EC != "" {
		h.Set("x-oss-ec", e.EC)
	}
	if r.Method == http.MethodHead {
		h.Set("x-oss-err", base64.StdEncoding.EncodeToString(buf.Bytes()))
		h.Set("Content-Length", "0")
		w.WriteHeader(e.Status)
		return
	}
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(e.Status)
	_, _ = w.Write(buf.Bytes())
}

// writeXML sends v as an XML document with status 200.
func writeXML(w http.ResponseWriter, v any) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(v); err != nil {
		panic(err) // our own response types always encode
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}
