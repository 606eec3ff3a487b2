package archive

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkEncodeChunk is the floor under the agent's CPU figure: the
// chunk encoder alone, one thread, 4 MiB chunks of the file
// BenchmarkAgentOSS writes (run that first; without it, of the loghub
// samples). Reported: seconds per GiB of raw log on one thread (its CPU
// time) and the ratio.
//
//	go test ./archive -run XXX -bench EncodeChunk
func BenchmarkEncodeChunk(b *testing.B) {
	raw := benchChunks(b, 64<<20)
	enc, err := NewEncoder()
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	const chunk = 4 << 20
	var dst []byte
	var in, out int64
	b.SetBytes(chunk)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		off := (i * chunk) % len(raw)
		c := raw[off : off+chunk]
		h := testHeader(CodecZstd, int64(off), c)
		if dst, err = enc.Encode(dst[:0], h, c); err != nil {
			b.Fatal(err)
		}
		in, out = in+chunk, out+int64(len(dst))
	}
	b.ReportMetric(b.Elapsed().Seconds()/(float64(in)/(1<<30)), "s/GiB") // one thread: CPU seconds
	b.ReportMetric(float64(in)/float64(out), "ratio")
}

// benchChunks returns n bytes of log: the head of the agent benchmark's
// file, or the loghub samples repeated.
func benchChunks(b *testing.B, n int) []byte {
	buf := make([]byte, n)
	if f, err := os.Open(filepath.Join(os.TempDir(), "logship-bench-1073741824.log")); err == nil {
		defer f.Close()
		if _, err := f.ReadAt(buf, 0); err == nil {
			return buf
		}
	}
	files, _ := filepath.Glob("../../shared/testdata/loghub/*.log")
	var sample []byte
	for _, p := range files {
		d, _ := os.ReadFile(p)
		sample = append(sample, d...)
	}
	if len(sample) == 0 {
		b.Skip("no benchmark log and no loghub samples")
	}
	for i := 0; i < n; i += len(sample) {
		copy(buf[i:], sample)
	}
	return buf
}
