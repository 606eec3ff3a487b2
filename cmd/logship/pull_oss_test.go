package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/osstest"
	osssink "github.com/logship/logship/internal/sinks/oss"
)

// ossFlags are the flags of ls, pull and cat that reach osstest.
func ossFlags(srv *osstest.Server) []string {
	return []string{"--from", "oss://" + e2eBucket + "/logs", "--endpoint", srv.Endpoint(), "--region", "cn-hangzhou"}
}

// e2eServer is an osstest server with the e2e keys and bucket, closed
// when the test ends (after the agents it started are killed: cleanups
// run last in, first out).
func e2eServer(t testing.TB) *osstest.Server {
	srv := osstest.New(osstest.Options{AccessKeyID: e2eAK, AccessKeySecret: e2eSK, Buckets: []string{e2eBucket}})
	t.Cleanup(srv.Close)
	return srv
}

// ossEnv holds the right keys, and a HOME without ~/.ossutilconfig.
func ossEnv(t testing.TB) []string {
	return []string{"OSS_ACCESS_KEY_ID=" + e2eAK, "OSS_ACCESS_KEY_SECRET=" + e2eSK, "HOME=" + t.TempDir()}
}

// ossPullArchive starts osstest with pullArchive's objects written under
// logs/ by the oss sink (so with x-oss-meta-*), and returns the files pull
// must rebuild.
func ossPullArchive(t *testing.T) (*osstest.Server, map[string][]byte) {
	t.Helper()
	srv := e2eServer(t)
	s, err := osssink.New(context.Background(), osssink.Config{Bucket: e2eBucket, Region: "cn-hangzhou", Endpoint: srv.Endpoint()}, nil,
		osssink.WithCredentials("test", credentials.NewStaticCredentialsProvider(e2eAK, e2eSK, "")))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return srv, writePullArchive(t, s, "logs/")
}

// The round trip of issue 5 through the oss sink into osstest and back
// through the OSS reader.
func TestPullOSSAgentRoundTrip(t *testing.T) {
	testAgentRoundTrip(t, ossRoundTripStore(t, e2eServer(t)))
}

// ossRoundTripStore is testAgentRoundTrip's view of an osstest bucket.
func ossRoundTripStore(t *testing.T, srv *osstest.Server) *roundTripStore {
	oa := &ossArchive{srv: srv}
	return &roundTripStore{
		sink: fmt.Sprintf("sink:\n  type: oss\n  bucket: %s\n  region: cn-hangzhou\n  endpoint: %s\n  prefix: logs/\n", e2eBucket, srv.Endpoint()),
		env:  ossEnv(t),
		from: ossFlags(srv),
		reassemble: func(t *testing.T) map[string][]byte {
			got, _ := oa.reassemble(t)
			return got
		},
		chunks: func(t *testing.T) []rawChunk {
			var out []rawChunk
			for _, c := range oa.cache {
				out = append(out, rawChunk{h: c.h, raw: c.raw})
			}
			return out
		},
		put: func(h *archive.Header, body []byte) { srv.Put(e2eBucket, archive.Key("logs/", h), body, h.Meta()) },
		bodies: func(t *testing.T) [][]byte {
			var out [][]byte
			for _, o := range srv.Objects(e2eBucket) {
				b, _, _ := srv.Get(e2eBucket, o.Key)
				out = append(out, b)
			}
			return out
		},
	}
}

// crcProxy forwards to osstest and lies about the CRC64 of the objects
// whose key ends in one of keys, as a response damaged on the way would.
func crcProxy(t *testing.T, srv *osstest.Server, keys ...string) string {
	target, _ := url.Parse(srv.Endpoint())
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // as signed
		},
		ModifyResponse: func(res *http.Response) error {
			for _, k := range keys {
				if res.Request.Method == http.MethodGet && strings.HasSuffix(res.Request.URL.Path, k) {
					res.Header.Set("x-oss-hash-crc64ecma", "1234567890")
				}
			}
			return nil
		},
	}
	ps := httptest.NewServer(p)
	t.Cleanup(ps.Close)
	return ps.URL
}

// Hostile objects in the bucket are refused, each with a message; nothing
// is written beside --out; the good data next to them comes back; exit 3.
func TestPullOSSHostileCLI(t *testing.T) {
	srv, want := ossPullArchive(t)
	dir := t.TempDir()

	enc, _ := archive.NewEncoder()
	defer enc.Close()
	first := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	plant := func(stream, path string, raw []byte, mut func(h *archive.Header, obj []byte) []byte) string {
		h := &archive.Header{V: archive.Version, App: "shop", Host: "web-1", Source: "file", Path: path, Stream: stream, End: int64(len(raw)),
			Unit: archive.UnitBytes, RawSize: int64(len(raw)), Checksum: archive.Checksum(raw), First: first, Last: first, Codec: archive.CodecZstd}
		obj, err := enc.Encode(nil, h, raw)
		if err != nil {
			t.Fatal(err)
		}
		if mut != nil {
			obj = mut(h, obj)
		}
		key := archive.Key("logs/", h)
		srv.Put(e2eBucket, key, obj, h.Meta())
		return key
	}
	line := []byte("root:x:0:0:root:/root:/bin/sh\n")
	plant("dotdot", "../../x", line, nil)
	plant("nul", "/var/log/a\x00b.log", line, nil)
	plant("backslash", `..\..\evil.log`, line, nil)
	plant("huge", strings.Repeat("a/", 2100)+"x.log", line, nil)
	plant("bomb", "/var/log/bomb.log", line, func(h *archive.Header, _ []byte) []byte {
		obj, _ := enc.Encode(nil, h, bytes.Repeat([]byte("A"), 64<<20)) // the header says 31 bytes
		return obj
	})
	plant("truncated", "/var/log/truncated.log", bytes.Repeat(line, 100), func(_ *archive.Header, obj []byte) []byte { return obj[:len(obj)/2] })
	plant("flipped", "/var/log/flipped.log", bytes.Repeat(line, 100), func(_ *archive.Header, obj []byte) []byte {
		obj[len(obj)-10] ^= 1
		return obj
	})
	crcKey := plant("crc", "/var/log/crc.log", bytes.Repeat(line, 100), nil)
	good, _, _ := srv.Get(e2eBucket, crcKey)
	srv.Put(e2eBucket, "logs//abs/0000000000000000-0000000000000031.log.zst", good, nil)
	srv.Put(e2eBucket, "logs/app=shop/dt=2026-11-26/hour=10/../../../../escape/0000000000000000-0000000000000031.log.zst", good, nil)
	srv.Put(e2eBucket, `logs/app=shop\..\..\escape.log.zst`, good, nil)

	parent := filepath.Join(dir, "p")
	out := filepath.Join(parent, "out")
	endpoint := crcProxy(t, srv, strings.TrimPrefix(crcKey, "logs/"))
	_, stderr, code := runLogship(t, ossEnv(t), "pull", "--from", "oss://"+e2eBucket+"/logs", "--endpoint", endpoint, "--region", "cn-hangzhou",
		"--out", out, "--progress", "plain")
	if code != exitProblems {
		t.Fatalf("exit %d, want %d:\n%s", code, exitProblems, stderr)
	}
	for _, w := range []string{`"../../x" has a ".." segment`, "path holds NUL", "holds a backslash", "limit 4096", "decompresses beyond",
		"truncated/", "flipped/", "CRC64 mismatch", "absolute key", `key has a ".." segment`, "key holds a backslash", "4 corrupt", "7 unsafe"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q", w)
		}
	}
	t.Log(stderr)
	got := readOut(t, out)
	for n, w := range want {
		if !bytes.Equal(got[n], w) {
			t.Errorf("%s: %d bytes, want %d", n, len(got[n]), len(w))
		}
	}
	for n := range got {
		if _, ok := want[n]; !ok {
			t.Errorf("unexpected file %s", n)
		}
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 1 {
		t.Errorf("beside --out: %v", ents)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("beside the parent of --out: %v", ents)
	}
}

// A pull whose GetObject requests for some objects are reset reports
// them (exit 3); the re-run fetches exactly those, and a third run
// nothing.
func TestPullOSSResumeCLI(t *testing.T) {
	srv, want := ossPullArchive(t)
	dir := t.TempDir()
	env := ossEnv(t)
	out := filepath.Join(dir, "out")
	pull := func() (summary struct {
		Fetched  int `json:"fetched"`
		UpToDate int `json:"up_to_date"`
		Problems []struct {
			Kind, Key string
		} `json:"problems"`
	}, code int) {
		stdout, stderr, code := runLogship(t, env, append([]string{"pull", "--out", out, "--json", "--progress", "none"}, ossFlags(srv)...)...)
		if err := json.Unmarshal([]byte(stdout), &summary); err != nil {
			t.Fatalf("exit %d: %v\n%s", code, err, stderr)
		}
		return summary, code
	}

	// Connections reset on GetObject of chunks in the middle of a stream
	// (whose headers the plan does not need), every time.
	failed := map[string]bool{}
	var faults []int
	var stream []string
	for _, o := range srv.Objects(e2eBucket) {
		if strings.Contains(o.Key, "/hour=09/host=web-1/source=file/app.log-01/") {
			stream = append(stream, o.Key)
		}
	}
	for _, k := range []string{stream[3], stream[5]} {
		failed[strings.TrimPrefix(k, "logs/")] = true
		faults = append(faults, srv.Inject(osstest.Fault{Op: "GetObject", KeyPrefix: k, Reset: true}))
	}
	sum, code := pull()
	for _, p := range sum.Problems {
		if p.Kind != "fetch" || !failed[p.Key] {
			t.Errorf("problem %+v", p)
		}
	}
	if code != exitProblems || len(sum.Problems) != len(failed) {
		t.Fatalf("first run: exit %d, %d problems, want %d", code, len(sum.Problems), len(failed))
	}
	for _, f := range faults {
		srv.Remove(f)
	}

	srv.ResetCounts()
	sum, code = pull()
	if code != 0 || sum.Fetched != len(failed) || srv.Count("GetObject") != len(failed) {
		t.Fatalf("re-run: exit %d, fetched %d, %d GetObject; want the %d that failed", code, sum.Fetched, srv.Count("GetObject"), len(failed))
	}
	sameFiles(t, readOut(t, out), want)

	srv.ResetCounts()
	if sum, code = pull(); code != 0 || srv.Count("GetObject") != 0 || sum.UpToDate != len(want) {
		t.Fatalf("third run: exit %d, %d GetObject, %+v", code, srv.Count("GetObject"), sum)
	}
}

// No secret reaches the terminal, whichever way it came (environment,
// agent config, ~/.ossutilconfig) and whatever goes wrong.
func TestPullOSSSecretsNotPrinted(t *testing.T) {
	srv, _ := ossPullArchive(t)
	dir := t.TempDir()
	const wrong, token = "wrong-Secret-also-secret", "STS.token-must-not-leak"

	home := t.TempDir()
	os.WriteFile(filepath.Join(home, ".ossutilconfig"), fmt.Appendf(nil, "[Credentials]\nendpoint=%s\naccessKeyID=%s\naccessKeySecret=%s\n", srv.Endpoint(), e2eAK, e2eSK), 0o600)
	cfg := writeConfig(t, dir, fmt.Sprintf("app: shop\nsink:\n  type: oss\n  bucket: %s\n  region: cn-hangzhou\n  endpoint: %s\n  prefix: logs/\n  access_key_id: %s\n  access_key_secret: %s\n",
		e2eBucket, srv.Endpoint(), e2eAK, e2eSK)) // 0644: a warning
	noHome := "HOME=" + t.TempDir()
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"env", []string{"OSS_ACCESS_KEY_ID=" + e2eAK, "OSS_ACCESS_KEY_SECRET=" + e2eSK, "OSS_SDK_LOG_LEVEL=debug", noHome}, ossFlags(srv), 0, "4 files"},
		{"env, wrong secret", []string{"OSS_ACCESS_KEY_ID=" + e2eAK, "OSS_ACCESS_KEY_SECRET=" + wrong, "OSS_SESSION_TOKEN=" + token, "OSS_SDK_LOG_LEVEL=debug", noHome},
			ossFlags(srv), exitFailure, "SignatureDoesNotMatch"},
		{"agent config", []string{noHome}, []string{"-c", cfg}, 0, "others can read it"},
		{"ossutilconfig", []string{"HOME=" + home}, ossFlags(srv), 0, "4 files"},
		{"env before ossutilconfig, unknown key", []string{"HOME=" + home, "OSS_ACCESS_KEY_ID=LTAI5tNoSuchKey00000", "OSS_ACCESS_KEY_SECRET=" + wrong},
			ossFlags(srv), exitFailure, "LTAI****0000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := append([]string{"OSS_ACCESS_KEY_ID=", "OSS_ACCESS_KEY_SECRET=", "OSS_SESSION_TOKEN="}, tc.env...)
			stdout, stderr, code := runLogship(t, env, append([]string{"ls"}, tc.args...)...)
			all := stdout + stderr
			if code != tc.code || !strings.Contains(all, tc.want) {
				t.Errorf("exit %d, want %d and %q:\n%s", code, tc.code, tc.want, all)
			}
			for _, s := range []string{e2eSK, wrong, token} {
				if strings.Contains(all, s) {
					t.Errorf("secret %q printed:\n%s", s, all)
				}
			}
		})
	}
}
