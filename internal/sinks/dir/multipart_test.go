package dir

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/internal/sinks"
)

const mpKey = "logs/app=a/dt=2026-11-26/hour=12/host=h/source=crash/java_pid1.hprof-0123456789abcdef/0000000000000000-0000000000000300.log.zst"

func newSink(t *testing.T, root string) *Sink {
	t.Helper()
	s, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func resume(t *testing.T, s *Sink, key string) (sinks.Upload, []sinks.Part) {
	t.Helper()
	u, parts, err := s.ResumeUpload(context.Background(), key, nil, "application/zstd")
	if err != nil {
		t.Fatal(err)
	}
	return u, parts
}

func putPart(t *testing.T, u sinks.Upload, n int, body []byte) sinks.Part {
	t.Helper()
	p, err := u.PutPart(context.Background(), n, body)
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(body)
	if p.Number != n || p.Size != int64(len(body)) || p.ETag != hex.EncodeToString(sum[:]) {
		t.Fatalf("part %+v", p)
	}
	return p
}

func keys(t *testing.T, s *Sink) []string {
	t.Helper()
	var out []string
	if err := s.List(context.Background(), "", func(oi sinks.ObjectInfo) error { out = append(out, oi.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMultipartResumeAndComplete(t *testing.T) {
	root := t.TempDir()
	ctx := context.Background()
	s := newSink(t, root)
	u, parts := resume(t, s, mpKey)
	if len(parts) != 0 {
		t.Fatalf("new upload has parts %v", parts)
	}
	p1 := putPart(t, u, 1, bytes.Repeat([]byte("a"), 100))
	putPart(t, u, 2, bytes.Repeat([]byte("b"), 100))

	// Pending parts are not objects, and the upload folder is no prefix.
	if k := keys(t, s); len(k) != 0 {
		t.Fatalf("pending parts listed as objects: %v", k)
	}
	if pre, err := s.ListPrefixes(ctx, ""); err != nil || len(pre) != 0 {
		t.Fatalf("prefixes %v %v", pre, err)
	}

	// Another process finds them; part 2 is written again with other bytes.
	s2 := newSink(t, root)
	u2, parts := resume(t, s2, mpKey)
	if len(parts) != 2 || parts[0] != p1 || parts[1].Number != 2 {
		t.Fatalf("resumed parts %+v", parts)
	}
	p2 := putPart(t, u2, 2, bytes.Repeat([]byte("c"), 100))
	p3 := putPart(t, u2, 3, []byte("d"))
	_, parts = resume(t, s2, mpKey)
	if len(parts) != 3 || parts[1] != p2 || parts[2] != p3 {
		t.Fatalf("after replacing part 2: %+v", parts)
	}
	if err := u2.Complete(ctx, []sinks.Part{p1, p2, p3}); err != nil {
		t.Fatal(err)
	}
	want := strings.Repeat("a", 100) + strings.Repeat("c", 100) + "d"
	got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(mpKey)))
	if err != nil || string(got) != want {
		t.Fatalf("object %q %v", got, err)
	}
	if k := keys(t, s2); len(k) != 1 || k[0] != mpKey {
		t.Fatalf("objects %v", k)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, uploadsDir)); len(ents) != 0 {
		t.Fatalf("upload folder left: %v", ents)
	}
	// A retried Complete (the first reply was lost) succeeds.
	if err := u2.Complete(ctx, []sinks.Part{p1, p2, p3}); err != nil {
		t.Fatalf("retried complete: %v", err)
	}
	// Uploading the same key again starts from nothing.
	u3, parts := resume(t, s2, mpKey)
	if len(parts) != 0 {
		t.Fatalf("parts after completion: %v", parts)
	}
	p := putPart(t, u3, 1, []byte("again"))
	if err := u3.Complete(ctx, []sinks.Part{p}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(root, filepath.FromSlash(mpKey))); string(got) != "again" {
		t.Fatalf("overwritten object %q", got)
	}
}

func TestMultipartCompleteRefusesUnknownParts(t *testing.T) {
	s := newSink(t, t.TempDir())
	u, _ := resume(t, s, mpKey)
	p1 := putPart(t, u, 1, []byte("one"))
	p2 := putPart(t, u, 2, []byte("two"))
	ctx := context.Background()
	for name, parts := range map[string][]sinks.Part{
		"none":      nil,
		"wrong tag": {p1, {Number: 2, Size: 3, ETag: strings.Repeat("0", 32)}},
		"missing":   {p1, p2, {Number: 3, Size: 1, ETag: strings.Repeat("1", 32)}},
		"order":     {p2, p1},
	} {
		err := u.Complete(ctx, parts)
		if err == nil || !sinks.IsPermanent(err) {
			t.Errorf("%s: %v, want a permanent error", name, err)
		}
	}
	// Quoted, upper-case ETags (as OSS returns them) are accepted.
	q := p1
	q.ETag = `"` + strings.ToUpper(p1.ETag) + `"`
	if err := u.Complete(ctx, []sinks.Part{q, p2}); err != nil {
		t.Fatal(err)
	}
}

func TestMultipartAbort(t *testing.T) {
	s := newSink(t, t.TempDir())
	u, _ := resume(t, s, mpKey)
	putPart(t, u, 1, []byte("x"))
	if err := u.Abort(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := u.Complete(context.Background(), []sinks.Part{{Number: 1}}); !errors.Is(err, ErrNoUpload) {
		t.Fatalf("complete after abort: %v", err)
	}
	_, parts := resume(t, s, mpKey)
	if len(parts) != 0 {
		t.Fatalf("parts after abort: %v", parts)
	}
}

// A crash can leave a half-written temp file, or two files for one part
// number (the replacement renamed in, the old one not yet removed).
func TestMultipartCrashLeftovers(t *testing.T) {
	root := t.TempDir()
	s := newSink(t, root)
	u, _ := resume(t, s, mpKey)
	putPart(t, u, 1, []byte("old"))
	dir := u.(*upload).dir
	if err := os.WriteFile(filepath.Join(dir, writePrefix+"123"), []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum([]byte("new"))
	newer := filepath.Join(dir, partName(1, hex.EncodeToString(sum[:])))
	if err := os.WriteFile(newer, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Minute)
	if err := os.Chtimes(newer, future, future); err != nil {
		t.Fatal(err)
	}
	_, parts := resume(t, newSink(t, root), mpKey)
	if len(parts) != 1 || parts[0].ETag != hex.EncodeToString(sum[:]) || parts[0].Size != 3 {
		t.Fatalf("parts %+v", parts)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 { // .tmp-key and the newer part
		t.Fatalf("leftovers not cleaned: %v", ents)
	}
}

func TestMultipartRefusals(t *testing.T) {
	root := t.TempDir()
	s := newSink(t, root)
	ctx := context.Background()
	if _, _, err := s.ResumeUpload(ctx, "../escape", nil, ""); err == nil || !sinks.IsPermanent(err) {
		t.Fatalf("unsafe key: %v", err)
	}
	u, _ := resume(t, s, mpKey)
	if _, err := u.PutPart(ctx, 0, []byte("x")); !sinks.IsPermanent(err) {
		t.Fatalf("part 0: %v", err)
	}
	if _, err := u.PutPart(ctx, maxParts+1, []byte("x")); !sinks.IsPermanent(err) {
		t.Fatalf("part %d: %v", maxParts+1, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := u.PutPart(cctx, 1, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled put: %v", err)
	}
	if _, _, err := s.ResumeUpload(cctx, mpKey, nil, ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled resume: %v", err)
	}
	// A folder whose key file names another key (a hash collision, or
	// tampering) is not used.
	if err := os.WriteFile(filepath.Join(u.(*upload).dir, keyFile), []byte("other"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ResumeUpload(ctx, mpKey, nil, ""); err == nil || !sinks.IsPermanent(err) {
		t.Fatalf("foreign upload folder: %v", err)
	}
}
