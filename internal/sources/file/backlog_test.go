package file

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/loggen"
	"github.com/logship/logship/internal/pipeline"
	"github.com/logship/logship/internal/schema"
	"github.com/logship/logship/internal/sinks"
	"github.com/logship/logship/internal/sinks/dir"
)

// A backlog in many files is shipped in full chunks: a turn reads up to
// its chunk's room and seals it, so the source does not leave a half
// filled chunk in every file, holding the in-flight budget, while it
// reads the others (the budget then ran out, the oldest open chunk was
// sealed half full to make room, and reading and compressing took turns
// instead of running on both cores).
func TestBacklogShipsFullChunks(t *testing.T) {
	const files, size, maxBytes, block = 8, 3 << 20, 512 << 10, 16 << 10
	logs := t.TempDir()
	var total int64
	for i := range files {
		b := make([]byte, size)
		if _, err := io.ReadFull(loggen.New(uint64(i+1)), b); err != nil {
			t.Fatal(err)
		}
		b = b[:bytes.LastIndexByte(b, '\n')+1] // whole lines: the last chunk waits for max_age only
		total += int64(len(b))
		if err := os.WriteFile(filepath.Join(logs, loggen.FileName(i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	store := t.TempDir()
	sink, err := dir.New(store)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := pipeline.New(pipeline.Options{App: "app", Host: "host", Sink: sink, Log: quiet,
		Config: pipeline.Config{StateDir: t.TempDir(), MaxBytes: maxBytes, MaxInFlight: 6, MaxAge: schema.Duration(time.Second)}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, filepath.Join(logs, "*.log"))
	cfg.ReadBufferBytes = block
	src, err := New("files", cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pipeline.Run(ctx, p, []pipeline.Source{src}, 10*time.Second) }()
	var chunks map[string][][2]int64
	deadline := time.Now().Add(waitFor)
	for {
		var stored int64
		chunks = map[string][][2]int64{}
		err := sink.List(context.Background(), "", func(o sinks.ObjectInfo) error {
			k, err := archive.ParseKey(o.Key)
			if err != nil {
				return err
			}
			chunks[k.Stream] = append(chunks[k.Stream], [2]int64{k.Start, k.End})
			stored += k.End - k.Start
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if stored == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored %d of %d bytes", stored, total)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(chunks) != files {
		t.Fatalf("%d streams, want %d", len(chunks), files)
	}
	for id, cs := range chunks {
		sort.Slice(cs, func(i, j int) bool { return cs[i][0] < cs[j][0] })
		for _, c := range cs[:len(cs)-1] { // the last one holds what is left
			if n := c[1] - c[0]; n < maxBytes-block {
				t.Errorf("stream %s: chunk [%d, %d) of %d bytes, want at least %d: %d chunks %v", id, c[0], c[1], n, maxBytes-block, len(cs), cs)
				break
			}
		}
	}
}
