package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/sinks"
	"github.com/logship/logship/internal/sinks/dir"
)

func logLines(tag string, n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "2026-11-26 10:00:00.%03d %s line %d %s\n", i%1000, tag, i, strings.Repeat("y", i%50))
	}
	return b.Bytes()
}

// roundTripStore is where the agents of the round trip ship to, and how
// the test reads it back.
type roundTripStore struct {
	sink       string   // the sink section of the agent config
	env        []string // of the agents and of ls, pull and cat
	from       []string // the flags of ls, pull and cat that read the store
	reassemble func(t *testing.T) map[string][]byte
	chunks     func(t *testing.T) []rawChunk // decoded, after reassemble
	put        func(h *archive.Header, body []byte)
	bodies     func(t *testing.T) [][]byte // every stored object
}

// The round trip of issue 5 into a folder.
func TestPullAgentRoundTrip(t *testing.T) {
	arch := filepath.Join(t.TempDir(), "archive")
	var d *dir.Sink
	testAgentRoundTrip(t, &roundTripStore{
		sink: "sink:\n  type: dir\n  path: " + arch + "\n",
		from: []string{"--from", arch},
		reassemble: func(t *testing.T) map[string][]byte {
			if _, err := os.Stat(arch); err != nil {
				return nil
			}
			got, _ := reassemble(t, arch)
			return got
		},
		chunks: func(t *testing.T) []rawChunk {
			var err error
			if d, err = dir.New(arch); err != nil {
				t.Fatal(err)
			}
			return dirChunks(t, d)
		},
		put: func(h *archive.Header, body []byte) {
			if err := d.Put(context.Background(), &sinks.Object{Key: archive.Key("", h), Body: body, Header: h}); err != nil {
				panic(err)
			}
		},
		bodies: func(t *testing.T) [][]byte {
			var out [][]byte
			filepath.WalkDir(arch, func(p string, d os.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					b, _ := os.ReadFile(p)
					out = append(out, b)
				}
				return nil
			})
			return out
		},
	})
}

// testAgentRoundTrip: agents on two hosts archive a file that rotates by
// rename and then by truncation (three generations), another file and a
// JVM crash report; duplicates and overlaps are planted as at-least-once
// delivery makes them; `logship pull` gives back every file byte for
// byte, from the store and from a folder it was copied into object by
// object (no key layout, no metadata); ls and cat agree.
func testAgentRoundTrip(t *testing.T, st *roundTripStore) {
	root := t.TempDir()
	gen1, gen2, gen3, other := logLines("web-1 gen1", 60000), logLines("web-1 gen2", 50000), logLines("web-1 gen3", 40000), logLines("web-2", 60000)
	hsErr, err := os.ReadFile(filepath.Join("..", "..", "internal", "sources", "crash", "testdata", "hs_err_sigsegv.log"))
	if err != nil {
		t.Fatal(err)
	}
	var agentLog syncBuffer
	defer func() {
		if t.Failed() {
			t.Logf("agent logs:\n%s", tail(agentLog.String(), 30000))
		}
	}()
	logsDir := map[string]string{}
	crashDir := filepath.Join(root, "crash-web-2")
	hsErrPath := filepath.Join(crashDir, fmt.Sprintf("hs_err_pid%d.log", deadPid(t)))
	var agents []*agentProc
	for _, host := range []string{"web-1", "web-2"} {
		logs := filepath.Join(root, "logs-"+host)
		logsDir[host] = logs
		os.MkdirAll(logs, 0o755)
		data, crash := gen1, ""
		if host == "web-2" {
			data = other
			os.MkdirAll(crashDir, 0o755)
			if err := os.WriteFile(hsErrPath, hsErr, 0o644); err != nil {
				t.Fatal(err)
			}
			crash = fmt.Sprintf("  - type: crash\n    paths: [%q]\n    settle: 300ms\n", crashDir+"/hs_err_pid*.log")
		}
		if err := os.WriteFile(filepath.Join(logs, "app.log"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := writeConfig(t, logs, fmt.Sprintf(`app: shop
host: %s
sources:
  - type: file
    paths: ["%s/*.log*"]
    read_from: beginning
    scan_interval: 50ms
    max_line_bytes: 64KiB
%spipeline:
  max_bytes: 512KiB
  max_age: 200ms
  state_dir: %s/state
snapshot:
  on_events: {jvm_crash: false} # the pulled files are compared exactly
%s`, host, logs, crash, logs, st.sink))
		agents = append(agents, startAgent(t, cfg, agentOpts{env: st.env, log: &agentLog}))
	}
	archived := func(want ...[]byte) func() bool {
		return func() bool {
			for _, a := range agents {
				a.alive(t)
			}
			return hasAll(st.reassemble(t), want...)
		}
	}
	waitUntil(t, 60*time.Second, "first generation, other file and crash report archived", archived(gen1, other, hsErr))
	logs := logsDir["web-1"]
	// Rotate by rename: app.log becomes app.log.1, a new app.log starts.
	if err := os.Rename(filepath.Join(logs, "app.log"), filepath.Join(logs, "app.log.1")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(logs, "app.log"), gen2, 0o644); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, "second generation archived", archived(gen1, gen2))
	// Rotate by truncation: the same file starts again with other lines.
	if err := os.WriteFile(filepath.Join(logs, "app.log"), gen3, 0o644); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, "third generation archived", archived(gen1, gen2, gen3, other, hsErr))
	for _, a := range agents {
		if err := a.signal(t, syscall.SIGTERM); err != nil {
			t.Fatalf("agent: %v", err)
		}
	}

	injectDuplicates(t, st.chunks(t), st.put)
	want := map[string][]byte{
		"shop/web-1/file" + logsDir["web-1"] + "/app.log": bytes.Join([][]byte{gen1, gen2, gen3}, nil),
		"shop/web-2/file" + logsDir["web-2"] + "/app.log": other,
		"shop/web-2/crash" + hsErrPath:                    hsErr,
	}
	out := filepath.Join(root, "out")
	_, stderr, code := runLogship(t, st.env, append([]string{"pull", "--out", out}, st.from...)...)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	sameFiles(t, readOut(t, out), want)
	if strings.Contains(stderr, " 0 duplicates dropped") || strings.Contains(stderr, " 0 B of overlap") {
		t.Errorf("planted duplicates and overlaps not seen:\n%s", stderr)
	}
	t.Log(strings.TrimSpace(stderr))

	stdout, stderr, code := runLogship(t, st.env, append([]string{"ls"}, st.from...)...)
	if code != 0 || !strings.Contains(stdout, "3 files, ") || !strings.Contains(stdout, "[jvm_crash]") || !strings.Contains(stdout, "3 generations") {
		t.Errorf("ls: exit %d:\n%s%s", code, stdout, stderr)
	}
	stdout, stderr, code = runLogship(t, st.env, append([]string{"cat", "--host", "web-2", "--source", "file"}, st.from...)...)
	if code != 0 || stdout != string(other) {
		t.Errorf("cat: exit %d, %d bytes:\n%s", code, len(stdout), stderr)
	}

	flat := filepath.Join(root, "flat")
	os.MkdirAll(flat, 0o755)
	for i, b := range st.bodies(t) {
		if err := os.WriteFile(filepath.Join(flat, fmt.Sprintf("%04d.log.zst", i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out2 := filepath.Join(root, "out2")
	if _, stderr, code := runLogship(t, nil, "pull", "--from", flat, "--out", out2); code != 0 {
		t.Fatalf("flat: exit %d:\n%s", code, stderr)
	}
	sameFiles(t, readOut(t, out2), want)
}

// hasAll reports whether every wanted content is one of the reassembled
// streams.
func hasAll(got map[string][]byte, want ...[]byte) bool {
	n := 0
	for _, w := range want {
		for _, g := range got {
			if bytes.Equal(g, w) {
				n++
				break
			}
		}
	}
	return n == len(want)
}

// injectDuplicates stores with put, for every stream of the file source,
// a chunk re-read over two neighbours (a duplicate of one, an overlap of
// the next) and one that starts mid-chunk, ingested an hour later (so
// under other keys).
func injectDuplicates(t *testing.T, chunks []rawChunk, put func(h *archive.Header, body []byte)) {
	t.Helper()
	byStream := map[string][]rawChunk{}
	for _, c := range chunks {
		if c.h.Source == archive.KindFile {
			byStream[c.h.Stream] = append(byStream[c.h.Stream], c)
		}
	}
	enc, _ := archive.NewEncoder()
	defer enc.Close()
	add := func(tmpl *archive.Header, start int64, raw []byte) {
		h := *tmpl
		h.Start, h.End, h.RawSize, h.Checksum = start, start+int64(len(raw)), int64(len(raw)), archive.Checksum(raw)
		h.Lines = int64(bytes.Count(raw, []byte{'\n'}))
		h.First, h.Last = h.First.Add(time.Hour), h.Last.Add(time.Hour)
		body, err := enc.Encode(nil, &h, raw)
		if err != nil {
			t.Fatal(err)
		}
		put(&h, body)
	}
	for id, cs := range byStream {
		if len(cs) < 4 {
			t.Fatalf("stream %s has %d chunks: too few to inject", id, len(cs))
		}
		slices.SortFunc(cs, func(a, b rawChunk) int { return cmp.Compare(a.h.Start, b.h.Start) })
		a, b := cs[1], cs[2]
		add(a.h, a.h.Start, append(append([]byte{}, a.raw...), b.raw...)) // covers a (duplicate), equals b's end
		c := cs[3]
		nl := bytes.IndexByte(c.raw, '\n') + 1
		add(c.h, c.h.Start+int64(nl), c.raw[nl:]) // inside c: a duplicate
		if len(cs) > 4 {
			e := cs[4]
			add(c.h, c.h.Start+int64(nl), append(append([]byte{}, c.raw[nl:]...), e.raw[:bytes.IndexByte(e.raw, '\n')+1]...)) // overlaps c and e
		}
	}
}
