package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Collector statuses in the manifest.
const (
	StatusOK      = "ok"
	StatusError   = "error"
	StatusTimeout = "timeout"
	StatusSkipped = "skipped"
)

// ManifestVersion is the version of manifest.json.
const ManifestVersion = 1

// Manifest is manifest.json, the first file of every bundle.
type Manifest struct {
	Version        int               `json:"version"`
	ID             string            `json:"id"`
	App            string            `json:"app"`
	Host           string            `json:"host"`
	Time           time.Time         `json:"time"`
	Trigger        string            `json:"trigger"`
	Note           string            `json:"note,omitempty"`
	RequestID      string            `json:"request_id,omitempty"`
	Event          map[string]string `json:"event,omitempty"`
	LogshipVersion string            `json:"logship_version"`
	GoVersion      string            `json:"go_version"`
	Kernel         string            `json:"kernel,omitempty"`
	DurationMS     int64             `json:"duration_ms"`
	Collectors     []CollectorResult `json:"collectors"`
	Facts          Facts             `json:"facts"`
}

// CollectorResult is one collector's line in the manifest.
type CollectorResult struct {
	Name       string   `json:"name"`
	Status     string   `json:"status"`
	Error      string   `json:"error,omitempty"`
	DurationMS int64    `json:"duration_ms"`
	Files      []string `json:"files"`
}

// Facts are the key figures a report shows without opening the other
// files; a nil field is unknown.
type Facts struct {
	MemoryLimitBytes *int64    `json:"memory_limit_bytes,omitempty"`
	MemoryUsageBytes *int64    `json:"memory_usage_bytes,omitempty"`
	OOMKills         *int64    `json:"oom_kills,omitempty"`
	Processes        *int64    `json:"processes,omitempty"`
	JVM              []JVMFact `json:"jvm,omitempty"`
}

// JVMFact describes one JVM found.
type JVMFact struct {
	PID            int    `json:"pid"`
	RSSBytes       int64  `json:"rss_bytes"`
	Threads        int64  `json:"threads"`
	BlockedThreads int64  `json:"blocked_threads"`
	ThreadDump     string `json:"thread_dump"` // jcmd|sigquit|none
	ThreadDumpNote string `json:"thread_dump_note,omitempty"`
}

// Thread dump methods (JVMFact.ThreadDump).
const (
	DumpJcmd    = "jcmd"
	DumpSigquit = "sigquit"
	DumpNone    = "none"
)

// Collector is one part of the bundle. Run writes its files into out and
// records facts with the session's setters; it must return when ctx ends
// (a collector that does not is abandoned at its time limit, and whatever
// it wrote is dropped).
type Collector struct {
	Name string
	Run  func(ctx context.Context, s *Session, out *Out) error
}

// Session is one snapshot being taken: what collectors read and record.
type Session struct {
	t      *Taker
	o      *Options
	req    Request
	m      *Manifest
	red    *Redactor
	app    int // pid of the app process; 0: none found
	jvms   []int
	facts  chan func(*Facts) // fact setters from collectors, applied in order
	closed []io.Closer
}

func (t *Taker) newSession(req Request, id string, at time.Time) *Session {
	m := &Manifest{
		Version: ManifestVersion, ID: id, App: t.o.App, Host: t.o.Host, Time: at.UTC(),
		Trigger: req.Trigger, Note: req.Note, RequestID: req.RequestID, Event: req.Event,
		LogshipVersion: t.o.Version, GoVersion: runtime.Version(), Kernel: kernelRelease(t.o.Proc),
	}
	return &Session{t: t, o: &t.o, req: req, m: m, facts: make(chan func(*Facts), 64)}
}

// SetFact records a fact; safe to call from a collector. A collector
// abandoned at its time limit may still call it: the setter is applied
// only if it arrives before the manifest is written.
func (s *Session) SetFact(f func(*Facts)) {
	select {
	case s.facts <- f:
	default: // a flood from a runaway collector is dropped
	}
}

func (s *Session) drainFacts() {
	for {
		select {
		case f := <-s.facts:
			f(&s.m.Facts)
		default:
			return
		}
	}
}

// Options returns the taker's options (read-only).
func (s *Session) Options() *Options { return s.o }

// Request returns the request being served.
func (s *Session) Request() Request { return s.req }

// AppPID is the process the snapshot is about; 0 when none was found.
func (s *Session) AppPID() int { return s.app }

// collected is one collector's finished output.
type collected struct {
	res CollectorResult
	out *Out
}

// run collects everything, then writes the manifest and the files.
func (s *Session) run(ctx context.Context, w io.Writer) (*Manifest, error) {
	began := time.Now()
	defer func() {
		for _, c := range s.closed {
			c.Close()
		}
	}()
	s.app, s.jvms = findApp(s.o.Proc, s.o.AppPID)
	s.red = NewRedactor(append(append([]string(nil), s.o.Secrets...), harvestSecrets(s.o.Proc, s.app, s.jvms)...))

	var done []collected
	for _, c := range s.o.Collectors {
		done = append(done, s.collect(ctx, c))
	}
	s.drainFacts()
	for _, d := range done {
		s.m.Collectors = append(s.m.Collectors, d.res)
	}
	s.m.DurationMS = time.Since(began).Milliseconds()

	zw, err := zstd.NewWriter(w,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithWindowSize(1<<20),
		zstd.WithEncoderConcurrency(1),
		zstd.WithLowerEncoderMem(true))
	if err != nil {
		return s.m, err
	}
	tw := tar.NewWriter(zw)
	mb, _ := json.MarshalIndent(s.m, "", "  ")
	mb = append(mb, '\n')
	s.red.Mask(mb)
	if err := writeEntry(tw, "manifest.json", s.m.Time, mb); err != nil {
		return s.m, err
	}
	var late []string
	for _, d := range done {
		if d.out == nil {
			continue
		}
		for _, e := range d.out.entries {
			if err := ctx.Err(); err != nil {
				return s.m, err
			}
			if problem, err := s.writeOut(ctx, tw, e); err != nil {
				return s.m, err
			} else if problem != "" {
				late = append(late, problem)
			}
		}
	}
	if len(late) > 0 {
		// Problems met while streaming files after the manifest was
		// written (a file truncated while it was copied).
		b := []byte(strings.Join(late, "\n") + "\n")
		if err := writeEntry(tw, "errors-after-manifest.txt", s.m.Time, b); err != nil {
			return s.m, err
		}
	}
	if err := tw.Close(); err != nil {
		return s.m, err
	}
	return s.m, zw.Close()
}

// collect runs one collector under its time limit.
func (s *Session) collect(ctx context.Context, c Collector) collected {
	res := CollectorResult{Name: c.Name, Files: []string{}}
	began := time.Now()
	cctx, cancel := context.WithTimeout(ctx, s.o.Config.Timeout.Std())
	defer cancel()
	out := &Out{limit: maxTextBytes}
	errc := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				errc <- fmt.Errorf("collector panicked: %v", p)
			}
		}()
		errc <- c.Run(cctx, s, out)
	}()
	var err error
	select {
	case err = <-errc:
	case <-cctx.Done():
		// Give a collector that honours ctx a moment to say why.
		select {
		case err = <-errc:
		case <-time.After(100 * time.Millisecond):
			err = cctx.Err()
		}
	}
	res.DurationMS = time.Since(began).Milliseconds()
	switch {
	case err == nil:
		res.Status = StatusOK
	case errors.Is(err, errSkipped):
		res.Status, res.Error = StatusSkipped, strings.TrimPrefix(err.Error(), errSkipped.Error()+": ")
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		res.Status, res.Error = StatusTimeout, fmt.Sprintf("cut off after %s (snapshot.timeout)", s.o.Config.Timeout)
		s.o.Log.Warn("snapshot collector timed out", "collector", c.Name, "timeout", s.o.Config.Timeout)
		// Abandoned: its goroutine may still run; what it wrote is dropped.
		out.mu.Lock()
		out.done = true
		for _, f := range out.files() {
			f.Close()
		}
		out.mu.Unlock()
		return collected{res: res}
	default:
		res.Status, res.Error = StatusError, err.Error()
	}
	out.mu.Lock()
	out.done = true
	for _, e := range out.entries {
		res.Files = append(res.Files, e.name)
	}
	s.closed = append(s.closed, out.files()...)
	out.mu.Unlock()
	// Partial output of a failed collector is kept: it is evidence too.
	return collected{res: res, out: out}
}

// errSkipped marks a collector that had nothing to do (no JVM, no probes).
var errSkipped = errors.New("skipped")

func skipped(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errSkipped, fmt.Sprintf(format, args...))
}

func writeEntry(tw *tar.Writer, name string, mod time.Time, b []byte) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: mod, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}

// writeOut writes one entry: buffered text is masked in place; a file is
// streamed through the redactor. A file that ends early is padded to the
// size its header declared, and the problem returned.
func (s *Session) writeOut(ctx context.Context, tw *tar.Writer, e *entry) (string, error) {
	if e.file == nil {
		b := e.buf.Bytes()
		s.red.Mask(b)
		return "", writeEntry(tw, e.name, s.m.Time, b)
	}
	if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: e.size, ModTime: e.mod, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return "", err
	}
	cctx, cancel := context.WithTimeout(ctx, s.o.Config.Timeout.Std())
	defer cancel()
	rw := s.red.Writer(tw)
	n, cerr := io.Copy(rw, &ctxReader{ctx: cctx, r: io.NewSectionReader(e.file, e.off, e.size)})
	if err := rw.Flush(); err != nil {
		return "", err
	}
	if n == e.size {
		return "", nil
	}
	if _, err := io.CopyN(tw, zeros{}, e.size-n); err != nil {
		return "", err
	}
	why := "the file shrank while it was copied"
	if cerr != nil {
		why = cerr.Error()
	}
	return fmt.Sprintf("%s: %d of %d bytes copied (%s); the rest is zeros", e.name, n, e.size, why), nil
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r *ctxReader) Read(b []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(b)
}

// maxTextBytes bounds what one collector buffers (its text files).
const maxTextBytes = 8 << 20

// Out collects one collector's files: text written into memory (bounded),
// and files from disk, streamed into the bundle after the manifest.
type Out struct {
	mu      sync.Mutex
	limit   int
	used    int
	done    bool
	entries []*entry
}

type entry struct {
	name string
	buf  *bytes.Buffer // text; nil for a file
	file *os.File
	off  int64
	size int64
	mod  time.Time
}

// Create starts a text file in the bundle. Writes beyond the collector's
// budget are dropped and noted at the end of the file.
func (o *Out) Create(name string) io.Writer {
	o.mu.Lock()
	defer o.mu.Unlock()
	e := &entry{name: name, buf: &bytes.Buffer{}}
	if !o.done {
		o.entries = append(o.entries, e)
	}
	return &textWriter{o: o, e: e}
}

// AddFile puts [off, off+size) of f into the bundle under name; the file
// is read when the bundle is written, and closed after. Out owns f.
func (o *Out) AddFile(name string, f *os.File, off, size int64, mod time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.done {
		f.Close()
		return
	}
	o.entries = append(o.entries, &entry{name: name, file: f, off: off, size: size, mod: mod})
}

func (o *Out) files() []io.Closer {
	var cs []io.Closer
	for _, e := range o.entries {
		if e.file != nil {
			cs = append(cs, e.file)
		}
	}
	return cs
}

type textWriter struct {
	o         *Out
	e         *entry
	truncated bool
}

func (w *textWriter) Write(p []byte) (int, error) {
	w.o.mu.Lock()
	defer w.o.mu.Unlock()
	if w.o.done {
		return 0, errors.New("snapshot: collector output closed")
	}
	room := w.o.limit - w.o.used
	if len(p) > room {
		if !w.truncated {
			w.truncated = true
			w.e.buf.WriteString("\n[snapshot: output truncated: the collector's budget is spent]\n")
		}
		return len(p), nil
	}
	w.o.used += len(p)
	return w.e.buf.Write(p)
}

// Names lists the collectors of a manifest, sorted (for tests and ls).
func (m *Manifest) Names() []string {
	var ns []string
	for _, c := range m.Collectors {
		ns = append(ns, c.Name)
	}
	sort.Strings(ns)
	return ns
}

func kernelRelease(proc string) string {
	b, err := os.ReadFile(proc + "/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
