package crash

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/logship/logship/internal/secret"
)

// HeadBytes is how much of a file is read to classify and summarise it;
// the hs_err header block, summary and current thread fit well within it.
const HeadBytes = 64 << 10

// maxValue bounds every parsed value (the header stays small).
const maxValue = 512

// HsErr is the summary of an hs_err_pid*.log file, parsed from the block
// the JVM writes first:
//
//	#  SIGSEGV (0xb) at pc=0x00007f3162ed2f94, pid=27324, tid=27325
//	# JRE version: OpenJDK Runtime Environment (17.0.15+6) (build 17.0.15+6-Debian-1deb12u1)
//	# Java VM: OpenJDK 64-Bit Server VM (17.0.15+6-Debian-1deb12u1, mixed mode, ...)
//	# Problematic frame:
//	# V  [libjvm.so+0xed2f94]  Unsafe_PutLong+0x124
//	Command Line: -Xmx16m Crash
//	Time: Thu Nov 26 12:48:42 2026 UTC elapsed time: 0.101450 seconds (0d 0h 0m 0s)
//	Current thread (0x00007f315c017fd0):  JavaThread "main" [_thread_in_vm, id=27325, ...]
//
// JVMs that died of something other than a signal write an error line
// instead ("#  Internal Error (debug.cpp:362), pid=1, tid=2" followed by
// "#  fatal error: OutOfMemory encountered: Java heap space", or "# There
// is insufficient memory for the Java Runtime Environment to continue.").
type HsErr struct {
	Signal           string // SIGSEGV
	PC               string // 0x00007f3162ed2f94
	PID, TID         string
	Error            string // what went wrong when there was no signal
	JREVersion       string
	JavaVM           string
	ProblematicFrame string
	Thread           string // JavaThread "main" [_thread_in_vm, id=27325, ...]
	Time             string // as written: Thu Nov 26 12:48:42 2026 UTC
	Elapsed          string // seconds since the JVM started, as written
	CommandLine      string
	// Heap is the heap summary at death, one entry per line ("garbage-first
	// heap   total 16384K, used 948K [...]", " Metaspace used ..."), at
	// most 12; only ReadHsErr reads far enough to find it. It is not among
	// the header facts (Extra).
	Heap []string
}

// ParseHsErr summarises the head of a file; ok reports whether it is an
// hs_err file (a signal, an error line or a JRE version was found).
// Values are single-line, valid UTF-8 and at most 512 bytes.
func ParseHsErr(head []byte) (h HsErr, ok bool) {
	if len(head) > HeadBytes {
		head = head[:HeadBytes]
	}
	var p hsErrParser
	for _, line := range strings.Split(string(head), "\n") {
		p.line(line)
	}
	return p.h, p.h.recognised()
}

// maxHeapLines bounds HsErr.Heap.
const maxHeapLines = 12

// ReadHsErr summarises a whole hs_err file read from r, streaming: beyond
// what ParseHsErr finds in the head it picks up the heap summary at death
// (the "Heap:" block of the PROCESS section, which a JVM with many threads
// writes far past the head). It reads at most limit bytes; lines longer
// than 64 KiB are cut.
func ReadHsErr(r io.Reader, limit int64) (h HsErr, ok bool, err error) {
	br := bufio.NewReaderSize(io.LimitReader(r, limit), 64<<10)
	var p hsErrParser
	for {
		line, rerr := br.ReadSlice('\n')
		if rerr == bufio.ErrBufferFull {
			p.line(string(line))
			for rerr == bufio.ErrBufferFull { // skip the rest of a long line
				_, rerr = br.ReadSlice('\n')
			}
		} else if len(line) > 0 {
			p.line(string(bytes.TrimSuffix(line, []byte{'\n'})))
		}
		if rerr == io.EOF {
			return p.h, p.h.recognised(), nil
		}
		if rerr != nil {
			return p.h, p.h.recognised(), rerr
		}
	}
}

func (h *HsErr) recognised() bool { return h.Signal != "" || h.Error != "" || h.JREVersion != "" }

// hsErrParser takes an hs_err file line by line; pending says what the
// next line holds when a line announces it ("# Problematic frame:").
type hsErrParser struct {
	h       HsErr
	pending string // "frame", "internal", "insufficient", "heap"
}

func (p *hsErrParser) line(line string) {
	h := &p.h
	line = strings.TrimRight(line, "\r")
	switch p.pending {
	case "frame":
		h.ProblematicFrame = clean(strings.TrimPrefix(line, "#"))
	case "internal":
		detail := strings.TrimSpace(strings.TrimPrefix(line, "#"))
		if strings.HasPrefix(line, "#") && detail != "" && !strings.HasPrefix(detail, "JRE version:") {
			h.Error = clean(h.Error + ": " + detail)
		}
	case "insufficient":
		h.Error = clean("insufficient memory: " + strings.TrimSpace(strings.TrimPrefix(line, "#")))
	case "heap":
		if strings.TrimSpace(line) != "" && len(h.Heap) < maxHeapLines {
			h.Heap = append(h.Heap, clean(line))
			return
		}
	}
	p.pending = ""
	if c, found := strings.CutPrefix(line, "#"); found {
		c = strings.TrimSpace(c)
		switch {
		case h.Signal == "" && h.Error == "" && isSignalLine(c):
			h.parseSignal(c)
		case h.Error == "" && h.Signal == "" && (strings.HasPrefix(c, "Internal Error (") || strings.HasPrefix(c, "Out of Memory Error (")):
			h.parseInternal(c)
			p.pending = "internal"
		case h.Error == "" && h.Signal == "" && strings.HasPrefix(c, "There is insufficient memory for the Java Runtime Environment"):
			h.Error = "insufficient memory:"
			p.pending = "insufficient"
		case h.JREVersion == "" && strings.HasPrefix(c, "JRE version:"):
			h.JREVersion = clean(strings.TrimPrefix(c, "JRE version:"))
		case h.JavaVM == "" && strings.HasPrefix(c, "Java VM:"):
			h.JavaVM = clean(strings.TrimPrefix(c, "Java VM:"))
		case h.ProblematicFrame == "" && c == "Problematic frame:":
			p.pending = "frame"
		case (h.PID == "" || h.TID == "") && strings.Contains(c, "pid=") && strings.Contains(c, "tid="):
			// "Out of Memory Error (os_linux.cpp:2750), pid=..., tid=..."
			// after an "insufficient memory" block.
			h.PID, h.TID = clean(field(c, "pid=")), clean(field(c, "tid="))
		}
		return
	}
	switch {
	case h.Thread == "" && strings.HasPrefix(line, "Current thread ("):
		if _, rest, found := strings.Cut(line, "):"); found {
			h.Thread = clean(rest)
		}
	case h.Time == "" && (strings.HasPrefix(line, "Time: ") || strings.HasPrefix(line, "time: ")):
		v := line[len("Time: "):]
		if t, el, found := strings.Cut(v, " elapsed time:"); found {
			h.Time, h.Elapsed = clean(t), clean(firstWord(el))
		} else {
			h.Time = clean(v)
		}
	case h.Elapsed == "" && strings.HasPrefix(line, "elapsed time: "):
		h.Elapsed = clean(firstWord(line[len("elapsed time: "):]))
	case h.CommandLine == "" && strings.HasPrefix(line, "Command Line: "):
		h.CommandLine = secret.CommandLine(clean(line[len("Command Line: "):]))
	case h.Heap == nil && strings.TrimSpace(line) == "Heap:":
		h.Heap = []string{}
		p.pending = "heap"
	}
}

// isSignalLine matches "SIGSEGV (0xb) at pc=...", and the Windows form
// "EXCEPTION_ACCESS_VIOLATION (0xc0000005) at pc=...".
func isSignalLine(c string) bool {
	name, _, found := strings.Cut(c, " (0x")
	return found && strings.Contains(c, " at pc=") && (strings.HasPrefix(name, "SIG") || strings.HasPrefix(name, "EXCEPTION_")) && !strings.ContainsAny(name, " \t")
}

func (h *HsErr) parseSignal(c string) {
	name, _, _ := strings.Cut(c, " ")
	h.Signal = clean(name)
	h.PC = clean(field(c, "pc="))
	h.PID = clean(field(c, "pid="))
	h.TID = clean(field(c, "tid="))
}

func (h *HsErr) parseInternal(c string) {
	what, _, _ := strings.Cut(c, ", pid=")
	h.PID = clean(field(c, "pid="))
	h.TID = clean(field(c, "tid="))
	h.Error = clean(what)
}

// field returns the value after key up to the next comma or space.
func field(s, key string) string {
	i := strings.Index(s, key)
	if i < 0 {
		return ""
	}
	v := s[i+len(key):]
	if j := strings.IndexAny(v, ", \t"); j >= 0 {
		v = v[:j]
	}
	return v
}

func firstWord(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// clean makes a value single-line, printable, valid UTF-8 and bounded.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r == '\t' {
			return ' '
		}
		if !unicode.IsPrint(r) && r != ' ' {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > maxValue {
		s = strings.TrimSpace(strings.ToValidUTF8(s[:maxValue], ""))
	}
	return s
}

// Extra returns the summary as header facts (empty values left out).
func (h HsErr) Extra() map[string]string {
	m := map[string]string{}
	for k, v := range map[string]string{
		"signal": h.Signal, "pc": h.PC, "pid": h.PID, "tid": h.TID, "error": h.Error,
		"jre_version": h.JREVersion, "java_vm": h.JavaVM, "problematic_frame": h.ProblematicFrame,
		"thread": h.Thread, "time": h.Time, "elapsed": h.Elapsed, "command_line": h.CommandLine,
	} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

// Hprof is the header of a heap dump: "JAVA PROFILE 1.0.2\0", the
// identifier size (u4) and the dump time in milliseconds (u8), big-endian.
type Hprof struct {
	Format string
	IDSize int
	Time   time.Time
}

// ParseHprof reads a heap dump header.
func ParseHprof(head []byte) (Hprof, bool) {
	if !bytes.HasPrefix(head, []byte("JAVA PROFILE ")) {
		return Hprof{}, false
	}
	i := bytes.IndexByte(head, 0)
	if i < 0 || i > 32 || len(head) < i+1+12 {
		return Hprof{}, false
	}
	h := Hprof{Format: clean(string(head[:i]))}
	h.IDSize = int(binary.BigEndian.Uint32(head[i+1:]))
	ms := binary.BigEndian.Uint64(head[i+5:])
	if ms < 1<<62 {
		h.Time = time.UnixMilli(int64(ms)).UTC()
	}
	return h, true
}

// Extra returns the header as header facts.
func (h Hprof) Extra() map[string]string {
	m := map[string]string{"hprof_format": h.Format, "id_size": strconv.Itoa(h.IDSize)}
	if !h.Time.IsZero() {
		m["time"] = h.Time.Format(time.RFC3339Nano)
	}
	return m
}
