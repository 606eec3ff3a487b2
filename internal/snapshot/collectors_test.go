package snapshot

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/internal/sources/kmsg"
)

func TestHexAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:1F90":                         "127.0.0.1:8080",
		"00000000:0016":                         "0.0.0.0:22",
		"00000000000000000000000001000000:0050": "[::1]:80",
		"0000000000000000FFFF00000100007F:01BB": "127.0.0.1:443",
		"nonsense":                              "nonsense",
	} {
		if got := hexAddr(in); got != want {
			t.Errorf("hexAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSockets: a socket this test listens on shows in sockets.txt as ss
// shows it, with this process and descriptor.
func TestSockets(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, _ := ln.(*net.TCPListener).File() // a second descriptor on the same socket
	defer f.Close()
	b, _ := takeBundle(t, Options{App: "a", Host: "h", Collectors: []Collector{{Name: "sockets", Run: collectSockets}}}, Request{})
	re := regexp.MustCompile(`(?m)^LISTEN +0 +0 +` + regexp.QuoteMeta(ln.Addr().String()) + ` +0\.0\.0\.0:0 +users:.*pid=` + fmt.Sprint(os.Getpid()) + `,fd=\d+`)
	if !re.Match(b.files["sockets.txt"]) {
		t.Fatalf("sockets.txt lacks our listener %s:\n%s", ln.Addr(), b.files["sockets.txt"])
	}
}

// TestCgroupFacts reads v2 and v1 cgroup folders laid out as a container
// sees them, and takes the memory limit, usage and OOM kills as facts.
func TestCgroupFacts(t *testing.T) {
	write := func(dir string, files map[string]string) {
		for name, body := range files {
			p := filepath.Join(dir, name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte(body), 0o644)
		}
	}
	for _, tc := range []struct {
		name                string
		files               map[string]string
		limit, usage, kills int64
		noLimit             bool
		has                 string
	}{
		{"v2", map[string]string{"cgroup.controllers": "cpu memory", "memory.max": "2147483648\n", "memory.current": "1073741824\n",
			"memory.events": "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\n", "memory.pressure": "some avg10=1.00 avg60=0.50 avg300=0.10 total=123\n",
			"cpu.max": "200000 100000\n"}, 2147483648, 1073741824, 2, false, "cpu.max\n200000 100000"},
		{"v2 no limit", map[string]string{"cgroup.controllers": "memory", "memory.max": "max\n", "memory.current": "5\n", "memory.events": "oom_kill 0\n"},
			0, 5, 0, true, "memory.max\nmax"},
		{"v1", map[string]string{"memory/memory.limit_in_bytes": "536870912\n", "memory/memory.usage_in_bytes": "1000\n",
			"memory/memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n", "cpu,cpuacct/cpu.cfs_quota_us": "50000\n"},
			536870912, 1000, 4, false, "cpu.cfs_quota_us\n50000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			write(root, tc.files)
			b, _ := takeBundle(t, Options{App: "a", Host: "h", CgroupRoot: root, AppPID: -1,
				Collectors: []Collector{{Name: "cgroup", Run: collectCgroup}}}, Request{})
			m := b.manifest(t)
			f := m.Facts
			if tc.noLimit != (f.MemoryLimitBytes == nil) || (!tc.noLimit && *f.MemoryLimitBytes != tc.limit) {
				t.Errorf("memory limit %v", f.MemoryLimitBytes)
			}
			if f.MemoryUsageBytes == nil || *f.MemoryUsageBytes != tc.usage || f.OOMKills == nil || *f.OOMKills != tc.kills {
				t.Errorf("facts %+v", f)
			}
			if !strings.Contains(string(b.files["cgroup.txt"]), tc.has) {
				t.Errorf("cgroup.txt:\n%s", b.files["cgroup.txt"])
			}
		})
	}
}

// TestKmsgCollector: the kernel log through the kmsg source's reader, its
// OOM report in kmsg-oom.txt, the kills counted in the facts.
func TestKmsgCollector(t *testing.T) {
	src, err := kmsg.New("kmsg", kmsg.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &ring{}
	r.push("6,1,1000,-;booting")
	r.push(oomRecords(2)...)
	r.push("6,5,6000000000,-;eth0: link up")
	src.OpenDevice, src.BootTime = r.open, time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	b, _ := takeBundle(t, Options{App: "a", Host: "h", Kmsg: src, Collectors: []Collector{{Name: "kmsg", Run: collectKmsg}}}, Request{})
	all, oom := string(b.files["kmsg.txt"]), string(b.files["kmsg-oom.txt"])
	if strings.Count(all, "\n") != 5 || !strings.HasPrefix(all, "2026-12-06T00:00:00.001000Z kern.info [0.001000] booting\n") {
		t.Errorf("kmsg.txt:\n%s", all)
	}
	if strings.Count(oom, "\n") != 3 || !strings.Contains(oom, "Killed process 1234 (java)") || strings.Contains(oom, "link up") {
		t.Errorf("kmsg-oom.txt:\n%s", oom)
	}
	if k := b.manifest(t).Facts.OOMKills; k == nil || *k != 1 {
		t.Errorf("oom_kills %v", k)
	}
}

// FuzzProcParsers feeds /proc text the kernel might write (or a hostile
// mount name) to the parsers: they must not panic.
func FuzzProcParsers(f *testing.F) {
	f.Add("0100007F:1F90", `/mnt/with\040space`)
	f.Add("00000000000000000000000001000000:0050", `\0`)
	f.Fuzz(func(t *testing.T, addr, mount string) {
		hexAddr(addr)
		if got := unescapeMount(mount); !strings.Contains(mount, `\`) && got != mount {
			t.Fatalf("unescapeMount(%q) = %q", mount, got)
		}
	})
}
