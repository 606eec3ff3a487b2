package dir

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/logship/logship/internal/sinks"
	"github.com/logship/logship/internal/sinks/sinktest"
)

func TestConformance(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		New: func(t *testing.T) sinks.Sink {
			s, err := New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		// A file where the object's folder must go: every write fails
		// (as root, permissions would not stop us).
		Break: func(t *testing.T, s sinks.Sink, key string) func() {
			root := s.(*Sink).Root()
			first := filepath.Join(root, filepath.FromSlash(key[:indexSlash(key)]))
			if err := os.WriteFile(first, []byte("in the way"), 0o644); err != nil {
				t.Fatal(err)
			}
			return func() { os.Remove(first) }
		},
	})
}

func indexSlash(k string) int {
	for i := range k {
		if k[i] == '/' {
			return i
		}
	}
	return len(k)
}

func TestUnsafeKeysRefused(t *testing.T) {
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"../x", "/abs", "a/../../b", "a\\b", "a/./b", "", "a/.tmp-x", "nul\x00"} {
		if _, err := s.path(k); err == nil {
			t.Errorf("key %q accepted", k)
		}
	}
}

func TestListPrefixes(t *testing.T) {
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	o := sinktest.Object(t, "a-1", 0, []byte("x\n"))
	if err := s.Put(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	top, err := s.ListPrefixes(context.Background(), "")
	if err != nil || len(top) != 1 || top[0] != "logs/" {
		t.Fatalf("top: %v %v", top, err)
	}
	apps, err := s.ListPrefixes(context.Background(), "logs/")
	if err != nil || len(apps) != 1 || apps[0] != "logs/app=app/" {
		t.Fatalf("apps: %v %v", apps, err)
	}
	if _, err := s.ListPrefixes(context.Background(), "../"); err == nil {
		t.Fatal("escaping prefix accepted")
	}
}

// A folder removed while the sink runs (a clean-up of the archive) is made
// again by the next write, and List refuses a prefix outside the root.
func TestFolderRemovedAndListPrefixOutside(t *testing.T) {
	parent := t.TempDir()
	s, err := New(filepath.Join(parent, "root"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	obj := sinktest.Object(t, "a-1", 0, []byte("one\n"))
	if err := s.Put(ctx, obj); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(s.Root()); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, obj); err != nil {
		t.Fatalf("Put after the folders were removed: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(parent, "rootx", "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(parent, "rootx", "d", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	var seen []string
	err = s.List(ctx, "../rootx/", func(oi sinks.ObjectInfo) error { seen = append(seen, oi.Key); return nil })
	if err == nil || len(seen) > 0 {
		t.Fatalf("List of ../rootx/: %v, %v; want a refusal", seen, err)
	}
}
