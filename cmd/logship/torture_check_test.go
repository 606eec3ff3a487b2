package main

// What the torture run checks: how much of each generation the bucket
// holds while it runs (the writers' and the killer's gates), and at the
// end what `logship pull` rebuilds against what the writers wrote.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/osstest"
	"github.com/logship/logship/internal/retrieve"
)

// durableIndex follows the chunks in osstest: for every stream, the ranges
// stored and, from its first chunk, its first line. It reads each object
// once.
type durableIndex struct {
	srv *osstest.Server

	mu     sync.Mutex
	seen   map[string]string     // key → ETag
	ranges map[string][][2]int64 // stream → [start, end) of its chunks
	first  map[string][]string   // first line → streams starting with it
	at     time.Time             // last refresh
}

func newDurableIndex(srv *osstest.Server) *durableIndex {
	return &durableIndex{srv: srv, seen: map[string]string{}, ranges: map[string][][2]int64{}, first: map[string][]string{}}
}

// refresh reads the objects stored since the last call, at most every
// 200ms after the end of the last one: listing tens of thousands of
// objects takes a while, and a check of every generation must not list
// them once each.
func (d *durableIndex) refresh() error {
	if time.Since(d.at) < 200*time.Millisecond {
		return nil
	}
	defer func() { d.at = time.Now() }()
	for _, o := range d.srv.Objects(e2eBucket) {
		if d.seen[o.Key] == o.ETag {
			continue
		}
		body, meta, ok := d.srv.Get(e2eBucket, o.Key)
		if !ok {
			continue
		}
		h, err := archive.HeaderFromMeta(meta)
		if err != nil {
			return fmt.Errorf("%s: %w", o.Key, err)
		}
		if h.Start == 0 {
			_, raw, err := archive.Decode(body, archive.Limits{})
			if err != nil {
				return fmt.Errorf("%s: %w", o.Key, err)
			}
			line := string(raw[:bytes.IndexByte(raw, '\n')+1])
			if _, known := d.ranges[h.Stream]; !known || !contains(d.first[line], h.Stream) {
				d.first[line] = append(d.first[line], h.Stream)
			}
		}
		d.seen[o.Key] = o.ETag
		d.ranges[h.Stream] = append(d.ranges[h.Stream], [2]int64{h.Start, h.End})
	}
	return nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// durable returns how many bytes from the start of the generation whose
// first line is first are stored without a hole (the longest of its
// streams, should there be several).
func (d *durableIndex) durable(first string) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.refresh(); err != nil {
		return 0, err
	}
	best := int64(0)
	for _, id := range d.first[first] {
		rs := append([][2]int64(nil), d.ranges[id]...)
		sort.Slice(rs, func(i, j int) bool { return rs[i][0] < rs[j][0] })
		end := int64(0)
		for _, r := range rs {
			if r[0] > end {
				break
			}
			end = max(end, r[1])
		}
		best = max(best, end)
	}
	return int(best), nil
}

// streams returns the ids of the streams whose first line is first.
func (d *durableIndex) streams(first string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.refresh(); err != nil {
		return nil, err
	}
	return append([]string(nil), d.first[first]...), nil
}

// checkpointed returns the largest position the agent's checkpoint file in
// state records for any of ids (0 when it cannot be read: a save is
// renaming it, or none yet).
func checkpointed(state string, ids []string) int64 {
	b, err := os.ReadFile(filepath.Join(state, "checkpoints.json"))
	if err != nil {
		return 0
	}
	var st struct {
		Streams []struct {
			ID        string `json:"id"`
			Committed int64  `json:"committed"`
		} `json:"streams"`
	}
	if json.Unmarshal(b, &st) != nil {
		return 0
	}
	var best int64
	for _, e := range st.Streams {
		if contains(ids, e.ID) {
			best = max(best, e.Committed)
		}
	}
	return best
}

// abandonLine matches the agent's log lines for bytes it gave up on (each
// line adds its amount to logship_file_bytes_abandoned_total).
var abandonLine = regexp.MustCompile(`msg="(?:file abandoned before it was read to the end|file truncated before it was read to the end|bytes written between the copy and the truncation are lost)".*? path=(\S+) .*?(?:unread_bytes|bytes)=(\d+)`)

// abandonedInLogs sums the bytes the agent's logs say it abandoned, in
// total and by path.
func abandonedInLogs(log string) (int64, map[string]int64) {
	byPath := map[string]int64{}
	var total int64
	for _, m := range matchLines(log, "level=WARN", abandonLine) {
		n, _ := strconv.ParseInt(m[2], 10, 64)
		p, err := strconv.Unquote(m[1])
		if err != nil {
			p = m[1]
		}
		byPath[p] += n
		total += n
	}
	return total, byPath
}

var retryLine = regexp.MustCompile(`msg="upload failed; retrying".* attempt=(\d+) retry_in=(\S+)`)

// retrySummary tells how long the agent's upload retries have waited: the
// most attempts of one chunk and the longest wait.
func retrySummary(log string) string {
	attempts, longest := 0, time.Duration(0)
	ms := matchLines(log, "upload failed; retrying", retryLine)
	for _, m := range ms {
		n, _ := strconv.Atoi(m[1])
		d, _ := time.ParseDuration(m[2])
		attempts, longest = max(attempts, n), max(longest, d)
	}
	return fmt.Sprintf("%d upload retries logged, at most %d attempts for one chunk, longest wait %v", len(ms), attempts, longest)
}

// matchLines returns re's submatches in the lines of log that contain
// word (the logs of a long run are tens of MB: the regexp only sees the
// lines that may match).
func matchLines(log, word string, re *regexp.Regexp) [][]string {
	var out [][]string
	for len(log) > 0 {
		i := strings.Index(log, word)
		if i < 0 {
			break
		}
		start := strings.LastIndexByte(log[:i], '\n') + 1
		end := strings.IndexByte(log[i:], '\n')
		if end < 0 {
			end = len(log) - i
		}
		if m := re.FindStringSubmatch(log[start : i+end]); m != nil {
			out = append(out, m)
		}
		log = log[min(i+end+1, len(log)):]
	}
	return out
}

// scrapeAbandoned reads logship_file_bytes_abandoned_total, summed over the
// sources, from the agent's metrics endpoint.
func scrapeAbandoned(addr string) (int64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	var total int64
	found := false
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "logship_file_bytes_abandoned_total{") {
			continue
		}
		f := strings.Fields(line)
		n, err := strconv.ParseInt(f[len(f)-1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("metrics line %q: %w", line, err)
		}
		total += n
		found = true
	}
	if !found {
		return 0, fmt.Errorf("no logship_file_bytes_abandoned_total in the metrics")
	}
	return total, nil
}

// pulledFile is one file `logship pull --split-generations` wrote.
type pulledFile struct {
	path string
	data []byte
}

// readPulled maps the first line of every pulled file to the files that
// start with it (more than one is a generation shipped twice).
func readPulled(out string) (map[string][]pulledFile, error) {
	got := map[string][]pulledFile{}
	err := filepath.WalkDir(out, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && e.Name() == ".logship-pull" {
			return filepath.SkipDir
		}
		if !e.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		first := string(b[:bytes.IndexByte(b, '\n')+1])
		got[first] = append(got[first], pulledFile{path: p, data: b})
		return nil
	})
	return got, err
}

// tortureVerdict is the comparison of the pull with the writers.
type tortureVerdict struct {
	generations int
	bytes       int64
	abandoned   int64 // bytes missing from the end of abandonable generations
	problems    []string
}

// compare checks every written generation against the pull: whole and
// once, or, for an abandonable one, a prefix (what is missing is counted
// as abandoned). pullSum is pull's JSON summary: it must report no
// problem (a gap would be a hole in the middle of a stream, and abandoning
// only ever cuts a generation's end).
func compare(gens []*generation, got map[string][]pulledFile, pullSum *retrieve.Summary) tortureVerdict {
	var v tortureVerdict
	add := func(f string, a ...any) { v.problems = append(v.problems, fmt.Sprintf(f, a...)) }
	for _, p := range pullSum.Problems {
		add("pull reported %s", p)
	}
	known := map[string]bool{}
	for _, g := range gens {
		known[g.first] = true
		v.generations++
		v.bytes += int64(len(g.data))
		files := got[g.first]
		if len(files) > 1 {
			var names []string
			for _, f := range files {
				names = append(names, f.path)
			}
			add("generation %d of %s shipped as %d streams: %s", g.n, g.writer, len(files), strings.Join(names, ", "))
			continue
		}
		var data []byte
		where := "(not in the pull)"
		if len(files) == 1 {
			data, where = files[0].data, files[0].path
		}
		if bytes.Equal(data, g.data) {
			continue
		}
		if g.abandonable && len(data) < len(g.data) && bytes.Equal(data, g.data[:len(data)]) {
			v.abandoned += int64(len(g.data) - len(data))
			continue
		}
		add("generation %d of %s (%s): pulled %d bytes, written %d; first difference at offset %d",
			g.n, g.writer, where, len(data), len(g.data), firstDiff(data, g.data))
	}
	for first, files := range got {
		if !known[first] {
			add("pulled file %s starts with %q, which no writer wrote", files[0].path, first)
		}
	}
	return v
}

// parsePullJSON decodes pull's --json summary.
func parsePullJSON(stdout string) (*retrieve.Summary, error) {
	var s retrieve.Summary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		return nil, fmt.Errorf("pull --json: %w\n%s", err, tail(stdout, 2000))
	}
	return &s, nil
}
