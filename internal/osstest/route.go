package osstest

import (
	"net"
	"net/http"
	"regexp"
	"strings"
)

// aliyunHost matches BUCKET.oss-REGION[-internal].aliyuncs.com.
var aliyunHost = regexp.MustCompile(`^[a-z0-9-]+\.oss-([a-z0-9-]+?)(?:-internal)?\.aliyuncs\.com$`)

// checkEndpoint refuses, as OSS does, a bucket request sent to the
// endpoint of another region than the bucket's: 403 AccessDenied naming
// the right endpoint in <Endpoint> (clients read the region from it). The
// global acceleration endpoints serve every region, and GetBucketLocation,
// which exists to find the region, is answered anywhere. Hosts that are
// not Aliyun endpoint names (an IP address, localhost) are not checked.
func (s *Server) checkEndpoint(r *http.Request, req *request) *ossError {
	if req.bucket == "" || req.op == "GetBucketLocation" {
		return nil
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	m := aliyunHost.FindStringSubmatch(host)
	if m == nil || m[1] == s.opts.Region || strings.HasPrefix(m[1], "accelerate") {
		return nil
	}
	e := errorf(403, "AccessDenied", "The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.")
	return e.with("Bucket", req.bucket).with("Endpoint", "oss-"+s.opts.Region+".aliyuncs.com")
}

// resolve finds the bucket and key of a request: from the Host header in
// virtual-hosted style (BUCKET.endpoint), else from the path.
func (s *Server) resolve(r *http.Request) (bucketName, key string) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	if b := s.hostBucket(r.Host); b != "" {
		return b, path
	}
	bucketName, key, _ = strings.Cut(path, "/")
	return bucketName, key
}

func (s *Server) hostBucket(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if net.ParseIP(host) != nil {
		return ""
	}
	first, rest, ok := strings.Cut(host, ".")
	if !ok || rest == "" {
		return ""
	}
	s.mu.Lock()
	_, known := s.buckets[first]
	s.mu.Unlock()
	// BUCKET.oss-REGION[-internal].aliyuncs.com, BUCKET.localhost, or any
	// host whose first label is an existing bucket.
	if known || strings.HasPrefix(rest, "oss-") || rest == "localhost" {
		return first
	}
	return ""
}

// operation names the request the way the SDK's OpName does.
func operation(r *http.Request, req *request) string {
	q := r.URL.Query()
	has := func(k string) bool { _, ok := q[k]; return ok }
	switch {
	case req.bucket == "":
		if r.Method == http.MethodGet {
			return "ListBuckets"
		}
	case req.key == "":
		switch r.Method {
		case http.MethodGet:
			switch {
			case has("bucketInfo"):
				return "GetBucketInfo"
			case has("location"):
				return "GetBucketLocation"
			case has("uploads"):
				return "ListMultipartUploads"
			case q.Get("list-type") == "2":
				return "ListObjectsV2"
			case len(q) == 0 || onlyListParams(q):
				return "ListObjects"
			}
		case http.MethodPost:
			if has("delete") {
				return "DeleteMultipleObjects"
			}
		}
	default:
		switch r.Method {
		case http.MethodGet:
			switch {
			case has("uploadId"):
				return "ListParts"
			case !hasSubresource(q):
				return "GetObject"
			}
		case http.MethodHead:
			if has("objectMeta") {
				return "GetObjectMeta"
			}
			if !hasSubresource(q) {
				return "HeadObject"
			}
		case http.MethodPut:
			switch {
			case has("partNumber") && has("uploadId"):
				if r.Header.Get("x-oss-copy-source") != "" {
					return "UploadPartCopy"
				}
				return "UploadPart"
			case hasSubresource(q):
			case r.Header.Get("x-oss-copy-source") != "":
				return "CopyObject"
			default:
				return "PutObject"
			}
		case http.MethodPost:
			switch {
			case has("uploads"):
				return "InitiateMultipartUpload"
			case has("uploadId"):
				return "CompleteMultipartUpload"
			}
		case http.MethodDelete:
			if has("uploadId") {
				return "AbortMultipartUpload"
			}
			if !hasSubresource(q) {
				return "DeleteObject"
			}
		}
	}
	return "Unsupported"
}

func onlyListParams(q map[string][]string) bool {
	for k := range q {
		switch k {
		case "prefix", "marker", "delimiter", "max-keys", "encoding-type":
		default:
			if !isAuthParam(k) {
				return false
			}
		}
	}
	return true
}

// hasSubresource reports a query parameter that selects another operation
// (acl, tagging, symlink, ...), which this server does not implement.
func hasSubresource(q map[string][]string) bool {
	for k := range q {
		if isAuthParam(k) || strings.HasPrefix(k, "response-") {
			continue
		}
		switch k {
		case "versionId", "encoding-type":
			continue
		}
		return true
	}
	return false
}

func isAuthParam(k string) bool {
	switch k {
	case "OSSAccessKeyId", "Expires", "Signature", "security-token":
		return true
	}
	return strings.HasPrefix(k, "x-oss-")
}

type handlerFunc func(s *Server, w http.ResponseWriter, r *http.Request, req *request) *ossError

var handlers map[string]handlerFunc

func init() {
	handlers = map[string]handlerFunc{
		"ListBuckets":             (*Server).listBuckets,
		"GetBucketInfo":           (*Server).getBucketInfo,
		"GetBucketLocation":       (*Server).getBucketLocation,
		"ListObjects":             (*Server).listObjectsV1,
		"ListObjectsV2":           (*Server).listObjectsV2,
		"PutObject":               (*Server).putObject,
		"CopyObject":              (*Server).copyObject,
		"GetObject":               (*Server).getObject,
		"HeadObject":              (*Server).headObject,
		"GetObjectMeta":           (*Server).getObjectMeta,
		"DeleteObject":            (*Server).deleteObject,
		"DeleteMultipleObjects":   (*Server).deleteMultipleObjects,
		"InitiateMultipartUpload": (*Server).initiateMultipartUpload,
		"UploadPart":              (*Server).uploadPart,
		"CompleteMultipartUpload": (*Server).completeMultipartUpload,
		"AbortMultipartUpload":    (*Server).abortMultipartUpload,
		"ListParts":               (*Server).listParts,
		"ListMultipartUploads":    (*Server).listMultipartUploads,
	}
}
