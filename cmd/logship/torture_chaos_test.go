package main

// The disturbances of the torture run: a schedule drawn from the seed,
// played against the agent, osstest and the state folder's disk.

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logship/logship/internal/osstest"
)

// disturbance is one step of the schedule.
type disturbance struct {
	kind string
	gap  time.Duration // before it
	d    time.Duration // how long it lasts (kill: the agent is down)
	n    int           // how many requests it hits (within faultLife)
	lat  time.Duration // slow: the latency of every answer
}

// faultLife bounds the faults that hit n requests: while the agent waits
// in its retry backoff (up to 30s) few requests come, and a fault left
// over would stretch the run.
const faultLife = 5 * time.Second

func (d disturbance) String() string {
	switch {
	case d.n > 0:
		return fmt.Sprintf("%s x%d", d.kind, d.n)
	case d.lat > 0:
		return fmt.Sprintf("%s %v, answers after %v", d.kind, d.d, d.lat)
	default:
		return fmt.Sprintf("%s %v", d.kind, d.d)
	}
}

// Kinds of disturbance.
var disturbanceKinds = []string{"kill", "kill", "outage", "blackout", "throttle", "errors", "resets", "resets-after", "slow", "slow-link", "disk-full"}

// schedule draws the disturbances of a run of about length from seed.
func schedule(seed uint64, length time.Duration) []disturbance {
	rng := rand.New(rand.NewPCG(seed, 1000))
	ms := func(lo, hi int) time.Duration { return time.Duration(lo+rng.IntN(hi-lo)) * time.Millisecond }
	var out []disturbance
	// Every kind at least once, in a random order, then random ones.
	first := append([]string(nil), disturbanceKinds...)
	rng.Shuffle(len(first), func(i, j int) { first[i], first[j] = first[j], first[i] })
	var at time.Duration
	for i := 0; at < length; i++ {
		kind := disturbanceKinds[rng.IntN(len(disturbanceKinds))]
		if i < len(first) {
			kind = first[i]
		}
		d := disturbance{kind: kind, gap: ms(500, 2500)}
		switch kind {
		case "kill":
			d.d = ms(0, 1500)
		case "outage", "blackout":
			d.d = ms(500, 4000)
		case "slow":
			d.d, d.lat = ms(1000, 5000), ms(1000, 4500)
		case "slow-link", "disk-full":
			d.d = ms(1000, 5000)
		default:
			d.n = 1 + rng.IntN(8)
		}
		at += d.gap
		out = append(out, d)
	}
	return out
}

// disturb plays the schedule; it returns when it is over (or a writer
// failed).
func (r *torture) disturb(length time.Duration, disk *smallDisk, errc <-chan error) {
	for _, d := range schedule(r.seed, length) {
		select {
		case err := <-errc:
			r.t.Fatal(err)
		case <-time.After(d.gap):
		}
		if r.t.Failed() {
			return
		}
		r.logf("%s", d)
		switch d.kind {
		case "kill":
			r.kill(d.d)
		case "outage":
			r.srv.Outage(d.d)
		case "blackout":
			r.srv.Blackout(d.d)
		case "throttle":
			id := r.srv.Throttle(osstest.WriteOp, d.n)
			time.AfterFunc(faultLife, func() { r.srv.Remove(id) })
		case "errors":
			r.srv.Inject(osstest.Fault{Op: osstest.WriteOp, Times: d.n, Duration: faultLife, Status: 500})
		case "resets":
			r.srv.Inject(osstest.Fault{Op: osstest.WriteOp, Times: d.n, Duration: faultLife, Reset: true})
		case "resets-after": // stored, but the agent does not know
			r.srv.Inject(osstest.Fault{Op: osstest.WriteOp, Times: d.n, Duration: faultLife, Reset: true, AfterOp: true})
		case "slow": // answers after a while, some after the agent's 3s timeout
			r.srv.Inject(osstest.Fault{Op: osstest.WriteOp, Duration: d.d, Latency: d.lat})
		case "slow-link": // 256KiB chunks at 128KiB/s: some beyond the timeout
			r.srv.Inject(osstest.Fault{Op: osstest.WriteOp, Duration: d.d, Bandwidth: 128 << 10})
		case "disk-full":
			disk.fill(r, d.d)
		}
	}
}

// smallDisk is a small tmpfs mounted on the state folder, to fill up.
type smallDisk struct {
	dir, filler string
	err         error // why there is none
	timer       *time.Timer
}

// mountSmallDisk mounts a 16 MiB tmpfs on dir (as root); when it cannot,
// the disk-full disturbance is skipped and says why.
func mountSmallDisk(t *testing.T, dir string) *smallDisk {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d := &smallDisk{dir: dir, filler: filepath.Join(dir, "filler")}
	if os.Geteuid() != 0 {
		d.err = errors.New("not root: cannot mount a small tmpfs for the state folder")
		t.Logf("the state folder's disk will not fill up: %v", d.err)
		return d
	}
	unmount, err := mountTmpfs(dir, "size=16m,mode=0755")
	if err != nil {
		d.err = fmt.Errorf("mount tmpfs: %w", err)
		t.Logf("the state folder's disk will not fill up: %v", d.err)
		return d
	}
	t.Cleanup(func() {
		if err := unmount(); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return d
}

// fill takes all the free space for d, then frees it.
func (s *smallDisk) fill(r *torture, d time.Duration) {
	if s.err != nil {
		r.logf("disk-full skipped: %v", s.err)
		return
	}
	f, err := os.OpenFile(s.filler, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		r.t.Fatal(err)
	}
	block := make([]byte, 64<<10)
	for {
		if _, err := f.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				r.t.Fatal(err)
			}
			break
		}
	}
	// Fill to the last byte.
	for n := len(block) / 2; n > 0; n /= 2 {
		for {
			if _, err := f.Write(block[:n]); err != nil {
				break
			}
		}
	}
	f.Close()
	before := strings.Count(r.logbuf.String(), "saving checkpoint failed")
	s.timer = time.AfterFunc(d, func() {
		os.Remove(s.filler)
		r.logf("disk space back; %d failed checkpoint saves logged meanwhile",
			strings.Count(r.logbuf.String(), "saving checkpoint failed")-before)
	})
}

// free gives the space back.
func (s *smallDisk) free() {
	if s.timer != nil {
		s.timer.Stop()
	}
	if s.err == nil {
		os.Remove(s.filler)
	}
}
