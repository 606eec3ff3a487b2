package file

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/logship/logship/internal/loggen"
	"github.com/logship/logship/internal/pipeline"
)

const benchSize = 256 << 20

var (
	benchOnce sync.Once
	benchDir  string
	benchFile string
	benchErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// benchLog writes a file of benchSize bytes of generated Java application
// logs (internal/loggen), ending with a newline.
func benchLog(b *testing.B) string {
	benchOnce.Do(func() {
		if benchDir, benchErr = os.MkdirTemp("", "logship-bench-"); benchErr != nil {
			return
		}
		data := loggen.Head(1, benchSize)
		// One filler line to the size: the file ends with a newline, so
		// nothing waits for partial_line_after.
		if n := benchSize - len(data); n > 0 {
			data = append(append(data, bytes.Repeat([]byte{'x'}, n-1)...), '\n')
		}
		benchFile = filepath.Join(benchDir, "bench.log")
		benchErr = os.WriteFile(benchFile, data, 0o644)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchFile
}

// discard is an Emitter that counts and drops bytes.
type discard struct {
	n      atomic.Int64
	lines  atomic.Int64
	target int64
	done   chan struct{}
	once   sync.Once
}

func (d *discard) Checkpoints() ([]pipeline.Checkpoint, bool) { return nil, true }
func (d *discard) Open(info pipeline.StreamInfo, start int64) pipeline.StreamWriter {
	return &discardStream{d: d}
}
func (d *discard) Forget(string) {}

type discardStream struct {
	d   *discard
	end int64
}

func (s *discardStream) Write(ctx context.Context, p pipeline.Piece) error {
	s.end = p.End
	s.d.lines.Add(p.Lines)
	if s.d.n.Add(int64(len(p.Data))) >= s.d.target {
		s.d.once.Do(func() { close(s.d.done) })
	}
	return nil
}
func (s *discardStream) Flush()                  {}
func (s *discardStream) SetMeta(json.RawMessage) {}
func (s *discardStream) Committed() int64        { return s.end }
func (s *discardStream) Close()                  {}
func (s *discardStream) CloseStored(int64)       {}
func (s *discardStream) Room() int               { return 4 << 20 }

// BenchmarkTail reads a 256 MB file of real log lines through the tailer
// (default buffers) into an emitter that drops the data.
func BenchmarkTail(b *testing.B) {
	path := benchLog(b)
	src, err := New("bench", Config{Paths: []string{path}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchSize)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		d := &discard{target: benchSize, done: make(chan struct{})}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- src.Run(ctx, d) }()
		<-d.done
		cancel()
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
		if d.n.Load() != benchSize {
			b.Fatalf("read %d bytes, want %d", d.n.Load(), benchSize)
		}
	}
}
