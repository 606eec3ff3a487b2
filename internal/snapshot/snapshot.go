// Package snapshot collects one diagnostic bundle of the container it runs
// in — processes, kernel and OOM evidence, cgroup limits and pressure,
// descriptors, sockets, mounts, the tails of the configured logs, crash
// files, the app's environment (redacted), JVM diagnostics and
// connectivity probes — as one streamed tar.zst, and ships it as an
// artifact under source=snapshot.
//
// Every collector is a small function with a time limit; one that fails or
// hangs is recorded in the manifest and the bundle is still complete.
// Everything written to the bundle passes through a redactor. Memory stays
// bounded whatever the sizes of the logs: collectors buffer only their
// small text outputs, and file contents are streamed from disk through the
// tar writer and a small-window zstd encoder.
package snapshot

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/logship/logship/internal/sources/kmsg"
)

// Triggers: why a snapshot was taken (manifest, header extra, events).
const (
	TriggerManual   = "manual"
	TriggerOOMKill  = "oom_kill"
	TriggerJVMCrash = "jvm_crash"
	TriggerExit     = "exit"
	TriggerRemote   = "remote"
)

// Request is one snapshot to take.
type Request struct {
	Trigger   string // a Trigger*; default TriggerManual
	Note      string // free text from the operator
	RequestID string // the remote request answered, if any
	HeapDumps bool   // include java_pid*.hprof files (large; off unless asked)
	// Event holds facts about the event that triggered the snapshot
	// (its time, stream and position or object key); they go into the
	// header extra with an "event_" prefix, so a reader finds the
	// snapshot beside its event.
	Event map[string]string
}

// Globs is one file source's paths and excludes.
type Globs struct {
	Paths, Exclude []string
}

// Options configure a Taker. Zero values have working defaults.
type Options struct {
	App, Host string
	Version   string // logship's version, in the manifest
	Config    Config
	Logs      []Globs // file sources: their logs are tailed
	Crash     []Globs // crash sources: hs_err files, heap dumps
	// Secrets are literal values (the sink's access keys) masked wherever
	// they appear in the bundle.
	Secrets []string
	// AppPID is the app's process; 0: the first JVM found, else the
	// process with the largest RSS other than this one.
	AppPID int
	// ThreadDumpFrom, when set, takes a JVM thread dump without jcmd:
	// `logship run` sends SIGQUIT to its child and reads the dump from
	// the stdout it spools (see SigquitDump). It is used when jcmd is
	// missing or fails for the app's JVM.
	ThreadDumpFrom func(ctx context.Context) ([]byte, error)
	// Jcmd is the jcmd binary; "": found next to the JVM's own binary or
	// on PATH; "-": never use jcmd.
	Jcmd string
	// Proc and CgroupRoot are the /proc and /sys/fs/cgroup to read.
	Proc, CgroupRoot string
	// Kmsg reads the kernel log; nil: a default kmsg source.
	Kmsg *kmsg.Source
	// RootCAs verifies TLS probes; nil: the system roots.
	RootCAs *x509.CertPool
	// Uploader ships bundles (Take); nil: Take fails, Write works.
	Uploader Uploader
	Log      *slog.Logger
	Now      func() time.Time
	// Collectors replaces the standard list (tests inject failing and
	// hanging ones); nil: Standard().
	Collectors []Collector
}

// Taker takes snapshots. It is safe for concurrent use, but takes one
// snapshot at a time: a second caller waits for the first.
type Taker struct {
	o    Options
	busy chan struct{}
}

// ErrBusy is returned when a snapshot could not start before ctx ended
// because another one is being taken.
var ErrBusy = errors.New("snapshot: another snapshot is being taken")

// New returns a Taker; it checks the config.
func New(o Options) (*Taker, error) {
	o.Config.SetDefaults()
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	if o.Proc == "" {
		o.Proc = "/proc"
	}
	if o.CgroupRoot == "" {
		o.CgroupRoot = kmsg.DefaultCgroupRoot
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Collectors == nil {
		o.Collectors = Standard()
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	return &Taker{o: o, busy: make(chan struct{}, 1)}, nil
}

// Name returns the bundle's file name (the header path of the artifact):
// snapshot-YYYYMMDDTHHMMSSZ-ID.tar.zst.
func Name(t time.Time, id string) string {
	return "snapshot-" + t.UTC().Format("20060102T150405Z") + "-" + id + ".tar.zst"
}

func newID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Write collects one bundle and streams it, as tar.zst, to w. The
// manifest is returned even when writing failed part way.
func (t *Taker) Write(ctx context.Context, req Request, w io.Writer) (*Manifest, error) {
	return t.write(ctx, req, newID(), t.o.Now(), w)
}

func (t *Taker) lock(ctx context.Context) error {
	select {
	case t.busy <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %v", ErrBusy, ctx.Err())
	}
}

func (t *Taker) unlock() { <-t.busy }

func (t *Taker) write(ctx context.Context, req Request, id string, at time.Time, w io.Writer) (*Manifest, error) {
	if err := t.lock(ctx); err != nil {
		return nil, err
	}
	defer t.unlock()
	if req.Trigger == "" {
		req.Trigger = TriggerManual
	}
	s := t.newSession(req, id, at)
	return s.run(ctx, w)
}
