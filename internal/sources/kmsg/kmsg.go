// Package kmsg ships the kernel log of the current boot, and the evidence
// of OOM kills, as a records stream.
//
// It works in one of three modes, chosen once at start (mode: auto) or
// forced by config (mode: kmsg|klogctl|cgroup):
//
//   - kmsg: reads /dev/kmsg. Positions are the kernel's record sequence
//     numbers, so a restart resumes exactly after the last committed record
//     and records overwritten before they were read show as a jump.
//   - klogctl: when /dev/kmsg cannot be opened (EPERM, EACCES, ENOENT:
//     unprivileged containers), polls syslog(2) READ_ALL like dmesg does.
//     Positions count shipped lines; the checkpoint metadata remembers a
//     fingerprint (timestamp and hashes of the last lines) for every piece
//     end, and a restart resumes after the line the committed position
//     refers to.
//   - cgroup: when syslog(2) is refused too, polls the memory cgroup's OOM
//     counters (v2 memory.events, v1 memory.oom_control) and emits one line
//     whenever a counter moves. Positions count emitted lines; the
//     checkpoint metadata remembers the counter values at each piece end.
//
// Every record becomes exactly one text line (see appendLine), so that a
// position is a line, as the archive's overlap removal expects:
//
//	2026-11-26T12:01:02.123456Z kern.err [12345.678901] Out of memory: Killed process 1234 (java) ...
//	2026-11-26T12:01:03.000001Z kern.info [12346.000001] pci 0000:00:01.0: ...<TAB>SUBSYSTEM=pci<TAB>DEVICE=+pci:0000:00:01.0
//
// In cgroup mode a line reports one counter that moved:
//
//	2026-11-26T12:01:02.123456Z cgroup memory.events oom_kill 0 -> 1 (memory.current=... memory.max=... memory.peak=...)
//
// Pieces holding an OOM killer message (or an oom_kill counter increase)
// carry archive.EventOOMKill.
package kmsg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"golang.org/x/sys/unix"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/pipeline"
)

// Modes (config mode:).
const (
	ModeAuto    = "auto"
	ModeKmsg    = "kmsg"
	ModeKlogctl = "klogctl"
	ModeCgroup  = "cgroup"
)

// Defaults.
const (
	DefaultDevice       = "/dev/kmsg"
	DefaultCgroupRoot   = "/sys/fs/cgroup"
	DefaultBootIDPath   = "/proc/sys/kernel/random/boot_id"
	DefaultSelfCgroup   = "/proc/self/cgroup"
	DefaultPollInterval = time.Second
)

// ErrUnavailable is returned by Run when no mode can work.
var ErrUnavailable = errors.New("kmsg: no way to read kernel messages")

// Source reads kernel messages. Create it with New.
//
// The exported fields are hooks with working defaults; tests and embedders
// may replace them after New and before Run.
type Source struct {
	name       string
	mode       string
	device     string
	cgroupRoot string
	log        *slog.Logger
	m          sourceMetrics

	// OpenDevice opens the kmsg device (default OpenDevice).
	OpenDevice func(path string) (Device, error)
	// Klogctl is syslog(2) (default unix.Klogctl; ENOSYS off Linux).
	Klogctl func(typ int, buf []byte) (int, error)
	// BootIDPath names the file holding the boot id, which names streams.
	BootIDPath string
	// SelfCgroupPath is /proc/self/cgroup, used to find our own memory
	// cgroup under the cgroup root; empty: use the root only.
	SelfCgroupPath string
	// BootTime is the wall-clock time of boot, added to record timestamps.
	// Zero: now minus CLOCK_MONOTONIC (the clock of printk timestamps),
	// taken once when Run starts.
	BootTime time.Time
	// Now is the clock of cgroup lines (default time.Now).
	Now func() time.Time
	// PollInterval paces the klogctl and cgroup modes, and the kmsg mode
	// on a Device that cannot Wait.
	PollInterval time.Duration
}

// New returns a source named name ("" is "kmsg", the name config gives
// the first kmsg source) for cfg. Zero values take their defaults
// (Config.SetDefaults, nothing else); the problems Config.Validate finds
// are reported at once.
func New(name string, cfg Config, log *slog.Logger) (*Source, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if name == "" {
		name = "kmsg"
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Source{
		name:           name,
		mode:           cfg.Mode,
		device:         cfg.Device,
		cgroupRoot:     cfg.CgroupRoot,
		log:            log.With("source", name),
		m:              newMetrics(name),
		OpenDevice:     OpenDevice,
		Klogctl:        klogctl,
		BootIDPath:     DefaultBootIDPath,
		SelfCgroupPath: DefaultSelfCgroup,
		Now:            time.Now,
		PollInterval:   DefaultPollInterval,
	}, nil
}

// Config returns the keys the source runs with, read back from its
// fields: what logship validate --print shows for it.
func (s *Source) Config() Config {
	return Config{Device: s.device, CgroupRoot: s.cgroupRoot, Mode: s.mode}
}

// Name implements pipeline.Source.
func (s *Source) Name() string { return s.name }

// Run implements pipeline.Source: it picks a mode, logs it once with the
// reason, and reads until ctx ends.
func (s *Source) Run(ctx context.Context, out pipeline.Emitter) error {
	bootID, err := s.bootID()
	if err != nil {
		return err
	}
	boot := s.BootTime
	if boot.IsZero() {
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
			return fmt.Errorf("kmsg: clock_gettime: %w", err)
		}
		boot = time.Now().Add(-time.Duration(ts.Nano()))
	}
	o, err := s.choose()
	if err != nil {
		return err
	}
	r := &run{s: s, out: out, boot: boot, bootID: bootID, streamID: "kmsg-" + bootID}
	saved, _ := out.Checkpoints()
	for _, cp := range saved {
		// Streams of earlier boots: their ring buffer is gone.
		if !strings.HasPrefix(cp.Info.ID, r.streamID) {
			out.Forget(cp.Info.ID)
		}
	}
	r.saved = saved
	switch o.mode {
	case ModeKmsg:
		s.log.Info("kmsg: reading kernel messages from the device", "mode", o.mode, "device", s.device, "why", o.why)
		return r.device(ctx, o.dev)
	case ModeKlogctl:
		s.log.Info("kmsg: reading kernel messages with syslog(2)", "mode", o.mode, "why", o.why)
		return r.klog(ctx, o.klogText)
	default:
		s.log.Info("kmsg: watching memory cgroup OOM counters", "mode", o.mode, "cgroup", o.cg.dir, "version", o.cg.version(), "why", o.why)
		return r.cgroup(ctx, o.cg)
	}
}

// bootID reads the boot id as a safe stream-id segment.
func (s *Source) bootID() (string, error) {
	b, err := os.ReadFile(s.BootIDPath)
	if err != nil {
		return "", fmt.Errorf("kmsg: boot id: %w", err)
	}
	id := strings.TrimSpace(string(b))
	if id == "" {
		return "", fmt.Errorf("kmsg: boot id: %s is empty", s.BootIDPath)
	}
	return archive.SafeName(id), nil
}

// opened is the outcome of choosing a mode.
type opened struct {
	mode     string
	why      string
	dev      Device
	klogText []byte
	cg       cgroupDir
}

// refused reports whether err means "not allowed or not there", which
// makes mode auto try the next mode.
func refused(err error) bool {
	for _, e := range []error{unix.EPERM, unix.EACCES, unix.ENOENT, unix.ENODEV, unix.ENXIO, unix.ENOSYS} {
		if errors.Is(err, e) {
			return true
		}
	}
	return errors.Is(err, errNotKmsg)
}

// choose opens the forced mode, or the first mode that works.
func (s *Source) choose() (opened, error) {
	forced := s.mode != ModeAuto
	var why []string
	if s.mode == ModeAuto || s.mode == ModeKmsg {
		dev, err := s.OpenDevice(s.device)
		if err == nil {
			dev, err = probe(dev, s.device)
		}
		if err == nil {
			return opened{mode: ModeKmsg, dev: dev, why: reason(forced, why)}, nil
		}
		if forced || !refused(err) {
			return opened{}, fmt.Errorf("kmsg: %w", err)
		}
		why = append(why, err.Error())
	}
	if s.mode == ModeAuto || s.mode == ModeKlogctl {
		var buf []byte
		text, err := s.readKlog(&buf)
		if err == nil {
			return opened{mode: ModeKlogctl, klogText: text, why: reason(forced, why)}, nil
		}
		if forced || !refused(err) {
			return opened{}, fmt.Errorf("kmsg: %w", err)
		}
		why = append(why, err.Error())
	}
	cg, err := findCgroup(s.cgroupRoot, s.SelfCgroupPath)
	if err != nil {
		why = append(why, err.Error())
		return opened{}, fmt.Errorf("%w: %s", ErrUnavailable, strings.Join(why, "; "))
	}
	return opened{mode: ModeCgroup, cg: cg, why: reason(forced, why)}, nil
}

func reason(forced bool, why []string) string {
	switch {
	case forced:
		return "forced by config mode"
	case len(why) == 0:
		return "device opened"
	default:
		return "fallback: " + strings.Join(why, "; ")
	}
}

// run is one Run's state shared by the modes.
type run struct {
	s        *Source
	out      pipeline.Emitter
	saved    []pipeline.Checkpoint
	boot     time.Time
	bootID   string
	streamID string
}

// checkpoint returns the saved entry of a stream id.
func (r *run) checkpoint(id string) (pipeline.Checkpoint, bool) {
	for _, cp := range r.saved {
		if cp.Info.ID == id {
			return cp, true
		}
	}
	return pipeline.Checkpoint{}, false
}

// wait returns after d, or false at once when ctx ends.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// streamMeta is the checkpoint metadata of the kmsg stream.
type streamMeta struct {
	BootID string `json:"boot_id"`
	Mode   string `json:"mode"`
}

// anchorMeta is the checkpoint metadata of the klogctl and cgroup streams:
// the reader state after each piece end that may still be the committed
// position, so a restart knows what the committed position refers to.
type anchorMeta[T any] struct {
	BootID  string      `json:"boot_id"`
	Mode    string      `json:"mode"`
	Cgroup  string      `json:"cgroup,omitempty"`
	Anchors []anchor[T] `json:"anchors"`
}

type anchor[T any] struct {
	Pos   int64 `json:"pos"`
	State T     `json:"state"`
}

// resumeAnchors loads the checkpoint of stream id: its committed position
// and the anchor at or before it from the saved metadata. m keeps this
// run's boot, mode and cgroup; err reports unreadable metadata (then
// nothing is found), for the caller to log with its consequence.
func resumeAnchors[T any](r *run, id string, m *anchorMeta[T]) (pos int64, a anchor[T], found bool, err error) {
	cp, ok := r.checkpoint(id)
	if !ok {
		return 0, a, false, nil
	}
	boot, mode, cg := m.BootID, m.Mode, m.Cgroup
	if len(cp.Info.Meta) > 0 {
		err = json.Unmarshal(cp.Info.Meta, m)
	}
	m.BootID, m.Mode, m.Cgroup = boot, mode, cg
	a, found = m.at(cp.Committed)
	return cp.Committed, a, found, err
}

// maxAnchors bounds the metadata; pieces in flight are bounded by the
// pipeline, so this only trips when acks stop for a very long time.
const maxAnchors = 1024

// add records the state at pos, dropping anchors the committed position
// has passed.
func (m *anchorMeta[T]) add(pos int64, st T, committed int64) {
	k := 0
	for i, a := range m.Anchors {
		if a.Pos <= committed {
			k = i
		}
	}
	m.Anchors = append(m.Anchors[:0], m.Anchors[k:]...)
	if len(m.Anchors) >= maxAnchors {
		m.Anchors = append(m.Anchors[:0], m.Anchors[1:]...)
	}
	m.Anchors = append(m.Anchors, anchor[T]{Pos: pos, State: st})
}

// at returns the anchor with the greatest position not after pos.
func (m *anchorMeta[T]) at(pos int64) (anchor[T], bool) {
	var best anchor[T]
	found := false
	for _, a := range m.Anchors {
		if a.Pos <= pos && (!found || a.Pos >= best.Pos) {
			best, found = a, true
		}
	}
	return best, found
}

func (m *anchorMeta[T]) json() json.RawMessage {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // plain structs of numbers and strings
	}
	return b
}

// sourceMetrics are the counters of one source, labelled by its name.
type sourceMetrics struct {
	records   *metrics.Counter
	gaps      *metrics.Counter
	lost      *metrics.Counter
	oomKills  *metrics.Counter
	malformed *metrics.Counter
}

func newMetrics(name string) sourceMetrics {
	c := func(n string) *metrics.Counter {
		return metrics.GetOrCreateCounter(fmt.Sprintf("%s{source=%q}", n, name))
	}
	return sourceMetrics{
		records:   c("logship_kmsg_records_total"),
		gaps:      c("logship_kmsg_gaps_total"),
		lost:      c("logship_kmsg_records_lost_total"),
		oomKills:  c("logship_kmsg_oom_kills_total"),
		malformed: c("logship_kmsg_records_malformed_total"),
	}
}
