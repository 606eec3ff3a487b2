package duckdb

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/agent"
	"github.com/logship/logship/internal/config"
	"github.com/logship/logship/internal/pipeline"
)

// lineOpts are the read_csv options that make every line of a chunk one
// VARCHAR row, byte for byte: no delimiter, no quoting, no header, no
// sniffing (empty lines are NULL rows, still counted); the partitions as
// columns, dt a DATE and hour an integer.
const lineOpts = `columns = {'line': 'VARCHAR'}, header = false, delim = '', quote = '', escape = '', auto_detect = false, ` +
	`hive_partitioning = true, hive_types = {'dt': DATE, 'hour': INTEGER}`

// The README's query shape, on an archive written by the agent: the
// logship binary for web-1 (zstd) and web-2 (gzip) in the current hour,
// and for web-3 the agent's own wiring (sources, pipeline, dir sink) run
// in process twice with the pipeline's clock set to 23:30 and 00:30 UTC of
// two days (the binary has no clock to set: the partition is the chunk's
// first ingest time). DuckDB's line count per host and per partition must
// equal what the writers wrote, and a dt/hour or host filter must read
// only the matching folders: in a copy of the archive where every other
// object is garbage, the filtered query still succeeds. Binary snapshot and
// crash objects beside them are left out by the view's source filter.
func TestDuckDBQueriesAgentArchive(t *testing.T) {
	root := t.TempDir()
	arch := filepath.Join(root, "archive")
	bin := buildLogship(t, root)
	written := map[string]int{}

	for _, h := range []struct{ host, codec string }{{"web-1", "zstd"}, {"web-2", "gzip"}} {
		logs := filepath.Join(root, "logs-"+h.host)
		n, size := writeLogs(t, logs, h.host, 0, 1500)
		written[h.host] = n
		cfg := agentConfig(t, root, h.host, logs, arch)
		cmd := exec.Command(bin, "agent", "-c", cfg)
		cmd.Env = append(os.Environ(), "LOGSHIP_HOST="+h.host, "LOGSHIP_PIPELINE_COMPRESSION="+h.codec)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		waitArchived(t, arch, h.host, size, func() error {
			select {
			case err := <-exited:
				return fmt.Errorf("agent %s exited: %v\n%s", h.host, err, out.String())
			default:
				return nil
			}
		})
		cmd.Process.Signal(syscall.SIGTERM)
		if err := <-exited; err != nil {
			t.Fatalf("agent %s: %v\n%s", h.host, err, out.String())
		}
	}

	// web-3: one file, written in two parts, shipped under two clocks.
	day1, day2 := time.Date(2026, 1, 1, 23, 30, 0, 0, time.UTC), time.Date(2026, 1, 2, 0, 30, 0, 0, time.UTC)
	logs3 := filepath.Join(root, "logs-web-3")
	cfg3 := agentConfig(t, root, "web-3", logs3, arch)
	n1, size1 := writeLogs(t, logs3, "web-3", 0, 700)
	runAgentAt(t, cfg3, "web-3", day1, arch, size1)
	n2, size2 := writeLogs(t, logs3, "web-3", 700, 900)
	runAgentAt(t, cfg3, "web-3", day2, arch, size1+size2)
	written["web-3"] = n1 + n2

	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	glob := func(dir string) string {
		return filepath.ToSlash(dir) + "/app=*/dt=*/hour=*/host=*/source=*/*/*.log.*"
	}
	// from is the README's view: the glob over every source, kept to the
	// sources of text lines.
	from := func(dir string) string {
		return fmt.Sprintf("(SELECT * FROM read_csv('%s', %s) WHERE %s)", glob(dir), lineOpts, textSources)
	}

	// Binary objects as a snapshot and a heap dump are shipped: the glob
	// matches them, a query that reads them fails, and the view never does.
	binary := writeBinaryObjects(t, arch)
	var n int
	if err := db.QueryRow(fmt.Sprintf("SELECT count(*) FROM read_csv('%s', %s)", glob(arch), lineOpts)).Scan(&n); err == nil {
		t.Fatal("read_csv over every source read the binary objects without error: the view's source filter is not tested")
	}

	// Lines per host.
	got := map[string]int{}
	rows, err := db.Query(`SELECT host, count(*) FROM ` + from(arch) + ` WHERE source = 'file' GROUP BY host`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var h string
		var n int
		if err := rows.Scan(&h, &n); err != nil {
			t.Fatal(err)
		}
		got[h] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if fmt.Sprint(got) != fmt.Sprint(written) {
		t.Fatalf("lines per host: DuckDB %v, written %v", got, written)
	}

	// Lines per partition of web-3; dt is a DATE, hour an integer.
	for _, p := range []struct {
		dt   string
		hour int
		want int
	}{{"2026-01-01", 23, n1}, {"2026-01-02", 0, n2}} {
		var n int
		q := `SELECT count(*) FROM ` + from(arch) + ` WHERE host = 'web-3' AND dt = DATE '` + p.dt + `' AND hour = ?`
		if err := db.QueryRow(q, p.hour).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != p.want {
			t.Errorf("dt=%s hour=%d: %d lines, want %d", p.dt, p.hour, n, p.want)
		}
	}

	// The text survives as written: the lines with quotes, tabs, commas,
	// a backslash and a control byte come back whole.
	var odd int
	q := `SELECT count(*) FROM ` + from(arch) + ` WHERE line = ?`
	if err := db.QueryRow(q, oddLine).Scan(&odd); err != nil || odd != 3*2 {
		t.Errorf("the odd line: found %d times, want %d (%v)", odd, 3*2, err)
	}

	// Pruning, shown by EXPLAIN ANALYZE and by garbage in the other
	// partitions: only the matching folders are read.
	keep := func(rel string) bool { return strings.Contains(rel, "/dt=2026-01-01/hour=23/") }
	spoilt := spoilCopy(t, arch, filepath.Join(root, "spoilt-dt"), keep)
	err = db.QueryRow(`SELECT count(*) FROM ` + from(spoilt) + ` WHERE dt = DATE '2026-01-01' AND hour = 23`).Scan(&n)
	if err != nil || n != n1 {
		t.Fatalf("dt/hour filter on the spoilt copy: %d lines, %v; want %d: the filter read other partitions", n, err, n1)
	}
	if err := db.QueryRow(`SELECT count(*) FROM ` + from(spoilt)).Scan(&n); err == nil {
		t.Fatal("the unfiltered query read the spoilt objects without error: the pruning check proves nothing")
	}
	spoiltHost := spoilCopy(t, arch, filepath.Join(root, "spoilt-host"), func(rel string) bool { return strings.Contains(rel, "/host=web-2/") })
	if err := db.QueryRow(`SELECT count(*) FROM ` + from(spoiltHost) + ` WHERE host = 'web-2'`).Scan(&n); err != nil || n != written["web-2"] {
		t.Fatalf("host filter on the spoilt copy: %d lines, %v; want %d", n, err, written["web-2"])
	}

	all, one := filesRead(t, db, from(arch), ""), filesRead(t, db, from(arch), ` WHERE dt = DATE '2026-01-01' AND hour = 23`)
	want := countFiles(t, arch, keep)
	t.Logf("EXPLAIN ANALYZE: %d files read without a filter, %d with dt/hour (%d objects in that partition)", all, one, want)
	if one != want || all != countFiles(t, arch, func(string) bool { return true })-binary {
		t.Errorf("EXPLAIN ANALYZE: %d files read with the dt/hour filter, %d without; the partition has %d", one, all, want)
	}
}

// textSources is the README view's filter: the sources whose objects hold
// lines of text.
const textSources = `source IN ('file', 'kmsg', 'stdout', 'event')`

// writeBinaryObjects puts into the archive, in a partition of their own
// (dt=2026-01-03), a snapshot and a crash object as the agent keys them:
// zstd frames of bytes that are not UTF-8, as a tar.zst bundle or a heap
// dump are. It returns how many it wrote.
func writeBinaryObjects(t *testing.T, arch string) int {
	t.Helper()
	enc, err := archive.NewFrameEncoder()
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	raw := bytes.Repeat([]byte{0x28, 0xb5, 0x2f, 0xfd, 0xff, 0xfe, 0x00, '\n', 0xc3, 0x28}, 1000)
	body, _, err := enc.AppendFrame(nil, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{
		"app=shop/dt=2026-01-03/hour=00/host=web-1/source=snapshot/snapshot-20260103T000000Z-0a1b2c3d",
		"app=shop/dt=2026-01-03/hour=00/host=web-1/source=crash/java_pid7.hprof-0a1b2c3d4e5f6071",
	}
	for _, k := range keys {
		p := filepath.Join(arch, filepath.FromSlash(k), fmt.Sprintf("%016d-%016d.log.zst", 0, len(raw)))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return len(keys)
}

// oddLine is written into every log file once.
const oddLine = "quotes \" and ' , commas;\ttabs \\ backslash \x01 and a control byte"

// writeLogs appends lines [from, to) to two files of host's log folder
// (plus, when from is 0, an empty line and oddLine in each), and returns
// how many lines and bytes it wrote.
func writeLogs(t *testing.T, dir, host string, from, to int) (lines int, size int64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"app.log", "access.log"} {
		var b bytes.Buffer
		if from == 0 {
			b.WriteString("\n" + oddLine + "\n")
			lines += 2
		}
		for i := from; i < to; i++ {
			fmt.Fprintf(&b, "2026-01-01 10:%02d:%02d.%03d INFO [http-nio-8080-exec-%d] c.e.shop.%s - order %d of %s served in %d ms, status=%d\n",
				i/60%60, i%60, i%1000, i%8, name, i*7919%100000, host, i%250, 200+i%3)
			lines++
		}
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(b.Bytes()); err != nil {
			t.Fatal(err)
		}
		f.Close()
		size += int64(b.Len())
	}
	return lines, size
}

func agentConfig(t *testing.T, root, host, logs, arch string) string {
	t.Helper()
	p := filepath.Join(root, host+".yaml")
	body := fmt.Sprintf(`app: shop
sources:
  - type: file
    paths: ["%s/*.log"]
    read_from: beginning
    scan_interval: 50ms
    max_line_bytes: 16KiB
    read_buffer: 16KiB
pipeline:
  max_bytes: 64KiB
  max_age: 200ms
  state_dir: %s
sink:
  type: dir
  path: %s
`, logs, filepath.Join(root, "state-"+host), arch)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// buildLogship builds the binary from the main module (two folders up).
func buildLogship(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "logship")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/logship")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runAgentAt runs the agent's wiring in process, as `logship agent -c cfg`
// with LOGSHIP_HOST=host would, but with the pipeline's clock stopped at
// at, until host has size raw bytes in the archive.
func runAgentAt(t *testing.T, cfgPath, host string, at time.Time, arch string, size int64) {
	t.Helper()
	cfg, err := config.Resolve(cfgPath, []string{"LOGSHIP_HOST=" + host}, nil)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink, err := agent.NewSink(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	srcs, err := agent.NewSources(cfg, nil, log) // file sources only: no artifact uploader
	if err != nil {
		t.Fatal(err)
	}
	o := agent.Options(cfg, sink, log)
	o.Now = func() time.Time { return at }
	p, err := pipeline.New(o)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- pipeline.Run(ctx, p, srcs, 10*time.Second) }()
	waitArchived(t, arch, host, size, func() error {
		select {
		case err := <-done:
			return fmt.Errorf("agent stopped: %v", err)
		default:
			return nil
		}
	})
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// waitArchived polls the archive until host's chunks hold size raw bytes
// (from their headers), failing after a minute or when alive says so.
func waitArchived(t *testing.T, arch, host string, size int64, alive func() error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var have int64
	for time.Now().Before(deadline) {
		if err := alive(); err != nil {
			t.Fatal(err)
		}
		have = 0
		filepath.WalkDir(arch, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.Contains(filepath.ToSlash(p), "/host="+host+"/") || strings.HasPrefix(d.Name(), ".") {
				return nil
			}
			f, err := os.Open(p)
			if err != nil {
				return nil
			}
			defer f.Close()
			if h, err := archive.ReadHeader(f); err == nil {
				have += h.RawSize
			}
			return nil
		})
		if have == size {
			return
		}
		if have > size {
			t.Fatalf("%s: %d bytes archived, %d written (overlapping chunks?)", host, have, size)
		}
		time.Sleep(50 * time.Millisecond) // polling the folder: there is nothing to wait on
	}
	t.Fatalf("%s: %d of %d bytes archived after a minute", host, have, size)
}

// spoilCopy copies the archive's objects to dst, replacing every object
// whose path (relative, slashed) keep rejects with bytes no decompressor
// accepts. It returns dst.
func spoilCopy(t *testing.T, src, dst string, keep func(rel string) bool) string {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		rel = "/" + filepath.ToSlash(rel)
		body := []byte("not a compressed chunk: reading this object is an error\n")
		if keep(rel) {
			if body, err = os.ReadFile(p); err != nil {
				return err
			}
		}
		out := filepath.Join(dst, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(out, body, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func countFiles(t *testing.T, dir string, keep func(rel string) bool) int {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			if keep("/" + filepath.ToSlash(rel)) {
				n++
			}
		}
		return nil
	})
	return n
}

// filesRead runs EXPLAIN ANALYZE and returns the number of files the scan
// says it read ("Total Files Read: N").
func filesRead(t *testing.T, db *sql.DB, from, where string) int {
	t.Helper()
	rows, err := db.Query(`EXPLAIN ANALYZE SELECT count(*) FROM ` + from + where)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan strings.Builder
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(b)
	}
	m := totalFilesRead.FindStringSubmatch(plan.String())
	if m == nil {
		t.Fatalf("the plan does not say how many files were read:\n%s", plan.String())
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

var totalFilesRead = regexp.MustCompile(`Total Files Read: (\d+)`)
