package archive

import (
	"testing"

	"github.com/logship/logship/internal/loggen"
)

// BenchmarkEncodeChunk is the floor under the agent's CPU figure: the
// chunk encoder alone, one thread, 4 MiB chunks of generated Java
// application logs (internal/loggen, the data of `logship bench`). Reported: seconds per GiB of raw log on one thread (its CPU
// time) and the ratio.
//
//	go test ./archive -run XXX -bench EncodeChunk
func BenchmarkEncodeChunk(b *testing.B) {
	raw := loggen.Head(1, 64<<20)
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
		off := (i * chunk) % (len(raw) - chunk)
		c := raw[off:min(off+chunk, len(raw))]
		h := testHeader(CodecZstd, int64(off), c)
		if dst, err = enc.Encode(dst[:0], h, c); err != nil {
			b.Fatal(err)
		}
		in, out = in+chunk, out+int64(len(dst))
	}
	b.ReportMetric(b.Elapsed().Seconds()/(float64(in)/(1<<30)), "s/GiB") // one thread: CPU seconds
	b.ReportMetric(float64(in)/float64(out), "ratio")
}
