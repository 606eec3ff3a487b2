package oss

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/sinks"
)

// loghub returns about n bytes of log lines from the loghub samples,
// made unique line by line (a counter and a time stamp) so that the
// compressor cannot find whole repeated files.
func loghub(tb testing.TB, n int) []byte {
	tb.Helper()
	files, _ := filepath.Glob("../../../../shared/testdata/loghub/*.log")
	var lines [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		lines = append(lines, bytes.SplitAfter(b, []byte("\n"))...)
	}
	if len(lines) == 0 {
		tb.Skip("no loghub samples")
	}
	var out bytes.Buffer
	t := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for i := 0; out.Len() < n; i++ {
		l := lines[i%len(lines)]
		if len(l) < 2 {
			continue
		}
		t = t.Add(time.Duration(i%7) * time.Millisecond)
		fmt.Fprintf(&out, "%s %d %s", t.Format("2006-01-02T15:04:05.000"), i, l)
	}
	return out.Bytes()
}

// BenchmarkOSSSink measures Put of 4 MiB (raw) zstd chunks to osstest
// over loopback HTTP, 4 at a time as the pipeline's uploaders do. SetBytes
// counts raw bytes, so MB/s is comparable with the agent's throughput;
// the compression itself is done before the timer starts.
func BenchmarkOSSSink(b *testing.B) {
	srv := newServer(b)
	s := newTestSink(b, srv)
	raw := loghub(b, 32<<20)
	enc, err := archive.NewEncoder()
	if err != nil {
		b.Fatal(err)
	}
	var objs []*sinks.Object
	var stored int
	for off := 0; off+4<<20 <= len(raw); off += 4 << 20 {
		chunk := raw[off : off+4<<20]
		h := &archive.Header{V: archive.Version, App: "bench", Host: "h", Source: archive.KindFile, Stream: "s-1",
			Start: int64(off), End: int64(off + len(chunk)), Unit: archive.UnitBytes, RawSize: int64(len(chunk)),
			Checksum: archive.Checksum(chunk), First: time.Now(), Last: time.Now(), Codec: archive.CodecZstd}
		body, err := enc.Encode(nil, h, chunk)
		if err != nil {
			b.Fatal(err)
		}
		stored += len(body)
		objs = append(objs, &sinks.Object{Key: archive.Key("logs", h), Body: body, Header: h, ContentType: "application/zstd"})
	}
	enc.Close()
	b.SetBytes(4 << 20)
	b.ResetTimer()
	var wg sync.WaitGroup
	work := make(chan *sinks.Object)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				if err := s.Put(context.Background(), o); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for i := 0; i < b.N; i++ {
		work <- objs[i%len(objs)]
	}
	close(work)
	wg.Wait()
	b.ReportMetric(float64(len(objs)*(4<<20))/float64(stored), "ratio")
}
