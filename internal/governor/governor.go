// Package governor keeps the agent from causing the memory pressure it is
// there to record: it sets the Go runtime's soft memory limit from what the
// pipeline needs and the container's cgroup limit, and reports both, with
// the CPU quota and GOMAXPROCS, as metrics.
//
// Since Go 1.25 the runtime sets GOMAXPROCS from the cgroup CPU quota
// itself (unless GOMAXPROCS is set); the governor only reports it.
package governor

import (
	"bufio"
	"bytes"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/VictoriaMetrics/metrics"
)

// DefaultShare is the share of the cgroup memory limit the agent allows
// itself by default (limits.memory_percent 25): the application it
// watches gets the rest.
const DefaultShare = DefaultMemoryPercent / 100.0

// Floor is the lowest limit set: below it the garbage collector would run
// without end for the pipeline's own buffers.
const Floor = 24 << 20

// unlimited is what cgroup v1 reports for no limit (a page-rounded
// MaxInt64); anything this large is no limit.
const unlimited = 1 << 60

// Cgroup reads the limits of this process's cgroup under a cgroup file
// system root.
type Cgroup struct {
	Root string // /sys/fs/cgroup
	Self []byte // the content of /proc/self/cgroup
}

// SelfCgroup is the cgroup of this process under /sys/fs/cgroup.
func SelfCgroup() Cgroup {
	b, _ := os.ReadFile("/proc/self/cgroup")
	return Cgroup{Root: "/sys/fs/cgroup", Self: b}
}

// paths returns, for a controller ("memory", "cpu"; "" for v2), the
// folders from the process's cgroup up to the root, nearest first.
func (c Cgroup) paths(controller string) []string {
	var rel string
	found := false
	sc := bufio.NewScanner(bytes.NewReader(c.Self))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, name := range strings.Split(parts[1], ",") {
			if name == controller {
				rel, found = parts[2], true
			}
		}
	}
	if !found {
		return nil
	}
	base := c.Root
	if controller != "" {
		base = filepath.Join(c.Root, controller)
	}
	var out []string
	for p := filepath.Clean("/" + rel); ; p = filepath.Dir(p) {
		out = append(out, filepath.Join(base, p))
		if p == "/" {
			return out
		}
	}
}

// smallest reads a number from file in each folder (a missing file is
// skipped: a namespaced mount shows only part of the path) and returns the
// smallest below unlimited.
func smallest(dirs []string, file string, parse func(string) (float64, bool)) (float64, bool) {
	best, ok := math.Inf(1), false
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, file))
		if err != nil {
			continue
		}
		if v, good := parse(strings.TrimSpace(string(b))); good && v < best {
			best, ok = v, true
		}
	}
	return best, ok
}

func parseBytes(s string) (float64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return float64(n), err == nil && n > 0 && n < unlimited
}

// MemoryLimit is the memory limit of the cgroup (v2 memory.max, else v1
// memory.limit_in_bytes), the smallest from the process's cgroup up; ok is
// false when there is none.
func (c Cgroup) MemoryLimit() (int64, bool) {
	if v, ok := smallest(c.paths(""), "memory.max", parseBytes); ok {
		return int64(v), true
	}
	v, ok := smallest(c.paths("memory"), "memory.limit_in_bytes", parseBytes)
	return int64(v), ok
}

// CPUQuota is the CPU quota of the cgroup in cores (v2 cpu.max, else v1
// cpu.cfs_quota_us / cpu.cfs_period_us); ok is false when there is none.
func (c Cgroup) CPUQuota() (float64, bool) {
	v2 := func(s string) (float64, bool) {
		q, p, _ := strings.Cut(s, " ")
		quota, err1 := strconv.ParseFloat(q, 64)
		period, err2 := strconv.ParseFloat(p, 64)
		return quota / period, err1 == nil && err2 == nil && quota > 0 && period > 0
	}
	if v, ok := smallest(c.paths(""), "cpu.max", v2); ok {
		return v, true
	}
	best, ok := math.Inf(1), false
	for _, d := range c.paths("cpu") {
		q, err1 := os.ReadFile(filepath.Join(d, "cpu.cfs_quota_us"))
		p, err2 := os.ReadFile(filepath.Join(d, "cpu.cfs_period_us"))
		if err1 != nil || err2 != nil {
			continue
		}
		if v, good := v2(strings.TrimSpace(string(q)) + " " + strings.TrimSpace(string(p))); good && v < best {
			best, ok = v, true
		}
	}
	return best, ok
}

// Limit is the soft memory limit for a process that needs need bytes:
// need, but at most share of the cgroup limit when there is one (cgroup
// <= 0: none), and never below Floor.
func Limit(need, cgroup int64, share float64) int64 {
	limit := need
	if cgroup > 0 {
		limit = min(limit, int64(float64(cgroup)*share))
	}
	return max(limit, Floor)
}

// The Go runtime's own memory and GC figures are in the process metrics
// (go_memstats_*) that /metrics serves beside these.
var (
	mMemLimit  = metrics.NewGauge(`logship_go_memory_limit_bytes`, nil)
	mCgroupMem = metrics.NewGauge(`logship_cgroup_memory_limit_bytes`, nil)
	mCgroupCPU = metrics.NewGauge(`logship_cgroup_cpu_quota_cores`, nil)
	mMaxProcs  = metrics.NewGauge(`logship_gomaxprocs`, nil)
)

// Resolved is what Apply decides, without doing it.
type Resolved struct {
	MemoryLimit  int64   // the Go soft memory limit (0 with FromEnv: GOMEMLIMIT's)
	FromEnv      bool    // GOMEMLIMIT is set: the runtime's own
	Procs        int     // GOMAXPROCS
	SetProcs     bool    // from limits.cpus (GOMAXPROCS not set)
	CgroupMemory int64   // the cgroup's memory limit, 0: none
	CgroupCPU    float64 // the cgroup's CPU quota in cores, 0: none
}

// Plan is what Apply would set for cfg (defaults applied) in cgroup c.
func Plan(c Cgroup, need int64, cfg Config) Resolved {
	var r Resolved
	r.Procs = runtime.GOMAXPROCS(0)
	if cfg.CPUs > 0 && os.Getenv("GOMAXPROCS") == "" {
		r.Procs, r.SetProcs = cfg.CPUs, true
	}
	if cg, ok := c.MemoryLimit(); ok {
		r.CgroupMemory = cg
	}
	if cores, ok := c.CPUQuota(); ok {
		r.CgroupCPU = cores
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		r.FromEnv = true
		return r
	}
	r.MemoryLimit = Limit(need, r.CgroupMemory, float64(cfg.MemoryPercent)/100)
	if cfg.Memory > 0 {
		r.MemoryLimit = cfg.Memory.Int64()
	}
	return r
}

// Apply sets the soft memory limit (unless GOMEMLIMIT is set): cfg.Memory
// when set, else need capped at cfg.MemoryPercent of the cgroup limit; and
// GOMAXPROCS to cfg.CPUs when set (unless GOMAXPROCS is). It publishes the
// metrics, logs what it decided and returns the memory limit in force.
func Apply(c Cgroup, need int64, cfg Config, log *slog.Logger) int64 {
	cfg.SetDefaults()
	pl := Plan(c, need, cfg)
	if pl.SetProcs {
		runtime.GOMAXPROCS(pl.Procs)
	}
	cg, cores, limit := pl.CgroupMemory, pl.CgroupCPU, pl.MemoryLimit
	if pl.FromEnv {
		limit = debug.SetMemoryLimit(-1)
	} else {
		debug.SetMemoryLimit(limit)
	}
	mMemLimit.Set(float64(limit))
	mCgroupMem.Set(float64(cg))
	mCgroupCPU.Set(cores)
	mMaxProcs.Set(float64(runtime.GOMAXPROCS(0)))
	log.Info("resource limits", "go_memory_limit", limit, "cgroup_memory_limit", cg, "cgroup_cpu_quota", cores, "gomaxprocs", runtime.GOMAXPROCS(0))
	return limit
}
