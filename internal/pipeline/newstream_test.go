package pipeline

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/schema"
	"github.com/logship/logship/internal/sinks"
)

// savedCheckSink records, at every Put, whether the object's stream is in
// the checkpoint file on disk at that moment.
type savedCheckSink struct {
	*flakySink
	dir string

	mu      sync.Mutex
	unsaved []string
}

func (s *savedCheckSink) Put(ctx context.Context, o *sinks.Object) error {
	st, err := OpenStore(s.dir)
	if err != nil {
		return err
	}
	entries, _, err := st.Load()
	if err != nil {
		return err
	}
	found := false
	for _, e := range entries {
		found = found || e.ID == o.Header.Stream
	}
	if !found {
		s.mu.Lock()
		s.unsaved = append(s.unsaved, o.Key)
		s.mu.Unlock()
	}
	return s.flakySink.Put(ctx, o)
}

// A new stream is in the saved checkpoint before any of its chunks can be
// durable. Otherwise a SIGKILL after the first chunk is stored and before
// the next checkpoint save loses the stream's identity: the file source,
// finding the file again under another name (a rotation while the agent
// was down), opens a stream with another id for the same bytes, and pull
// rebuilds that generation twice (the JUL generation shipped as two
// streams by TestAgentSurvivesRotationAndKill9, seed 1796541175993041913).
func TestNewStreamSavedBeforeFirstChunk(t *testing.T) {
	state := t.TempDir()
	sink := &savedCheckSink{flakySink: newFlaky(t), dir: state}
	p := newTestPipeline(t, sink, func(o *Options) {
		o.StateDir = state
		o.CheckpointInterval = schema.Duration(time.Hour) // only the guarantee saves in time
	})
	p.Start()
	em := p.Emitter("files")
	for i := range 3 {
		id := fmt.Sprintf("s%d-0000000000000000", i)
		s := em.Open(StreamInfo{ID: id, Kind: archive.KindFile, Path: "/logs/" + id, Unit: archive.UnitBytes}, 0)
		data := lines(2000, id)
		writeAll(t, s, 0, data, 4096)
		s.Flush()
	}
	if err := p.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if sink.flakySink.puts.Load() == 0 {
		t.Fatal("nothing was uploaded")
	}
	if len(sink.unsaved) > 0 {
		t.Fatalf("%d of %d chunks were stored while their stream was not in the saved checkpoint, e.g. %s",
			len(sink.unsaved), sink.flakySink.puts.Load(), sink.unsaved[0])
	}
}
