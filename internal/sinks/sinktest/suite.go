// Package sinktest is the conformance suite every sink passes: durable
// round trips, idempotent rewrites, cancellation, failure then retry, and
// a safe Close.
package sinktest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/sinks"
)

// Harness builds the sink under test.
type Harness struct {
	// New returns a fresh, empty sink.
	New func(t *testing.T) sinks.Sink
	// Break makes the next writes of key fail (a full disk, an outage);
	// calling the returned function repairs it.
	Break func(t *testing.T, s sinks.Sink, key string) (repair func())
}

// Object returns a valid chunk object for tests.
func Object(t testing.TB, stream string, start int64, raw []byte) *sinks.Object {
	t.Helper()
	h := &archive.Header{V: archive.Version, App: "app", Host: "host", Source: archive.KindFile, Path: "/var/log/a.log",
		Stream: stream, Start: start, End: start + int64(len(raw)), Unit: archive.UnitBytes,
		Lines: int64(bytes.Count(raw, []byte{'\n'})), RawSize: int64(len(raw)), Checksum: archive.Checksum(raw),
		First: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), Last: time.Date(2026, 11, 26, 10, 0, 1, 0, time.UTC), Codec: archive.CodecZstd}
	enc, err := archive.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	body, err := enc.Encode(nil, h, raw)
	if err != nil {
		t.Fatal(err)
	}
	return &sinks.Object{Key: archive.Key("logs", h), Body: body, Header: h, ContentType: "application/zstd"}
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	ctx := context.Background()
	t.Run("CloseWithoutWrite", func(t *testing.T) {
		s := h.New(t)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("DoubleClose", func(t *testing.T) {
		s := h.New(t)
		if err := s.Put(ctx, Object(t, "a-1", 0, []byte("x\n"))); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
	t.Run("RoundTrip", func(t *testing.T) {
		s := h.New(t)
		defer s.Close()
		objs := []*sinks.Object{
			Object(t, "a-1", 0, []byte("one\ntwo\n")),
			Object(t, "a-1", 8, []byte("three\n")),
			Object(t, "b-2", 0, bytes.Repeat([]byte("binary \x00\xff line\n"), 5000)),
		}
		for _, o := range objs {
			if err := s.Put(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		checkStored(t, s, objs)
	})
	t.Run("IdempotentRewrite", func(t *testing.T) {
		s := h.New(t)
		defer s.Close()
		o := Object(t, "a-1", 0, []byte("same chunk\n"))
		for i := 0; i < 3; i++ {
			if err := s.Put(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		checkStored(t, s, []*sinks.Object{o})
	})
	t.Run("CancelledContext", func(t *testing.T) {
		s := h.New(t)
		defer s.Close()
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		o := Object(t, "a-1", 0, []byte("never\n"))
		if err := s.Put(cctx, o); err == nil {
			t.Fatal("Put with a cancelled context succeeded")
		}
		checkStored(t, s, nil)
	})
	t.Run("FailThenRetry", func(t *testing.T) {
		if h.Break == nil {
			t.Skip("no fault injection for this sink")
		}
		s := h.New(t)
		defer s.Close()
		o := Object(t, "a-1", 0, []byte("retry me\n"))
		repair := h.Break(t, s, o.Key)
		if err := s.Put(ctx, o); err == nil {
			t.Fatal("Put succeeded on a broken sink")
		}
		repair()
		if err := s.Put(ctx, o); err != nil {
			t.Fatalf("Put after repair: %v", err)
		}
		checkStored(t, s, []*sinks.Object{o})
	})
}

// checkStored lists the sink (when it can be read back) and compares with
// want, byte for byte, decoding each object with the archive reader.
func checkStored(t *testing.T, s sinks.Sink, want []*sinks.Object) {
	t.Helper()
	l, ok1 := s.(sinks.Lister)
	g, ok2 := s.(sinks.Getter)
	if !ok1 || !ok2 {
		return
	}
	var keys []string
	if err := l.List(context.Background(), "", func(oi sinks.ObjectInfo) error {
		keys = append(keys, oi.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(want) {
		t.Fatalf("stored %d objects %q, want %d", len(keys), keys, len(want))
	}
	for i, o := range want {
		if keys[i] != o.Key {
			t.Fatalf("key %d = %q, want %q", i, keys[i], o.Key)
		}
		rc, oi, err := g.Get(context.Background(), o.Key)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, o.Body) {
			t.Fatalf("%s: stored body differs", o.Key)
		}
		if oi.Size != int64(len(o.Body)) && oi.Size != 0 {
			t.Fatalf("%s: size %d, want %d", o.Key, oi.Size, len(o.Body))
		}
		_, raw, err := archive.Decode(b, archive.Limits{})
		if err != nil {
			t.Fatalf("%s: %v", o.Key, err)
		}
		if int64(len(raw)) != o.Header.RawSize {
			t.Fatalf("%s: raw size", o.Key)
		}
	}
	if _, _, err := g.Get(context.Background(), "logs/no/such/key"); !errors.Is(err, sinks.ErrNotFound) {
		t.Fatalf("Get of a missing key: %v, want ErrNotFound", err)
	}
	st, ok := s.(sinks.Stater)
	if !ok {
		return
	}
	for _, o := range want {
		oi, err := st.Stat(context.Background(), o.Key)
		if err != nil {
			t.Fatalf("Stat %s: %v", o.Key, err)
		}
		if oi.Size != int64(len(o.Body)) {
			t.Fatalf("Stat %s: size %d, want %d", o.Key, oi.Size, len(o.Body))
		}
		for k, v := range o.Header.Meta() {
			if oi.Meta[k] != v {
				t.Fatalf("Stat %s: meta %s = %q, want %q", o.Key, k, oi.Meta[k], v)
			}
		}
	}
	if _, err := st.Stat(context.Background(), "logs/no/such/key"); !errors.Is(err, sinks.ErrNotFound) {
		t.Fatalf("Stat of a missing key: %v, want ErrNotFound", err)
	}
}
