package pipeline

import (
	"bytes"
	"context"
	"testing"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/loggen"
	"github.com/logship/logship/internal/sinks/dir"
)

// BenchmarkPipelineDir measures batcher + zstd compressor + dir sink (with
// fsync) at the default settings: raw log bytes per second.
func BenchmarkPipelineDir(b *testing.B) {
	for _, codec := range []string{archive.CodecZstd, archive.CodecGzip} {
		b.Run(codec, func(b *testing.B) {
			data := loggen.Head(1, 64<<20) // generated Java application logs
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				d, err := dir.New(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				p, err := New(Options{App: "bench", Host: "h", Sink: d, Config: Config{StateDir: b.TempDir(), Compression: codec}})
				if err != nil {
					b.Fatal(err)
				}
				p.Start()
				s := p.Emitter("f").Open(StreamInfo{ID: "bench-1", Kind: archive.KindFile, Unit: archive.UnitBytes}, 0)
				b.StartTimer()
				const piece = 256 << 10
				for off := 0; off < len(data); {
					end := min(off+piece, len(data))
					end = off + bytes.LastIndexByte(data[off:end], '\n') + 1
					if err := s.Write(context.Background(), Piece{Start: int64(off), End: int64(end), Data: data[off:end]}); err != nil {
						b.Fatal(err)
					}
					off = end
				}
				if err := p.Drain(context.Background()); err != nil {
					b.Fatal(err)
				}
				p.Close()
			}
		})
	}
}
