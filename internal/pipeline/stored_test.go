package pipeline

import (
	"testing"

	"github.com/logship/logship/archive"
)

// A stream the source stored itself (an artifact): open at 0 while it
// ships, the entry never says shipped; CloseStored makes it committed and
// finished, on disk at once (no ticker: the pipeline is not started).
func TestCloseStored(t *testing.T) {
	p := newTestPipeline(t, newFlaky(t), nil)
	info := StreamInfo{ID: "java_pid42.hprof-00112233aabbccdd", Kind: archive.KindCrash, Path: "/app/java_pid42.hprof", Unit: archive.UnitBytes, Meta: []byte(`{"size":5000}`)}
	s := p.Emitter("crash").Open(info, 0)
	if err := p.SaveCheckpoint(); err != nil {
		t.Fatal(err)
	}
	cps, _ := newTestPipeline(t, newFlaky(t), func(o *Options) { o.StateDir = p.o.StateDir }).Emitter("crash").Checkpoints()
	if len(cps) != 1 || cps[0].Finished || cps[0].Committed != 0 || len(cps[0].Info.Meta) == 0 {
		t.Fatalf("shipping artifact checkpointed as %+v", cps)
	}

	s.CloseStored(5000)
	if s.Committed() != 5000 {
		t.Fatalf("committed %d", s.Committed())
	}
	cps, _ = newTestPipeline(t, newFlaky(t), func(o *Options) { o.StateDir = p.o.StateDir }).Emitter("crash").Checkpoints()
	if len(cps) != 1 || cps[0].Committed != 5000 || !cps[0].Finished || cps[0].Info.ID != info.ID || cps[0].Info.Unit != archive.UnitBytes {
		t.Fatalf("checkpoints %+v", cps)
	}
}
