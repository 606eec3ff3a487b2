package report

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"time"
)

// Bounds of the log reader.
const (
	readBuffer  = 256 << 10 // also the longest line read whole; the rest of a longer one is skipped
	sniffBytes  = 64 << 10
	maxMsgBytes = 1 << 10 // first line of a record kept for templates and samples
)

// logRec is the record being assembled; its buffers are reused.
type logRec struct {
	open    bool
	off     int64 // where its first line starts
	t       time.Time
	timed   bool // t came from the record's own timestamp
	level   int
	julWait bool // JUL: the level is on the next line
	msg     []byte
	exc     []byte // the exception class (first found)
	root    []byte // the last "Caused by:" class
	trace   []byte
	tlines  int
}

func (rec *logRec) reset() {
	rec.open, rec.t, rec.timed, rec.level, rec.julWait = false, time.Time{}, false, LevelOther, false
	rec.msg, rec.exc, rec.root, rec.trace, rec.tlines = rec.msg[:0], rec.exc[:0], rec.root[:0], rec.trace[:0], 0
}

func (rec *logRec) setMsg(b []byte) {
	rec.msg = append(rec.msg[:0], b[:min(len(b), maxMsgBytes)]...)
}

func (rec *logRec) addTrace(line []byte) {
	if rec.tlines < maxTraceLines && len(rec.trace)+len(line) < maxTraceBytes {
		rec.trace = append(rec.trace, line...)
		rec.trace = append(rec.trace, '\n')
		rec.tlines++
	}
}

// continuation takes a line after the record's first.
func (rec *logRec) continuation(line []byte) {
	if rec.tlines == 0 {
		rec.addTrace(rec.msg)
	}
	rec.addTrace(line)
	if len(line) == 0 || line[0] == ' ' || line[0] == '\t' {
		return
	}
	if c := exceptionClass(line, false); c != nil {
		if bytes.HasPrefix(line, []byte("Caused by: ")) {
			rec.root = append(rec.root[:0], c...)
		} else if len(rec.exc) == 0 {
			rec.exc = append(rec.exc[:0], c...)
		}
	}
}

// fileRun is the reading of one log file.
type fileRun struct {
	r     *run
	in    *input
	h     *hostAcc
	lf    LogFile
	fm    format
	zone  zoneRule
	clock ingestClock
	sel   lineSelector
	rec   logRec
	// zoneless counts record heads whose time carried no zone.
	zoneless int64
}

// readLog streams one application log file.
func (r *run) readLog(ctx context.Context, in *input) error {
	f, err := os.Open(in.abs)
	if err != nil {
		return err
	}
	defer f.Close()
	fr := &fileRun{r: r, in: in, h: r.host(in.app, in.host), clock: ingestClock{segs: in.segs}, sel: lineSelector{r: r, segs: in.segs}}
	fr.lf = LogFile{Host: fr.h.Name, Source: in.source, Path: in.Original(), Bytes: in.size}
	br := bufio.NewReaderSize(f, readBuffer)
	head, _ := br.Peek(sniffBytes)
	fr.fm = detect(head)
	fr.lf.Format = fr.fm.name
	fr.zone = r.zoneFor(f, fr.fm, in)
	defer r.addFile(fr)
	if fr.fm.name == FormatBinary || fr.fm.name == FormatEmpty {
		return nil
	}
	fr.rec.reset()
	var off int64
	for n := 0; ; n++ {
		if n&4095 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		line, err := br.ReadSlice('\n')
		size := int64(len(line))
		if err == bufio.ErrBufferFull {
			for err == bufio.ErrBufferFull { // a longer line: its head is enough
				var more []byte
				more, err = br.ReadSlice('\n')
				size += int64(len(more))
			}
		}
		if len(line) > 0 {
			fr.lf.Lines++
			line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte{'\n'}), []byte{'\r'})
			if len(line) > 0 && line[0] == 0 { // the hole a copytruncate leaves
				line = bytes.TrimLeft(line, "\x00")
			}
			fr.line(line, off)
		}
		off += size
		if err == io.EOF {
			break
		}
		if err != nil {
			fr.flush()
			return err
		}
	}
	fr.flush()
	return nil
}

// zoneFor chooses the zone of a file's zone-less timestamps.
func (r *run) zoneFor(f *os.File, fm format, in *input) zoneRule {
	if r.loc != nil {
		return zoneRule{loc: r.loc, label: r.loc.String() + " (--tz)"}
	}
	if fm.stamp == stampNone {
		return zoneRule{}
	}
	if z, ok := guessZone(f, fm, in.segs); ok {
		return z
	}
	if len(in.segs) == 0 {
		return zoneRule{label: "UTC (assumed: no ingest times to guess from; see --tz)"}
	}
	return zoneRule{label: "UTC (assumed: ingest times far from the log's; see --tz)"}
}

func (fr *fileRun) line(line []byte, off int64) {
	rec := &fr.rec
	if fr.fm.name == FormatJSON {
		fr.flush()
		jr, ok := parseJSONLine(line)
		rec.open, rec.off = true, off
		if !ok {
			rec.t, rec.level = fr.clock.at(off), LevelOther
			rec.setMsg(line)
			fr.flush()
			return
		}
		rec.t, rec.timed, rec.level = jr.t, !jr.t.IsZero(), jr.level
		if rec.t.IsZero() {
			rec.t = fr.clock.at(off)
		}
		rec.setMsg([]byte(jr.msg))
		if c := exceptionClass([]byte(jr.msg), true); c != nil && (rec.level == LevelError || rec.level == LevelWarn) {
			rec.exc = append(rec.exc[:0], c...)
		}
		for _, l := range strings.Split(jr.stack, "\n") {
			if l != "" {
				rec.continuation([]byte(l))
			}
		}
		fr.flush()
		return
	}
	if fr.fm.stamp != stampNone {
		if h, ok := fr.fm.parseHead(line); ok {
			fr.flush()
			ingest := fr.clock.at(off)
			rec.open, rec.off, rec.level = true, off, h.level
			rec.t = fr.zone.at(h.st, ingest)
			if !h.st.hasZone {
				fr.zoneless++
			}
			rec.timed = !rec.t.IsZero()
			if rec.t.IsZero() {
				rec.t = ingest
			}
			rec.setMsg(h.msg)
			rec.julWait = fr.fm.name == FormatJUL
			return
		}
		if rec.open && rec.julWait {
			rec.julWait = false
			if lv, msg, ok := julLevel(line); ok {
				rec.level = lv
				src := append([]byte(nil), rec.msg...)
				rec.setMsg(msg)
				rec.msg = append(append(rec.msg, " ("...), src...)
				rec.msg = append(rec.msg, ')')
				return
			}
		}
		if rec.open {
			rec.continuation(line)
			return
		}
	} else if rec.open && isContinuation(line) {
		rec.continuation(line)
		return
	}
	// A line that starts no record of the format: a record of its own,
	// at its ingest time, with a level if one stands near its start.
	fr.flush()
	rec.open, rec.off, rec.t = true, off, fr.clock.at(off)
	rec.level, _ = findLevel(line, 64)
	rec.setMsg(line)
}

// flush ends the record being assembled and counts it.
func (fr *fileRun) flush() {
	rec := &fr.rec
	if !rec.open {
		return
	}
	defer rec.reset()
	r, h := fr.r, fr.h
	t := rec.t
	if !fr.sel.at(rec.off, t) {
		return
	}
	lf := &fr.lf
	lf.Records++
	lf.Levels[rec.level]++
	h.Records++
	h.Levels[rec.level]++
	if t.IsZero() {
		lf.Untimed++
	} else {
		noteSpan(&lf.First, &lf.Last, t)
		if rec.timed {
			noteSpan(&h.SeenFirst, &h.SeenLast, t)
		}
		h.Histogram.add(t, rec.level)
	}
	if how := startBanner(rec.msg); how != "" && len(h.Starts) < maxStarts && !t.IsZero() {
		h.Starts = append(h.Starts, Start{Time: t, How: how, Text: sample(rec.msg)})
	}
	if rec.level != LevelError && rec.level != LevelWarn && len(rec.exc) == 0 {
		return
	}
	if rec.level == LevelError || rec.level == LevelWarn {
		r.tmpl.add(rec.level, rec.msg, t, h.Name)
		if len(rec.exc) == 0 {
			if c := exceptionClass(rec.msg, true); c != nil {
				rec.exc = append(rec.exc[:0], c...)
			}
		}
	}
	if len(rec.exc) > 0 {
		trace := rec.trace
		if len(trace) == 0 {
			trace = rec.msg
		}
		r.exc.add(rec.exc, rec.root, trace, t, h.Name)
	}
	if rec.level == LevelError {
		if h.firstErr.Time.IsZero() || (!t.IsZero() && t.Before(h.firstErr.Time)) {
			h.firstErr = ErrorLine{Time: t, File: fr.in.Original(), Text: sample(rec.msg)}
		}
		r.noteError(fr.in.hostID(), t, fr.in.Original(), rec.msg)
	}
}

// maxFiles caps the per-file rows of the result.
const maxFiles = 2000

func (r *run) addFile(fr *fileRun) {
	if fr.zoneless > 0 {
		fr.lf.Zone = fr.zone.label
	}
	h := fr.h
	h.Lines += fr.lf.Lines
	h.Bytes += fr.lf.Bytes
	if len(r.res.Files) >= maxFiles {
		r.res.FilesDropped++
		return
	}
	r.res.Files = append(r.res.Files, fr.lf)
}
