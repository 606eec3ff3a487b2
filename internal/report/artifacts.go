package report

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/logship/logship/internal/schema"
	"github.com/logship/logship/internal/sources/crash"
)

// maxHsErrBytes bounds how much of an hs_err file is read.
const maxHsErrBytes = 16 << 20

// readCrash reads a crash artifact: an hs_err file or a heap dump.
func (r *run) readCrash(in *input) error {
	base := path.Base(in.rel)
	h := r.host(in.app, in.host)
	switch {
	case strings.HasSuffix(base, ".hprof"):
		f, err := os.Open(in.abs)
		if err != nil {
			return err
		}
		defer f.Close()
		head := make([]byte, 64)
		n, _ := io.ReadFull(f, head)
		hp, _ := crash.ParseHprof(head[:n])
		t := hp.Time
		if t.Year() < 2000 || t.Year() > 2200 { // not a time a JVM wrote
			t = time.Time{}
		}
		if t.IsZero() && len(in.segs) > 0 {
			t = in.segs[0].First
		}
		if r.wholeSelected(in, t) {
			r.addHeapDump(HeapDump{Host: h.Name, App: in.app, Path: in.Original(), Size: in.size, Time: t, Local: in.abs})
		}
		return nil
	default:
		f, err := os.Open(in.abs)
		if err != nil {
			return err
		}
		defer f.Close()
		he, ok, err := crash.ReadHsErr(f, maxHsErrBytes)
		if err != nil {
			return err
		}
		if !ok {
			r.problem("%s: a crash artifact that is neither an hs_err file nor a heap dump", in.abs)
			return nil
		}
		c := Crash{Host: h.Name, Path: in.Original(), TimeText: he.Time, Signal: he.Signal, Error: he.Error, PID: he.PID,
			ProblematicFrame: he.ProblematicFrame, Thread: he.Thread, Heap: he.Heap, JREVersion: he.JREVersion,
			CommandLine: he.CommandLine, Elapsed: he.Elapsed}
		c.Time = hsErrTime(he.Time)
		if c.Time.IsZero() && len(in.segs) > 0 {
			c.Time = in.segs[0].First // shipped seconds after it was complete
		}
		if c.Time.IsZero() {
			c.Time = in.mtime.UTC()
		}
		if !r.wholeSelected(in, c.Time) {
			return nil
		}
		r.res.Crashes = append(r.res.Crashes, c)
		what := c.Signal
		if what == "" {
			what = c.Error
		}
		text := "JVM crash: " + what
		if c.PID != "" {
			text += " (pid " + c.PID + ")"
		}
		if c.ProblematicFrame != "" {
			text += " in " + c.ProblematicFrame
		}
		ev := r.event(c.Time, h.Host, KindCrash, SevError, text)
		r.incident(ev, in.hostID())
		return nil
	}
}

// hsErrTime parses "Sun Dec  6 06:50:36 2026 UTC"; a zone other than UTC
// or GMT is ambiguous as an abbreviation, and zero is returned.
func hsErrTime(s string) time.Time {
	t, err := time.Parse("Mon Jan _2 15:04:05 2006 MST", s)
	if err != nil {
		return time.Time{}
	}
	if z, _ := t.Zone(); z != "UTC" && z != "GMT" {
		return time.Time{}
	}
	return t.UTC()
}

func (r *run) addHeapDump(hd HeapDump) {
	if hd.Fetch == "" {
		from := r.opt.From
		if from == "" {
			from = "ARCHIVE"
		}
		hd.Fetch = fmt.Sprintf("logship pull --from %s --app %s --host %s --source crash --path '%s' --out DIR", from, hd.App, hd.Host, path.Base(hd.Path))
		if hd.Local != "" && r.opt.From == "" {
			hd.Fetch = ""
		}
	}
	r.res.HeapDumps = append(r.res.HeapDumps, hd)
	if !hd.Time.IsZero() {
		r.event(hd.Time, &Host{Name: hd.Host}, KindHeapDump, SevWarn, fmt.Sprintf("heap dump %s (%s)", path.Base(hd.Path), schema.HumanBytes(hd.Size)))
	}
}

// runEvent is one line of events.jsonl (FORMATS.md).
type runEvent struct {
	TS         time.Time `json:"ts"`
	Event      string    `json:"event"`
	PID        int       `json:"pid"`
	Cmd        []string  `json:"cmd"`
	ExitCode   int       `json:"exit_code"`
	Signal     string    `json:"signal"`
	CoreDumped bool      `json:"core_dumped"`
	RuntimeMS  int64     `json:"runtime_ms"`
	Abnormal   bool      `json:"abnormal"`
	Trigger    string    `json:"trigger"`
	Key        string    `json:"key"`
}

// readEvents reads the run events of `logship run`.
func (r *run) readEvents(in *input) error {
	f, err := os.Open(in.abs)
	if err != nil {
		return err
	}
	defer f.Close()
	h := r.host(in.app, in.host)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var start, off int64 // of the line scanned, and past it
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		adv, tok, err := bufio.ScanLines(data, atEOF)
		if tok != nil {
			start, off = off, off+int64(adv)
		}
		return adv, tok, err
	})
	sel := lineSelector{r: r, segs: in.segs}
	bad := 0
	for sc.Scan() {
		var e runEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.TS.IsZero() {
			bad++
			continue
		}
		if !sel.at(start, e.TS) {
			continue
		}
		noteSpan(&h.SeenFirst, &h.SeenLast, e.TS)
		cmd := cmdText(e.Cmd)
		switch e.Event {
		case "start":
			if len(h.Starts) < maxStarts {
				h.Starts = append(h.Starts, Start{Time: e.TS, How: "run start", Text: fmt.Sprintf("%s (pid %d)", cmd, e.PID)})
			}
		case "exit":
			x := Exit{Time: e.TS, PID: e.PID, ExitCode: e.ExitCode, Signal: e.Signal, CoreDumped: e.CoreDumped, Abnormal: e.Abnormal, Cmd: cmd}
			if e.RuntimeMS > 0 {
				x.Runtime = (time.Duration(e.RuntimeMS) * time.Millisecond).String()
			}
			if len(h.Exits) < maxStarts {
				h.Exits = append(h.Exits, x)
			}
			text := fmt.Sprintf("exit %d", e.ExitCode)
			if e.Signal != "" {
				text += " (" + e.Signal
				if e.CoreDumped {
					text += ", core dumped"
				}
				text += ")"
			}
			text += " of " + cmd
			if x.Runtime != "" {
				text += " after " + x.Runtime
			}
			sev := SevInfo
			if e.Abnormal {
				sev = SevError
			}
			ev := r.event(e.TS, h.Host, KindExit, sev, text)
			if e.Abnormal {
				r.incident(ev, in.hostID())
			}
		}
	}
	if bad > 0 {
		r.problem("%s: %d lines are not run events", in.abs, bad)
	}
	return sc.Err()
}

func cmdText(cmd []string) string {
	s := strings.Join(cmd, " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return printable([]byte(s))
}

// manifest is the part of a snapshot's manifest.json the report shows.
type manifest struct {
	Version    int       `json:"version"`
	Time       time.Time `json:"time"`
	Trigger    string    `json:"trigger"`
	Note       string    `json:"note"`
	Collectors []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
		Error  string `json:"error"`
	} `json:"collectors"`
	Facts struct {
		MemoryLimit int64 `json:"memory_limit_bytes"`
		MemoryUsage int64 `json:"memory_usage_bytes"`
		OOMKills    int64 `json:"oom_kills"`
		Processes   int64 `json:"processes"`
		JVM         []struct {
			PID            int64  `json:"pid"`
			RSS            int64  `json:"rss_bytes"`
			Threads        int64  `json:"threads"`
			BlockedThreads int64  `json:"blocked_threads"`
			ThreadDump     string `json:"thread_dump"`
		} `json:"jvm"`
	} `json:"facts"`
}

// maxManifestBytes bounds manifest.json; decompression stops there.
const maxManifestBytes = 1 << 20

// readManifest streams a snapshot bundle up to its manifest.json (the
// first entry) and no further.
func readManifest(r io.Reader) (*manifest, error) {
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(64<<20), zstd.WithDecoderMaxWindow(32<<20))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	for i := 0; i < 4; i++ {
		hdr, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("no manifest.json: %w", err)
		}
		if path.Clean(hdr.Name) != "manifest.json" {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, maxManifestBytes+1))
		if err != nil {
			return nil, err
		}
		if len(b) > maxManifestBytes {
			return nil, errors.New("manifest.json larger than 1 MiB")
		}
		var m manifest
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("manifest.json: %w", err)
		}
		return &m, nil
	}
	return nil, errors.New("no manifest.json among the first entries")
}

// readSnapshot summarises a snapshot bundle from its manifest.
func (r *run) readSnapshot(in *input) error {
	h := r.host(in.app, in.host)
	s := Snapshot{Host: h.Name, Path: in.Original()}
	f, err := os.Open(in.abs)
	if err != nil {
		return err
	}
	defer f.Close()
	m, err := readManifest(bufio.NewReader(f))
	if err != nil {
		s.Error = err.Error()
		if len(in.segs) > 0 {
			s.Time = in.segs[0].First
		}
	} else {
		s.Time, s.Trigger, s.Note = m.Time.UTC(), m.Trigger, m.Note
		s.MemLimit, s.MemUsage, s.OOMKills, s.Processes = m.Facts.MemoryLimit, m.Facts.MemoryUsage, m.Facts.OOMKills, m.Facts.Processes
		for _, j := range m.Facts.JVM {
			s.JVMs = append(s.JVMs, SnapshotJVM{PID: j.PID, RSS: j.RSS, Threads: j.Threads, BlockedThreads: j.BlockedThreads, ThreadDump: j.ThreadDump})
		}
		for _, c := range m.Collectors {
			if c.Status != "ok" && len(s.Collectors) < 32 {
				s.Collectors = append(s.Collectors, c.Name+": "+c.Status)
			}
		}
	}
	if !r.wholeSelected(in, s.Time) {
		return nil
	}
	r.res.Snapshots = append(r.res.Snapshots, s)
	r.event(s.Time, h.Host, KindSnapshot, SevInfo, snapshotText(s))
	return nil
}

func snapshotText(s Snapshot) string {
	var b bytes.Buffer
	b.WriteString("snapshot")
	if s.Trigger != "" {
		b.WriteString(" (" + s.Trigger + ")")
	}
	if s.MemLimit > 0 {
		fmt.Fprintf(&b, ": memory %s of %s", schema.HumanBytes(s.MemUsage), schema.HumanBytes(s.MemLimit))
	}
	for _, j := range s.JVMs {
		fmt.Fprintf(&b, "; JVM %d rss %s, %d threads, %d blocked", j.PID, schema.HumanBytes(j.RSS), j.Threads, j.BlockedThreads)
	}
	if s.Error != "" {
		b.WriteString(": unreadable: " + s.Error)
	}
	return b.String()
}
