package kmsg

import (
	"bytes"
	"context"
	"hash/fnv"
	"os"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/pipeline"
)

// klogState fingerprints the last shipped line of the syslog(2) text: its
// timestamp and the hashes of the last few lines up to it, oldest first.
// The empty state means "before the first line".
type klogState struct {
	Usec   int64    `json:"usec"`
	Hashes []uint64 `json:"hashes,omitempty"`
}

// klogFingerprint is how many trailing lines identify a position, so that
// a repeated line does not match in the wrong place.
const klogFingerprint = 4

// klogLine is one line of syslog(2) text.
type klogLine struct {
	raw  []byte // without '\n'
	hash uint64
	rec  record
}

func splitKlog(text []byte) []klogLine {
	var out []klogLine
	for len(text) > 0 {
		var l []byte
		if i := bytes.IndexByte(text, '\n'); i >= 0 {
			l, text = text[:i], text[i+1:]
		} else {
			l, text = text, nil
		}
		if len(l) == 0 {
			continue
		}
		h := fnv.New64a()
		h.Write(l)
		out = append(out, klogLine{raw: l, hash: h.Sum64(), rec: parseSyslogLine(l)})
	}
	return out
}

// stateAt is the fingerprint of lines[:end].
func stateAt(lines []klogLine, end int) klogState {
	if end == 0 {
		return klogState{}
	}
	st := klogState{Usec: lines[end-1].rec.Usec}
	for i := max(0, end-klogFingerprint); i < end; i++ {
		st.Hashes = append(st.Hashes, lines[i].hash)
	}
	return st
}

// resume finds where lines continue after the state st. found is false
// when the fingerprinted line is no longer in the buffer (overwritten, or
// the buffer was cleared); start is then the first line newer than it.
func resume(lines []klogLine, st klogState) (start int, found bool) {
	if len(st.Hashes) == 0 {
		return 0, true
	}
	last := len(st.Hashes) - 1
	for i := len(lines) - 1; i >= 0; i-- {
		if lines[i].hash != st.Hashes[last] {
			continue
		}
		ok := true
		for k := 1; k <= last && i-k >= 0; k++ {
			if lines[i-k].hash != st.Hashes[last-k] {
				ok = false
				break
			}
		}
		if ok {
			return i + 1, true
		}
	}
	if st.Usec == 0 {
		return 0, false // no timestamps (printk.time=0): resend rather than lose
	}
	for i, l := range lines {
		if l.rec.Usec > st.Usec {
			return i, false
		}
	}
	return len(lines), false
}

// syslog(2) actions (linux/include/linux/syslog.h).
const (
	syslogActionReadAll    = 3
	syslogActionSizeBuffer = 10
)

// readKlog reads the whole kernel log buffer as syslog(2) text into *buf.
func (s *Source) readKlog(buf *[]byte) ([]byte, error) {
	n, err := s.Klogctl(syslogActionSizeBuffer, nil)
	if err != nil {
		return nil, os.NewSyscallError("syslog(SYSLOG_ACTION_SIZE_BUFFER)", err)
	}
	// The text carries a "<6>[    1.234567] " prefix the ring does not
	// store; room for twice the ring is plenty.
	if want := 2*n + 4096; len(*buf) < want {
		*buf = make([]byte, want)
	}
	n, err = s.Klogctl(syslogActionReadAll, *buf)
	if err != nil {
		return nil, os.NewSyscallError("syslog(SYSLOG_ACTION_READ_ALL)", err)
	}
	return (*buf)[:max(0, min(n, len(*buf)))], nil
}

// klog polls syslog(2) until ctx ends. first is the text read when the
// mode was chosen.
func (r *run) klog(ctx context.Context, first []byte) error {
	s := r.s
	m := anchorMeta[klogState]{BootID: r.bootID, Mode: ModeKlogctl}
	info := pipeline.StreamInfo{ID: r.streamID + "-klogctl", Kind: archive.KindKmsg, Unit: archive.UnitRecords}

	pos, a, found, err := resumeAnchors(r, info.ID, &m) // pos: the next position
	var cur klogState                                   // fingerprint of the line before pos
	var skip int64                                      // lines after cur already committed (an anchor older than the committed position)
	unknown := false                                    // committed position without an anchor: the next lines follow a possible gap
	if err != nil {
		s.log.Warn("kmsg: unreadable klogctl checkpoint metadata; resending the whole buffer", "err", err)
	}
	if found {
		cur, skip = a.State, pos-a.Pos
	} else if pos > 0 {
		unknown = true
	}
	info.Meta = m.json()
	st := r.out.Open(info, pos)
	defer st.Flush()

	var buf []byte
	text := first
	var lastErr string
	for {
		if text == nil {
			t, err := s.readKlog(&buf)
			if err != nil {
				if err.Error() != lastErr {
					s.log.Warn("kmsg: syslog(2) read failed; retrying", "err", err)
					lastErr = err.Error()
				}
			} else {
				text, lastErr = t, ""
			}
		}
		if text != nil {
			lines := splitKlog(text)
			start, found := resume(lines, cur)
			if found && skip > 0 {
				start = min(len(lines), start+int(skip))
			}
			if start < len(lines) {
				gap := !found || unknown
				if err := r.klogPieces(ctx, st, &m, lines, start, &pos, gap); err != nil {
					return nil
				}
				cur, skip, unknown = stateAt(lines, len(lines)), 0, false
			}
		}
		text = nil
		if !wait(ctx, s.PollInterval) {
			return nil
		}
	}
}

// klogPieces writes lines[start:] at *pos (one position later after a
// gap, so the pipeline sees the jump) in pieces of at most about
// maxPieceBytes, each with its anchor, and advances *pos.
func (r *run) klogPieces(ctx context.Context, st pipeline.StreamWriter, m *anchorMeta[klogState], lines []klogLine, start int, pos *int64, gap bool) error {
	s := r.s
	if gap {
		s.log.Warn("kmsg: the last shipped kernel log line is no longer in the syslog(2) buffer: lines may have been lost (overwritten or cleared)", "position", *pos)
		s.m.gaps.Inc()
		*pos++
	}
	var b batch
	b.reset(*pos)
	for i := start; i < len(lines); i++ {
		b.add(&lines[i].rec, r.boot, b.end+1)
		if len(b.data) < maxPieceBytes && i < len(lines)-1 {
			continue
		}
		m.add(b.end, stateAt(lines, i+1), st.Committed())
		st.SetMeta(m.json()) // before Write: the anchor must exist once the piece is durable
		if err := b.write(ctx, st, &s.m); err != nil {
			return err
		}
		*pos = b.end
	}
	return nil
}
