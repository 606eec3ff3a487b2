package report

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestKernelKinds: OOM kills in the kernel's report forms (Linux 5+ and
// before 5.0, the cgroup counter of the cgroup mode), and the other
// messages worth a look, from lines as the kmsg source archives them.
func TestKernelKinds(t *testing.T) {
	log := `2026-12-06T06:00:00.000000Z kern.warn [100.000000] java invoked oom-killer: gfp_mask=0x6200ca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0
2026-12-06T06:00:00.000100Z kern.err [100.000100] Memory cgroup out of memory: Kill process 1234 (java) score 1000 or sacrifice child
2026-12-06T06:00:00.000200Z kern.err [100.000200] Killed process 1234 (java) total-vm:3145728kB, anon-rss:1048576kB, file-rss:2048kB, shmem-rss:0kB
2026-12-06T06:01:00.000000Z kern.info [160.000000] java[2345]: segfault at 0 ip 00007f20894d2f94 sp 00007f208851e6f0 error 6 in libjvm.so[7f2088600000+1000000]
2026-12-06T06:01:01.000000Z kern.info [161.000000] java[2346]: segfault at 8 ip 00007f20894d2f95 sp 00007f208851e6f1 error 4 in libjvm.so[7f2088600000+1000000]
2026-12-06T06:02:00.000000Z kern.err [220.000000] INFO: task java:3456 blocked for more than 120 seconds.
2026-12-06T06:03:00.000000Z kern.err [280.000000] blk_update_request: I/O error, dev vdb, sector 2048 op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0
2026-12-06T06:04:00.000000Z kern.info [340.000000] eth0: renamed from veth12ab
2026-12-06T06:05:00.000000Z cgroup memory.events oom_kill 0 -> 1 (memory.current=2147479552 memory.max=2147483648 memory.peak=2147483648)
2026-12-06T06:05:10.000000Z cgroup memory.events high 3 -> 9 (memory.current=2147479552 memory.max=2147483648 memory.peak=2147483648)
not a kernel line at all
`
	dir := t.TempDir()
	p := filepath.Join(dir, "a", "h", "kmsg", "dev", "kmsg")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Build(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.OOMKills) != 2 {
		t.Fatalf("OOM kills %+v", res.OOMKills)
	}
	if k := res.OOMKills[0]; k.PID != 1234 || k.Process != "java" || k.AnonRSSKB != 1048576 || k.FileRSSKB != 2048 || k.TotalVMKB != 3145728 || k.Source != "kernel log" {
		t.Errorf("pre-5.0 kill %+v", k)
	}
	if k := res.OOMKills[1]; k.Source != "cgroup counter" || k.LimitKB != 2097152 || k.UsageKB != 2097148 || k.Cgroup != "memory.events" {
		t.Errorf("cgroup counter kill %+v", k)
	}
	kinds := map[string]int64{}
	for _, k := range res.KernelErrors {
		kinds[k.Kind] += k.Count
	}
	if kinds["segfault"] != 2 || kinds["hung task"] != 1 || kinds["I/O error"] != 1 || len(kinds) != 3 {
		t.Errorf("kernel issues %v (%+v)", kinds, res.KernelErrors)
	}
}
