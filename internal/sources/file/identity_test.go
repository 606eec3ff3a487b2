package file

import (
	"strings"
	"testing"

	"github.com/logship/logship/archive"
)

func TestIdentity(t *testing.T) {
	k := fileKey{dev: 1, ino: 2}
	a := streamID("/logs/app.log", k, []byte("first\n"), 0)
	if a != streamID("/other/app.log", k, []byte("first\n"), 0) {
		t.Error("id depends on the folder")
	}
	for _, other := range []string{
		streamID("/logs/app.log", k, []byte("first\n"), 1),
		streamID("/logs/app.log", fileKey{1, 3}, []byte("first\n"), 0),
		streamID("/logs/app.log", k, []byte("other\n"), 0),
	} {
		if other == a {
			t.Errorf("ids collide: %s", a)
		}
	}
	if got := streamID("/logs/we ird name!.log", k, nil, 0); !strings.HasPrefix(got, "we_ird_name_.log-") || len(got) != len("we_ird_name_.log-")+16 {
		t.Errorf("id %q: want the safe base name and 16 hex digits", got)
	}
	for _, name := range []string{".hidden.log", strings.Repeat("long", 100) + ".log", "日志.log", "a b\x00c"} {
		if id := streamID("/logs/"+name, k, nil, 0); archive.CheckName(id) != nil {
			t.Errorf("id %q for %q: %v", id, name, archive.CheckName(id))
		}
	}
	if got := idBytes([]byte("line one\nline two\n")); string(got) != "line one\n" {
		t.Errorf("idBytes = %q", got)
	}
	id := identity{V: metaVersion, FPLen: 5, FP: fingerprint([]byte("hello"))}
	if !id.matches([]byte("hello world")) || id.matches([]byte("hell")) || id.matches([]byte("jello world")) {
		t.Error("fingerprint prefix matching is wrong")
	}
	back, ok := parseIdentity(id.json())
	if !ok || back != id {
		t.Errorf("identity round trip: %+v %v", back, ok)
	}
	if _, ok := parseIdentity([]byte(`{"v":99}`)); ok {
		t.Error("unknown identity version accepted")
	}
	rel := []struct {
		cand, known string
		want        headRelation
	}{
		{"abcdef", "abc", headContains},
		{"ab", "abc", headIsPrefix},
		{"abx", "abc", headDiffers},
		{"", "abc", headDiffers},
	}
	for _, r := range rel {
		if got := compareHeads([]byte(r.cand), []byte(r.known)); got != r.want {
			t.Errorf("compareHeads(%q, %q) = %v, want %v", r.cand, r.known, got, r.want)
		}
	}
}
