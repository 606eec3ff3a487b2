package pipeline

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/schema"
)

// A batch that begins with a quiet file's line holds a small buffer, not
// max_bytes, and moves to a full one when it grows; the bytes are intact.
func TestQuietBatchesSmallBuffers(t *testing.T) {
	fs := newFlaky(t)
	p := newTestPipeline(t, fs, func(o *Options) { o.MaxBytes = 1 << 20; o.MaxAge = schema.Duration(time.Hour) })
	p.Start()
	s := p.Emitter("files").Open(StreamInfo{ID: "q-1", Kind: archive.KindFile, Unit: archive.UnitBytes}, 0)
	line := lines(1, "quiet")
	writeAll(t, s, 0, line, len(line))
	sw := s.(*streamWriter)
	if c := cap(*sw.buf); c != smallBatch {
		t.Fatalf("a one-line batch holds a buffer of %d bytes, want %d", c, smallBatch)
	}
	more := lines(3000, "burst")
	writeAll(t, s, int64(len(line)), more, 4096)
	if c := cap(*sw.buf); c != 1<<20 {
		t.Fatalf("a grown batch holds %d bytes, want max_bytes", c)
	}
	if err := p.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := readBack(t, fs.Sink)["q-1"]; !bytes.Equal(got, append(line, more...)) {
		t.Fatalf("read back %d bytes, want %d", len(got), len(line)+len(more))
	}
}

// After idleTrim without a full batch, the free lists are emptied.
func TestTrimIdle(t *testing.T) {
	p := newTestPipeline(t, newFlaky(t), nil)
	for range 3 {
		putBuf(p.rawFree, p.getRaw(int(p.o.MaxBytes)))
		putBuf(p.bodyFree, getBuf(p.bodyFree, 1024))
	}
	now := time.Now()
	p.trimIdle(now)
	if len(p.rawFree) == 0 {
		t.Fatal("trimmed while busy")
	}
	p.trimIdle(now.Add(idleTrim + time.Second))
	if len(p.rawFree) != 0 || len(p.bodyFree) != 0 {
		t.Fatalf("after %s idle: %d raw and %d body buffers kept", idleTrim, len(p.rawFree), len(p.bodyFree))
	}
}
