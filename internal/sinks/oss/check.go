package oss

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	sdk "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"

	"github.com/logship/logship/internal/schema"
	"github.com/logship/logship/internal/sinks"
)

// Probe implements sinks.Prober: it tests, step by step, everything the
// agent needs to ship to the bucket, and reports each step as it ends:
// which credentials are used; DNS of the host requests go to; a TCP
// connection; the TLS handshake (https only); authentication and the
// bucket (GetBucketInfo: it exists and is in the configured region); the
// clock against OSS's; then a probe object under PREFIX.logship-check/ is
// written exactly as chunks are (Put), read back and compared, and
// deleted; last, multipart uploads left unfinished under the prefix for
// over a day are reported (their parts are billed until aborted). A
// failure comes with its diagnosis (the usual ones: a public endpoint from
// a VPC without NAT, the internal endpoint from outside the region's VPC,
// a wrong region, clock skew, a missing RAM permission, a bucket in
// another region) and ends the probe. Probe returns true when shipping
// would work: no step failed (a warning does not count).
func (s *Sink) Probe(ctx context.Context, prefix string, report func(sinks.Step)) bool {
	// As the agent's keys have it (archive.Key): "/logs", "logs" and
	// "logs/" are the folder logs/.
	if prefix = strings.Trim(prefix, "/"); prefix != "" {
		prefix += "/"
	}
	k := &checker{ctx: ctx, prefix: prefix, s: s, report: report, ok: true}
	k.run()
	return k.ok
}

type checker struct {
	ctx    context.Context
	prefix string
	s      *Sink
	report func(sinks.Step)
	ok     bool
	host   string // the host name requests go to
	port   string
	ips    []string
}

// step times f and reports its result; it returns whether to go on.
func (k *checker) step(name string, f func() sinks.Step) bool {
	start := time.Now()
	st := f()
	st.Name = name
	if st.Took == 0 {
		st.Took = time.Since(start)
	}
	k.report(st)
	if st.Verdict == sinks.Fail {
		k.ok = false
		return false
	}
	return true
}

func (k *checker) skipRest(names ...string) {
	for _, n := range names {
		k.report(sinks.Step{Name: n, Verdict: sinks.Skip, Detail: "not tried after the failure above"})
	}
}

func (k *checker) run() {
	k.step("credentials", func() sinks.Step {
		c := k.s.creds
		d := c.name
		if c.detail != "" {
			d += " " + c.detail
		}
		return sinks.Step{Verdict: sinks.OK, Took: time.Nanosecond, Detail: d + " (access key id " + c.maskedID + ")"}
	})
	k.host = k.s.endpoint.Hostname()
	if !k.s.pathStyle {
		k.host = k.s.bucket + "." + k.host
	}
	k.port = k.s.endpoint.Port()
	if k.port == "" {
		k.port = map[string]string{"http": "80", "https": "443"}[k.s.endpoint.Scheme]
	}
	if !k.network() {
		return
	}
	if !k.bucket() {
		k.skipRest("write", "read", "delete", "uploads")
		return
	}
	if k.probe() {
		k.uploads()
	}
}

// network runs dns, tcp and tls; it reports whether to go on.
func (k *checker) network() bool {
	if k.s.opts.httpClient == nil {
		req := &http.Request{URL: k.s.endpoint, Header: http.Header{}}
		if p, err := http.ProxyFromEnvironment(req); err == nil && p != nil {
			for _, n := range []string{"dns", "tcp", "tls"} {
				k.report(sinks.Step{Name: n, Verdict: sinks.Skip, Detail: "requests go through the proxy " + p.Redacted() + " (HTTPS_PROXY)"})
			}
			return true
		}
	}
	if !k.step("dns", k.dns) {
		k.skipRest("tcp", "tls", "auth", "bucket", "clock", "write", "read", "delete", "uploads")
		return false
	}
	var conn net.Conn
	if !k.step("tcp", func() sinks.Step {
		var st sinks.Step
		conn, st = k.tcp()
		return st
	}) {
		k.skipRest("tls", "auth", "bucket", "clock", "write", "read", "delete", "uploads")
		return false
	}
	ok := k.step("tls", func() sinks.Step { return k.tls(conn) })
	conn.Close()
	if !ok {
		k.skipRest("auth", "bucket", "clock", "write", "read", "delete", "uploads")
	}
	return ok
}

func (k *checker) dns() sinks.Step {
	if net.ParseIP(k.host) != nil {
		k.ips = []string{k.host}
		return sinks.Step{Verdict: sinks.Skip, Detail: k.host + " is an IP address"}
	}
	ctx, cancel := context.WithTimeout(k.ctx, 10*time.Second)
	defer cancel()
	ips, err := k.s.opts.resolve(ctx, k.host)
	if err == nil && len(ips) == 0 {
		err = errors.New("no address")
	}
	if err != nil {
		return sinks.Step{Verdict: sinks.Fail, Detail: err.Error(), Diagnosis: k.dnsDiagnosis(err)}
	}
	k.ips = ips
	return sinks.Step{Verdict: sinks.OK, Detail: k.host + " → " + strings.Join(ips, ", ")}
}

func (k *checker) dnsDiagnosis(err error) string {
	var de *net.DNSError
	notFound := errors.As(err, &de) && de.IsNotFound
	if !notFound && (errors.As(err, &de) && (de.IsTimeout || de.IsTemporary) || errors.Is(err, context.DeadlineExceeded)) {
		return "the DNS server does not answer: check the container's DNS settings (/etc/resolv.conf)"
	}
	aliyun := k.aliyun()
	if aliyun && !knownRegion(k.s.region) {
		return fmt.Sprintf("%q is not an OSS region: set sink.region, e.g. cn-hangzhou%s", k.s.region, regionSuggestion(k.s.region))
	}
	if aliyun && k.s.internal {
		return fmt.Sprintf("%s does not resolve: you are not inside an Aliyun VPC of %s: run outside Aliyun (or in another region) with internal: false", k.host, k.s.region)
	}
	if !aliyun {
		return fmt.Sprintf("%s does not resolve: check sink.endpoint", k.host)
	}
	return fmt.Sprintf("%s does not resolve: check the container's DNS settings (/etc/resolv.conf)", k.host)
}

// aliyun reports an Aliyun OSS endpoint (oss-REGION[-internal].aliyuncs.com).
func (k *checker) aliyun() bool { return endpointRegion.MatchString(k.s.endpoint.Hostname()) }

func (k *checker) tcp() (net.Conn, sinks.Step) {
	addr := net.JoinHostPort(k.ips[0], k.port)
	ctx, cancel := context.WithTimeout(k.ctx, 10*time.Second)
	defer cancel()
	conn, err := k.s.opts.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, sinks.Step{Verdict: sinks.Fail, Detail: err.Error(), Diagnosis: k.tcpDiagnosis(addr, err)}
	}
	return conn, sinks.Step{Verdict: sinks.OK, Detail: "connected to " + addr}
}

func (k *checker) tcpDiagnosis(addr string, err error) string {
	var ne net.Error
	unreachable := errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("nothing listens on %s: check sink.endpoint", addr)
	case unreachable && k.aliyun() && k.s.internal:
		return fmt.Sprintf("no answer from the internal endpoint %s: it is reachable only from an Aliyun VPC in %s: outside it, set internal: false", k.host, k.s.region)
	case unreachable && k.aliyun():
		return fmt.Sprintf("no route to the public endpoint %s (a VPC without NAT or internet access?): inside Aliyun %s, set internal: true", k.host, k.s.region)
	case unreachable:
		return fmt.Sprintf("no answer from %s: a firewall, or a VPC without NAT; check sink.endpoint", addr)
	}
	return fmt.Sprintf("cannot connect to %s", addr)
}

func (k *checker) tls(conn net.Conn) sinks.Step {
	if k.s.endpoint.Scheme != "https" {
		return sinks.Step{Verdict: sinks.Skip, Detail: "plain http endpoint (fine for a local server; Aliyun endpoints are https)"}
	}
	ctx, cancel := context.WithTimeout(k.ctx, 10*time.Second)
	defer cancel()
	tc := tls.Client(conn, &tls.Config{ServerName: k.host, MinVersion: tls.VersionTLS12})
	if err := tc.HandshakeContext(ctx); err != nil {
		var ua x509.UnknownAuthorityError
		var he x509.HostnameError
		var ci x509.CertificateInvalidError
		var rh tls.RecordHeaderError
		d := "the TLS handshake failed: a proxy or firewall in the way?"
		switch {
		case errors.As(err, &rh) && string(rh.RecordHeader[:4]) == "HTTP":
			d = fmt.Sprintf("the server answers in plain HTTP: an endpoint without a scheme is https; write it http://%s", k.s.endpoint.Host)
		case errors.As(err, &ua):
			d = "the server's certificate is not trusted: the image lacks CA certificates (install ca-certificates) or a proxy intercepts TLS"
		case errors.As(err, &he):
			d = fmt.Sprintf("the certificate is not for %s: a proxy intercepts TLS, or sink.endpoint is not an OSS endpoint", k.host)
		case errors.As(err, &ci) && ci.Reason == x509.Expired:
			d = "the certificate is expired or not yet valid: check this host's clock"
		}
		return sinks.Step{Verdict: sinks.Fail, Detail: err.Error(), Diagnosis: d}
	}
	cs := tc.ConnectionState()
	d := tls.VersionName(cs.Version)
	if len(cs.PeerCertificates) > 0 {
		d += ", certificate for " + strings.Join(cs.PeerCertificates[0].DNSNames, " ")
	}
	return sinks.Step{Verdict: sinks.OK, Detail: d}
}

// bucket runs auth, bucket and clock from one GetBucketInfo.
func (k *checker) bucket() bool {
	start := time.Now()
	sent := k.s.now()
	ctx, _, done := watchdog(k.ctx, k.s.timeout)
	res, err := k.s.client.GetBucketInfo(ctx, &sdk.GetBucketInfoRequest{Bucket: &k.s.bucket})
	answered := k.s.now()
	if err != nil {
		err = k.s.classify(withCause(ctx, err), "")
	}
	done()
	took := time.Since(start)
	var e *Error
	errors.As(err, &e)
	switch {
	case err == nil:
		k.step("auth", func() sinks.Step {
			return sinks.Step{Verdict: sinks.OK, Took: took, Detail: "credentials accepted"}
		})
		loc := strings.TrimPrefix(sdk.ToString(res.BucketInfo.Location), "oss-")
		ok := k.step("bucket", func() sinks.Step {
			d := bucketDetail(k.s.bucket, loc, sdk.ToString(res.BucketInfo.StorageClass))
			if loc != "" && loc != k.s.region {
				return sinks.Step{Verdict: sinks.Fail, Took: time.Nanosecond, Detail: d, Diagnosis: k.s.regionFix(loc)}
			}
			return sinks.Step{Verdict: sinks.OK, Took: time.Nanosecond, Detail: d}
		})
		k.clock(res.Headers.Get("Date"), sent.Add(answered.Sub(sent)/2))
		return ok
	case e != nil && e.ServerRegion != "" && e.ServerRegion != k.s.region:
		k.report(sinks.Step{Name: "auth", Verdict: sinks.Skip, Detail: "not checked: the request went to the wrong region"})
		k.step("bucket", func() sinks.Step {
			return sinks.Step{Verdict: sinks.Fail, Took: took, Detail: e.Code, Diagnosis: k.s.regionFix(e.ServerRegion)}
		})
	case e != nil && e.Code == "NoSuchBucket":
		k.report(sinks.Step{Name: "auth", Verdict: sinks.Skip, Detail: "not checked: OSS looks for the bucket first"})
		k.step("bucket", func() sinks.Step {
			return sinks.Step{Verdict: sinks.Fail, Took: took, Detail: e.Code, Diagnosis: e.Fix}
		})
	case e != nil && e.Code == "AccessDenied":
		k.step("auth", func() sinks.Step { return sinks.Step{Verdict: sinks.OK, Took: took, Detail: "credentials accepted"} })
		k.step("bucket", func() sinks.Step {
			return sinks.Step{Verdict: sinks.Warn, Took: time.Nanosecond, Detail: "AccessDenied on GetBucketInfo",
				Diagnosis: "this key may not read the bucket's information (oss:GetBucketInfo), so its region is not verified; shipping does not need it"}
		})
		k.report(sinks.Step{Name: "clock", Verdict: sinks.Skip, Detail: "no answer to compare with"})
		return true
	default:
		k.step("auth", func() sinks.Step {
			return sinks.Step{Verdict: sinks.Fail, Took: took, Detail: errCode(err), Diagnosis: diagnosis(err)}
		})
		k.skipRest("bucket", "clock")
	}
	return false
}

// bucketDetail describes a bucket with what the server said of it: a
// region or a storage class it did not give is left out, not shown as an
// empty label.
func bucketDetail(bucket, region, storage string) string {
	d := bucket
	if region != "" {
		d += " in " + region
	}
	if storage != "" {
		d += ", storage " + storage
	}
	return d
}

// errCode is the OSS code of err, or its message.
func errCode(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != "" {
		return e.Code
	}
	return err.Error()
}

// diagnosis is the fix an *Error carries, or the error itself.
func diagnosis(err error) string {
	var e *Error
	if errors.As(err, &e) {
		if e.Fix != "" {
			if e.Code != "" {
				return e.Code + ": " + e.Fix
			}
			return e.Fix
		}
		if e.Code != "" && e.Message != "" {
			return e.Code + ": " + e.Message
		}
	}
	return err.Error()
}

// clock compares the local clock at mid, half way through the request,
// with the Date of OSS's answer. Date is whole seconds, truncated: the
// server's time was in [Date, Date+1s), so its middle is compared, and a
// second boundary crossed during the request or before the step ran does
// not turn 3m0s into 2m59s.
func (k *checker) clock(date string, mid time.Time) {
	k.step("clock", func() sinks.Step {
		t, err := http.ParseTime(date)
		if err != nil {
			return sinks.Step{Verdict: sinks.Skip, Detail: "no Date in the answer"}
		}
		// The estimate is within (-0.5s, +0.5s] of the skew: rounding it
		// half down gives the skew in whole seconds.
		skew := t.Add(500*time.Millisecond - time.Nanosecond).Sub(mid)
		switch a := skew.Abs(); {
		case a <= 5*time.Second:
			return sinks.Step{Verdict: sinks.OK, Took: time.Nanosecond, Detail: "within 5s of OSS"}
		case a < 15*time.Minute:
			return sinks.Step{Verdict: sinks.Warn, Took: time.Nanosecond, Detail: fmt.Sprintf("off by %v", skew.Round(time.Second)),
				Diagnosis: "OSS refuses requests more than 15 minutes off, and ingest times in keys (dt=, hour=) come from this clock: fix it (NTP, chronyd)"}
		default:
			return sinks.Step{Verdict: sinks.Fail, Took: time.Nanosecond, Detail: fmt.Sprintf("off by %v", skew.Round(time.Second)), Diagnosis: skewFix(skew)}
		}
	})
}

// probe writes, reads back and deletes a probe object; it reports whether
// the write worked.
func (k *checker) probe() bool {
	host, _ := os.Hostname()
	now := k.s.now().UTC()
	key := fmt.Sprintf("%s.logship-check/%s-%s.txt", k.prefix, safeName(host), now.Format("20060102T150405.000000000Z"))
	body := []byte(fmt.Sprintf("logship check probe from %s at %s; safe to delete\n", host, now.Format(time.RFC3339)))
	obj := &sinks.Object{Key: key, Body: body, ContentType: "text/plain; charset=utf-8"}
	if !k.step("write", func() sinks.Step {
		if err := k.s.Put(k.ctx, obj); err != nil {
			return sinks.Step{Verdict: sinks.Fail, Detail: errCode(err), Diagnosis: diagnosis(err)}
		}
		if k.s.VerifiedByMD5() {
			return sinks.Step{Verdict: sinks.OK, Detail: fmt.Sprintf("%s (%d bytes, Content-MD5 verified)", key, len(body))}
		}
		return sinks.Step{Verdict: sinks.OK, Detail: fmt.Sprintf("%s (%d bytes, CRC64 verified)", key, len(body))}
	}) {
		k.skipRest("read", "delete", "uploads")
		return false
	}
	if k.s.VerifiedByMD5() {
		k.report(sinks.Step{Name: "crc64", Verdict: sinks.Warn, Detail: "server returns no CRC-64: verifying with Content-MD5",
			Diagnosis: "fine for a local emulator or an OSS-compatible store (Aliyun OSS always returns it); sink.require_crc64: true refuses such servers"})
	}
	k.step("read", func() sinks.Step {
		rc, _, err := k.s.Get(k.ctx, key)
		if err == nil {
			var got []byte
			got, err = io.ReadAll(rc)
			rc.Close()
			if err == nil && !bytes.Equal(got, body) {
				return sinks.Step{Verdict: sinks.Fail, Detail: "the probe read back differs from what was written", Diagnosis: "something between here and OSS changes data: a proxy?"}
			}
		}
		if err != nil {
			if isAccessDenied(err) {
				return sinks.Step{Verdict: sinks.Warn, Detail: "AccessDenied", Diagnosis: "shipping works, but `logship pull` with this key needs " + diagnosis(err)}
			}
			return sinks.Step{Verdict: sinks.Fail, Detail: errCode(err), Diagnosis: diagnosis(err)}
		}
		if k.s.VerifiedByMD5() {
			return sinks.Step{Verdict: sinks.OK, Detail: "same bytes"}
		}
		return sinks.Step{Verdict: sinks.OK, Detail: "same bytes, CRC64 verified"}
	})
	k.step("delete", func() sinks.Step {
		ctx, _, done := watchdog(k.ctx, k.s.timeout)
		defer done()
		_, err := k.s.client.DeleteObject(ctx, &sdk.DeleteObjectRequest{Bucket: &k.s.bucket, Key: &key})
		if err != nil {
			err = k.s.classify(withCause(ctx, err), key)
			return sinks.Step{Verdict: sinks.Warn, Detail: errCode(err),
				Diagnosis: fmt.Sprintf("the probe %s stays in the bucket (delete it by hand); the agent does not need oss:DeleteObject: %s", key, diagnosis(err))}
		}
		return sinks.Step{Verdict: sinks.OK, Detail: "probe removed"}
	})
	return true
}

// staleUpload is the age past which an unfinished multipart upload is
// reported: a heap dump goes up in minutes, even rate limited in hours.
const staleUpload = 24 * time.Hour

// uploads looks for multipart uploads under the prefix left unfinished for
// more than a day (a crash file deleted, or the container gone, before its
// upload completed): their parts stay stored, and billed, until aborted.
// The agent does not abort them itself: it cannot tell them from another
// container's upload in progress, and a lifecycle rule does it for good.
func (k *checker) uploads() {
	k.step("uploads", func() sinks.Step {
		cutoff := k.s.now().Add(-staleUpload)
		var n, stale int
		var oldestKey string
		var oldest time.Time
		err := k.s.unfinishedUploads(k.ctx, k.prefix, func(key, _ string, t time.Time) {
			n++
			if !t.IsZero() && t.Before(cutoff) {
				stale++
				if oldestKey == "" || t.Before(oldest) {
					oldestKey, oldest = key, t
				}
			}
		})
		switch {
		case err != nil:
			return sinks.Step{Verdict: sinks.Warn, Detail: errCode(err),
				Diagnosis: "unfinished multipart uploads not checked (the agent itself does not need to list them): " + diagnosis(err)}
		case stale > 0:
			return sinks.Step{Verdict: sinks.Warn, Detail: fmt.Sprintf("%d of %d unfinished multipart uploads started over a day ago; oldest %s, started %s", stale, n, oldestKey, oldest.UTC().Format(time.RFC3339)),
				Diagnosis: "their parts are stored and billed until aborted: add a lifecycle rule to the bucket that deletes incomplete multipart uploads after 1 day (or remove them with ossutil rm -r -m oss://" + k.s.bucket + "/" + k.prefix + ")"}
		}
		return sinks.Step{Verdict: sinks.OK, Detail: fmt.Sprintf("%d unfinished multipart uploads, none started over a day ago", n)}
	})
}

func safeName(s string) string {
	if s == "" {
		return "host"
	}
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// regions are the OSS regions, for the diagnosis of a name that does not
// resolve.
var regions = []string{
	"cn-hangzhou", "cn-shanghai", "cn-nanjing", "cn-fuzhou", "cn-wuhan-lr", "cn-qingdao", "cn-beijing",
	"cn-zhangjiakou", "cn-huhehaote", "cn-wulanchabu", "cn-shenzhen", "cn-heyuan", "cn-guangzhou",
	"cn-chengdu", "cn-hongkong", "ap-northeast-1", "ap-northeast-2", "ap-southeast-1", "ap-southeast-3",
	"ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "us-west-1", "us-east-1", "eu-central-1",
	"eu-west-1", "me-east-1", "me-central-1", "cn-hangzhou-finance", "cn-shanghai-finance-1",
	"cn-shenzhen-finance-1", "cn-beijing-finance-1",
}

func knownRegion(r string) bool {
	for _, x := range regions {
		if x == r {
			return true
		}
	}
	return false
}

// regionSuggestion proposes the closest known region, at most three edits
// away. Not config's did-you-mean rule: that one is tuned for keys and
// would not offer cn-hangzhou for "hangzhou".
func regionSuggestion(r string) string {
	best, bestD := "", 4
	for _, x := range regions {
		if d := schema.EditDistance(r, x); d < bestD {
			best, bestD = x, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + best + "?)"
}
