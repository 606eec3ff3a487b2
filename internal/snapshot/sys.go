package snapshot

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/logship/logship/internal/sources/kmsg"
)

// cgroupFiles are the files worth reading, per controller folder.
var (
	cgroupV2Files = []string{"memory.max", "memory.high", "memory.current", "memory.peak", "memory.swap.max",
		"memory.swap.current", "memory.events", "memory.events.local", "memory.pressure", "memory.stat",
		"cpu.max", "cpu.weight", "cpu.stat", "cpu.pressure", "io.pressure", "pids.max", "pids.current", "pids.events"}
	cgroupV1Memory = []string{"memory.limit_in_bytes", "memory.soft_limit_in_bytes", "memory.usage_in_bytes",
		"memory.max_usage_in_bytes", "memory.failcnt", "memory.oom_control", "memory.memsw.limit_in_bytes",
		"memory.memsw.usage_in_bytes", "memory.pressure_level", "memory.stat"}
	cgroupV1CPU = []string{"cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.shares", "cpu.stat", "cpuacct.usage"}
)

// cgroupPaths reads /proc/PID/cgroup: the v2 path, and v1 paths by
// controller.
func cgroupPaths(procRoot string, pid int) (v2 string, v1 map[string]string) {
	v1 = map[string]string{}
	who := "self"
	if pid > 0 {
		who = strconv.Itoa(pid)
	}
	b, err := os.ReadFile(procRoot + "/" + who + "/cgroup")
	if err != nil {
		return "", v1
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.SplitN(l, ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[0] == "0" && f[1] == "" {
			v2 = f[2]
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			v1[c] = f[2]
		}
	}
	return v2, v1
}

// cgroupDir picks the folder of a cgroup: root+path when it exists (the
// host's view), else root (a container sees its own cgroup at the root).
func cgroupDir(root, path, probe string) string {
	if path != "" && path != "/" {
		d := filepath.Join(root, path)
		if _, err := os.Stat(filepath.Join(d, probe)); err == nil {
			return d
		}
	}
	return root
}

// collectCgroup writes cgroup.txt: memory and CPU limits, usage, pressure
// and OOM counters of the app's cgroup (v2, else v1).
func collectCgroup(ctx context.Context, s *Session, out *Out) error {
	v2, v1 := cgroupPaths(s.o.Proc, s.app)
	root := s.o.CgroupRoot
	w := out.Create("cgroup.txt")
	var facts cgroupFacts
	found := 0
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
		dir := cgroupDir(root, v2, "memory.current")
		fmt.Fprintf(w, "# cgroup v2 %s (path %q)\n", dir, v2)
		found += dumpFiles(ctx, w, dir, cgroupV2Files, &facts)
	} else {
		mem := cgroupDir(filepath.Join(root, "memory"), v1["memory"], "memory.usage_in_bytes")
		fmt.Fprintf(w, "# cgroup v1 memory %s (path %q)\n", mem, v1["memory"])
		found += dumpFiles(ctx, w, mem, cgroupV1Memory, &facts)
		cpu := cgroupDir(filepath.Join(root, "cpu,cpuacct"), v1["cpu"], "cpu.cfs_quota_us")
		if _, err := os.Stat(cpu); err != nil {
			cpu = cgroupDir(filepath.Join(root, "cpu"), v1["cpu"], "cpu.cfs_quota_us")
		}
		fmt.Fprintf(w, "# cgroup v1 cpu %s (path %q)\n", cpu, v1["cpu"])
		found += dumpFiles(ctx, w, cpu, cgroupV1CPU, &facts)
	}
	for _, p := range []string{"/pressure/memory", "/pressure/cpu", "/pressure/io"} {
		if b, err := os.ReadFile(s.o.Proc + p); err == nil {
			fmt.Fprintf(w, "== %s%s (whole machine)\n%s", s.o.Proc, p, b)
		}
	}
	s.SetFact(facts.apply)
	if found == 0 {
		return fmt.Errorf("no cgroup files under %s", root)
	}
	return nil
}

// cgroupFacts are the figures of the manifest's facts.
type cgroupFacts struct {
	limit, usage, kills *int64
}

func (c cgroupFacts) apply(f *Facts) {
	f.MemoryLimitBytes, f.MemoryUsageBytes = c.limit, c.usage
	if c.kills != nil && (f.OOMKills == nil || *f.OOMKills < *c.kills) {
		f.OOMKills = c.kills
	}
}

func num(s string) *int64 {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return nil
	}
	return &v
}

// dumpFiles writes "== path" and the content of each file that exists,
// and picks the facts out of them; it returns how many it read.
func dumpFiles(ctx context.Context, w io.Writer, dir string, names []string, c *cgroupFacts) int {
	n := 0
	for _, name := range names {
		if ctx.Err() != nil {
			return n
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		n++
		text := string(b)
		if name == "memory.stat" && len(text) > 4096 {
			text = text[:4096] + "\n...\n"
		}
		fmt.Fprintf(w, "== %s\n%s", filepath.Join(dir, name), text)
		if !strings.HasSuffix(text, "\n") {
			io.WriteString(w, "\n")
		}
		switch name {
		case "memory.max", "memory.limit_in_bytes":
			// "max" (v2) and PAGE_COUNTER_MAX (v1: 9223372036854771712) mean none.
			if v := num(text); v != nil && *v < 1<<62 {
				c.limit = v
			}
		case "memory.current", "memory.usage_in_bytes":
			c.usage = num(text)
		case "memory.events", "memory.oom_control":
			for _, l := range strings.Split(text, "\n") {
				if k, v, ok := strings.Cut(l, " "); ok && k == "oom_kill" {
					c.kills = num(v)
				}
			}
		}
	}
	return n
}

// collectMounts writes mounts.txt: every mount with its size, use and
// inodes (statfs), like `df -h` next to `mount`.
func collectMounts(ctx context.Context, s *Session, out *Out) error {
	f, err := os.Open(s.o.Proc + "/self/mountinfo")
	if err != nil {
		return err
	}
	defer f.Close()
	w := out.Create("mounts.txt")
	fmt.Fprintf(w, "%-40s %-10s %12s %12s %12s %5s %10s %10s  %s\n", "MOUNTPOINT", "TYPE", "SIZE", "USED", "AVAIL", "USE%", "INODES", "IFREE", "SOURCE OPTIONS")
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if err := ctx.Err(); err != nil {
			return err
		}
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		a, b := strings.Fields(pre), strings.Fields(post)
		if !ok || len(a) < 6 || len(b) < 2 {
			continue
		}
		mp := unescapeMount(a[4])
		var st unix.Statfs_t
		size, used, avail, pct, inodes, ifree := "-", "-", "-", "-", "-", "-"
		if err := unix.Statfs(mp, &st); err == nil && st.Blocks > 0 {
			bs := uint64(st.Bsize)
			size, used, avail = human(st.Blocks*bs), human((st.Blocks-st.Bfree)*bs), human(st.Bavail*bs)
			pct = strconv.FormatUint(100*(st.Blocks-st.Bfree)/st.Blocks, 10) + "%"
			inodes, ifree = strconv.FormatUint(st.Files, 10), strconv.FormatUint(st.Ffree, 10)
		}
		fmt.Fprintf(w, "%-40s %-10s %12s %12s %12s %5s %10s %10s  %s %s\n", mp, b[0], size, used, avail, pct, inodes, ifree, b[1], a[5])
	}
	return sc.Err()
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func human(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// collectKmsg writes kmsg.txt (the kernel log as the kmsg source archives
// it) and kmsg-oom.txt (only the OOM killer's reports).
func collectKmsg(ctx context.Context, s *Session, out *Out) error {
	src := s.o.Kmsg
	if src == nil {
		var err error
		if src, err = kmsg.New("snapshot", kmsg.Config{}, nil); err != nil {
			return err
		}
	}
	w, oom := out.Create("kmsg.txt"), out.Create("kmsg-oom.txt")
	st, err := src.Dump(ctx, w, oom)
	if st.Records > 0 || err == nil {
		kills := st.OOMKills
		s.SetFact(func(f *Facts) {
			if f.OOMKills == nil || *f.OOMKills < kills {
				f.OOMKills = &kills
			}
		})
	}
	return err
}
