package snapshot

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/logship/logship/internal/secret"
)

// proc is what /proc/PID says about one process.
type proc struct {
	PID, PPID int
	State     string
	Comm      string
	UID       int
	RSS       int64 // bytes
	Threads   int64
	Start     time.Time
	CPU       time.Duration // user + system
	Cmdline   []string
	Exe       string
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

func pids(procRoot string) []int {
	ents, _ := os.ReadDir(procRoot)
	var out []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid > 0 {
			out = append(out, pid)
		}
	}
	sort.Ints(out)
	return out
}

// bootTime is the btime of /proc/stat.
func bootTime(procRoot string) time.Time {
	b, _ := os.ReadFile(procRoot + "/stat")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "btime "); ok {
			if s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				return time.Unix(s, 0)
			}
		}
	}
	return time.Time{}
}

// readProc reads one process; a process that exited meanwhile is an error.
func readProc(procRoot string, pid int, boot time.Time) (proc, error) {
	dir := fmt.Sprintf("%s/%d", procRoot, pid)
	p := proc{PID: pid, UID: -1}
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return p, err
	}
	// pid (comm) state ppid ... : comm may hold spaces and parentheses.
	l, r := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if l < 0 || r < l {
		return p, fmt.Errorf("%s/stat: malformed", dir)
	}
	p.Comm = string(stat[l+1 : r])
	f := strings.Fields(string(stat[r+1:]))
	if len(f) > 20 {
		p.State = f[0]
		p.PPID, _ = strconv.Atoi(f[1])
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		p.CPU = time.Duration(ut+st) * time.Second / clockTicks
		p.Threads, _ = strconv.ParseInt(f[17], 10, 64)
		start, _ := strconv.ParseInt(f[19], 10, 64)
		if !boot.IsZero() {
			p.Start = boot.Add(time.Duration(start) * time.Second / clockTicks)
		}
	}
	if status, err := os.ReadFile(dir + "/status"); err == nil {
		for _, l := range strings.Split(string(status), "\n") {
			k, v, _ := strings.Cut(l, ":")
			fs := strings.Fields(v)
			if len(fs) == 0 {
				continue
			}
			switch k {
			case "Uid":
				p.UID, _ = strconv.Atoi(fs[0])
			case "VmRSS":
				kb, _ := strconv.ParseInt(fs[0], 10, 64)
				p.RSS = kb << 10
			case "Threads":
				p.Threads, _ = strconv.ParseInt(fs[0], 10, 64)
			}
		}
	}
	if cl, err := os.ReadFile(dir + "/cmdline"); err == nil && len(cl) > 0 {
		p.Cmdline = strings.Split(strings.TrimRight(string(cl), "\x00"), "\x00")
	}
	p.Exe, _ = os.Readlink(dir + "/exe")
	return p, nil
}

// isJVM reports whether a process is a Java VM: its binary or its first
// argument is named java.
func (p proc) isJVM() bool {
	if filepath.Base(strings.TrimSuffix(p.Exe, " (deleted)")) == "java" {
		return true
	}
	return len(p.Cmdline) > 0 && filepath.Base(p.Cmdline[0]) == "java"
}

// maxJVMs bounds the JVMs diagnosed in one snapshot (jcmd starts a JVM
// of its own for every command).
const maxJVMs = 4

// findApp picks the process the snapshot is about, and lists the JVMs.
func findApp(procRoot string, want int) (app int, jvms []int) {
	boot := bootTime(procRoot)
	self := os.Getpid()
	var biggest proc
	for _, pid := range pids(procRoot) {
		if pid == self {
			continue
		}
		p, err := readProc(procRoot, pid, boot)
		if err != nil {
			continue
		}
		if p.isJVM() {
			jvms = append(jvms, pid)
		}
		if p.RSS > biggest.RSS {
			biggest = p
		}
	}
	// The app first: the JVM collector covers at most maxJVMs.
	if i := slices.Index(jvms, want); i > 0 {
		jvms = append(append([]int{want}, jvms[:i]...), jvms[i+1:]...)
	}
	if len(jvms) > maxJVMs {
		jvms = jvms[:maxJVMs]
	}
	switch {
	case want > 0:
		return want, jvms
	case len(jvms) > 0:
		return jvms[0], jvms
	}
	return biggest.PID, jvms
}

// environ reads a process's environment as NAME=VALUE strings.
func environ(procRoot string, pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("%s/%d/environ", procRoot, pid))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, kv := range strings.Split(string(b), "\x00") {
		if kv != "" {
			out = append(out, kv)
		}
	}
	return out, nil
}

// harvestSecrets collects the values to mask everywhere: those of
// secret-looking environment variables of this process and the app, and of
// secret-looking -Dname=value options of the JVMs.
func harvestSecrets(procRoot string, app int, jvms []int) []string {
	var out []string
	envs := [][]string{os.Environ()}
	if app > 0 {
		if e, err := environ(procRoot, app); err == nil {
			envs = append(envs, e)
		}
	}
	for _, env := range envs {
		for _, kv := range env {
			if k, v, ok := strings.Cut(kv, "="); ok && secret.IsName(k) {
				out = append(out, v)
			}
		}
	}
	for _, pid := range append([]int{app}, jvms...) {
		if pid <= 0 {
			continue
		}
		cl, _ := os.ReadFile(fmt.Sprintf("%s/%d/cmdline", procRoot, pid))
		args := strings.Split(string(cl), "\x00")
		// What run's events hide is masked in the bundle too: NAME=VALUE
		// values and the argument after a flag named like a secret
		// (--db-password VALUE), wherever it shows (ps.txt, jcmd output).
		for i, red := range secret.Args(args) {
			if red == args[i] {
				continue
			}
			if _, v, ok := strings.Cut(args[i], "="); ok && strings.HasSuffix(red, "="+secret.Redacted) {
				out = append(out, v)
			} else {
				out = append(out, args[i])
			}
		}
	}
	return out
}

// userNames caches user names by uid (os/user reads /etc/passwd).
type userNames map[int]string

func (un userNames) name(uid int) string {
	if uid < 0 {
		return "?"
	}
	if n, ok := un[uid]; ok {
		return n
	}
	n := strconv.Itoa(uid)
	if u, err := user.LookupId(n); err == nil {
		n = u.Username
	}
	un[uid] = n
	return n
}

// collectPS writes ps.txt: what `ps -ef` shows, with state, RSS and
// threads.
func collectPS(ctx context.Context, s *Session, out *Out) error {
	w := out.Create("ps.txt")
	boot := bootTime(s.o.Proc)
	names := userNames{}
	fmt.Fprintf(w, "%-10s %7s %7s %1s %10s %7s %-20s %10s %s\n", "USER", "PID", "PPID", "S", "RSS_KB", "THREADS", "STARTED", "CPU_TIME", "CMD")
	var n int64
	for _, pid := range pids(s.o.Proc) {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, err := readProc(s.o.Proc, pid, boot)
		if err != nil {
			continue // exited meanwhile
		}
		n++
		cmd := strings.Join(p.Cmdline, " ")
		if cmd == "" {
			cmd = "[" + p.Comm + "]"
		}
		started := "?"
		if !p.Start.IsZero() {
			started = p.Start.UTC().Format("2006-01-02T15:04:05Z")
		}
		fmt.Fprintf(w, "%-10s %7d %7d %1s %10d %7d %-20s %10s %s\n", names.name(p.UID), p.PID, p.PPID, p.State,
			p.RSS>>10, p.Threads, started, p.CPU.Round(time.Second), cmd)
	}
	s.SetFact(func(f *Facts) { f.Processes = &n })
	return nil
}

// maxFDsPerProcess bounds the lines of fds.txt for one process.
const maxFDsPerProcess = 4096

// collectFDs writes fds.txt: every open descriptor of every process.
func collectFDs(ctx context.Context, s *Session, out *Out) error {
	w := out.Create("fds.txt")
	var denied []string
	for _, pid := range pids(s.o.Proc) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := writeFDs(w, s.o.Proc, pid); err != nil {
			if os.IsPermission(err) {
				denied = append(denied, strconv.Itoa(pid))
				continue
			}
		}
	}
	if len(denied) > 0 {
		fmt.Fprintf(w, "# permission denied for pids %s (another user's processes)\n", strings.Join(denied, " "))
	}
	return nil
}

func writeFDs(w io.Writer, procRoot string, pid int) error {
	dir := fmt.Sprintf("%s/%d/fd", procRoot, pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	comm, _ := os.ReadFile(fmt.Sprintf("%s/%d/comm", procRoot, pid))
	fds := make([]int, 0, len(ents))
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil {
			fds = append(fds, fd)
		}
	}
	sort.Ints(fds)
	fmt.Fprintf(w, "== pid %d (%s): %d open\n", pid, strings.TrimSpace(string(comm)), len(fds))
	for i, fd := range fds {
		if i == maxFDsPerProcess {
			fmt.Fprintf(w, "... %d more\n", len(fds)-i)
			break
		}
		target, err := os.Readlink(fmt.Sprintf("%s/%d", dir, fd))
		if err != nil {
			target = "? " + err.Error()
		}
		fmt.Fprintf(w, "%6d %s\n", fd, target)
	}
	return nil
}

// collectEnv writes env.txt: the app process's environment, the values of
// secret-looking names masked whole.
func collectEnv(ctx context.Context, s *Session, out *Out) error {
	if s.app <= 0 {
		return skipped("no app process found")
	}
	env, err := environ(s.o.Proc, s.app)
	if err != nil {
		return fmt.Errorf("environment of pid %d: %w", s.app, err)
	}
	sort.Strings(env)
	w := out.Create("env.txt")
	fmt.Fprintf(w, "# environment of pid %d; values of names holding %s are masked\n", s.app, strings.Join(secret.Words, ", "))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if secret.IsName(k) {
			v = strings.Repeat("*", len(v))
		}
		fmt.Fprintf(w, "%s=%s\n", k, v)
	}
	return nil
}
