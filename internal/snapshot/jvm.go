package snapshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// jcmdCommands are run against every JVM found: diagnostic command and
// the file (under jvm/PID/) its output goes to.
var jcmdCommands = []struct{ cmd, file string }{
	{"Thread.print", "thread_dump.txt"},
	{"GC.heap_info", "heap_info.txt"},
	{"VM.flags", "flags.txt"},
	{"VM.system_properties", "system_properties.txt"},
	{"GC.class_histogram", "class_histogram.txt"},
}

// findJcmd returns the jcmd to use for a JVM: Options.Jcmd, else the one
// beside the JVM's own java binary, else jcmd on PATH; "" when none.
func (s *Session) findJcmd(p proc) string {
	switch s.o.Jcmd {
	case "-":
		return ""
	case "":
	default:
		return s.o.Jcmd
	}
	if p.Exe != "" {
		c := filepath.Join(filepath.Dir(strings.TrimSuffix(p.Exe, " (deleted)")), "jcmd")
		if fi, err := os.Stat(c); err == nil && fi.Mode()&0o111 != 0 {
			return c
		}
	}
	c, _ := exec.LookPath("jcmd")
	return c
}

// collectJVM writes jvm/PID/*.txt for every JVM: jcmd's diagnostics, or,
// without jcmd, a thread dump through Options.ThreadDumpFrom for the app.
func collectJVM(ctx context.Context, s *Session, out *Out) error {
	if len(s.jvms) == 0 {
		return skipped("no JVM found")
	}
	boot := bootTime(s.o.Proc)
	var errs []string
	for _, pid := range s.jvms {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, err := readProc(s.o.Proc, pid, boot)
		if err != nil {
			errs = append(errs, fmt.Sprintf("pid %d: %v", pid, err))
			continue
		}
		fact := JVMFact{PID: pid, RSSBytes: p.RSS, Threads: p.Threads, ThreadDump: DumpNone}
		dir := fmt.Sprintf("jvm/%d/", pid)
		var notes []string
		if jcmd := s.findJcmd(p); jcmd != "" {
			for _, c := range jcmdCommands {
				b, err := runJcmd(ctx, jcmd, pid, c.cmd)
				if err != nil {
					notes = append(notes, fmt.Sprintf("jcmd %s: %v", c.cmd, err))
					continue
				}
				out.Create(dir + c.file).Write(b)
				if c.cmd == "Thread.print" {
					fact.ThreadDump = DumpJcmd
					fact.BlockedThreads = blocked(b)
				}
			}
		} else {
			notes = append(notes, "no jcmd in the image")
		}
		if fact.ThreadDump == DumpNone && pid == s.app && s.o.ThreadDumpFrom != nil {
			b, err := s.o.ThreadDumpFrom(ctx)
			if err != nil {
				notes = append(notes, "SIGQUIT thread dump: "+err.Error())
			} else {
				out.Create(dir + "thread_dump.txt").Write(b)
				fact.ThreadDump = DumpSigquit
				fact.BlockedThreads = blocked(b)
			}
		}
		if fact.ThreadDump == DumpNone && s.o.ThreadDumpFrom == nil {
			notes = append(notes, "no thread dump: no jcmd, and the JVM does not run under `logship run`")
		}
		fact.ThreadDumpNote = strings.Join(notes, "; ")
		if len(notes) > 0 {
			fmt.Fprintf(out.Create(dir+"notes.txt"), "%s\n", strings.Join(notes, "\n"))
		}
		if fact.ThreadDump == DumpNone {
			errs = append(errs, fmt.Sprintf("pid %d: no thread dump (%s)", pid, fact.ThreadDumpNote))
		}
		s.SetFact(func(f *Facts) { f.JVM = append(f.JVM, fact) })
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// blocked counts the threads of a dump in state BLOCKED.
func blocked(dump []byte) int64 {
	return int64(bytes.Count(dump, []byte("java.lang.Thread.State: BLOCKED")))
}

// maxJcmdOutput bounds what one jcmd command may print into the bundle.
const maxJcmdOutput = 4 << 20

func runJcmd(ctx context.Context, jcmd string, pid int, command string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, jcmd, strconv.Itoa(pid), command)
	cmd.WaitDelay = time.Second
	var out bytes.Buffer
	cmd.Stdout = &limitedBuffer{b: &out, n: maxJcmdOutput}
	cmd.Stderr = cmd.Stdout
	err := cmd.Run()
	if err != nil {
		msg := strings.TrimSpace(out.String())
		if len(msg) > 300 {
			msg = msg[:300]
		}
		return nil, fmt.Errorf("%w: %s", err, msg)
	}
	return out.Bytes(), nil
}

type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room < len(p) {
		l.b.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return l.b.Write(p)
}

// SigquitFrom returns an Options.ThreadDumpFrom for a JVM whose stdout is
// written to the file spool (`logship run` spools its child's stdout):
// see SigquitDump.
func SigquitFrom(pid int, spool string) func(ctx context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) { return SigquitDump(ctx, pid, spool) }
}

// maxDumpBytes bounds a thread dump read from a spool.
const maxDumpBytes = 16 << 20

// SigquitDump sends SIGQUIT to the JVM pid, which prints a thread dump on
// its stdout, and reads that dump from spool, the file its stdout goes to:
// from the "Full thread dump" line, until the dump has ended (the "JNI
// global refs" line has appeared and the file has stopped growing) or ctx
// ends. Bytes the app wrote meanwhile may be interleaved.
func SigquitDump(ctx context.Context, pid int, spool string) ([]byte, error) {
	f, err := os.Open(spool)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	start := fi.Size()
	if err := syscall.Kill(pid, syscall.SIGQUIT); err != nil {
		return nil, fmt.Errorf("SIGQUIT to pid %d: %w", pid, err)
	}
	var got []byte
	buf := make([]byte, 64<<10)
	off := start
	var ended time.Time // when the end marker was seen
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		n, rerr := f.ReadAt(buf, off)
		if n == 0 && rerr == io.EOF {
			if cur, err := f.Stat(); err == nil && cur.Size() < off {
				off, got = 0, got[:0] // the spool was truncated: start over
				continue
			}
		}
		off += int64(n)
		got = append(got, buf[:n]...)
		if len(got) > maxDumpBytes {
			return nil, fmt.Errorf("no complete thread dump in %d bytes of %s", len(got), spool)
		}
		if rerr != nil && rerr != io.EOF {
			return nil, rerr
		}
		i := bytes.Index(got, []byte("Full thread dump"))
		switch {
		case n > 0:
			if i >= 0 && ended.IsZero() && bytes.Contains(got[i:], []byte("\nJNI global refs")) {
				ended = time.Now()
			}
			continue
		case !ended.IsZero() && time.Since(ended) > 200*time.Millisecond:
			// The heap summary follows the end marker; it has stopped.
			if j := bytes.LastIndexByte(got[:i], '\n'); j >= 0 {
				i = bytes.LastIndexByte(got[:j], '\n') + 1 // keep the timestamp line before the dump
			}
			return got[i:], nil
		}
		select {
		case <-ctx.Done():
			if i >= 0 {
				return got[i:], fmt.Errorf("thread dump incomplete: %w", ctx.Err())
			}
			return nil, fmt.Errorf("no thread dump in %s after SIGQUIT: %w", spool, ctx.Err())
		case <-tick.C:
		}
	}
}
