package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// segment is one chunk's part of a pulled file, as pull records it in
// OUT/.logship-pull/state.json: where its bytes sit and when the agent
// read them (the chunk's first and last ingest time).
type segment struct {
	Off   int64     `json:"off"`
	Len   int64     `json:"len"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

// pullState is the part of pull's state file the report reads.
type pullState struct {
	Files map[string]struct {
		Final *struct {
			Segments []segment `json:"segments"`
		} `json:"final"`
	} `json:"files"`
}

const pullStateFile = ".logship-pull/state.json"

// loadSegments reads the ingest times pull recorded, by output name
// (APP/HOST/SOURCE/path). A folder not written by pull has none.
func loadSegments(dir string) (map[string][]segment, error) {
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(pullStateFile)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st pullState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", pullStateFile, err)
	}
	out := make(map[string][]segment, len(st.Files))
	for name, f := range st.Files {
		if f.Final == nil || len(f.Final.Segments) == 0 {
			continue
		}
		s := f.Final.Segments
		sort.Slice(s, func(i, j int) bool { return s[i].Off < s[j].Off })
		out[name] = s
	}
	return out, nil
}

// ingestClock maps byte offsets of a file to ingest times, walking its
// segments forward as the file is read.
type ingestClock struct {
	segs []segment
	i    int
}

// at returns the ingest time of the byte at off (interpolated inside its
// chunk), or zero when unknown.
func (c *ingestClock) at(off int64) time.Time {
	for c.i < len(c.segs) && off >= c.segs[c.i].Off+c.segs[c.i].Len {
		c.i++
	}
	if c.i >= len(c.segs) {
		if len(c.segs) > 0 {
			return c.segs[len(c.segs)-1].Last
		}
		return time.Time{}
	}
	s := c.segs[c.i]
	if off < s.Off || s.Len <= 0 {
		return s.First
	}
	span := s.Last.Sub(s.First)
	return s.First.Add(time.Duration(float64(span) * float64(off-s.Off) / float64(s.Len)))
}

// guessZone finds the zone of timestamps written without one: the agent
// reads a log within seconds of its writing, so the ingest time of a
// chunk's last bytes minus the naive time of the last record in it is the
// zone offset (rounded to 15 minutes). The median over up to 16 chunks
// is taken; a file read long after it was written (an old file found at
// the first start) gives no sane offset and UTC is assumed.
func guessZone(f *os.File, fm format, segs []segment) (zoneRule, bool) {
	if len(segs) == 0 {
		return zoneRule{}, false
	}
	step := max(1, len(segs)/16)
	var deltas []time.Duration
	buf := make([]byte, 16<<10)
	for i := len(segs) - 1; i >= 0 && len(deltas) < 16; i -= step {
		s := segs[i]
		end := s.Off + s.Len
		start := max(s.Off, end-int64(len(buf)))
		n, _ := f.ReadAt(buf[:end-start], start)
		b := buf[:n]
		var last stamp
		found := false
		for len(b) > 0 {
			line := b
			if j := bytes.IndexByte(b, '\n'); j >= 0 {
				line, b = b[:j], b[j+1:]
			} else {
				b = nil
			}
			if h, ok := fm.parseHead(line); ok && h.st.y != 0 && !h.st.hasZone {
				last, found = h.st, true
			}
		}
		if found {
			deltas = append(deltas, zoneRule{}.naive(last).Sub(s.Last))
		}
	}
	if len(deltas) == 0 {
		return zoneRule{}, false
	}
	sort.Slice(deltas, func(i, j int) bool { return deltas[i] < deltas[j] })
	med := deltas[len(deltas)/2]
	off := med.Round(15 * time.Minute)
	if off > 14*time.Hour || off < -12*time.Hour || (med-off).Abs() > 2*time.Minute {
		return zoneRule{}, false
	}
	return zoneRule{off: int(off / time.Second), label: "UTC" + offsetText(int(off/time.Second)) + " (guessed from ingest times)"}, true
}

func offsetText(sec int) string {
	sign := '+'
	if sec < 0 {
		sign, sec = '-', -sec
	}
	return fmt.Sprintf("%c%02d:%02d", sign, sec/3600, sec%3600/60)
}
