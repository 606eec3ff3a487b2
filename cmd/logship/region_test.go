package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
	"github.com/logship/logship/internal/osstest"
	osssink "github.com/logship/logship/internal/sinks/oss"
)

// aliyunNet is the network of a laptop whose every connection reaches
// osstest behind TLS: the real host names (BUCKET.oss-cn-shanghai.aliyuncs.com)
// over https, as ossutil's endpoint without a scheme means. The proxy
// keeps the Host header the request was signed with.
func aliyunNet(t *testing.T, srv *osstest.Server) *http.Client {
	t.Helper()
	target, _ := url.Parse(srv.Endpoint())
	ts := httptest.NewTLSServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host
	}})
	t.Cleanup(ts.Close)
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	var d net.Dialer
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, ts.Listener.Addr().String())
		},
		// The test certificate is for example.com: verify it as that.
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "example.com"},
	}}
}

// ossutilOnly are the oss options of a laptop that has only
// ~/.ossutilconfig: no OSS_* variables, no metadata service.
func ossutilOnly(t *testing.T, hc *http.Client, ossutilBody string) []osssink.Option {
	p := filepath.Join(t.TempDir(), ".ossutilconfig")
	if err := os.WriteFile(p, []byte(ossutilBody), 0o600); err != nil {
		t.Fatal(err)
	}
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	return []osssink.Option{osssink.WithOssutilConfig(p), osssink.WithGetenv(func(string) string { return "" }),
		osssink.WithMetadataURL(dead.URL), osssink.WithHTTPClient(hc)}
}

// `ls` and `pull --from oss://BUCKET/PREFIX` with nothing but an
// ~/.ossutilconfig whose endpoint is oss-cn-shanghai.aliyuncs.com: the
// region is the endpoint's, no --region needed (issue 13.2).
func TestReadRegionFromOssutilConfig(t *testing.T) {
	srv := osstest.New(osstest.Options{AccessKeyID: e2eAK, AccessKeySecret: e2eSK, Buckets: []string{e2eBucket}, Region: "cn-shanghai"})
	t.Cleanup(srv.Close)
	w, err := osssink.New(context.Background(), osssink.Config{Bucket: e2eBucket, Region: "cn-shanghai", Endpoint: srv.Endpoint()}, nil,
		osssink.WithCredentials("test", credentials.NewStaticCredentialsProvider(e2eAK, e2eSK, "")))
	if err != nil {
		t.Fatal(err)
	}
	want := writePullArchive(t, w, "logs/")
	w.Close()
	opts := ossutilOnly(t, aliyunNet(t, srv), "[Credentials]\nlanguage=EN\nendpoint=oss-cn-shanghai.aliyuncs.com\naccessKeyID="+e2eAK+"\naccessKeySecret="+e2eSK+"\n")
	sf := selectFlags{from: "oss://" + e2eBucket + "/logs/", parallel: 4, oss: opts}

	var out, errw bytes.Buffer
	sf.cmd = "ls"
	if err := runLs(context.Background(), &lsOptions{sf: sf, stdout: &out, stderr: &errw}); err != nil {
		t.Fatalf("ls: %v\n%s", err, errw.String())
	}
	if !strings.Contains(out.String(), "app.log") || !strings.Contains(out.String(), "files,") {
		t.Fatalf("ls printed:\n%s", out.String())
	}

	dir := t.TempDir()
	sf.cmd = "pull"
	if err := runPull(context.Background(), &pullOptions{sf: sf, out: dir, memory: "256MiB", progress: "none", stdout: &out, stderr: &errw}); err != nil {
		t.Fatalf("pull: %v\n%s", err, errw.String())
	}
	sameFiles(t, readOut(t, dir), want)
}

// Without a region anywhere, the error names the command that failed and
// what was tried.
func TestReadNoRegionNamesCommand(t *testing.T) {
	opts := ossutilOnly(t, http.DefaultClient, "[Credentials]\naccessKeyID="+e2eAK+"\naccessKeySecret="+e2eSK+"\n")
	for _, cmd := range []string{"ls", "pull", "cat"} {
		sf := selectFlags{from: "oss://" + e2eBucket + "/logs", parallel: 4, oss: opts, cmd: cmd}
		var out bytes.Buffer
		var err error
		switch cmd {
		case "ls":
			err = runLs(context.Background(), &lsOptions{sf: sf, stdout: &out, stderr: &out})
		case "pull":
			err = runPull(context.Background(), &pullOptions{sf: sf, out: t.TempDir(), memory: "256MiB", progress: "none", stdout: &out, stderr: &out})
		case "cat":
			err = runCat(context.Background(), &catOptions{sf: sf, stdout: &out, stderr: &out})
		}
		if err == nil || !isUsage(err) {
			t.Fatalf("%s: %v, want a usage error", cmd, err)
		}
		msg := err.Error()
		for _, w := range []string{cmd + ": oss://" + e2eBucket + "/logs: --region is required", "tried sink.region (empty)", ".ossutilconfig (no endpoint or region)"} {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: %q lacks %q", cmd, msg, w)
			}
		}
		if cmd != "pull" && strings.Contains(msg, "pull:") {
			t.Errorf("%s: %q names pull", cmd, msg)
		}
	}
}

// TestReadRegionFromBucketFails: with --endpoint and no --region, the
// bucket is asked for its region; when it cannot answer (a wrong secret,
// a wrong bucket, nothing listening), the error says what it answered,
// exit 1 — not "--region is required" with the usage code, since the
// options were complete. An endpoint without a scheme is https: when the
// server speaks plain HTTP, the error says to write http://.
func TestReadRegionFromBucketFails(t *testing.T) {
	srv := e2eServer(t)
	closed := "http://" + closedAddr(t)
	for _, tc := range []struct {
		name, from, endpoint, secret string
		want                         []string
	}{
		{"wrong secret", "oss://" + e2eBucket + "/logs", srv.Endpoint(), "not-the-secret", []string{"SignatureDoesNotMatch, HTTP 403", "check the bucket name, the credentials"}},
		{"wrong bucket", "oss://no-such-bucket/logs", srv.Endpoint(), e2eSK, []string{"NoSuchBucket, HTTP 404"}},
		{"nothing listening", "oss://" + e2eBucket + "/logs", closed, e2eSK, []string{"connection refused"}},
		{"no scheme", "oss://" + e2eBucket + "/logs", strings.TrimPrefix(srv.Endpoint(), "http://"), e2eSK, []string{"write http://HOST:PORT"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := []string{"OSS_ACCESS_KEY_ID=" + e2eAK, "OSS_ACCESS_KEY_SECRET=" + tc.secret, "HOME=" + t.TempDir()}
			_, stderr, code := runLogship(t, env, "ls", "--from", tc.from, "--endpoint", tc.endpoint)
			if code != exitFailure || strings.Contains(stderr, "--region is required") || strings.Contains(stderr, tc.secret+"\n") {
				t.Fatalf("exit %d, want %d:\n%s", code, exitFailure, stderr)
			}
			for _, w := range append(tc.want, "the bucket did not say its region") {
				if !strings.Contains(stderr, w) {
					t.Errorf("%q lacks %q", stderr, w)
				}
			}
		})
	}
}

// closedAddr is a local address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestRemoteRegionFromBucketFails: snapshot --remote gives the same
// answer as ls when the bucket cannot say its region: exit 1, not 2.
func TestRemoteRegionFromBucketFails(t *testing.T) {
	srv := e2eServer(t)
	env := []string{"OSS_ACCESS_KEY_ID=" + e2eAK, "OSS_ACCESS_KEY_SECRET=not-the-secret", "HOME=" + t.TempDir()}
	_, stderr, code := runLogship(t, env, "snapshot", "--remote", "--from", "oss://"+e2eBucket+"/logs", "--endpoint", srv.Endpoint(), "--app", "shop", "--host", "h1", "--wait", "1s")
	if code != exitFailure || !strings.Contains(stderr, "SignatureDoesNotMatch") {
		t.Fatalf("exit %d, want %d\n%s", code, exitFailure, stderr)
	}
}
