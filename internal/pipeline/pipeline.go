package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/prefault"
	"github.com/logship/logship/internal/sinks"
)

// Options configure a Pipeline: its Config (the pipeline: section) and
// what the agent wires in.
type Options struct {
	Config
	App, Host string
	Prefix    string // key prefix
	// Uploaders is the number of concurrent sink writes; default 4.
	Uploaders int
	Sink      sinks.Sink
	// Retry is the retry policy of sink writes; its Permanent pace is
	// Config.RetryRefused.
	Retry Retry
	Log   *slog.Logger
	Now   func() time.Time
}

// setDefaults applies Config.SetDefaults and the defaults of what is not
// configuration.
func (o *Options) setDefaults() {
	o.Config.SetDefaults()
	o.Retry.Permanent = o.Config.Retry().Permanent
	if o.Uploaders <= 0 {
		o.Uploaders = 4
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Pipeline batches stream data into chunks, compresses them, writes them
// to the sink with retries, and advances checkpoints on acknowledgement.
//
// Lifecycle: New, Start, hand Emitters to sources, and when the sources
// have stopped, Drain (seal everything, wait for uploads under its own
// deadline, save the checkpoint) and Close.
type Pipeline struct {
	o     Options
	log   *slog.Logger
	store *Store
	sink  sinks.Sink // o.Sink wrapped in o.Retry

	budget *budget // max_in_flight × max_bytes: see budget

	compressQ chan *chunk
	uploadQ   chan *chunk

	// Lock order: mu, then a stream's mu; openMu is a leaf (taken with
	// a stream's mu held, never while taking another lock).
	mu         sync.Mutex
	saveMu     sync.Mutex               // one checkpoint save at a time; taken before mu
	streams    map[string]*streamWriter // by source + "\x00" + id
	openMu     sync.Mutex
	open       map[*streamWriter]struct{} // streams with an open batch
	loaded     map[string][]Checkpoint
	firstStart bool
	dirty      bool

	// Free lists of raw batch buffers (cap MaxBytes) and compressed bodies
	// (grown as needed): at most MaxInFlight of each are kept, so memory
	// stays bounded by the in-flight slots.
	rawFree   chan *[]byte
	smallFree chan *[]byte // buffers of smallBatch, for batches begun with a small piece
	lastFull  atomic.Int64 // UnixNano when a full raw buffer was last taken
	trimmed   bool         // the free lists were emptied since (ticker only)
	bodyFree  chan *[]byte
	bodyHint  atomic.Int64 // the size to give a new body buffer: 5/4 of the last body

	sendMu     sync.RWMutex // guards sends on compressQ against its close
	sendClosed bool

	uploadCtx    context.Context // cancelled when Drain gives up
	cancelUpload context.CancelFunc
	workers      sync.WaitGroup
	stopTicker   chan struct{}
	tickerDone   chan struct{}
	started      bool
	closeOnce    sync.Once
	pending      sync.WaitGroup // chunks sealed and not yet acknowledged or dropped
	status       statusTracker  // for `logship status`
}

type chunk struct {
	s          *streamWriter
	info       StreamInfo
	start, end int64
	raw        *[]byte // until compressed; then nil (obj.Header.RawSize keeps its length)
	crc        uint32  // CRC-32C of *raw
	lines      int64
	first      time.Time
	last       time.Time
	event      string
	obj        *sinks.Object
	body       *[]byte
	held       int64 // bytes of the budget: max_bytes, then its body's size
}

// New loads the checkpoint and prepares a pipeline. A checkpoint file that
// cannot be read is moved aside and logged: the sources then start over
// from their beginnings, which the reader deduplicates (stream ids and keys
// are deterministic).
func New(o Options) (*Pipeline, error) {
	o.setDefaults()
	if o.Sink == nil {
		return nil, errors.New("pipeline: no sink")
	}
	if err := archive.CheckName(o.App); err != nil {
		return nil, fmt.Errorf("pipeline: app: %w", err)
	}
	if err := archive.CheckName(o.Host); err != nil {
		return nil, fmt.Errorf("pipeline: host: %w", err)
	}
	if !slices.Contains(Compressions, o.Compression) {
		return nil, fmt.Errorf("pipeline: unknown codec %q", o.Compression)
	}
	if o.stateDirWhy != "" {
		o.Log.Info("state dir chosen", "state_dir", o.StateDir, "why", o.stateDirWhy)
	}
	st, err := OpenStore(o.StateDir)
	if err != nil {
		return nil, fmt.Errorf("pipeline.state_dir: %w: set pipeline.state_dir (or LOGSHIP_PIPELINE_STATE_DIR) to a folder this user can write that survives restarts, e.g. a mounted volume", err)
	}
	entries, exists, err := st.Load()
	if err != nil {
		o.Log.Error("checkpoint unreadable; sources start over (duplicates are removed by the reader)", "err", err)
	}
	p := &Pipeline{
		o: o, log: o.Log, store: st,
		budget:     newBudget(int64(o.MaxInFlight) * o.MaxBytes.Int64()),
		compressQ:  make(chan *chunk, o.MaxInFlight),
		uploadQ:    make(chan *chunk, o.MaxInFlight*bodyShare),
		streams:    map[string]*streamWriter{},
		open:       map[*streamWriter]struct{}{},
		loaded:     map[string][]Checkpoint{},
		firstStart: !exists,
		stopTicker: make(chan struct{}),
		tickerDone: make(chan struct{}),
	}
	p.rawFree = make(chan *[]byte, o.MaxInFlight)
	p.smallFree = make(chan *[]byte, o.MaxInFlight)
	p.bodyFree = make(chan *[]byte, o.MaxInFlight)
	for _, e := range entries {
		cp := Checkpoint{Info: StreamInfo{ID: e.ID, Kind: e.Kind, Path: e.Path, Unit: e.Unit, Meta: e.Meta}, Committed: e.Committed, Finished: e.Finished, Updated: e.Updated}
		p.loaded[e.Source] = append(p.loaded[e.Source], cp)
		s := newStreamWriter(p, e.Source, cp.Info, e.Committed)
		s.closed, s.finished, s.updated = e.Finished, e.Finished, e.Updated
		s.saved.Store(true)
		p.streams[streamKey(e.Source, e.ID)] = s
	}
	p.uploadCtx, p.cancelUpload = context.WithCancel(context.Background())
	p.status.st = Status{PID: os.Getpid(), Started: o.Now().UTC()}
	retry := o.Retry
	retry.OnFailure = func(what string, err error) {
		p.status.failed(what, err, o.Now())
		if o.Retry.OnFailure != nil {
			o.Retry.OnFailure(what, err)
		}
	}
	sink := o.Sink
	if o.UploadRate > 0 {
		sink = newRateSink(sink, o.UploadRate.Int64())
	}
	p.sink = retry.Wrap(sink, o.Log)
	return p, nil
}

// Config returns the keys the pipeline runs with: what logship validate
// --print shows for its section.
func (p *Pipeline) Config() Config {
	c := p.o.Config
	c.stateDirWhy = ""
	return c
}

func streamKey(source, id string) string { return source + "\x00" + id }

// Start starts the workers.
func (p *Pipeline) Start() {
	p.started = true
	p.saveStatus(true)
	for range p.o.Workers() {
		p.workers.Add(1)
		go p.compressor()
	}
	for i := 0; i < p.o.Uploaders; i++ {
		p.workers.Add(1)
		go p.uploader()
	}
	go p.ticker()
}

// Emitter returns the handle for one source, named as in the config.
func (p *Pipeline) Emitter(source string) Emitter { return &emitter{p: p, source: source} }

type emitter struct {
	p      *Pipeline
	source string
}

func (e *emitter) Checkpoints() ([]Checkpoint, bool) {
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	return append([]Checkpoint(nil), e.p.loaded[e.source]...), e.p.firstStart
}

func (e *emitter) Open(info StreamInfo, start int64) StreamWriter {
	p := e.p
	p.mu.Lock()
	defer p.mu.Unlock()
	k := streamKey(e.source, info.ID)
	saved := false
	if s, ok := p.streams[k]; ok {
		s.mu.Lock()
		closed := s.closed
		s.opened = s.opened || !closed
		s.mu.Unlock()
		if !closed {
			return s
		}
		saved = s.saved.Load()
	}
	s := newStreamWriter(p, e.source, info, start)
	s.opened = true
	s.saved.Store(saved)
	p.streams[k] = s
	p.dirty = true
	return s
}

// Problem implements ProblemReporter.
func (e *emitter) Problem(path, msg string, err error) {
	e.p.status.problem(e.source, path, msg, err, e.p.o.Now())
}

// Solved implements ProblemReporter.
func (e *emitter) Solved(path string) { e.p.status.solved(path) }

func (e *emitter) Forget(id string) {
	p := e.p
	p.mu.Lock()
	defer p.mu.Unlock()
	k := streamKey(e.source, id)
	if s, ok := p.streams[k]; ok {
		s.mu.Lock()
		// Finished, or loaded from the checkpoint and not opened in this
		// run (a file gone, an earlier boot), and nothing in flight.
		done := (s.closed || !s.opened) && len(s.sealed) == 0
		s.mu.Unlock()
		if done {
			delete(p.streams, k)
			p.dirty = true
		}
	}
}

// acquire takes max_bytes of the budget for a new batch, sealing the
// oldest open batch of another stream while there is not enough, so that
// many idle streams cannot hold the whole budget until max_age.
func (p *Pipeline) acquire(ctx context.Context, self *streamWriter) error {
	ok, wake := p.budget.take(p.o.MaxBytes.Int64())
	if ok {
		mInFlight.Inc()
		return nil
	}
	mBackpressure.Inc()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		p.sealOldest(self)
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if ok, wake = p.budget.take(p.o.MaxBytes.Int64()); ok {
			mInFlight.Inc()
			return nil
		}
	}
}

// release gives back what a chunk (or an open batch that was never sent)
// holds of the budget.
func (p *Pipeline) release(held int64) {
	p.budget.give(held)
	mInFlight.Dec()
}

func (p *Pipeline) sealOldest(self *streamWriter) {
	p.openMu.Lock()
	var oldest *streamWriter
	var at time.Time
	for s := range p.open {
		if s == self {
			continue
		}
		if oldest == nil || s.openedAt.Before(at) {
			oldest, at = s, s.openedAt
		}
	}
	p.openMu.Unlock()
	if oldest != nil {
		oldest.Flush()
	}
}

func (p *Pipeline) setOpen(s *streamWriter, open bool) {
	p.openMu.Lock()
	if open {
		p.open[s] = struct{}{}
	} else {
		delete(p.open, s)
	}
	p.openMu.Unlock()
}

// ticker seals batches older than MaxAge and saves checkpoints.
func (p *Pipeline) ticker() {
	defer close(p.tickerDone)
	every := min(p.o.MaxAge.Std()/4, p.o.CheckpointInterval.Std())
	every = max(every, 10*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	lastSave := time.Now()
	for {
		select {
		case <-p.stopTicker:
			return
		case <-t.C:
		}
		now := time.Now()
		p.openMu.Lock()
		var old []*streamWriter
		for s := range p.open {
			if now.Sub(s.openedAt) >= p.o.MaxAge.Std() {
				old = append(old, s)
			}
		}
		p.openMu.Unlock()
		for _, s := range old {
			s.Flush()
		}
		if time.Since(lastSave) >= p.o.CheckpointInterval.Std() {
			lastSave = time.Now()
			p.saveIfDirty()
			p.saveStatus(false)
		}
	}
}

func (p *Pipeline) saveIfDirty() {
	p.mu.Lock()
	dirty := p.dirty
	p.dirty = false
	p.mu.Unlock()
	if dirty {
		if err := p.SaveCheckpoint(); err != nil {
			p.mu.Lock()
			p.dirty = true
			p.mu.Unlock()
			mCheckpointErrors.Inc()
			p.log.Error("saving checkpoint failed; will retry", "dir", p.o.StateDir, "err", err)
		}
	}
}

// SaveCheckpoint writes the durable position of every stream now.
func (p *Pipeline) SaveCheckpoint() error {
	// One save at a time: a slower save of an older list renaming its file
	// last would drop a stream another save has just recorded.
	p.saveMu.Lock()
	defer p.saveMu.Unlock()
	p.mu.Lock()
	all := make([]*streamWriter, 0, len(p.streams))
	for _, s := range p.streams {
		all = append(all, s)
	}
	p.mu.Unlock()
	entries := make([]savedEntry, 0, len(all))
	for _, s := range all {
		entries = append(entries, s.entry())
	}
	err := p.store.Save(entries)
	if err == nil {
		mCheckpointSaves.Inc()
		for _, s := range all {
			s.saved.Store(true)
		}
	}
	return err
}

// saveStream returns once s is in the saved checkpoint (or the uploads are
// cancelled: false). A new stream's identity must be saved before any of
// its chunks can be durable: after a crash in between, its source would
// not find it again and would ship the same bytes under another id (the
// file source's ids include the file's name, which a rotation changes).
// This costs one checkpoint save per new stream, none per chunk. When the
// save fails (a full disk), the chunk waits and the save is retried.
func (p *Pipeline) saveStream(s *streamWriter) bool {
	wait := 100 * time.Millisecond
	for !s.saved.Load() {
		err := p.SaveCheckpoint()
		if err == nil {
			return true
		}
		mCheckpointErrors.Inc()
		p.log.Error("saving checkpoint failed; the chunks of a new stream wait for it", "dir", p.o.StateDir, "stream", s.info.ID, "retry_in", wait, "err", err)
		if sleepCtx(p.uploadCtx, wait) != nil {
			return false
		}
		wait = min(2*wait, 5*time.Second)
	}
	return true
}

func (p *Pipeline) markDirty() {
	p.mu.Lock()
	p.dirty = true
	p.mu.Unlock()
}

// Drain seals every open batch and waits until all chunks are durable or
// ctx ends (the shutdown deadline); then it stops the workers and saves the
// checkpoint. Chunks still unacknowledged at the deadline are abandoned:
// the checkpoint does not cover them, so the next start reads them again.
// Call it after the sources have stopped writing.
func (p *Pipeline) Drain(ctx context.Context) error {
	p.mu.Lock()
	var all []*streamWriter
	for _, s := range p.streams {
		all = append(all, s)
	}
	p.mu.Unlock()
	for _, s := range all {
		s.Flush()
	}
	done := make(chan struct{})
	go func() { p.pending.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("pipeline: drain: chunks still unacknowledged at the deadline (they will be read again at the next start): %w", ctx.Err())
	}
	p.stop()
	if serr := p.SaveCheckpoint(); serr != nil {
		err = errors.Join(err, fmt.Errorf("pipeline: final checkpoint: %w", serr))
	}
	p.saveStatus(true)
	return err
}

// ArtifactProgress records, for logship status, the progress of the
// artifact upload of stream id (package artifact calls it as parts are
// stored); done ends it. The status file shows it at the next save.
func (p *Pipeline) ArtifactProgress(id string, pr ArtifactProgress, done bool) {
	if !done {
		pr.Updated = p.o.Now().UTC()
	}
	p.status.artifact(id, pr, done)
}

// saveStatus writes the status file when it changed (or when force). It
// is advisory: a failure is logged, and the next save tries again.
func (p *Pipeline) saveStatus(force bool) {
	if err := p.status.save(p.o.StateDir, force); err != nil {
		p.log.Warn("saving status file failed", "dir", p.o.StateDir, "err", err)
	}
}

func (p *Pipeline) stop() {
	p.closeOnce.Do(func() {
		p.cancelUpload()
		if p.started {
			close(p.stopTicker)
			<-p.tickerDone
		}
		p.sendMu.Lock()
		p.sendClosed = true
		close(p.compressQ)
		p.sendMu.Unlock()
		if p.started {
			p.workers.Wait()
		}
	})
}

// Close stops the workers (without draining) and closes the sink. It is
// safe to call twice.
func (p *Pipeline) Close() error {
	p.stop()
	return p.sink.Close()
}

// smallBatch is the buffer of a batch that begins with a piece this small
// (a quiet file's line): it moves to a full max_bytes buffer only if it
// outgrows it, so quiet files do not hold max_bytes each until max_age.
const smallBatch = 64 << 10

// bodyShare: a compressed chunk holds at least max_bytes/bodyShare of the
// budget, so at most max_in_flight × bodyShare chunks wait on the sink:
// enough to ride out the sink's latency, few enough that their bodies
// (about max_bytes/4 each for logs) and the raw buffers they came from,
// on the free list, stay well within twice the budget.
const bodyShare = 2

// idleTrim is how long without a full batch before the free lists are
// emptied and the memory given back to the system.
const idleTrim = 30 * time.Second

// getRaw takes a raw batch buffer for a first piece of n bytes.
func (p *Pipeline) getRaw(n int) *[]byte {
	if n <= smallBatch && p.o.MaxBytes > 2*smallBatch {
		return getBuf(p.smallFree, smallBatch)
	}
	p.lastFull.Store(time.Now().UnixNano())
	return getBuf(p.rawFree, int(p.o.MaxBytes))
}

// putRaw gives a raw batch buffer back to its free list.
func (p *Pipeline) putRaw(b *[]byte) {
	if b != nil && cap(*b) < int(p.o.MaxBytes) {
		putBuf(p.smallFree, b)
		return
	}
	putBuf(p.rawFree, b)
}

// trimIdle empties the free lists of full buffers once no full batch has
// been opened for idleTrim, and returns the memory to the system: an idle
// agent beside quiet files keeps little more than its code.
func (p *Pipeline) trimIdle(now time.Time) {
	if now.Sub(time.Unix(0, p.lastFull.Load())) < idleTrim {
		p.trimmed = false
		return
	}
	if p.trimmed {
		return
	}
	p.trimmed = true
	for _, free := range []chan *[]byte{p.rawFree, p.bodyFree} {
		for len(free) > 0 {
			select {
			case <-free:
			default:
			}
		}
	}
	debug.FreeOSMemory()
}

// getBuf takes a buffer from a free list, or makes one with capacity n.
func getBuf(free chan *[]byte, n int) *[]byte {
	select {
	case b := <-free:
		return b
	default:
		b := make([]byte, 0, n)
		if n >= 256<<10 {
			_ = prefault.Buffer(b) // an optimisation: refused on old kernels
		}
		return &b
	}
}

// putBuf returns a buffer to a free list, dropping it when the list is full.
func putBuf(free chan *[]byte, b *[]byte) {
	if b == nil {
		return
	}
	*b = (*b)[:0]
	select {
	case free <- b:
	default:
	}
}
