package kmsg

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/pipeline"
)

// cgroupDir is the memory cgroup watched in cgroup mode.
type cgroupDir struct {
	dir string
	v2  bool
}

func (c cgroupDir) version() string {
	if c.v2 {
		return "v2"
	}
	return "v1"
}

// cgroupSpec says which counters of which file are watched, and which
// files are quoted as context when one moves.
type cgroupSpec struct {
	file    string
	keys    []string
	context []string
}

var (
	specV2 = cgroupSpec{
		file:    "memory.events",
		keys:    []string{"high", "max", "oom", "oom_kill", "oom_group_kill"},
		context: []string{"memory.current", "memory.max", "memory.peak"},
	}
	specV1 = cgroupSpec{
		file:    "memory.oom_control",
		keys:    []string{"under_oom", "oom_kill"},
		context: []string{"memory.usage_in_bytes", "memory.limit_in_bytes", "memory.max_usage_in_bytes"},
	}
)

func (c cgroupDir) spec() cgroupSpec {
	if c.v2 {
		return specV2
	}
	return specV1
}

// findCgroup finds our memory cgroup: v2 (memory.events) before v1
// (memory/memory.oom_control), our own cgroup (from /proc/self/cgroup)
// before the root, which is our own in a cgroup namespace.
func findCgroup(root, selfPath string) (cgroupDir, error) {
	v1rel, v2rel := selfCgroup(selfPath)
	var cands []cgroupDir
	if v2rel != "" {
		cands = append(cands, cgroupDir{dir: filepath.Join(root, v2rel), v2: true})
	}
	cands = append(cands, cgroupDir{dir: root, v2: true})
	if v1rel != "" {
		cands = append(cands, cgroupDir{dir: filepath.Join(root, "memory", v1rel)})
	}
	cands = append(cands, cgroupDir{dir: filepath.Join(root, "memory")}, cgroupDir{dir: root})
	for _, c := range cands {
		if _, err := os.Stat(filepath.Join(c.dir, c.spec().file)); err == nil {
			return c, nil
		}
	}
	return cgroupDir{}, fmt.Errorf("no memory cgroup under %s (no memory.events, no memory/memory.oom_control)", root)
}

// selfCgroup returns our cgroup paths relative to the hierarchy roots
// from /proc/self/cgroup: the v1 memory controller's and the v2 one's.
func selfCgroup(path string) (v1, v2 string) {
	if path == "" {
		return "", ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", ""
	}
	for line := range strings.Lines(string(b)) {
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 || strings.Contains(parts[2], "..") || parts[2] == "/" {
			continue // "/../x": outside our cgroup namespace
		}
		if parts[0] == "0" && parts[1] == "" {
			v2 = parts[2]
		}
		for c := range strings.SplitSeq(parts[1], ",") {
			if c == "memory" {
				v1 = parts[2]
			}
		}
	}
	return v1, v2
}

// readCounters parses "key value" lines.
func readCounters(path string) (map[string]int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			out[k] = n
		}
	}
	return out, nil
}

// cgroup polls the memory cgroup's OOM counters until ctx ends.
func (r *run) cgroup(ctx context.Context, cg cgroupDir) error {
	s := r.s
	spec := cg.spec()
	m := anchorMeta[map[string]int64]{BootID: r.bootID, Mode: ModeCgroup, Cgroup: cg.dir}
	info := pipeline.StreamInfo{ID: r.streamID + "-cgroup", Kind: archive.KindKmsg, Path: filepath.Join(cg.dir, spec.file), Unit: archive.UnitRecords}

	cur := map[string]int64{} // counters as of pos; zero before the first line
	pos, a, found, err := resumeAnchors(r, info.ID, &m)
	if err != nil {
		s.log.Warn("kmsg: unreadable cgroup checkpoint metadata; counters are reported from zero", "err", err)
	}
	if found && a.State != nil {
		cur = maps.Clone(a.State)
	} else if pos > 0 && !found {
		s.log.Warn("kmsg: no cgroup counters saved for the committed position; counters are reported from zero", "position", pos)
	}
	info.Meta = m.json()
	st := r.out.Open(info, pos)
	defer st.Flush()

	var lastErr string
	for {
		vals, err := readCounters(filepath.Join(cg.dir, spec.file))
		if err != nil {
			if err.Error() != lastErr {
				s.log.Warn("kmsg: reading cgroup counters failed; retrying", "err", err)
				lastErr = err.Error()
			}
		} else {
			lastErr = ""
			var b batch
			b.reset(pos)
			next := maps.Clone(cur)
			var note []byte
			noted := false
			for _, k := range spec.keys {
				v, ok := vals[k]
				if !ok || v == cur[k] {
					continue
				}
				if !noted {
					note, noted = cgroupContext(cg.dir, spec), true
				}
				old := cur[k]
				b.data = s.Now().UTC().AppendFormat(b.data, timeLayout)
				b.data = fmt.Appendf(b.data, " cgroup %s %s %d -> %d", spec.file, k, old, v)
				if len(note) > 0 {
					b.data = fmt.Appendf(b.data, " (%s)", note)
				}
				b.data = append(b.data, '\n')
				b.lines++
				b.end++
				if (k == "oom_kill" || k == "oom_group_kill") && v > old {
					b.event = archive.EventOOMKill
					if k == "oom_kill" {
						b.kills += v - old
					}
				}
				next[k] = v
			}
			if !b.empty() {
				m.add(b.end, next, st.Committed())
				st.SetMeta(m.json()) // before Write: the anchor must exist once the piece is durable
				if err := b.write(ctx, st, &s.m); err != nil {
					return nil
				}
				pos, cur = b.end, next
			}
		}
		if !wait(ctx, s.PollInterval) {
			return nil
		}
	}
}

// cgroupContext reads the usage and limit files quoted on each line,
// e.g. "memory.current=123 memory.max=max memory.peak=456".
func cgroupContext(dir string, spec cgroupSpec) []byte {
	var b []byte
	for _, f := range spec.context {
		v, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			continue
		}
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = append(b, f...)
		b = append(b, '=')
		b = append(b, bytes.TrimSpace(v)...)
	}
	return b
}
