package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/internal/osstest"
	osssink "github.com/logship/logship/internal/sinks/oss"
)

const (
	checkAK     = "LTAI5tCheckKeyId0042"
	checkSK     = "check-Secret-never-shown"
	checkBucket = "check-bucket"
)

// fakeNet is the network of a check test: host names resolve from a
// table (anything else is NXDOMAIN), and every connection goes to the
// test server unless dial is replaced.
type fakeNet struct {
	hosts map[string][]string
	dial  func(ctx context.Context, network, addr string) (net.Conn, error)
}

func (n *fakeNet) options(target string) []osssink.Option {
	if n.dial == nil {
		var d net.Dialer
		n.dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, target)
		}
	}
	return []osssink.Option{
		osssink.WithResolver(func(_ context.Context, host string) ([]string, error) {
			if ips, ok := n.hosts[host]; ok {
				return ips, nil
			}
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}),
		osssink.WithDialer(func(ctx context.Context, network, addr string) (net.Conn, error) { return n.dial(ctx, network, addr) }),
	}
}

func creds(id, secret string) osssink.Option {
	return osssink.WithGetenv(func(k string) string {
		return map[string]string{"OSS_ACCESS_KEY_ID": id, "OSS_ACCESS_KEY_SECRET": secret}[k]
	})
}

type checkResult struct {
	out, logs string
	code      int
	err       error
}

func runCheckTest(t *testing.T, cfgBody string, opts ...osssink.Option) checkResult {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "logship.yaml")
	if err := os.WriteFile(p, []byte(cfgBody), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, logs bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := runCheck(ctx, &out, &logs, &configFlags{path: p}, opts...)
	code := exitOK
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		code = ee.code
	case err != nil && isUsage(err):
		code = exitUsage
	case err != nil:
		code = exitFailure
	}
	t.Logf("check output:\n%s%s", out.String(), logs.String())
	return checkResult{out: out.String(), logs: logs.String(), code: code, err: err}
}

func ossConfig(sink string) string {
	return "app: demo\nlog_level: debug\nsources:\n  - type: kmsg\nsink:\n  type: oss\n  bucket: " + checkBucket + "\n  prefix: logs/\n" + sink
}

// verdict returns the verdict printed for a step.
func verdict(out, step string) string {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == step {
			return f[1]
		}
	}
	return ""
}

func TestCheckPasses(t *testing.T) {
	srv := osstest.New(osstest.Options{AccessKeyID: checkAK, AccessKeySecret: checkSK, Buckets: []string{checkBucket}})
	defer srv.Close()
	t.Run("ip endpoint", func(t *testing.T) {
		r := runCheckTest(t, ossConfig("  region: cn-hangzhou\n  endpoint: "+srv.Endpoint()+"\n"), creds(checkAK, checkSK))
		if r.code != exitOK {
			t.Fatalf("exit %d: %v", r.code, r.err)
		}
		for step, want := range map[string]string{"config": "ok", "credentials": "ok", "dns": "skip", "tcp": "ok", "tls": "skip",
			"auth": "ok", "bucket": "ok", "clock": "ok", "write": "ok", "read": "ok", "delete": "ok", "uploads": "ok"} {
			if got := verdict(r.out, step); got != want {
				t.Errorf("%s: %q, want %q", step, got, want)
			}
		}
		if !strings.Contains(r.out, "shipping would work") || !strings.Contains(r.out, "env (access key id LTAI****0042)") {
			t.Fatal(r.out)
		}
		for _, o := range srv.Objects(checkBucket) {
			t.Fatalf("probe left behind: %s", o.Key)
		}
	})
	t.Run("aliyun names", func(t *testing.T) {
		n := &fakeNet{hosts: map[string][]string{checkBucket + ".oss-cn-hangzhou-internal.aliyuncs.com": {"100.118.28.3"}}}
		r := runCheckTest(t, ossConfig("  region: cn-hangzhou\n  endpoint: http://oss-cn-hangzhou-internal.aliyuncs.com\n"),
			append(n.options(srv.Addr()), creds(checkAK, checkSK))...)
		if r.code != exitOK || verdict(r.out, "dns") != "ok" || !strings.Contains(r.out, "→ 100.118.28.3") {
			t.Fatalf("exit %d: %v", r.code, r.err)
		}
	})
	t.Run("stale uploads", func(t *testing.T) {
		// A heap dump's upload left behind two days ago is billed until
		// aborted: a warning, with the lifecycle rule that fixes it. One
		// started an hour ago may be in progress: not reported.
		srv.StartUpload(checkBucket, "logs/app=demo/source=crash/old.hprof.zst", time.Now().Add(-48*time.Hour))
		srv.StartUpload(checkBucket, "logs/app=demo/source=crash/new.hprof.zst", time.Now().Add(-time.Hour))
		srv.StartUpload(checkBucket, "elsewhere/old.zst", time.Now().Add(-72*time.Hour)) // not under the prefix
		r := runCheckTest(t, ossConfig("  region: cn-hangzhou\n  endpoint: "+srv.Endpoint()+"\n"), creds(checkAK, checkSK))
		if r.code != exitOK || verdict(r.out, "uploads") != "warn" {
			t.Fatalf("exit %d, uploads %q, want 0 and warn", r.code, verdict(r.out, "uploads"))
		}
		for _, w := range []string{"1 of 2 unfinished multipart uploads started over a day ago", "old.hprof.zst", "lifecycle rule"} {
			if !strings.Contains(r.out, w) {
				t.Errorf("output lacks %q", w)
			}
		}
		if len(srv.Uploads(checkBucket)) != 3 {
			t.Errorf("check aborted uploads: %v (it only reports them)", srv.Uploads(checkBucket))
		}
	})
	t.Run("prefix forms", func(t *testing.T) {
		// The agent writes under "logs/" whether the prefix is written
		// logs, /logs or logs/: check's probe object goes there too (a
		// leading "/" made its key invalid: InvalidObjectName).
		id := srv.Inject(osstest.Fault{Op: "DeleteObject", Status: 403, Code: "AccessDenied"}) // the probe stays: its key shows
		defer srv.Remove(id)
		for _, prefix := range []string{"/logs", "logs", "/logs/"} {
			cfg := strings.Replace(ossConfig("  region: cn-hangzhou\n  endpoint: "+srv.Endpoint()+"\n"), "prefix: logs/", "prefix: "+prefix, 1)
			r := runCheckTest(t, cfg, creds(checkAK, checkSK))
			if r.code != exitOK || verdict(r.out, "write") != "ok" {
				t.Fatalf("prefix %q: exit %d, write %q", prefix, r.code, verdict(r.out, "write"))
			}
			for _, o := range srv.Objects(checkBucket) {
				if !strings.HasPrefix(o.Key, "logs/.logship-check/") {
					t.Errorf("prefix %q: probe object %q, want it under logs/.logship-check/", prefix, o.Key)
				}
				srv.Delete(checkBucket, o.Key)
			}
		}
	})
	t.Run("least privilege", func(t *testing.T) {
		// A key that may only PutObject ships fine: the rest are warnings.
		id := srv.Inject(osstest.Fault{Op: osstest.ReadOp, Status: 403, Code: "AccessDenied"})
		id2 := srv.Inject(osstest.Fault{Op: "DeleteObject", Status: 403, Code: "AccessDenied"})
		defer srv.Remove(id)
		defer srv.Remove(id2)
		r := runCheckTest(t, ossConfig("  region: cn-hangzhou\n  endpoint: "+srv.Endpoint()+"\n"), creds(checkAK, checkSK))
		if r.code != exitOK {
			t.Fatalf("exit %d: %v", r.code, r.err)
		}
		for _, s := range []string{"bucket", "read", "delete", "uploads"} {
			if verdict(r.out, s) != "warn" {
				t.Errorf("%s: %q, want warn", s, verdict(r.out, s))
			}
		}
		for _, w := range []string{"oss:GetBucketInfo", "oss:GetObject", "stays in the bucket", "oss:ListMultipartUploads"} {
			if !strings.Contains(r.out, w) {
				t.Errorf("output lacks %q", w)
			}
		}
	})
}

func TestCheckDiagnoses(t *testing.T) {
	timeout := func(ctx context.Context, network, addr string) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: network, Err: os.ErrDeadlineExceeded}
	}
	for _, tc := range []struct {
		name    string
		srvOpts osstest.Options
		setup   func(*osstest.Server)
		sink    string // with %s for the server endpoint
		id, sec string
		hosts   map[string][]string
		dial    func(ctx context.Context, network, addr string) (net.Conn, error)
		step    string
		want    []string
	}{
		{name: "wrong secret", sink: "  region: cn-hangzhou\n  endpoint: %s\n", sec: "wrong-Secret-value", step: "auth",
			want: []string{"SignatureDoesNotMatch: the access key secret is wrong", "LTAI****0042", "OSS_ACCESS_KEY_SECRET"}},
		{name: "unknown key id", sink: "  region: cn-hangzhou\n  endpoint: %s\n", id: "LTAI5tNoSuchKey00077", step: "auth",
			want: []string{"InvalidAccessKeyId", "LTAI****0077 (from env) does not exist or is disabled"}},
		{name: "missing bucket", sink: "  region: cn-hangzhou\n  endpoint: %s\n", srvOpts: osstest.Options{Buckets: []string{"other"}}, step: "bucket",
			want: []string{"NoSuchBucket", "sink.bucket and sink.region"}},
		{name: "write denied", sink: "  region: cn-hangzhou\n  endpoint: %s\n", step: "write",
			setup: func(s *osstest.Server) { s.Inject(osstest.Fault{Op: "PutObject", Status: 403, Code: "AccessDenied"}) },
			want:  []string{"lacks oss:PutObject on acs:oss:*:*:check-bucket/logs/*"}},
		{name: "clock skew", sink: "  region: cn-hangzhou\n  endpoint: %s\n", step: "auth",
			setup: func(s *osstest.Server) { s.SetClockOffset(time.Hour) },
			want:  []string{"RequestTimeTooSkewed", "the clock is off by 1h0m", "NTP"}},
		{name: "clock off a little", sink: "  region: cn-hangzhou\n  endpoint: %s\n", step: "",
			setup: func(s *osstest.Server) { s.SetClockOffset(3 * time.Minute) },
			want:  []string{"clock        warn", "off by 3m0s"}},
		{name: "bucket in another region", srvOpts: osstest.Options{Region: "cn-shanghai"},
			sink:  "  region: cn-hangzhou\n  internal: false\n  endpoint: http://oss-cn-hangzhou.aliyuncs.com\n",
			hosts: map[string][]string{checkBucket + ".oss-cn-hangzhou.aliyuncs.com": {"118.31.219.1"}}, step: "bucket",
			want: []string{"bucket check-bucket is in cn-shanghai, config says cn-hangzhou: set sink.region: cn-shanghai"}},
		{name: "region misspelt", sink: "  region: cn-hangzou\n", step: "dns",
			want: []string{`"cn-hangzou" is not an OSS region`, "did you mean cn-hangzhou?"}},
		{name: "internal endpoint outside the VPC (no DNS)", sink: "  region: cn-hangzhou\n  internal: true\n", step: "dns",
			want: []string{"check-bucket.oss-cn-hangzhou-internal.aliyuncs.com does not resolve", "not inside an Aliyun VPC of cn-hangzhou", "internal: false"}},
		{name: "internal endpoint outside the VPC (no route)", sink: "  region: cn-hangzhou\n",
			hosts: map[string][]string{checkBucket + ".oss-cn-hangzhou-internal.aliyuncs.com": {"100.118.28.3"}}, dial: timeout, step: "tcp",
			want: []string{"reachable only from an Aliyun VPC in cn-hangzhou", "internal: false"}},
		{name: "public endpoint from a VPC without NAT", sink: "  region: cn-hangzhou\n  internal: false\n",
			hosts: map[string][]string{checkBucket + ".oss-cn-hangzhou.aliyuncs.com": {"118.31.219.1"}}, dial: timeout, step: "tcp",
			want: []string{"no route to the public endpoint", "VPC without NAT", "internal: true"}},
		{name: "unreachable endpoint", sink: "  region: cn-hangzhou\n  endpoint: http://127.0.0.1:1\n", step: "tcp", dial: (&net.Dialer{}).DialContext,
			want: []string{"nothing listens on 127.0.0.1:1", "check sink.endpoint"}},
		{name: "plain HTTP server, endpoint without a scheme", sink: "  region: cn-hangzhou\n  endpoint: {addr}\n", step: "tls", dial: (&net.Dialer{}).DialContext,
			want: []string{"the server answers in plain HTTP", "write it http://127.0.0.1:"}},
		{name: "outage", sink: "  region: cn-hangzhou\n  endpoint: %s\n", step: "auth",
			setup: func(s *osstest.Server) { s.Outage(0) }, want: []string{"ServiceUnavailable"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			so := tc.srvOpts
			so.AccessKeyID, so.AccessKeySecret = checkAK, checkSK
			if so.Buckets == nil {
				so.Buckets = []string{checkBucket}
			}
			srv := osstest.New(so)
			defer srv.Close()
			if tc.setup != nil {
				tc.setup(srv)
			}
			id, sec := checkAK, checkSK
			if tc.id != "" {
				id = tc.id
			}
			if tc.sec != "" {
				sec = tc.sec
			}
			sink := tc.sink
			if strings.Contains(sink, "%s") {
				sink = fmt.Sprintf(sink, srv.Endpoint())
			}
			sink = strings.ReplaceAll(sink, "{addr}", srv.Addr())
			n := &fakeNet{hosts: tc.hosts, dial: tc.dial}
			r := runCheckTest(t, ossConfig(sink), append(n.options(srv.Addr()), creds(id, sec))...)
			if tc.step == "" {
				if r.code != exitOK {
					t.Fatalf("exit %d, want 0: %v", r.code, r.err)
				}
			} else {
				if r.code != exitProblems {
					t.Fatalf("exit %d, want %d: %v", r.code, exitProblems, r.err)
				}
				if v := verdict(r.out, tc.step); v != "FAIL" {
					t.Fatalf("step %s: %q, want FAIL", tc.step, v)
				}
				if !strings.Contains(r.out, "shipping would NOT work") {
					t.Fatal("no conclusion")
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(r.out, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			all := r.out + r.logs
			if r.err != nil {
				all += r.err.Error()
			}
			if strings.Contains(all, sec) || strings.Contains(all, checkSK) {
				t.Fatalf("a secret was printed:\n%s", all)
			}
		})
	}
}

// An image without CA certificates (or a proxy that intercepts TLS): the
// server's certificate is for the right name but from an unknown CA.
func TestCheckTLSUntrusted(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "*.oss-cn-hangzhou.aliyuncs.com"},
		DNSNames: []string{"*.oss-cn-hangzhou.aliyuncs.com"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(http.NotFoundHandler())
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	ts.Config.ErrorLog = stdlog.New(io.Discard, "", 0)
	ts.StartTLS()
	defer ts.Close()
	n := &fakeNet{hosts: map[string][]string{checkBucket + ".oss-cn-hangzhou.aliyuncs.com": {"118.31.219.1"}}}
	r := runCheckTest(t, ossConfig("  region: cn-hangzhou\n  internal: false\n"), append(n.options(ts.Listener.Addr().String()), creds(checkAK, checkSK))...)
	if r.code != exitProblems || verdict(r.out, "tls") != "FAIL" || !strings.Contains(r.out, "install ca-certificates") {
		t.Fatalf("exit %d", r.code)
	}
}

func TestCheckInvalidConfig(t *testing.T) {
	r := runCheckTest(t, "app: demo\nsink:\n  type: oss\n  bucket: Bad_Bucket\n")
	if r.code != exitUsage || verdict(r.out, "config") != "FAIL" {
		t.Fatalf("exit %d", r.code)
	}
}

// A secret in a config file others can read is reported.
func TestCheckConfigSecretReadable(t *testing.T) {
	srv := osstest.New(osstest.Options{AccessKeyID: checkAK, AccessKeySecret: checkSK, Buckets: []string{checkBucket}})
	defer srv.Close()
	dir := t.TempDir()
	p := filepath.Join(dir, "logship.yaml")
	body := ossConfig("  region: cn-hangzhou\n  endpoint: " + srv.Endpoint() + "\n  access_key_id: " + checkAK + "\n  access_key_secret: " + checkSK + "\n")
	os.WriteFile(p, []byte(body), 0o644)
	os.Chmod(p, 0o644)
	var out, logs bytes.Buffer
	err := runCheck(context.Background(), &out, &logs, &configFlags{path: p}, creds("", ""))
	if err != nil {
		t.Fatalf("%v\n%s%s", err, out.String(), logs.String())
	}
	if !strings.Contains(logs.String(), "chmod 600") || !strings.Contains(out.String(), "credentials  ok") || !strings.Contains(out.String(), "config "+p) {
		t.Fatalf("%s%s", out.String(), logs.String())
	}
	if strings.Contains(out.String()+logs.String(), checkSK) {
		t.Fatal("secret printed")
	}
}

func TestCheckDirSink(t *testing.T) {
	dir := t.TempDir()
	r := runCheckTest(t, "app: demo\nsources:\n  - type: kmsg\nsink:\n  type: dir\n  path: "+dir+"\n")
	if r.code != exitOK || verdict(r.out, "write") != "ok" || verdict(r.out, "delete") != "ok" {
		t.Fatalf("exit %d", r.code)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}
}

// check --policy prints the agent's RAM policy for the configured bucket
// and prefix, and contacts nothing.
func TestCheckPolicy(t *testing.T) {
	p := filepath.Join(t.TempDir(), "logship.yaml")
	os.WriteFile(p, []byte(ossConfig("  region: cn-hangzhou\n  endpoint: http://127.0.0.1:1\n")), 0o600)
	var out bytes.Buffer
	if err := runPolicy(&out, &configFlags{path: p}); err != nil {
		t.Fatal(err)
	}
	var pol osssink.Policy
	if err := json.Unmarshal(out.Bytes(), &pol); err != nil {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	// Remote snapshots are on by default: the app's control prefix is in.
	want := osssink.AgentPolicy(checkBucket, "logs/", "logs/_control/app=demo/")
	if !reflect.DeepEqual(pol, want) || !strings.Contains(out.String(), "acs:oss:*:*:"+checkBucket+"/logs/*") ||
		!strings.Contains(out.String(), "acs:oss:*:*:"+checkBucket+"/logs/_control/app=demo/*") {
		t.Fatalf("printed:\n%s", out.String())
	}
	// Off: no grant on the control prefix.
	out.Reset()
	off := filepath.Join(t.TempDir(), "logship.yaml")
	os.WriteFile(off, []byte(ossConfig("  region: cn-hangzhou\n  endpoint: http://127.0.0.1:1\nsnapshot:\n  remote:\n    enabled: false\n")), 0o600)
	if err := runPolicy(&out, &configFlags{path: off}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "_control") {
		t.Fatalf("remote snapshots off, the policy still grants the control prefix:\n%s", out.String())
	}
	dir := filepath.Join(t.TempDir(), "logship.yaml")
	os.WriteFile(dir, []byte("app: demo\nsources:\n  - type: kmsg\nsink:\n  type: dir\n  path: "+t.TempDir()+"\n"), 0o600)
	if err := runPolicy(&out, &configFlags{path: dir}); !isUsage(err) {
		t.Fatalf("dir sink: %v, want a usage error", err)
	}
}

// A server that does not say the bucket's storage class: the bucket line
// leaves it out instead of ending in a dangling "storage ".
func TestCheckBucketWithoutStorageClass(t *testing.T) {
	srv := osstest.New(osstest.Options{AccessKeyID: checkAK, AccessKeySecret: checkSK, Buckets: []string{checkBucket}})
	defer srv.Close()
	target, _ := url.Parse(srv.Endpoint())
	strip := regexp.MustCompile(`<StorageClass>[^<]*</StorageClass>`)
	ps := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.Out.Host = pr.In.Host },
		ModifyResponse: func(res *http.Response) error {
			if _, ok := res.Request.URL.Query()["bucketInfo"]; !ok {
				return nil
			}
			b, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				return err
			}
			b = strip.ReplaceAll(b, nil)
			res.Body = io.NopCloser(bytes.NewReader(b))
			res.ContentLength = int64(len(b))
			res.Header.Set("Content-Length", strconv.Itoa(len(b)))
			return nil
		},
	})
	defer ps.Close()
	r := runCheckTest(t, ossConfig("  region: cn-hangzhou\n  endpoint: "+ps.URL+"\n"), creds(checkAK, checkSK))
	if r.code != exitOK {
		t.Fatalf("exit %d: %v", r.code, r.err)
	}
	for _, l := range strings.Split(r.out, "\n") {
		if strings.HasPrefix(l, "bucket ") {
			if !strings.HasSuffix(l, checkBucket+" in cn-hangzhou") {
				t.Fatalf("bucket line %q", l)
			}
			return
		}
	}
	t.Fatalf("no bucket line:\n%s", r.out)
}
