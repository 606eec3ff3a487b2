package oss

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sdk "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/retry"

	"github.com/logship/logship/internal/crc64ecma"
	"github.com/logship/logship/internal/schema"
	"github.com/logship/logship/internal/sinks"
)

// Sink stores objects in one OSS bucket. It is safe for concurrent use.
type Sink struct {
	client    *sdk.Client
	bucket    string
	prefix    string // config prefix, for messages (RAM resources) and probes
	region    string
	endpoint  *url.URL
	pathStyle bool
	internal  bool // the endpoint is a VPC one
	storage   sdk.StorageClassType
	sse       string
	sseKey    string
	partSize  int64
	mpAt      int // body size above which Put uploads in parts
	conc      int
	md5       bool         // send Content-MD5 (sink.content_md5)
	strict    bool         // sink.require_crc64: a response without CRC-64 fails the upload
	crcMode   atomic.Int32 // crcUnknown, crcSeen or crcMissing: what the server's answers carry
	warnOnce  sync.Once
	timeout   time.Duration
	log       *slog.Logger
	creds     *chosenCreds
	now       func() time.Time
	opts      *options // dialer and resolver, for Probe

	ownTransport *http.Transport // closed by Close; nil with an injected client

	closeOnce sync.Once
}

// Option adjusts New, mostly for tests.
type Option func(*options)

type options struct {
	httpClient  *http.Client
	creds       credentials.CredentialsProvider
	credsName   string
	now         func() time.Time
	getenv      func(string) string
	configFile  string
	ossutilPath string
	metadataURL string
	localFirst  bool          // ~/.ossutilconfig before the ECS RAM role
	ecsWait     time.Duration // bound on the ECS RAM role probe
	dial        func(ctx context.Context, network, addr string) (net.Conn, error)
	resolve     func(ctx context.Context, host string) ([]string, error)
}

// WithHTTPClient sends every request through c (osstest.Server.HTTPClient
// maps real Aliyun host names to a test server).
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// WithCredentials bypasses the credentials chain; name is what the logs
// and `logship check` call the source.
func WithCredentials(name string, p credentials.CredentialsProvider) Option {
	return func(o *options) { o.creds, o.credsName = p, name }
}

// WithClock replaces time.Now (credential refresh, clock-skew messages).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithGetenv replaces os.Getenv for the credential variables.
func WithGetenv(getenv func(string) string) Option { return func(o *options) { o.getenv = getenv } }

// WithConfigFile names the config file the sink settings came from
// (config.Config.File()), so that a secret in a file others can read is
// reported.
func WithConfigFile(path string) Option { return func(o *options) { o.configFile = path } }

// WithOssutilConfig replaces ~/.ossutilconfig.
func WithOssutilConfig(path string) Option { return func(o *options) { o.ossutilPath = path } }

// WithMetadataURL replaces the ECS instance metadata service
// (http://100.100.100.200).
func WithMetadataURL(u string) Option { return func(o *options) { o.metadataURL = u } }

// WithLocalCredentialsFirst is the credentials chain of a reader on a
// laptop (logship ls, pull, cat): ~/.ossutilconfig before the ECS RAM role,
// and the metadata service given at most wait (default 3s). Where no
// metadata service answers, its probe costs the 1s dial timeout when the
// address is black-holed, and up to the whole wait when something accepts
// the connection and stalls (a transparent proxy); in this order it runs
// only when env, config and ~/.ossutilconfig have no keys.
func WithLocalCredentialsFirst(wait time.Duration) Option {
	return func(o *options) { o.localFirst, o.ecsWait = true, wait }
}

// WithDialer replaces how TCP connections are made (tests of `logship
// check` map real host names to a local server or simulate a black hole).
// It is also used by the sink's own HTTP transport.
func WithDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) Option {
	return func(o *options) { o.dial = dial }
}

// WithResolver replaces the DNS lookup of `logship check`'s first step.
func WithResolver(resolve func(ctx context.Context, host string) ([]string, error)) Option {
	return func(o *options) { o.resolve = resolve }
}

func (o *options) defaults() {
	if o.now == nil {
		o.now = time.Now
	}
	if o.getenv == nil {
		o.getenv = osGetenv
	}
	if o.metadataURL == "" {
		o.metadataURL = defaultMetadataURL
	}
	if o.ecsWait <= 0 {
		o.ecsWait = 3 * time.Second
	}
	if o.dial == nil {
		d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
		o.dial = d.DialContext
	}
	if o.resolve == nil {
		o.resolve = net.DefaultResolver.LookupHost
	}
}

// endpointInfo is where requests go and how they are addressed.
type endpointInfo struct {
	url       *url.URL
	region    string
	pathStyle bool
	internal  bool // an oss-*-internal endpoint (VPC)
}

// endpointRegion matches the Aliyun endpoints that name a region:
// oss-REGION.aliyuncs.com and oss-REGION-internal.aliyuncs.com, with or
// without a bucket in front. The global acceleration endpoints
// (oss-accelerate.aliyuncs.com, oss-accelerate-overseas.aliyuncs.com)
// name none: see isAccelerate.
var endpointRegion = regexp.MustCompile(`^(?:[a-z0-9-]+\.)?oss-([a-z0-9-]+?)(-internal)?\.aliyuncs\.com$`)

// isAccelerate reports a global acceleration endpoint, which serves
// buckets of every region.
func isAccelerate(region string) bool {
	return region == "accelerate" || region == "accelerate-overseas"
}

// resolveEndpoint applies the endpoint rules of the package comment.
func resolveEndpoint(c Config) (endpointInfo, error) {
	var e endpointInfo
	e.region = c.Region
	raw := strings.TrimSpace(c.Endpoint)
	if raw == "" {
		if c.Region == "" {
			return e, fmt.Errorf("%w (e.g. cn-hangzhou), or sink.endpoint", errNoRegion)
		}
		e.internal = c.Internal == nil || *c.Internal
		host := "oss-" + c.Region + ".aliyuncs.com"
		if e.internal {
			host = "oss-" + c.Region + "-internal.aliyuncs.com"
		}
		e.url = &url.URL{Scheme: "https", Host: host}
		return e, nil
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return e, fmt.Errorf("oss: sink.endpoint %q is not a host name or URL, e.g. oss-cn-hangzhou-internal.aliyuncs.com", c.Endpoint)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return e, fmt.Errorf("oss: sink.endpoint %q: the scheme must be http or https", c.Endpoint)
	}
	u.Path, u.RawQuery, u.Fragment = "", "", ""
	host := u.Hostname()
	// A user who copied the bucket's own domain: BUCKET.oss-....aliyuncs.com.
	if b := c.Bucket + "."; c.Bucket != "" && strings.HasPrefix(host, b) && strings.HasPrefix(host[len(b):], "oss-") {
		host = host[len(b):]
		if p := u.Port(); p != "" {
			u.Host = net.JoinHostPort(host, p)
		} else {
			u.Host = host
		}
	}
	m := endpointRegion.FindStringSubmatch(host)
	if m != nil && !isAccelerate(m[1]) {
		e.internal = m[2] != ""
		if e.region == "" {
			e.region = m[1]
		}
	}
	if e.region == "" {
		e.pathStyle = isLocalHost(host)
		e.url = u
		return e, fmt.Errorf("%w to sign requests for endpoint %q (e.g. region: cn-hangzhou)", errNoRegion, c.Endpoint)
	}
	e.pathStyle = isLocalHost(host)
	e.url = u
	return e, nil
}

// EndpointURL is the endpoint a sink of c would send its requests to, as
// far as the config alone says (no request is made): "" when it names
// none (no region and no endpoint).
func EndpointURL(c Config) string {
	e, _ := resolveEndpoint(c)
	if e.url == nil {
		return ""
	}
	return e.url.String()
}

// isLocalHost reports an IP address or localhost: servers that do not
// have a DNS name per bucket, so path-style addressing is used.
func isLocalHost(host string) bool {
	return net.ParseIP(host) != nil || host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// New builds the sink from its config and picks the credentials (see
// credentials.go). Zero values take their defaults (Config.SetDefaults,
// nothing else). It does not run Validate, because the read side (ls,
// pull, cat) opens whatever bucket a URL names with settings of its own;
// the agent's config has been validated whole by package config. It
// contacts OSS only if the chain has to probe the ECS metadata service,
// or, when no region is known, the bucket; use Probe to test
// connectivity.
func New(ctx context.Context, c Config, log *slog.Logger, opts ...Option) (*Sink, error) {
	o := buildOptions(opts)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if c.Bucket == "" {
		return nil, &sinks.StepError{Step: "endpoint", Err: errors.New("oss: sink.bucket is required")}
	}
	c.SetDefaults()
	c, fromOssutil := withOssutilEndpoint(c, o)
	ep, err := resolveEndpoint(c)
	if err != nil && !(errors.Is(err, errNoRegion) && ep.url != nil) {
		if errors.Is(err, errNoRegion) {
			err = &RegionError{Bucket: c.Bucket, Tried: regionTried(c, fromOssutil, nil), Err: err}
		}
		return nil, &sinks.StepError{Step: "endpoint", Err: err}
	}
	creds, err := chooseCredentials(ctx, c, o, log)
	if err != nil {
		return nil, &sinks.StepError{Step: "credentials", Err: err}
	}
	if ep.region == "" { // a custom or acceleration endpoint: ask the bucket
		region, asked := askRegion(ctx, c, ep, creds, o)
		if region == "" {
			_, err := resolveEndpoint(c)
			return nil, &sinks.StepError{Step: "endpoint", Err: &RegionError{Bucket: c.Bucket, Tried: regionTried(c, fromOssutil, asked), Err: err, Asked: asked}}
		}
		log.Info("oss: region from the bucket", "bucket", c.Bucket, "region", region, "endpoint", ep.url.Host)
		ep.region = region
	}
	s := newSink(c, ep, creds, o, log)
	log.Info("oss sink", "bucket", s.bucket, "endpoint", s.endpoint.String(), "region", s.region,
		"path_style", s.pathStyle, "credentials", creds.name, "access_key_id", creds.maskedID)
	return s, nil
}

// Config returns the keys the sink runs with, read back from its fields:
// what logship validate --print shows for it. Region, Endpoint and
// Internal are those requests go to, resolved from the config; the
// credentials are not returned.
func (s *Sink) Config() Config {
	md5, strict, internal := s.md5, s.strict, s.internal
	return Config{
		Bucket: s.bucket, Region: s.region, Internal: &internal, Endpoint: s.endpoint.String(),
		StorageClass: string(s.storage), SSE: s.sse, SSEKeyID: s.sseKey,
		Concurrency: s.conc, PartSize: schema.Size(s.partSize), Timeout: schema.Duration(s.timeout),
		ContentMD5: &md5, RequireCRC64: &strict, Prefix: s.prefix,
	}
}

// regionTried lists where New looked for a region, for a RegionError.
func regionTried(c Config, fromOssutil string, asked []string) []string {
	tried := []string{"sink.region (empty)"}
	if c.Endpoint != "" {
		tried = append(tried, "the endpoint "+c.Endpoint+" (names no region)")
	}
	if fromOssutil != "" {
		tried = append(tried, fromOssutil)
	}
	return append(tried, asked...)
}

func buildOptions(opts []Option) *options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	o.defaults()
	return &o
}

// newSink builds the sink of a config that SetDefaults has completed.
func newSink(c Config, ep endpointInfo, creds *chosenCreds, o *options, log *slog.Logger) *Sink {
	s := &Sink{
		bucket: c.Bucket, prefix: c.Prefix, region: ep.region, endpoint: ep.url, pathStyle: ep.pathStyle, internal: ep.internal,
		sse: c.SSE, sseKey: c.SSEKeyID, partSize: c.PartSize.Int64(), conc: c.Concurrency,
		timeout: c.Timeout.Std(), log: log, creds: creds, now: o.now, opts: o,
		md5: *c.ContentMD5, strict: *c.RequireCRC64, storage: sdk.StorageClassType(c.StorageClass),
	}
	s.mpAt = int(max(2*s.partSize, 32<<20))
	hc := o.httpClient
	if hc == nil {
		s.ownTransport = newTransport(o, s.conc)
		hc = &http.Client{Transport: s.ownTransport, CheckRedirect: noRedirect}
	}
	s.client = sdk.NewClient(s.sdkConfig(hc, creds.provider, retry.NopRetryer{}))
	return s
}

// sdkConfig is the client configuration; retryer decides the SDK's own
// retries (NopRetryer for the sink: pipeline.Retry is the policy).
func (s *Sink) sdkConfig(hc *http.Client, p credentials.CredentialsProvider, r retry.Retryer) *sdk.Config {
	cfg := sdk.NewConfig(). // not LoadDefaultConfig: OSS_SDK_LOG_LEVEL must not turn on header dumps
				WithRegion(s.region).
				WithEndpoint(s.endpoint.String()).
				WithHttpClient(hc).
				WithCredentialsProvider(p).
				WithRetryer(r).
				WithRetryMaxAttempts(r.MaxAttempts()).
				WithSignatureVersion(sdk.SignatureVersionV4).
				WithLogLevel(sdk.LogOff).
				WithDisableUploadCRC64Check(true). // we compute and compare it ourselves (verify)
				WithUserAgent("logship")
	if s.pathStyle {
		cfg.WithUsePathStyle(true)
	}
	return cfg
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func newTransport(o *options, conc int) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           o.dial,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConnsPerHost:   conc + 2,
		IdleConnTimeout:       50 * time.Second,
		ExpectContinueTimeout: time.Second,
		WriteBufferSize:       64 << 10,
		ReadBufferSize:        64 << 10,
	}
}

// contentMD5 is the Content-MD5 header for body, or nil when it is not
// sent. It is sent when sink.content_md5 asks for it, and whenever the
// server is not known to answer with a CRC-64: until the first answer
// that carries one, and for good once one came without (see verify).
// With a CRC-64 and content_md5 off it is not sent, as in the OSS SDKs
// and ossutil: the CRC-64 OSS returns is compared after every upload and
// a mismatch is retried (the retry overwrites the same key), and readers
// verify each chunk's CRC-32C. With it, the server refuses a body damaged
// in transit before it is stored, for the price of an MD5 of every byte
// sent (about 4% of the agent's CPU), and buckets whose policy demands
// Content-MD5 accept writes.
func (s *Sink) contentMD5(body []byte) *string {
	if !s.md5 && crcMode(s.crcMode.Load()) == crcSeen {
		return nil
	}
	sum := md5.Sum(body)
	return sdk.Ptr(base64.StdEncoding.EncodeToString(sum[:]))
}

// Bucket returns the bucket name.
func (s *Sink) Bucket() string { return s.bucket }

// Endpoint returns the endpoint URL requests go to.
func (s *Sink) Endpoint() string { return s.endpoint.String() }

// PartSize is the configured multipart part size (sink.part_size).
func (s *Sink) PartSize() int64 { return s.partSize }

// Credentials names the source of the credentials in use ("env", "config",
// "ecs-ram-role", "ossutilconfig") and the masked key id.
func (s *Sink) Credentials() (source, maskedID string) { return s.creds.name, s.creds.maskedID }

// Close releases idle connections; it is safe to call twice.
func (s *Sink) Close() error {
	s.closeOnce.Do(func() {
		if s.ownTransport != nil {
			s.ownTransport.CloseIdleConnections()
		}
	})
	return nil
}

// Put implements sinks.Sink.
func (s *Sink) Put(ctx context.Context, obj *sinks.Object) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(obj.Body) > s.mpAt {
		return s.putMultipart(ctx, obj)
	}
	crc := crc64ecma.Checksum(obj.Body)
	ctx, kick, done := watchdog(ctx, s.timeout)
	defer done()
	req := &sdk.PutObjectRequest{
		Bucket:             &s.bucket,
		Key:                &obj.Key,
		Body:               newKickReader(obj.Body, kick),
		ContentLength:      sdk.Ptr(int64(len(obj.Body))),
		ContentMD5:         s.contentMD5(obj.Body),
		ContentType:        sdk.Ptr(contentType(obj)),
		ContentDisposition: sdk.Ptr(disposition(obj.Key)),
		StorageClass:       s.storage,
	}
	s.applySSE(&req.ServerSideEncryption, &req.ServerSideEncryptionKeyId)
	if obj.Header != nil {
		req.Metadata = obj.Header.Meta()
	}
	start := time.Now()
	res, err := s.client.PutObject(ctx, req)
	if err != nil {
		return s.classify(withCause(ctx, err), obj.Key)
	}
	if err := s.verify(res.HashCRC64, crc, req.ContentMD5, res.ETag, obj.Body); err != nil {
		return s.classify(&opError{op: "PutObject", err: err}, obj.Key)
	}
	s.log.Debug("oss put", "key", obj.Key, "bytes", len(obj.Body), "took", time.Since(start).Round(time.Millisecond), "request_id", res.Headers.Get("x-oss-request-id"))
	return nil
}

func (s *Sink) applySSE(alg, keyID **string) {
	if s.sse == "" {
		return
	}
	*alg = sdk.Ptr(s.sse)
	if s.sse == "KMS" && s.sseKey != "" {
		*keyID = sdk.Ptr(s.sseKey)
	}
}

// ErrChecksum reports bytes that do not match the CRC64 OSS computed.
var ErrChecksum = errors.New("CRC64 mismatch") // always inside an oss error that names the operation and key

// errNoCRC reports a response without x-oss-hash-crc64ecma while
// sink.require_crc64 demands one.
var errNoCRC = errors.New("oss: the response has no x-oss-hash-crc64ecma and sink.require_crc64 is true: the upload cannot be verified with CRC-64 (is sink.endpoint an OSS endpoint? set require_crc64: false to verify with Content-MD5 instead)")

// errUnverified reports an upload answered without CRC-64 that was sent
// without Content-MD5 and whose ETag is not an MD5: it is sent again, now
// with Content-MD5 (contentMD5 sends it from now on).
var errUnverified = errors.New("oss: the response has no x-oss-hash-crc64ecma and its ETag is not an MD5: sending again with Content-MD5")

// crcMode is what the server's upload answers carry.
type crcMode int32

const (
	crcUnknown crcMode = iota // no answer yet
	crcSeen                   // x-oss-hash-crc64ecma, as OSS always sends
	crcMissing                // none: an emulator, a gateway, an OSS-compatible store
)

// verify checks an upload's answer. When it carries a CRC-64 (OSS always
// sends one), that must equal want. When it does not, the upload fails
// with sink.require_crc64; else the Content-MD5 the request carried is
// the check (the server refused a damaged body), and a returned ETag that
// is an MD5 must equal the body's. The first answer without CRC-64 is
// logged once, and Content-MD5 goes with every upload from then on. body
// is nil when only the CRC-64 may be compared (a multipart object).
func (s *Sink) verify(got *string, want uint64, sentMD5, etag *string, body []byte) error {
	if got != nil && *got != "" {
		s.crcMode.CompareAndSwap(int32(crcUnknown), int32(crcSeen))
		return checkCRC(*got, want)
	}
	if s.strict {
		return errNoCRC
	}
	s.crcMode.Store(int32(crcMissing))
	s.warnOnce.Do(func() {
		s.log.Warn("server returns no CRC-64: verifying with Content-MD5", "endpoint", s.endpoint.String(),
			"fix", "none needed for a local emulator or an OSS-compatible store; set sink.require_crc64: true to refuse such servers")
	})
	if body == nil {
		return nil
	}
	if tag, ok := md5ETag(etag); ok {
		if sum := md5.Sum(body); tag != sum {
			return fmt.Errorf("%w: the ETag %s is not the MD5 of the %d bytes sent", ErrChecksum, sdk.ToString(etag), len(body))
		}
		return nil
	}
	if sentMD5 == nil {
		return errUnverified
	}
	return nil
}

// VerifiedByMD5 reports that the server answered an upload without
// CRC-64, so uploads are verified with Content-MD5 (and ETags).
func (s *Sink) VerifiedByMD5() bool { return crcMode(s.crcMode.Load()) == crcMissing }

// md5ETag returns the MD5 an ETag holds: 32 hex digits, quoted or not (the
// ETag of a simple upload); ok is false for any other form (a multipart
// ETag "...-N", a server's own scheme).
func md5ETag(etag *string) (sum [md5.Size]byte, ok bool) {
	t := strings.Trim(sdk.ToString(etag), `"`)
	if len(t) != 2*md5.Size {
		return sum, false
	}
	if _, err := hex.Decode(sum[:], []byte(t)); err != nil {
		return sum, false
	}
	return sum, true
}

func checkCRC(got string, want uint64) error {
	v, err := strconv.ParseUint(got, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: server sent %q", ErrChecksum, got)
	}
	if v != want {
		return fmt.Errorf("%w: sent %d, server stored %d", ErrChecksum, want, v)
	}
	return nil
}

// contentType is the object's Content-Type: the caller's, else by name.
func contentType(obj *sinks.Object) string {
	if obj.ContentType != "" {
		return obj.ContentType
	}
	switch path.Ext(obj.Key) {
	case ".zst":
		return "application/zstd"
	case ".gz":
		return "application/gzip"
	case ".log", ".txt":
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

// disposition makes a browser save the object under its own name
// (1000-2000.log.zst) instead of showing or decompressing it.
func disposition(key string) string {
	return mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(key)})
}

// watchdog returns a context that is cancelled when kick has not been
// called for d (an idle timeout: a big upload or a long download may take
// longer than d as long as bytes move), and a function to release it.
func watchdog(ctx context.Context, d time.Duration) (context.Context, func(), func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	t := time.AfterFunc(d, func() { cancel(fmt.Errorf("%w: no progress for %v", errTimeout, d)) })
	return ctx, func() { t.Reset(d) }, func() { t.Stop(); cancel(nil) }
}

var errTimeout = errors.New("request timed out") // always inside an oss error

// kickReader calls kick on every read. It is seekable and has Len, so
// that the SDK knows the length and could rewind it; it has no WriteTo, so
// that every copy goes through Read in pieces and keeps kicking.
type kickReader struct {
	r    *bytes.Reader
	kick func()
}

func newKickReader(b []byte, kick func()) *kickReader {
	return &kickReader{r: bytes.NewReader(b), kick: kick}
}

func (k *kickReader) Read(p []byte) (int, error) {
	k.kick()
	return k.r.Read(p)
}

func (k *kickReader) Seek(off int64, whence int) (int64, error) { return k.r.Seek(off, whence) }

// Len is the number of bytes not yet read.
func (k *kickReader) Len() int { return k.r.Len() }
