package oss

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	sdk "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"

	"github.com/logship/logship/internal/sinks"
)

// Error is an OSS failure, rebuilt from the response's code, message and
// request id (never from request headers, which hold signatures and STS
// tokens), with the fix when there is one.
type Error struct {
	Op        string // SDK operation name: PutObject, GetBucketInfo, ...
	Key       string // object key, "" for bucket operations
	Status    int    // HTTP status; 0 when no response came
	Code      string // OSS error code (AccessDenied, ...); "" when no response came
	Message   string // the server's message
	RequestID string
	EC        string
	Fix       string // cause and remedy, for people
	// ServerRegion is the region OSS says the bucket is in, when it said
	// so (a request sent to the wrong region).
	ServerRegion string
	// Skew is server time minus local time for RequestTimeTooSkewed.
	Skew time.Duration
	Err  error // the underlying error for failures without a response
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("oss: ")
	b.WriteString(e.Op)
	if e.Key != "" {
		b.WriteString(" " + e.Key)
	}
	b.WriteString(": ")
	switch {
	case e.Code != "":
		b.WriteString(e.Code)
		if e.Fix != "" {
			b.WriteString(": " + e.Fix)
		}
		var extra []string
		if e.Message != "" {
			extra = append(extra, strings.TrimSuffix(e.Message, "."))
		}
		if e.Status != 0 {
			extra = append(extra, fmt.Sprintf("HTTP %d", e.Status))
		}
		if e.EC != "" {
			extra = append(extra, "EC "+e.EC)
		}
		if e.RequestID != "" {
			extra = append(extra, "request id "+e.RequestID)
		}
		if len(extra) > 0 {
			b.WriteString(" (" + strings.Join(extra, "; ") + ")")
		}
	case e.Fix != "":
		b.WriteString(e.Fix)
		if e.Err != nil {
			b.WriteString(": " + e.Err.Error())
		}
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// opError names the operation of an error the SDK did not produce (a
// CRC64 mismatch found after a successful response).
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string     { return e.op + ": " + e.err.Error() }
func (e *opError) Unwrap() error     { return e.err }
func (e *opError) Operation() string { return e.op }

// errDetail holds the optional elements of an OSS error document that
// help a diagnosis.
type errDetail struct {
	Endpoint    string `xml:"Endpoint"`
	Region      string `xml:"Region"`
	RequestTime string `xml:"RequestTime"`
	ServerTime  string `xml:"ServerTime"`
}

// ramAction is the RAM action an operation needs.
var ramAction = map[string]string{
	"PutObject": "oss:PutObject", "InitiateMultipartUpload": "oss:PutObject", "UploadPart": "oss:PutObject",
	"CompleteMultipartUpload": "oss:PutObject", "AbortMultipartUpload": "oss:AbortMultipartUpload",
	"ListMultipartUploads": "oss:ListMultipartUploads", "ListParts": "oss:ListParts",
	"GetObject": "oss:GetObject", "HeadObject": "oss:GetObject", "GetObjectMeta": "oss:GetObject",
	"ListObjectsV2": "oss:ListObjects", "ListObjects": "oss:ListObjects", "DeleteObject": "oss:DeleteObject",
	"GetBucketInfo": "oss:GetBucketInfo", "GetBucketLocation": "oss:GetBucketLocation",
}

// bucketOps act on the bucket resource rather than on objects.
var bucketOps = map[string]bool{"ListObjectsV2": true, "ListObjects": true, "ListMultipartUploads": true, "GetBucketInfo": true, "GetBucketLocation": true}

// resource is the RAM resource an operation needs.
func (s *Sink) resource(op string) string {
	if bucketOps[op] {
		return "acs:oss:*:*:" + s.bucket
	}
	return "acs:oss:*:*:" + s.bucket + "/" + s.prefix + "*"
}

// classify turns any error of an OSS call into an *Error (wrapped in
// sinks.Permanent when retrying soon cannot help), or into
// sinks.ErrNotFound for a missing key. It is the one place that decides
// what is retryable:
//
//   - retryable: 5xx (InternalError, ServiceUnavailable), 503 SlowDown and
//     429 (throttling), 408 and RequestTimeout, InvalidDigest (a body damaged
//     on the way), a CRC64 mismatch, network errors, timeouts, unreadable
//     responses;
//   - permanent: AccessDenied, NoSuchBucket, InvalidAccessKeyId,
//     SignatureDoesNotMatch, RequestTimeTooSkewed, expired or invalid STS
//     tokens, missing credentials, and other 4xx refusals (bad names, sizes,
//     KMS), which an operator must fix;
//   - the caller's own cancellation is returned as it is.
func (s *Sink) classify(err error, key string) error {
	if err == nil {
		return nil
	}
	e := &Error{Op: opName(err), Key: key}
	var se *sdk.ServiceError
	switch {
	case errors.As(err, &se):
		return s.classifyService(e, se)
	case errors.Is(err, errNoCredentials):
		e.Err = err
		return sinks.Permanent(e)
	case errors.Is(err, errNoCRC):
		e.Err = unwrapSDK(err) // Error already names the operation
		return sinks.Permanent(e)
	case errors.Is(err, errUnverified):
		e.Err = err
		return e
	case errors.Is(err, ErrChecksum):
		e.Fix = "the stored object differs from what was sent; it will be written again"
		e.Err = unwrapSDK(err)
		return e
	case errors.Is(err, errTimeout):
		e.Fix = fmt.Sprintf("no answer within sink.timeout (%v)", s.timeout)
		e.Err = errTimeout
		return e
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		e.Err = err
		return e
	}
	var pe sdk.InvalidParamError
	if errors.As(err, &pe) {
		e.Err = err
		return sinks.Permanent(e)
	}
	e.Fix = networkFix(err)
	e.Err = unwrapSDK(err)
	return e
}

func (s *Sink) classifyService(e *Error, se *sdk.ServiceError) error {
	e.Status, e.Code, e.Message, e.RequestID, e.EC = se.StatusCode, se.Code, se.Message, se.RequestID, se.EC
	if e.Code == "BadErrorResponse" { // not an OSS error document: a proxy, a load balancer
		if se.StatusCode == http.StatusNotFound && e.Op == "HeadObject" {
			// A HEAD answer has no body: without x-oss-err to name the
			// code, a 404 can only say the object is missing.
			return fmt.Errorf("%w: %s", sinks.ErrNotFound, e.Key)
		}
		e.Code = ""
		e.Err = fmt.Errorf("HTTP %d without an OSS error document (a proxy in the way?)", se.StatusCode)
		e.Message = ""
	}
	var d errDetail
	_ = xml.Unmarshal(se.Snapshot, &d)
	if r := regionOf(d.Endpoint); r != "" {
		e.ServerRegion = r
	} else if d.Region != "" {
		e.ServerRegion = strings.TrimPrefix(d.Region, "oss-")
	}
	permanent := false
	switch se.Code {
	case "NoSuchKey":
		return fmt.Errorf("%w: %s", sinks.ErrNotFound, e.Key)
	case "AccessDenied":
		permanent = true
		switch {
		case e.ServerRegion != "" && e.ServerRegion != s.region:
			e.Fix = s.regionFix(e.ServerRegion)
		case strings.Contains(strings.ToLower(se.Message), "kms"):
			key := "the default OSS key of KMS"
			if s.sseKey != "" {
				key = "KMS key " + s.sseKey + " (sink.sse_key_id)"
			}
			e.Fix = "KMS refused the encryption: the RAM policy of this key needs kms:GenerateDataKey and kms:Decrypt on " + key + ", or use sse: AES256"
		default:
			action := ramAction[e.Op]
			if action == "" {
				action = "the permission for " + e.Op
			}
			e.Fix = fmt.Sprintf("the RAM policy of this key lacks %s on %s (or a bucket policy denies it)", action, s.resource(e.Op))
		}
	case "NoSuchBucket":
		permanent = true
		e.Fix = fmt.Sprintf("bucket %q does not exist at %s: check the bucket name and the region (sink.bucket and sink.region; for ls, pull and cat, --from and --region)", s.bucket, s.endpoint.Host)
	case "InvalidAccessKeyId":
		permanent = true
		e.Fix = fmt.Sprintf("the access key id %s (from %s) does not exist or is disabled: check %s", s.creds.maskedID, s.creds.name, s.creds.fixHint())
	case "SignatureDoesNotMatch":
		permanent = true
		if e.ServerRegion != "" && e.ServerRegion != s.region {
			e.Fix = s.regionFix(e.ServerRegion)
		} else {
			e.Fix = fmt.Sprintf("the access key secret is wrong (key id %s, from %s): check %s", s.creds.maskedID, s.creds.name, s.creds.fixHint())
		}
	case "RequestTimeTooSkewed":
		permanent = true
		e.Skew = skewOf(d, se.Timestamp, s.now())
		e.Fix = skewFix(e.Skew)
	case "SecurityTokenExpired", "InvalidSecurityToken":
		permanent = true
		e.Fix = fmt.Sprintf("the STS token (from %s) is expired or invalid: %s", s.creds.name, s.creds.tokenHint())
	case "InvalidDigest", "RequestTimeout", "SlowDown", "RequestTimeTooSkewedLimit":
		// retryable
	case "InvalidObjectState":
		permanent = true
		e.Fix = "the object is in an archive storage class: restore it first"
	case "SecondLevelDomainForbidden":
		permanent = true
		e.Fix = "OSS refuses path-style requests: set sink.endpoint to the region's host name (or leave it empty)"
	default:
		switch st := se.StatusCode; {
		case st >= 500, st == 408, st == 429:
		case st == 409 && se.Code != "FileAlreadyExists":
		case st >= 300 && st < 400:
			permanent = true
			if e.ServerRegion != "" {
				e.Fix = s.regionFix(e.ServerRegion)
			} else {
				e.Fix = "OSS redirects elsewhere: check sink.region and sink.endpoint"
			}
		case st >= 400:
			permanent = true
		}
	}
	if permanent {
		return sinks.Permanent(e)
	}
	return e
}

func (s *Sink) regionFix(actual string) string {
	return fmt.Sprintf("bucket %s is in %s, config says %s: set sink.region: %s", s.bucket, actual, s.region, actual)
}

// regionOf extracts the region from an OSS host name
// (bucket.oss-cn-shanghai.aliyuncs.com → cn-shanghai).
func regionOf(host string) string {
	if m := endpointRegion.FindStringSubmatch(host); m != nil {
		return m[1]
	}
	return ""
}

// skewOf is server time minus local time: from the error document when
// it has both times, else from the Date header.
func skewOf(d errDetail, date, now time.Time) time.Duration {
	rt, err1 := time.Parse(time.RFC3339, d.RequestTime)
	st, err2 := time.Parse(time.RFC3339, d.ServerTime)
	if err1 == nil && err2 == nil {
		return st.Sub(rt)
	}
	if !date.IsZero() {
		return date.Sub(now)
	}
	return 0
}

func skewFix(skew time.Duration) string {
	if skew == 0 {
		return "this host's clock is off by more than 15 minutes: fix it (NTP, chronyd)"
	}
	dir := "behind"
	if skew < 0 {
		dir, skew = "ahead of", -skew
	}
	return fmt.Sprintf("the clock is off by %v (this host is %s OSS): fix the clock (NTP, chronyd); OSS refuses requests more than 15 minutes off", skew.Round(time.Second), dir)
}

// networkFix names the likely cause of an error without a response.
func networkFix(err error) string {
	var dns *net.DNSError
	var op *net.OpError
	switch {
	case errors.As(err, &dns):
		return "DNS lookup failed"
	case errors.As(err, &op) && op.Op == "dial":
		return "cannot connect"
	}
	return "network error"
}

// opName finds the operation of an SDK error.
func opName(err error) string {
	var o interface{ Operation() string }
	if errors.As(err, &o) {
		return o.Operation()
	}
	return "request"
}

// unwrapSDK drops the SDK's wrappers (operation error, canceled error)
// whose messages repeat what Error already says.
func unwrapSDK(err error) error {
	for {
		switch e := err.(type) {
		case *sdk.OperationError:
			err = e.Unwrap()
		case *opError:
			err = e.err
		default:
			return err
		}
	}
}
