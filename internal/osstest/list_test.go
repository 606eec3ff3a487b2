package osstest

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
)

// weirdKeys are keys that break naive URL, XML or signature handling.
var weirdKeys = []string{
	"a b/c d.log", "plus+sign", "per%cent", "per%25cent", "amp&er=sand?q", "lt<gt>", "quote\"'",
	"日志/2024/文件.log", "emoji/😀", "tab\there", "semi;colon", "tilde~star*", "hash#frag",
	"back\\slash", "dir/", "dir/sub/", "dir//double", "space at end ", "x/%2F/y",
}

// listAll pages through a bucket with the SDK's paginators, v1 or v2.
func listAll(t *testing.T, c *oss.Client, v2 bool, prefix, delim string, limit int32) (keys, prefixes []string, pages int) {
	t.Helper()
	if v2 {
		p := c.NewListObjectsV2Paginator(&oss.ListObjectsV2Request{Bucket: oss.Ptr(testBucket), Prefix: oss.Ptr(prefix), Delimiter: oss.Ptr(delim), MaxKeys: limit})
		for p.HasNext() {
			page, err := p.NextPage(ctx(t))
			if err != nil {
				t.Fatalf("ListObjectsV2: %v", err)
			}
			pages++
			if page.KeyCount != len(page.Contents)+len(page.CommonPrefixes) {
				t.Errorf("KeyCount %d for %d+%d", page.KeyCount, len(page.Contents), len(page.CommonPrefixes))
			}
			for _, o := range page.Contents {
				keys = append(keys, oss.ToString(o.Key))
			}
			for _, cp := range page.CommonPrefixes {
				prefixes = append(prefixes, oss.ToString(cp.Prefix))
			}
		}
		return
	}
	p := c.NewListObjectsPaginator(&oss.ListObjectsRequest{Bucket: oss.Ptr(testBucket), Prefix: oss.Ptr(prefix), Delimiter: oss.Ptr(delim), MaxKeys: limit})
	for p.HasNext() {
		page, err := p.NextPage(ctx(t))
		if err != nil {
			t.Fatalf("ListObjects: %v", err)
		}
		pages++
		if page.IsTruncated && page.NextMarker == nil {
			t.Error("truncated page without NextMarker")
		}
		for _, o := range page.Contents {
			keys = append(keys, oss.ToString(o.Key))
			if o.Owner == nil || o.ETag == nil || o.LastModified == nil {
				t.Errorf("incomplete entry %+v", o)
			}
		}
		for _, cp := range page.CommonPrefixes {
			prefixes = append(prefixes, oss.ToString(cp.Prefix))
		}
	}
	return
}

// model lists keys the slow, obvious way.
func model(all []string, prefix, delim string) (keys, prefixes []string) {
	seen := map[string]bool{}
	sorted := append([]string(nil), all...)
	sort.Strings(sorted)
	for _, k := range sorted {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				cp := k[:len(prefix)+i+len(delim)]
				if !seen[cp] {
					seen[cp] = true
					prefixes = append(prefixes, cp)
				}
				continue
			}
		}
		keys = append(keys, k)
	}
	return
}

func TestListPaging(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	var all []string
	for i := 0; i < 250; i++ {
		k := fmt.Sprintf("app=a/dt=2024-01-%02d/host=h%d/chunk-%03d.log.zst", i%5+1, i%3, i)
		srv.Put(testBucket, k, []byte{byte(i)}, nil)
		all = append(all, k)
	}
	for _, v2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("v2=%v", v2), func(t *testing.T) {
			// Default max-keys is 100: 250 objects are 3 pages.
			keys, prefixes, pages := listAll(t, c, v2, "", "", 0)
			want, _ := model(all, "", "")
			if pages != 3 || len(prefixes) != 0 || strings.Join(keys, "\n") != strings.Join(want, "\n") {
				t.Errorf("%d pages, %d keys (want 3, %d)", pages, len(keys), len(want))
			}
			// Delimiter, with pages ending on common prefixes.
			keys, prefixes, pages = listAll(t, c, v2, "app=a/", "/", 2)
			if len(keys) != 0 || strings.Join(prefixes, ",") != "app=a/dt=2024-01-01/,app=a/dt=2024-01-02/,app=a/dt=2024-01-03/,app=a/dt=2024-01-04/,app=a/dt=2024-01-05/" || pages != 3 {
				t.Errorf("prefixes %v keys %v in %d pages", prefixes, keys, pages)
			}
		})
	}
	_, err := c.ListObjects(ctx(t), &oss.ListObjectsRequest{Bucket: oss.Ptr(testBucket), MaxKeys: 1001})
	wantCode(t, err, 400, "InvalidArgument")
	_, err = c.ListObjectsV2(ctx(t), &oss.ListObjectsV2Request{Bucket: oss.Ptr(testBucket), ContinuationToken: oss.Ptr("!!")})
	wantCode(t, err, 400, "InvalidArgument")
}

func TestListWeirdKeys(t *testing.T) {
	for _, v := range []struct {
		name string
		mod  func(*oss.Config)
	}{{"v4", func(*oss.Config) {}}, {"v1", withV1}} {
		t.Run(v.name, func(t *testing.T) {
			srv := newServer(t)
			c := newClient(t, srv, v.mod)
			for _, k := range weirdKeys {
				put(t, c, k, []byte(k)) // through the SDK: URL escaping and signatures
				if got := get(t, c, k); string(got) != k {
					t.Errorf("GetObject %q returned %q", k, got)
				}
			}
			for _, v2 := range []bool{false, true} {
				for _, q := range []struct{ prefix, delim string }{{"", ""}, {"", "/"}, {"dir/", "/"}, {"per%", ""}, {"a b/", "/"}, {"日志/", "/"}, {"", "%"}, {"", "+"}} {
					keys, prefixes, _ := listAll(t, c, v2, q.prefix, q.delim, 3)
					wk, wp := model(weirdKeys, q.prefix, q.delim)
					if strings.Join(keys, "|") != strings.Join(wk, "|") || strings.Join(prefixes, "|") != strings.Join(wp, "|") {
						t.Errorf("v2=%v prefix %q delim %q:\n keys %q\n want %q\n prefixes %q\n want %q", v2, q.prefix, q.delim, keys, wk, prefixes, wp)
					}
				}
			}
		})
	}
}

// TestListRandom compares paged listings with the model for random keys,
// prefixes, delimiters and page sizes.
func TestListRandom(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	rng := rand.New(rand.NewSource(7))
	alphabet := []string{"a", "b", "/", "-", "é", " ", "+", "%"}
	seen := map[string]bool{}
	var all []string
	for len(all) < 300 {
		var sb strings.Builder
		for n := 1 + rng.Intn(8); n > 0; n-- {
			sb.WriteString(alphabet[rng.Intn(len(alphabet))])
		}
		k := sb.String()
		if seen[k] || strings.HasPrefix(k, "/") {
			continue
		}
		seen[k] = true
		all = append(all, k)
		srv.Put(testBucket, k, nil, nil)
	}
	for i := 0; i < 20; i++ {
		prefix := ""
		if rng.Intn(2) == 0 {
			prefix = all[rng.Intn(len(all))][:1]
		}
		delim := []string{"", "/", "-", "a"}[rng.Intn(4)]
		limit := int32(3 + rng.Intn(60))
		v2 := rng.Intn(2) == 0
		keys, prefixes, _ := listAll(t, c, v2, prefix, delim, limit)
		wk, wp := model(all, prefix, delim)
		if strings.Join(keys, "|") != strings.Join(wk, "|") || strings.Join(prefixes, "|") != strings.Join(wp, "|") {
			t.Fatalf("v2=%v prefix %q delim %q limit %d: got %d keys %d prefixes, want %d %d", v2, prefix, delim, limit, len(keys), len(prefixes), len(wk), len(wp))
		}
	}
}

func TestListStartAfterAndMarker(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	for _, k := range []string{"a", "b", "c", "d"} {
		srv.Put(testBucket, k, nil, nil)
	}
	v2, err := c.ListObjectsV2(ctx(t), &oss.ListObjectsV2Request{Bucket: oss.Ptr(testBucket), StartAfter: oss.Ptr("b"), MaxKeys: 1, FetchOwner: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(v2.Contents) != 1 || oss.ToString(v2.Contents[0].Key) != "c" || !v2.IsTruncated || v2.NextContinuationToken == nil ||
		v2.Contents[0].Owner == nil || oss.ToString(v2.StartAfter) != "b" {
		t.Errorf("v2 page %+v", v2)
	}
	v1, err := c.ListObjects(ctx(t), &oss.ListObjectsRequest{Bucket: oss.Ptr(testBucket), Marker: oss.Ptr("c")})
	if err != nil || len(v1.Contents) != 1 || oss.ToString(v1.Contents[0].Key) != "d" || v1.IsTruncated {
		t.Errorf("v1 page %+v %v", v1, err)
	}
}
