package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/sinks"
	"github.com/logship/logship/sinks/dir"
)

func logLines(tag string, n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "2026-11-26 10:00:00.%03d %s line %d %s\n", i%1000, tag, i, strings.Repeat("y", i%50))
	}
	return b.Bytes()
}

// The round trip of issue 5: agents on two hosts archive a file that
// rotates (two generations) and another file; duplicates and overlaps are
// injected as at-least-once delivery makes them; `logship pull` gives back
// every file byte for byte, from the archive and from a flat copy of it.
func TestPullAgentRoundTrip(t *testing.T) {
	root := t.TempDir()
	arch := filepath.Join(root, "archive")
	gen1, gen2, other := logLines("web-1 gen1", 100000), logLines("web-1 gen2", 90000), logLines("web-2", 100000)
	var agents []*exec.Cmd
	var agentLog syncBuffer
	defer func() {
		if t.Failed() {
			t.Logf("agent logs:\n%s", tail(agentLog.String(), 60000))
		}
	}()
	logsDir := map[string]string{}
	for _, host := range []string{"web-1", "web-2"} {
		logs := filepath.Join(root, "logs-"+host)
		logsDir[host] = logs
		os.MkdirAll(logs, 0o755)
		data := gen1
		if host == "web-2" {
			data = other
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
pipeline:
  max_bytes: 1MiB
  max_age: 200ms
  state_dir: %s/state
sink:
  type: dir
  path: %s
`, host, logs, logs, arch))
		a := exec.Command(binary, "agent", "-c", cfg)
		a.Stderr = &agentLog
		if err := a.Start(); err != nil {
			t.Fatal(err)
		}
		agents = append(agents, a)
	}
	stopAgents := func() {
		for _, a := range agents {
			if a.ProcessState != nil {
				continue
			}
			a.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { a.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				a.Process.Signal(syscall.SIGQUIT) // goroutine dump into the log
				<-done
				t.Errorf("agent did not stop within 30s of SIGTERM")
			}
		}
	}
	defer stopAgents()
	has := func(want ...[]byte) func() bool {
		return func() bool {
			if _, err := os.Stat(arch); err != nil {
				return false
			}
			got, _ := reassemble(t, arch)
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
	}
	waitUntil(t, 30*time.Second, "first generation archived", has(gen1, other))
	// Rotate: app.log becomes app.log.1, a new app.log starts.
	logs := logsDir["web-1"]
	if err := os.Rename(filepath.Join(logs, "app.log"), filepath.Join(logs, "app.log.1")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(logs, "app.log"), gen2, 0o644); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "second generation archived", has(gen1, gen2, other))
	stopAgents()

	injectDuplicates(t, arch)
	want := map[string][]byte{
		"shop/web-1/file" + logsDir["web-1"] + "/app.log": append(append([]byte{}, gen1...), gen2...),
		"shop/web-2/file" + logsDir["web-2"] + "/app.log": other,
	}
	out := filepath.Join(root, "out")
	_, stderr, code := runLogship(t, nil, "pull", "--from", arch, "--out", out)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	sameFiles(t, readOut(t, out), want)
	if strings.Contains(stderr, " 0 duplicates dropped") || strings.Contains(stderr, " 0 B of overlap") {
		t.Errorf("injected duplicates and overlaps not seen:\n%s", stderr)
	}
	t.Log(strings.TrimSpace(stderr))

	// A flat copy (object by object, no key layout, no metadata).
	flat := filepath.Join(root, "flat")
	os.MkdirAll(flat, 0o755)
	i := 0
	filepath.WalkDir(arch, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			i++
			os.WriteFile(filepath.Join(flat, fmt.Sprintf("%04d-%s", i, filepath.Base(p))), b, 0o644)
		}
		return nil
	})
	out2 := filepath.Join(root, "out2")
	if _, stderr, code := runLogship(t, nil, "pull", "--from", flat, "--out", out2); code != 0 {
		t.Fatalf("flat: exit %d:\n%s", code, stderr)
	}
	sameFiles(t, readOut(t, out2), want)
}

// injectDuplicates adds, for every stream, a chunk re-read over two
// neighbours (a duplicate of one, an overlap of the next) and one that
// starts mid-chunk, ingested an hour later (so under other keys).
func injectDuplicates(t *testing.T, arch string) {
	t.Helper()
	d, err := dir.New(arch)
	if err != nil {
		t.Fatal(err)
	}
	type chunk struct {
		h   *archive.Header
		raw []byte
	}
	byStream := map[string][]chunk{}
	err = d.List(context.Background(), "", func(oi sinks.ObjectInfo) error {
		rc, _, err := d.Get(context.Background(), oi.Key)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		h, raw, err := archive.Decode(b, archive.Limits{})
		if err != nil {
			return err
		}
		byStream[h.Stream] = append(byStream[h.Stream], chunk{h, raw})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := archive.NewEncoder()
	defer enc.Close()
	put := func(tmpl *archive.Header, start int64, raw []byte) {
		h := *tmpl
		h.Start, h.End, h.RawSize, h.Checksum = start, start+int64(len(raw)), int64(len(raw)), archive.Checksum(raw)
		h.Lines = int64(bytes.Count(raw, []byte{'\n'}))
		h.First, h.Last = h.First.Add(time.Hour), h.Last.Add(time.Hour)
		body, err := enc.Encode(nil, &h, raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Put(context.Background(), &sinks.Object{Key: archive.Key("", &h), Body: body, Header: &h}); err != nil {
			t.Fatal(err)
		}
	}
	for id, cs := range byStream {
		if len(cs) < 4 {
			t.Fatalf("stream %s has %d chunks: too few to inject", id, len(cs))
		}
		// Sort by start.
		for i := 1; i < len(cs); i++ {
			for j := i; j > 0 && cs[j].h.Start < cs[j-1].h.Start; j-- {
				cs[j], cs[j-1] = cs[j-1], cs[j]
			}
		}
		a, b := cs[1], cs[2]
		put(a.h, a.h.Start, append(append([]byte{}, a.raw...), b.raw...)) // covers a (duplicate), equals b's end
		c := cs[3]
		nl := bytes.IndexByte(c.raw, '\n') + 1
		put(c.h, c.h.Start+int64(nl), c.raw[nl:]) // inside c: a duplicate
		if len(cs) > 4 {
			e := cs[4]
			put(c.h, c.h.Start+int64(nl), append(append([]byte{}, c.raw[nl:]...), e.raw[:bytes.IndexByte(e.raw, '\n')+1]...)) // overlaps c and e
		}
	}
}
