package retrieve

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/osstest"
	osssink "github.com/logship/logship/internal/sinks/oss"
)

const (
	ossAK     = "LTAI5tPullTestKey0042"
	ossSK     = "pull-test-secret-never-printed"
	ossBucket = "pull-logs"
	ossPrefix = "logs/team-a"
)

// ossStore is an osstest server holding an archive, reached through Open
// as `--from oss://pull-logs/logs/team-a --endpoint ...` is.
type ossStore struct {
	srv *osstest.Server
	rt  http.RoundTripper // what the reader's requests go through
}

func newOSSStore(t testing.TB) *ossStore {
	srv := osstest.New(osstest.Options{AccessKeyID: ossAK, AccessKeySecret: ossSK, Buckets: []string{ossBucket}})
	t.Cleanup(srv.Close)
	return &ossStore{srv: srv, rt: http.DefaultTransport}
}

// upload copies every file of a folder archive into the bucket under the
// prefix, with the header mirrored in x-oss-meta-* as the oss sink does
// (objects without a readable header get none).
func (s *ossStore) upload(t testing.TB, root string) {
	t.Helper()
	s.uploadMeta(t, root, func(string) bool { return true })
}

// uploadMeta is upload, with the metadata of only the files keep says,
// as if the others were copied by a tool that drops user metadata.
func (s *ossStore) uploadMeta(t testing.TB, root string, keep func(rel string) bool) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var meta map[string]string
		if h, err := archive.ReadHeader(bytes.NewReader(b)); err == nil && keep(rel) {
			meta = h.Meta()
		}
		s.srv.Put(ossBucket, ossPrefix+"/"+filepath.ToSlash(rel), b, meta)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// open opens the prefix through retrieve.Open with the credentials in the
// environment the sink sees, never the real metadata service or
// ~/.ossutilconfig.
func (s *ossStore) open(t testing.TB) Store {
	t.Helper()
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	env := map[string]string{"OSS_ACCESS_KEY_ID": ossAK, "OSS_ACCESS_KEY_SECRET": ossSK}
	a, err := Open(context.Background(), "oss://"+ossBucket+"/"+ossPrefix, OSSOptions{Region: "cn-hangzhou", Endpoint: s.srv.Endpoint(),
		Options: []osssink.Option{osssink.WithGetenv(func(k string) string { return env[k] }), osssink.WithMetadataURL(dead.URL),
			osssink.WithOssutilConfig(filepath.Join(t.TempDir(), "none")), osssink.WithHTTPClient(&http.Client{Transport: s.rt})}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeArchive(a) })
	return a
}

func closeArchive(a Store) {
	if c, ok := a.(interface{ Close() error }); ok {
		c.Close()
	}
}

// openOSSCopy uploads a folder archive to osstest and opens it there.
func openOSSCopy(t testing.TB, root string) Store {
	s := newOSSStore(t)
	s.upload(t, root)
	return s.open(t)
}

// The standard archive, through the OSS reader over HTTP: every object is
// fetched once, and ls and cat see what they see in the folder.
func TestPullOSSRoundTrip(t *testing.T) {
	dir := t.TempDir()
	fx := buildFixture(t, filepath.Join(dir, "archive"))
	s := newOSSStore(t)
	s.upload(t, fx.root)
	a := s.open(t)
	out := filepath.Join(dir, "out")
	sum, err := Pull(context.Background(), a, Options{Out: out, Parallel: 4})
	if err != nil || len(sum.Problems) > 0 {
		t.Fatalf("%v\n%s", err, problemsText(sum.Problems))
	}
	compareTrees(t, readTree(t, out), fx.want)
	if sum.Duplicates == 0 || sum.Overlap == 0 {
		t.Errorf("duplicates and overlaps not seen: %+v", sum)
	}
	// Headers come from HeadObject (the mirrored metadata), bodies once.
	if get, head := int64(s.srv.Count("GetObject")), int64(s.srv.Count("HeadObject")); get != sum.Fetched || head != sum.HeaderReads {
		t.Errorf("%d GetObject and %d HeadObject for %d objects fetched and %d headers read", get, head, sum.Fetched, sum.HeaderReads)
	}

	want, err := List(context.Background(), openDir(t, fx.root), Filter{}, 4)
	if err != nil {
		t.Fatal(err)
	}
	got, err := List(context.Background(), a, Filter{}, 4)
	if err != nil || len(got.Problems) > 0 {
		t.Fatalf("ls: %v %v", err, got.Problems)
	}
	if len(got.Files) != len(want.Files) || got.Objects != want.Objects {
		t.Errorf("ls over OSS: %d files, %d objects; folder: %d, %d", len(got.Files), got.Objects, len(want.Files), want.Objects)
	}
	var buf bytes.Buffer
	f := Filter{Host: "host-2", Source: "file"}
	if _, err := Cat(context.Background(), a, &buf, CatOptions{Filter: f}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), fx.want["order-service/host-2/file/home/admin/logs/app.log"]) {
		t.Errorf("cat over OSS: %d bytes", buf.Len())
	}
}

// ls learns chunk headers from HeadObject, without a body; an object
// whose metadata was lost (copied by a tool that drops it) is read for its
// in-band header instead, and ls sees what it sees in the folder.
func TestLsOSSHeadersFromMetadata(t *testing.T) {
	fx := buildFixture(t, filepath.Join(t.TempDir(), "archive"))
	s := newOSSStore(t)
	var stripped int
	s.uploadMeta(t, fx.root, func(rel string) bool {
		if strings.Contains(rel, "host-1") {
			stripped++
			return false
		}
		return true
	})
	if stripped == 0 {
		t.Fatal("the fixture has no host-1 objects")
	}
	a := s.open(t)
	want, err := List(context.Background(), openDir(t, fx.root), Filter{}, 4)
	if err != nil {
		t.Fatal(err)
	}
	s.srv.ResetCounts()
	got, err := List(context.Background(), a, Filter{}, 4)
	if err != nil || len(got.Problems) > 0 {
		t.Fatalf("ls: %v %v", err, got.Problems)
	}
	if fmt.Sprint(got.Files) != fmt.Sprint(want.Files) || got.Objects != want.Objects {
		t.Errorf("ls over OSS: %d files, %d objects; folder: %d, %d", len(got.Files), got.Objects, len(want.Files), want.Objects)
	}
	head, get := int64(s.srv.Count("HeadObject")), int64(s.srv.Count("GetObject"))
	if head != got.HeaderReads || get == 0 || get > int64(stripped) {
		t.Errorf("%d headers read with %d HeadObject and %d GetObject; want one HEAD each and a GET only for the %d objects without metadata", got.HeaderReads, head, get, stripped)
	}
}

// crcLiar answers GetObject of the keys it names with a CRC64 header that
// does not match the body, as a response damaged on the way would.
type crcLiar struct {
	next http.RoundTripper
	keys []string // URL path suffixes
}

func (c *crcLiar) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := c.next.RoundTrip(r)
	if err != nil || r.Method != http.MethodGet {
		return res, err
	}
	for _, k := range c.keys {
		if strings.HasSuffix(r.URL.Path, k) {
			res.Header.Set("x-oss-hash-crc64ecma", "1234567890")
		}
	}
	return res, nil
}

// Hostile objects planted in the bucket: see testPullHostile; one more
// object comes with a CRC64 that does not match what was received.
func TestPullOSSHostile(t *testing.T) {
	testPullHostile(t, func(t *testing.T, root string, extra map[string][]byte) (Store, []string) {
		s := newOSSStore(t)
		// A valid chunk of its own stream whose transfer checksum lies.
		b := newBuilder(t, t.TempDir(), 5)
		sp := spec{app: "order-service", host: "host-3", source: "file", path: "/var/log/crc.log", stream: "crc", lines: 20, start: base, every: time.Minute}
		key := b.chunk(sp, sp.content(), sp.ranges(sp.content(), 1)[0], "")
		s.upload(t, b.root)
		s.rt = &crcLiar{next: http.DefaultTransport, keys: []string{key}}
		s.upload(t, root)
		for k, body := range extra {
			s.srv.Put(ossBucket, ossPrefix+"/"+k, body, nil)
		}
		return s.open(t), []string{"CRC64 mismatch"}
	})
}

// An interrupted pull from OSS resumes with only what was missing.
func TestPullOSSResumeAfterInterrupt(t *testing.T) {
	testResumeAfterInterrupt(t, openOSSCopy)
}

// Flags win over the agent config; a laptop gets the public endpoint even
// when the config names the VPC one, unless --internal.
func TestOpenOSSEndpoint(t *testing.T) {
	yes := true
	env := map[string]string{"OSS_ACCESS_KEY_ID": ossAK, "OSS_ACCESS_KEY_SECRET": ossSK}
	for _, tc := range []struct {
		name string
		o    OSSOptions
		want string // endpoint, or an error's text
	}{
		{"region", OSSOptions{Region: "cn-hangzhou"}, "https://oss-cn-hangzhou.aliyuncs.com"},
		{"internal", OSSOptions{Region: "cn-hangzhou", Internal: true}, "https://oss-cn-hangzhou-internal.aliyuncs.com"},
		{"config internal: true", OSSOptions{Sink: osssink.Config{Region: "cn-beijing", Internal: &yes}}, "https://oss-cn-beijing.aliyuncs.com"},
		{"config VPC endpoint", OSSOptions{Sink: osssink.Config{Endpoint: "oss-cn-shanghai-internal.aliyuncs.com"}}, "https://oss-cn-shanghai.aliyuncs.com"},
		{"config bucket domain", OSSOptions{Sink: osssink.Config{Endpoint: "https://b.oss-cn-shenzhen-internal.aliyuncs.com"}}, "https://oss-cn-shenzhen.aliyuncs.com"},
		{"config VPC endpoint, --internal", OSSOptions{Sink: osssink.Config{Endpoint: "oss-cn-shanghai-internal.aliyuncs.com"}, Internal: true}, "https://oss-cn-shanghai-internal.aliyuncs.com"},
		{"flags win", OSSOptions{Sink: osssink.Config{Region: "cn-beijing", Endpoint: "oss-cn-beijing.aliyuncs.com"}, Region: "cn-hangzhou", Endpoint: "http://127.0.0.1:9"}, "http://127.0.0.1:9"},
		{"no region", OSSOptions{}, "--region is required"},
		{"bad endpoint", OSSOptions{Endpoint: "ftp://x", Region: "cn-hangzhou"}, "scheme must be http or https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Options = []osssink.Option{osssink.WithGetenv(func(k string) string { return env[k] })}
			a, err := Open(context.Background(), "oss://b/logs", tc.o)
			if err != nil {
				if !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("%v, want %q", err, tc.want)
				}
				return
			}
			defer closeArchive(a)
			if got := a.(*subPrefix).a.(*osssink.Sink).Endpoint(); got != tc.want {
				t.Fatalf("endpoint %s, want %s", got, tc.want)
			}
		})
	}
}
