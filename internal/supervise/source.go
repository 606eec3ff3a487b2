package supervise

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/pipeline"
)

// SourceName names the run's streams in the checkpoint.
const SourceName = "run"

const (
	// readBytes is the most read at once, and the longest piece: a longer
	// line is split.
	readBytes = 256 << 10
	// partialAfter: an unterminated last line (a prompt, binary output)
	// is shipped after this idle time, and at once when the stream ends.
	partialAfter = time.Second
	// ackEvery paces the deletion of acknowledged spool files.
	ackEvery = 200 * time.Millisecond
)

// Stream names: the spool file names and the header paths.
const (
	nameStdout = "stdout"
	nameStderr = "stderr"
	nameEvents = "events"
	pathEvents = "events.jsonl"
)

// tracked is one spool being shipped as one stream.
type tracked struct {
	sp      *spool
	r       spoolReader
	st      pipeline.StreamWriter
	pos     int64     // next position to read
	partial time.Time // when the unterminated bytes at pos were first seen
	done    bool      // read to the end and the stream closed
	old     bool      // left by an earlier run
}

// source ships the spools of this run and those left by earlier runs in
// the same state folder (a restart after logship was killed). It is a
// pipeline.Source.
type source struct {
	runsDir string // STATE/run
	runID   string
	cur     []*spool // this run's: stdout, stderr, events
	wake    chan struct{}
	finish  chan struct{} // closed: this run's spools are closed; read them to the end
	drained chan struct{} // closed when they are, and their streams closed
	log     *slog.Logger
}

func (s *source) Name() string { return SourceName }

func kindOf(name string) (kind, path string) {
	if name == nameEvents {
		return archive.KindEvent, pathEvents
	}
	return archive.KindStdout, name
}

func streamID(runID, name string) string { return name + "-" + runID }

// Run implements pipeline.Source.
func (s *source) Run(ctx context.Context, out pipeline.Emitter) error {
	saved, _ := out.Checkpoints()
	committed := map[string]int64{}
	for _, cp := range saved {
		committed[cp.Info.ID] = cp.Committed
	}
	var ts []*tracked
	open := func(sp *spool, runID string, old bool) {
		kind, path := kindOf(sp.name)
		id := streamID(runID, sp.name)
		start := committed[id]
		if first, ok := sp.first(); ok && start < first {
			start = first // before: acknowledged and deleted, or dropped
		}
		st := out.Open(pipeline.StreamInfo{ID: id, Kind: kind, Path: path, Unit: archive.UnitBytes}, start)
		ts = append(ts, &tracked{sp: sp, r: spoolReader{s: sp}, st: st, pos: start, old: old})
	}
	left := s.earlier(out, saved)
	for runID, sps := range left {
		for _, sp := range sps {
			open(sp, runID, true)
		}
	}
	for _, sp := range s.cur {
		open(sp, s.runID, false)
	}
	defer func() {
		for _, t := range ts {
			t.r.close()
		}
	}()
	buf := make([]byte, readBytes)
	timer := time.NewTimer(ackEvery)
	defer timer.Stop()
	finishing, drained := false, false
	for {
		if !finishing {
			select {
			case <-s.finish:
				finishing = true
			default:
			}
		}
		for _, t := range ts {
			if t.done {
				continue
			}
			if err := s.ship(ctx, t, buf, finishing || t.old); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
		for _, t := range ts {
			t.sp.ack(t.st.Committed())
		}
		for runID, sps := range left {
			if gone(sps) {
				os.RemoveAll(filepath.Join(s.runsDir, runID))
				delete(left, runID)
			}
		}
		if finishing && !drained && s.curDone(ts) {
			drained = true
			close(s.drained)
		}
		timer.Reset(ackEvery)
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-s.finish:
		case <-timer.C:
		}
	}
}

// ship reads what the spool holds beyond t.pos into the stream, cut after
// the last newline; an unterminated rest waits for partialAfter, or not at
// all when the spool is closed.
func (s *source) ship(ctx context.Context, t *tracked, buf []byte, final bool) error {
	for {
		end, closed := t.sp.state()
		n, err := s.fill(t, buf)
		if err != nil {
			return err
		}
		if n == 0 {
			if closed && t.pos >= end {
				t.st.Close()
				t.done = true
			}
			return nil
		}
		data := buf[:n]
		cut := bytes.LastIndexByte(data, '\n') + 1
		if cut == 0 {
			switch {
			case n == len(buf) || closed && t.pos+int64(n) >= end:
				// a line longer than a read, or the end of the stream
			case t.partial.IsZero():
				t.partial = time.Now()
				return nil
			case time.Since(t.partial) < partialAfter && !final:
				return nil
			}
			cut = n
		}
		data = data[:cut]
		p := pipeline.Piece{Start: t.pos, End: t.pos + int64(cut), Data: data, Lines: int64(bytes.Count(data, []byte{'\n'}))}
		if t.sp.name == nameEvents && bytes.Contains(data, []byte(`"event":"exit"`)) {
			p.Event = archive.EventExit
		}
		if err := t.st.Write(ctx, p); err != nil {
			return err
		}
		t.pos, t.partial = p.End, time.Time{}
	}
}

// fill reads from t.pos into buf across spool files, up to a gap or the
// end; a gap at t.pos itself is passed over (logged and counted).
func (s *source) fill(t *tracked, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		pos := t.pos + int64(n)
		at, m, err := t.r.read(pos, buf[n:])
		if err != nil {
			return n, fmt.Errorf("run: reading the %s spool: %w", t.sp.name, err)
		}
		if at > pos {
			if n > 0 {
				break // ship what comes before the gap first
			}
			s.log.Warn("run: output lost before it was archived (spool full or unwritable)", "stream", t.sp.name, "bytes", at-pos)
			mAbandoned.Add(int(at - pos))
			t.st.Flush() // a jump: the next piece starts a new chunk
			t.pos, t.partial = at, time.Time{}
		}
		if m == 0 {
			break
		}
		n += m
	}
	return n, nil
}

// curDone reports whether this run's streams are read to their ends.
func (s *source) curDone(ts []*tracked) bool {
	for _, t := range ts {
		if !t.old && !t.done {
			return false
		}
	}
	return true
}

func gone(sps []*spool) bool {
	for _, sp := range sps {
		if !sp.empty() {
			return false
		}
	}
	return true
}

// earlier finds the spools left by earlier runs (STATE/run/RUNID/), and
// forgets the checkpoints of runs whose folder is gone.
func (s *source) earlier(out pipeline.Emitter, saved []pipeline.Checkpoint) map[string][]*spool {
	left := map[string][]*spool{}
	ents, _ := os.ReadDir(s.runsDir)
	for _, e := range ents {
		if !e.IsDir() || e.Name() == s.runID {
			continue
		}
		for _, name := range []string{nameStdout, nameStderr, nameEvents} {
			sp, err := openSpool(filepath.Join(s.runsDir, e.Name()), name, s.wake, s.log)
			if err != nil {
				s.log.Warn("run: cannot read a spool left by an earlier run", "dir", e.Name(), "err", err)
				continue
			}
			if len(sp.files) > 0 {
				left[e.Name()] = append(left[e.Name()], sp)
			}
		}
		if len(left[e.Name()]) == 0 {
			os.RemoveAll(filepath.Join(s.runsDir, e.Name()))
		}
	}
	for _, cp := range saved {
		_, runID, _ := strings.Cut(cp.Info.ID, "-")
		if _, ok := left[runID]; !ok && runID != s.runID {
			out.Forget(cp.Info.ID)
		}
	}
	if len(left) > 0 {
		s.log.Info("run: shipping the output left by earlier runs", "runs", len(left))
	}
	return left
}
