package governor

import (
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
)

// tree writes files (path relative to root -> content) under a temp root.
func tree(t *testing.T, files map[string]string) string {
	root := t.TempDir()
	for p, c := range files {
		p = filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestCgroupLimits(t *testing.T) {
	for _, tc := range []struct {
		name   string
		self   string
		files  map[string]string
		mem    int64
		hasMem bool
		cpu    float64
		hasCPU bool
	}{
		{"v2 nested, the parent is tighter", "0::/kubepods/pod1/c1\n",
			map[string]string{"kubepods/pod1/c1/memory.max": "max\n", "kubepods/pod1/memory.max": "536870912\n", "kubepods/memory.max": "max\n",
				"kubepods/pod1/c1/cpu.max": "150000 100000\n"}, 512 << 20, true, 1.5, true},
		{"v2 namespaced: the container's cgroup is the root", "0::/\n",
			map[string]string{"memory.max": "268435456\n", "cpu.max": "max 100000\n"}, 256 << 20, true, 0, false},
		{"v1 namespaced mount: only the root folder exists", "4:memory:/process_api/abc\n1:cpu,cpuacct:/\n",
			map[string]string{"memory/memory.limit_in_bytes": "1073741824\n", "cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1 << 30, true, 2, true},
		{"v1 unlimited", "4:memory:/x\n1:cpu:/x\n",
			map[string]string{"memory/x/memory.limit_in_bytes": "9223372036854771712\n", "cpu/x/cpu.cfs_quota_us": "-1\n", "cpu/x/cpu.cfs_period_us": "100000\n"}, 0, false, 0, false},
		{"no cgroup file", "", nil, 0, false, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Cgroup{Root: tree(t, tc.files), Self: []byte(tc.self)}
			mem, ok := c.MemoryLimit()
			if ok != tc.hasMem || ok && mem != tc.mem {
				t.Errorf("memory %d %v, want %d %v", mem, ok, tc.mem, tc.hasMem)
			}
			cpu, ok := c.CPUQuota()
			if ok != tc.hasCPU || ok && cpu != tc.cpu {
				t.Errorf("cpu %v %v, want %v %v", cpu, ok, tc.cpu, tc.hasCPU)
			}
		})
	}
}

func TestLimit(t *testing.T) {
	for _, tc := range []struct {
		name              string
		need, cgroup, out int64
	}{
		{"no cgroup: what the pipeline needs", 56 << 20, 0, 56 << 20},
		{"roomy container: what the pipeline needs", 56 << 20, 4 << 30, 56 << 20},
		{"small container: a quarter of it", 56 << 20, 128 << 20, 32 << 20},
		{"tiny container: the floor", 56 << 20, 64 << 20, Floor},
	} {
		if got := Limit(tc.need, tc.cgroup, DefaultShare); got != tc.out {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.out)
		}
	}
}

func TestApply(t *testing.T) {
	if os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOMEMLIMIT set")
	}
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	c := Cgroup{Root: tree(t, map[string]string{"memory.max": "134217728\n"}), Self: []byte("0::/\n")}
	if got := Apply(c, 56<<20, Config{}, slog.New(slog.DiscardHandler)); got != 32<<20 || debug.SetMemoryLimit(-1) != 32<<20 {
		t.Fatalf("Apply set %d (runtime: %d), want 32 MiB", got, debug.SetMemoryLimit(-1))
	}
	if mMemLimit.Get() != 32<<20 || mCgroupMem.Get() != 128<<20 {
		t.Fatalf("metrics: limit %v, cgroup %v", mMemLimit.Get(), mCgroupMem.Get())
	}
	// limits.memory_percent: 50 lets the need (56 MiB) through.
	if got := Apply(c, 56<<20, Config{MemoryPercent: 50}, slog.New(slog.DiscardHandler)); got != 56<<20 {
		t.Fatalf("memory_percent 50: %d, want 56 MiB", got)
	}
	// limits.memory wins over both.
	if got := Apply(c, 56<<20, Config{Memory: 40 << 20}, slog.New(slog.DiscardHandler)); got != 40<<20 || debug.SetMemoryLimit(-1) != 40<<20 {
		t.Fatalf("memory 40MiB: %d", got)
	}
	// limits.cpus sets GOMAXPROCS (unless the variable is set).
	if os.Getenv("GOMAXPROCS") == "" {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
		Apply(c, 56<<20, Config{CPUs: 1}, slog.New(slog.DiscardHandler))
		if runtime.GOMAXPROCS(0) != 1 || mMaxProcs.Get() != 1 {
			t.Fatalf("cpus 1: GOMAXPROCS %d, metric %v", runtime.GOMAXPROCS(0), mMaxProcs.Get())
		}
	}
}
