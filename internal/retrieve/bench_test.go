package retrieve

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/loggen"
)

// benchArchive writes mib MiB of generated Java logs as 2,000 chunks into a
// folder archive (4 hosts × 5 files), once per process.
var benchOnce struct {
	sync.Once
	root string
	raw  int64
	err  error
}

func benchArchive(b *testing.B, mib int) (string, int64) {
	benchOnce.Do(func() {
		root, err := os.MkdirTemp("", "logship-bench-archive")
		if err != nil {
			benchOnce.err = err
			return
		}
		benchOnce.root = root
		bl := newBuilder(b, root, 42)
		const chunks, streams = 2000, 20
		per := int64(mib) << 20 / chunks
		t0 := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
		pos := make([]int64, streams)
		gens := make([]*loggen.Generator, streams)
		for i := range gens {
			gens[i] = loggen.New(uint64(i)) // generated Java application logs
		}
		for i := range chunks {
			st := i % streams
			s := spec{app: "bench", host: fmt.Sprintf("host-%d", st/5), source: "file", path: fmt.Sprintf("/home/admin/logs/app-%d.log", st%5),
				stream: fmt.Sprintf("app-%d.log-%016x", st%5, st), every: 3 * time.Second}
			raw := make([]byte, 0, per+16<<10)
			first := t0.Add(time.Duration(i) * 1500 * time.Millisecond)
			for int64(len(raw)) < per {
				raw = gens[st].Append(raw)
			}
			r := chunkRange{from: 0, to: len(raw), start: pos[st], end: pos[st] + int64(len(raw)), first: first}
			pos[st] = r.end
			h := bl.header(s, r, raw, archive.CodecZstd)
			obj, err := bl.enc.Encode(nil, h, raw)
			if err != nil {
				benchOnce.err = err
				return
			}
			bl.put(archive.Key("", h), obj)
			benchOnce.raw += int64(len(raw))
		}
	})
	if benchOnce.err != nil {
		b.Fatal(benchOnce.err)
	}
	return benchOnce.root, benchOnce.raw
}

// BenchmarkPull pulls 2,000 chunks (256 MiB raw by default; set
// LOGSHIP_BENCH_MIB=1024 for 1 GiB) from a folder archive into a fresh
// output folder. MB/s is reassembled output; peak-heap-MiB the largest
// live heap seen while pulling.
//
//	LOGSHIP_BENCH_MIB=1024 go test -run '^$' -bench BenchmarkPull -benchtime 3x ./pull/
func BenchmarkPull(b *testing.B) {
	root, raw := benchArchive(b, benchMiB())
	benchPull(b, openDir(b, root), raw)
}

// BenchmarkPullOSS is BenchmarkPull from osstest over loopback HTTP,
// through the OSS reader (retrieve.Open of oss://, the SDK, CRC64 checks).
// osstest runs in the same process and holds the stored objects in
// memory: pull-live-MiB is the largest live heap a GC found above what
// was live before the pull began (what the pull itself holds), while
// peak-heap-MiB and peak-RSS-MiB count the server's objects, and the
// garbage a heap that large lets the GC leave.
//
//	LOGSHIP_BENCH_MIB=1024 go test -run '^$' -bench BenchmarkPullOSS -benchtime 3x -count 3 ./pull/
func BenchmarkPullOSS(b *testing.B) {
	root, raw := benchArchive(b, benchMiB())
	s := newOSSStore(b)
	s.upload(b, root)
	benchPull(b, s.open(b), raw)
}

func benchMiB() int {
	if v, err := strconv.Atoi(os.Getenv("LOGSHIP_BENCH_MIB")); err == nil && v > 0 {
		return v
	}
	return 256
}

// benchPull pulls the whole archive b.N times and reports the peak heap,
// the peak live heap above the one before the first pull, and the peak
// RSS.
func benchPull(b *testing.B, a Store, raw int64) {
	outRoot := b.TempDir()
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	before := s[1].Value.Uint64()
	var peak, live uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				metrics.Read(s)
				peak = max(peak, s[0].Value.Uint64())
				live = max(live, s[1].Value.Uint64())
			}
		}
	}()
	b.SetBytes(raw)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		out := filepath.Join(outRoot, strconv.Itoa(i))
		sum, err := Pull(context.Background(), a, Options{Out: out})
		if err != nil || len(sum.Problems) > 0 || sum.Bytes != raw {
			b.Fatalf("%v %d bytes of %d, %v", err, sum.Bytes, raw, sum.Problems)
		}
		b.StopTimer()
		os.RemoveAll(out)
		b.StartTimer()
	}
	b.StopTimer()
	close(stop)
	<-done
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(max(live, before)-before)/(1<<20), "pull-live-MiB")
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB") // Maxrss is in KiB on Linux
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchOnce.root != "" {
		os.RemoveAll(benchOnce.root)
	}
	os.Exit(code)
}
