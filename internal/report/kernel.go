package report

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/logship/logship/internal/schema"
	"github.com/logship/logship/internal/sources/kmsg"
)

// readKernel reads a kernel log as the kmsg source archived it: OOM-killer
// reports become OOM kills (the lines of one report put together), the
// cgroup mode's oom_kill counter too; segfaults, hung tasks, I/O errors
// and other messages of level err or worse are grouped by template.
func (r *run) readKernel(in *input) error {
	f, err := os.Open(in.abs)
	if err != nil {
		return err
	}
	defer f.Close()
	h := r.host(in.app, in.host)
	br := bufio.NewReaderSize(f, 64<<10)
	var oom OOMKill // the report being read
	sel := lineSelector{r: r, segs: in.segs}
	var off int64
	for {
		start := off
		line, err := br.ReadSlice('\n')
		off += int64(len(line))
		for err == bufio.ErrBufferFull {
			var more []byte
			more, err = br.ReadSlice('\n')
			off += int64(len(more))
		}
		line = bytes.TrimSuffix(line, []byte{'\n'})
		if l, ok := kmsg.ParseLine(line); ok && sel.at(start, l.Time) {
			noteSpan(&h.SeenFirst, &h.SeenLast, l.Time)
			r.kernelLine(h, in, l, &oom)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (r *run) kernelLine(h *hostAcc, in *input, l kmsg.Line, oom *OOMKill) {
	msg := l.Msg
	if l.Cgroup {
		// "memory.events oom_kill 0 -> 1 (memory.current=... memory.max=...)"
		f := bytes.Fields(msg)
		if len(f) >= 5 && string(f[1]) == "oom_kill" && string(f[3]) == "->" {
			from, _ := strconv.ParseInt(string(f[2]), 10, 64)
			to, _ := strconv.ParseInt(string(f[4]), 10, 64)
			if to > from {
				k := OOMKill{Host: h.Name, Time: l.Time, Source: "cgroup counter", Cgroup: string(f[0])}
				for _, key := range []string{"memory.max=", "memory.limit_in_bytes="} {
					if v := fieldInt(msg, key); v > 0 {
						k.LimitKB = v / 1024
					}
				}
				for _, key := range []string{"memory.current=", "memory.usage_in_bytes="} {
					if v := fieldInt(msg, key); v > 0 {
						k.UsageKB = v / 1024
					}
				}
				r.addOOM(h, in, k)
			}
		}
		return
	}
	switch {
	case bytes.Contains(msg, []byte("invoked oom-killer:")):
		*oom = OOMKill{Host: h.Name, Time: l.Time, Source: "kernel log"}
		return
	case bytes.HasPrefix(msg, []byte("memory: usage ")):
		// "memory: usage 524288kB, limit 524288kB, failcnt 123"
		oom.UsageKB = fieldInt(msg, "usage ")
		oom.LimitKB = fieldInt(msg, "limit ")
		oom.Failcnt = fieldInt(msg, "failcnt ")
		return
	case bytes.HasPrefix(msg, []byte("oom-kill:")):
		oom.Constraint = string(fieldStr(msg, "constraint="))
		oom.Cgroup = string(fieldStr(msg, "oom_memcg="))
		if oom.Cgroup == "" {
			oom.Cgroup = string(fieldStr(msg, "task_memcg="))
		}
		oom.Process = string(fieldStr(msg, "task="))
		oom.PID = int(fieldInt(msg, "pid="))
		return
	case kmsg.IsOOMKill(msg):
		// "Memory cgroup out of memory: Killed process 1234 (java) total-vm:..kB, anon-rss:..kB, file-rss:..kB, shmem-rss:..kB, ..."
		k := *oom
		if k.Source == "" {
			k = OOMKill{Host: h.Name, Source: "kernel log"}
		}
		k.Time = l.Time
		if i := bytes.Index(msg, []byte("Killed process ")); i >= 0 {
			rest := msg[i+len("Killed process "):]
			k.PID = int(fieldInt(rest, ""))
			if a, b := bytes.IndexByte(rest, '('), bytes.IndexByte(rest, ')'); a >= 0 && b > a {
				k.Process = string(rest[a+1 : b])
			}
		}
		k.TotalVMKB = fieldInt(msg, "total-vm:")
		k.AnonRSSKB = fieldInt(msg, "anon-rss:")
		k.FileRSSKB = fieldInt(msg, "file-rss:")
		k.ShmemRSSKB = fieldInt(msg, "shmem-rss:")
		r.addOOM(h, in, k)
		*oom = OOMKill{}
		return
	}
	kind := ""
	switch {
	case bytes.Contains(msg, []byte("segfault at ")):
		kind = "segfault"
	case bytes.Contains(msg, []byte("blocked for more than")):
		kind = "hung task"
	case bytes.Contains(msg, []byte("I/O error")) || bytes.Contains(msg, []byte("EXT4-fs error")) || bytes.Contains(msg, []byte("XFS (")) && bytes.Contains(msg, []byte("error")):
		kind = "I/O error"
	case bytes.Contains(msg, []byte("general protection fault")) || bytes.Contains(msg, []byte("Kernel panic")) || bytes.HasPrefix(msg, []byte("BUG: ")) || bytes.Contains(msg, []byte("soft lockup")):
		kind = "kernel fault"
	case l.Level >= 0 && l.Level <= 3 && !bytes.Contains(msg, []byte("oom")) && !bytes.Contains(msg, []byte("out of memory")):
		kind = "error"
	default:
		return
	}
	r.buf = append(r.buf[:0], kind...)
	r.buf = append(r.buf, '\x00')
	r.buf = append(r.buf, h.Name...)
	r.buf = append(r.buf, '\x00')
	r.buf = mask(r.buf, msg)
	ki := r.kern[string(r.buf)]
	if ki == nil {
		if len(r.kern) >= maxKernelKinds {
			return
		}
		ki = &KernelIssue{Host: h.Name, Kind: kind, Sample: sample(msg)}
		r.kern[string(r.buf)] = ki
		sev := SevWarn
		if kind != "error" {
			sev = SevError
		}
		r.event(l.Time, h.Host, KindKernel, sev, kind+": "+ki.Sample)
	}
	ki.Count++
	noteSpan(&ki.First, &ki.Last, l.Time)
}

// maxOOMKills caps the OOM kills listed (a kernel log looping on kills).
const maxOOMKills = 1000

func (r *run) addOOM(h *hostAcc, in *input, k OOMKill) {
	if len(r.res.OOMKills) >= maxOOMKills {
		r.oomDropped++
		if r.oomDropped == 1 {
			r.problem("more than %d OOM kills: the rest are not listed", maxOOMKills)
		}
		return
	}
	r.res.OOMKills = append(r.res.OOMKills, k)
	text := "OOM kill"
	if k.Process != "" {
		text += fmt.Sprintf(": %s (pid %d)", k.Process, k.PID)
	}
	if k.AnonRSSKB > 0 || k.FileRSSKB > 0 {
		text += fmt.Sprintf(", rss %s anon + %s file", kb(k.AnonRSSKB), kb(k.FileRSSKB))
	}
	if k.LimitKB > 0 {
		text += ", limit " + kb(k.LimitKB)
	}
	if k.Cgroup != "" {
		text += ", cgroup " + k.Cgroup
	}
	if k.Source == "cgroup counter" {
		text += " (cgroup counter)"
	}
	ev := r.event(k.Time, h.Host, KindOOM, SevError, text)
	r.incident(ev, in.hostID())
}

// kb formats kibibytes.
func kb(n int64) string { return schema.HumanBytes(n * 1024) }

// fieldStr returns the value after key up to a comma, space or tab.
func fieldStr(b []byte, key string) []byte {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return nil
	}
	v := b[i+len(key):]
	if j := bytes.IndexAny(v, ", \t)"); j >= 0 {
		v = v[:j]
	}
	return v
}

// fieldInt returns the leading digits after key ("" = at the start).
func fieldInt(b []byte, key string) int64 {
	v := b
	if key != "" {
		i := bytes.Index(b, []byte(key))
		if i < 0 {
			return 0
		}
		v = b[i+len(key):]
	}
	var n int64
	for i := 0; i < len(v) && i < 19 && v[i] >= '0' && v[i] <= '9'; i++ {
		n = n*10 + int64(v[i]-'0')
	}
	return n
}

var _ = time.Time{}
