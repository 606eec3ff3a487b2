package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/control"
	"github.com/logship/logship/internal/osstest"
)

const (
	remoteAK     = "LTAI5tRemoteE2eKey0042"
	remoteSK     = "remote-e2e-secret"
	remoteBucket = "remote-e2e"
)

// remoteAgent writes the config of one agent of app shop on host and
// starts it; every agent has its own state dir.
func remoteAgent(t *testing.T, srv *osstest.Server, root, host string, log *syncBuffer) (*agentProc, string) {
	t.Helper()
	dir := filepath.Join(root, host)
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	os.WriteFile(filepath.Join(dir, "logs", "app.log"), []byte("hello from "+host+"\n"), 0o644)
	cfg := writeConfig(t, dir, fmt.Sprintf(`app: shop
host: %s
log_format: json
log_level: debug
sources:
  - type: file
    paths: [%q]
pipeline:
  state_dir: %s/state
  checkpoint_interval: 100ms
sink:
  type: oss
  bucket: %s
  region: cn-hangzhou
  endpoint: %s
  prefix: logs/
  timeout: 30s
snapshot:
  timeout: 5s
  remote:
    poll_interval: 50ms
    max_backoff: 200ms
shutdown_timeout: 5s
`, host, filepath.Join(dir, "logs", "*.log"), dir, remoteBucket, srv.Endpoint()))
	return startAgent(t, cfg, agentOpts{env: remoteEnv(), log: log}), cfg
}

func remoteEnv() []string {
	return []string{"OSS_ACCESS_KEY_ID=" + remoteAK, "OSS_ACCESS_KEY_SECRET=" + remoteSK}
}

func remoteArgs(srv *osstest.Server, more ...string) []string {
	return append([]string{"snapshot", "--remote", "--from", "oss://" + remoteBucket + "/logs", "--endpoint", srv.Endpoint(),
		"--region", "cn-hangzhou", "--app", "shop", "--poll", "100ms", "--progress", "plain"}, more...)
}

var requestLine = regexp.MustCompile(`request ([a-z0-9]+) for app`)

// snapshotStreams counts the snapshot bundles of host in the bucket.
func snapshotStreams(srv *osstest.Server, host string) map[string]bool {
	out := map[string]bool{}
	for _, o := range srv.Objects(remoteBucket) {
		if _, rest, ok := strings.Cut(o.Key, "/host="+host+"/source="+archive.KindSnapshot+"/"); ok {
			stream, _, _ := strings.Cut(rest, "/")
			out[stream] = true
		}
	}
	return out
}

// responses returns the response objects stored for request id, by host.
func responses(t *testing.T, srv *osstest.Server, id string) map[string]*control.Response {
	t.Helper()
	out := map[string]*control.Response{}
	pre := control.ResponsesOf("logs", "shop", id)
	for _, o := range srv.Objects(remoteBucket) {
		if !strings.HasPrefix(o.Key, pre) {
			continue
		}
		b, _, _ := srv.Get(remoteBucket, o.Key)
		r, err := control.DecodeResponse(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", o.Key, err)
		}
		out[r.Host] = r
	}
	return out
}

// bundleFiles lists the files of a tar.zst bundle with their contents.
func bundleFiles(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := zstd.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := map[string]string{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[h.Name] = string(b)
	}
}

// Two agents of one app: a request for h1 gets h1's bundle and h2 leaves
// it alone; a request for all hosts gets one bundle from each.
func TestRemoteSnapshotTwoAgents(t *testing.T) {
	srv := osstest.New(osstest.Options{AccessKeyID: remoteAK, AccessKeySecret: remoteSK, Buckets: []string{remoteBucket}})
	defer srv.Close()
	root := t.TempDir()
	a1, cfg1 := remoteAgent(t, srv, root, "h1", nil)
	a2, _ := remoteAgent(t, srv, root, "h2", nil)

	ex := filepath.Join(root, "extract")
	stdout, stderr, code := runLogship(t, remoteEnv(), remoteArgs(srv, "--host", "h1", "--wait", "60s", "--note", "slow checkout", "--extract", ex)...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s\nh1: %s", code, stdout, stderr, tail(a1.log.String(), 3000))
	}
	var m struct{ Host, Trigger, Note string }
	b, err := os.ReadFile(filepath.Join(ex, "h1", "manifest.json"))
	if err != nil {
		t.Fatalf("%v\nstdout: %s", err, stdout)
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Host != "h1" || m.Trigger != "remote" || m.Note != "slow checkout" {
		t.Fatalf("manifest %+v (%v)", m, err)
	}
	if _, err := os.Stat(filepath.Join(ex, "h2")); err == nil {
		t.Fatal("h2 answered a request for h1")
	}
	if !strings.Contains(stderr, "waiting for the agents") {
		t.Errorf("no progress line on stderr:\n%s", stderr)
	}
	id1 := requestLine.FindStringSubmatch(stderr)[1]
	// h2 has seen the request (it polls every 50ms) and left it.
	a2.waitFor(t, 20*time.Second, "h2 to see h1's request", func() bool { return strings.Contains(a2.log.String(), id1) })

	out := filepath.Join(root, "bundles")
	stdout, stderr, code = runLogship(t, remoteEnv(), remoteArgs(srv, "--all-hosts", "--expect", "2", "--wait", "60s", "--out", out)...)
	if code != 0 {
		t.Fatalf("all hosts: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	idAll := requestLine.FindStringSubmatch(stderr)[1]
	for _, h := range []string{"h1", "h2"} {
		got, _ := filepath.Glob(filepath.Join(out, h+"-snapshot-*.tar.zst"))
		if len(got) != 1 {
			t.Fatalf("%s: bundles %v\nstdout: %s", h, got, stdout)
		}
		var m struct{ Host string }
		json.Unmarshal([]byte(bundleFiles(t, got[0])["manifest.json"]), &m)
		if m.Host != h {
			t.Errorf("%s's bundle has the manifest of %q", h, m.Host)
		}
	}
	// One response per host and request; one bundle per answer.
	if rs := responses(t, srv, id1); len(rs) != 1 || rs["h1"] == nil {
		t.Errorf("request for h1: responses from %v", rs)
	}
	if rs := responses(t, srv, idAll); len(rs) != 2 {
		t.Errorf("request for all: %d responses", len(rs))
	}
	if n1, n2 := len(snapshotStreams(srv, "h1")), len(snapshotStreams(srv, "h2")); n1 != 2 || n2 != 1 {
		t.Errorf("bundles stored: h1 %d, h2 %d; want 2 and 1", n1, n2)
	}

	// --extract into the folder that holds h1's first bundle: nothing is
	// overwritten, and the new bundle is kept beside it as a file.
	stdout, stderr, code = runLogship(t, remoteEnv(), remoteArgs(srv, "--host", "h1", "--wait", "60s", "--note", "again", "--extract", ex)...)
	kept, _ := filepath.Glob(filepath.Join(ex, "h1-snapshot-*.tar.zst"))
	if code != 0 || len(kept) != 1 || !strings.Contains(stdout, "holds files already") {
		t.Fatalf("extract again: exit %d, kept %v\nstdout: %s\nstderr: %s", code, kept, stdout, stderr)
	}
	if json.Unmarshal([]byte(bundleFiles(t, kept[0])["manifest.json"]), &m); m.Note != "again" {
		t.Errorf("the bundle kept has the note %q", m.Note)
	}
	if b2, _ := os.ReadFile(filepath.Join(ex, "h1", "manifest.json")); !bytes.Equal(b, b2) {
		t.Error("the first bundle's manifest was changed")
	}

	// In the container, $LOGSHIP_CONFIG gives the archive and the app to
	// snapshot --remote and to ls, as -c does: no --from, no --app.
	env := append(remoteEnv(), "LOGSHIP_CONFIG="+cfg1)
	byConfig := filepath.Join(root, "by-config")
	stdout, stderr, code = runLogship(t, env, "snapshot", "--remote", "--host", "h2", "--wait", "60s", "--poll", "100ms", "--progress", "plain", "--out", byConfig)
	if got, _ := filepath.Glob(filepath.Join(byConfig, "h2-snapshot-*.tar.zst")); code != 0 || len(got) != 1 {
		t.Fatalf("--remote with LOGSHIP_CONFIG: exit %d, bundles %v\nstdout: %s\nstderr: %s", code, got, stdout, stderr)
	}
	stdout, stderr, code = runLogship(t, env, "ls", "--app", "shop")
	if code != 0 || !strings.Contains(stdout, "[snapshot]") {
		t.Fatalf("ls with LOGSHIP_CONFIG: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	a1.alive(t)
	a2.alive(t)
}

// A host that does not answer: a clear message and exit status 4.
func TestRemoteSnapshotTimeout(t *testing.T) {
	srv := osstest.New(osstest.Options{AccessKeyID: remoteAK, AccessKeySecret: remoteSK, Buckets: []string{remoteBucket}})
	defer srv.Close()
	remoteAgent(t, srv, t.TempDir(), "h1", nil)
	_, stderr, code := runLogship(t, remoteEnv(), remoteArgs(srv, "--host", "gone", "--wait", "1500ms")...)
	if code != exitTimeout || !strings.Contains(stderr, "timed out after 1.5s: no answer from host gone") ||
		!strings.Contains(stderr, "logs/_control/app=shop/") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if n := len(snapshotStreams(srv, "h1")); n != 0 {
		t.Errorf("h1 took %d snapshots for another host", n)
	}
}

// Killed after it took the request but before its answer was stored, the
// agent answers after the restart with the same bundle: one bundle, one
// response. Stale and malformed requests are ignored with a log line.
func TestRemoteSnapshotRestart(t *testing.T) {
	srv := osstest.New(osstest.Options{AccessKeyID: remoteAK, AccessKeySecret: remoteSK, Buckets: []string{remoteBucket}})
	defer srv.Close()
	root := t.TempDir()
	log := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent log:\n%s", tail(log.String(), 6000))
		}
	})
	put := func(q *control.Request, body []byte) {
		if body == nil {
			var err error
			if body, err = control.Encode(q); err != nil {
				t.Fatal(err)
			}
		}
		srv.Put(remoteBucket, control.RequestKey("logs", q), body, nil)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	stale := &control.Request{V: 1, ID: "stale0001", App: "shop", Host: "h1", Created: now.Add(-3 * time.Minute), Expires: now.Add(-time.Minute)}
	put(stale, nil)
	wide := &control.Request{V: 1, ID: "wide00001", App: "shop", Host: "h1", Created: now, Expires: now.Add(5 * time.Minute)}
	b, _ := control.Encode(wide)
	put(wide, bytes.Replace(b, []byte(`"v":1`), []byte(`"v":1,"paths":["/etc"]`), 1))

	fault := srv.Inject(osstest.Fault{Op: "PutObject", KeyPrefix: "logs/_control/app=shop/responses/", Status: 503})
	a, cfg := remoteAgent(t, srv, root, "h1", log)
	q := &control.Request{V: 1, ID: "restart01", App: "shop", Host: "h1", Created: now, Expires: now.Add(5 * time.Minute)}
	put(q, nil)
	a.waitFor(t, 60*time.Second, "the bundle stored", func() bool { return len(snapshotStreams(srv, "h1")) == 1 })
	a.waitFor(t, 20*time.Second, "the answer refused", func() bool {
		return strings.Contains(log.String(), "writing "+control.ResponseKey("logs", "shop", q.ID, "h1"))
	})
	a.stop(t, syscall.SIGKILL)
	if len(responses(t, srv, q.ID)) != 0 {
		t.Fatal("answered through the fault")
	}
	srv.Remove(fault)

	a = startAgent(t, cfg, agentOpts{env: remoteEnv(), log: log})
	waitUntil(t, 60*time.Second, "the answer after the restart", func() bool { return len(responses(t, srv, q.ID)) == 1 })
	r := responses(t, srv, q.ID)["h1"]
	if r.Status != control.StatusOK || len(r.Keys) != 1 {
		t.Fatalf("response %+v", r)
	}
	// One more poll cycle with the agent up: still one bundle.
	a.waitFor(t, 20*time.Second, "more polls", func() bool { return srv.Count("ListObjectsV2") > 10 })
	if n := len(snapshotStreams(srv, "h1")); n != 1 {
		t.Fatalf("%d bundles for one request", n)
	}
	if _, _, ok := srv.Get(remoteBucket, r.Keys[0]); !ok {
		t.Fatalf("the response names %s, which is not stored", r.Keys[0])
	}
	logs := log.String()
	for id, want := range map[string]string{stale.ID: "stale request", wide.ID: "unknown field"} {
		if len(responses(t, srv, id)) != 0 {
			t.Errorf("%s was answered", id)
		}
		line := ""
		for _, l := range strings.Split(logs, "\n") {
			if strings.Contains(l, id) && strings.Contains(l, "ignoring") {
				line = l
			}
		}
		if !strings.Contains(line, want) {
			t.Errorf("%s: no log line with %q", id, want)
		}
	}
}

// TestRemoteSnapshotUsage: flags that cannot work together are usage
// errors, before anything is written to the bucket.
func TestRemoteSnapshotUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--host", "h1", "--expect", "2"}, "--expect N is for --all-hosts"},
		{[]string{"--host", "h1", "--all-hosts"}, "exactly one of --host HOST and --all-hosts"},
	} {
		args := append([]string{"snapshot", "--remote", "--from", "oss://" + remoteBucket + "/logs", "--region", "cn-hangzhou", "--app", "shop"}, tc.args...)
		_, stderr, code := runLogship(t, remoteEnv(), args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d\n%s", tc.args, code, stderr)
		}
	}
}

// TestReaderConfigFromEnv: $LOGSHIP_CONFIG gives the archive only when
// none is named (a laptop whose variable names a local agent's config
// reads other archives as before, even when that file is gone), and the
// LOGSHIP_* environment applies over it, as for the agent.
func TestReaderConfigFromEnv(t *testing.T) {
	dir := t.TempDir()
	p := writeConfig(t, dir, "app: shop\nsources: [{type: kmsg}]\nsink:\n  type: oss\n  bucket: my-logs\n  region: cn-hangzhou\n  prefix: logs/\n")
	t.Setenv("LOGSHIP_CONFIG", p)
	t.Setenv("LOGSHIP_SINK_BUCKET", "prod-logs")
	cfg, _, err := readerConfig("", "")
	if err != nil || cfg == nil || cfg.Sink.OSS.Bucket != "prod-logs" || cfg.App != "shop" {
		t.Fatalf("no archive named: %v %+v", err, cfg)
	}
	t.Setenv("LOGSHIP_CONFIG", filepath.Join(dir, "gone.yaml"))
	if cfg, _, err := readerConfig("", "/some/archive"); err != nil || cfg != nil {
		t.Fatalf("an archive named: %v %+v", err, cfg)
	}
	if _, _, err := readerConfig("", ""); err == nil || !strings.Contains(err.Error(), "$LOGSHIP_CONFIG") {
		t.Fatalf("a missing file, no archive named: %v", err)
	}
}
