package archive

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"testing"
)

// damaged returns valid objects of both codecs and damaged ones, each with
// the error class a reader must give (nil for valid objects).
func damaged(t testing.TB) (objs [][]byte, want []error, raw []byte) {
	raw = sampleRaw(t)
	for _, codec := range []string{CodecZstd, CodecGzip} {
		obj := encode(t, testHeader(codec, 0, raw), raw)
		flipped := bytes.Clone(obj)
		flipped[len(flipped)-12] ^= 4
		bombH := testHeader(codec, 0, raw)
		bomb := encode(t, bombH, append(bytes.Clone(raw), raw...)) // header describes half of it
		lying := testHeader(codec, 0, raw)
		lying.Checksum = Checksum([]byte("other"))
		objs = append(objs, obj, obj[:len(obj)/2], obj[:len(obj)-1], flipped, bomb, encode(t, lying, raw))
		// A flipped bit either breaks the compressed structure (ErrCorrupt)
		// or decodes to other bytes (ErrChecksum), depending on where it
		// lands: errFlipped accepts both.
		want = append(want, nil, ErrCorrupt, ErrCorrupt, errFlipped, ErrTooLarge, ErrChecksum)
	}
	objs = append(objs, []byte("<html>404</html>"), nil)
	want = append(want, ErrNotChunk, ErrCorrupt)
	return objs, want, raw
}

// errFlipped stands for "ErrCorrupt or ErrChecksum" in damaged's wants.
var errFlipped = errors.New("ErrCorrupt or ErrChecksum")

func readAll(obj []byte) ([]byte, error) {
	r, err := NewReader(bytes.NewReader(obj), Limits{})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// Pooled decoders give the same answers whatever the object read before
// them (a good one, a damaged one, one closed half way), and from several
// goroutines at once.
func TestReaderPool(t *testing.T) {
	objs, want, raw := damaged(t)
	check := func(t *testing.T, i int) {
		got, err := readAll(objs[i])
		switch {
		case want[i] == nil && (err != nil || !bytes.Equal(got, raw)):
			t.Errorf("object %d: %d bytes, %v; want the %d raw bytes", i, len(got), err, len(raw))
		case want[i] == errFlipped && (errors.Is(err, ErrCorrupt) || errors.Is(err, ErrChecksum)):
		case want[i] != nil && !errors.Is(err, want[i]):
			t.Errorf("object %d: %v, want %v", i, err, want[i])
		}
	}
	t.Run("sequential", func(t *testing.T) {
		for range 3 {
			for i := range objs {
				check(t, i)
				// A reader closed after one read: its decoder is not reused.
				if r, err := NewReader(bytes.NewReader(objs[i]), Limits{}); err == nil {
					r.Read(make([]byte, 10))
					r.Close()
					r.Close()
				}
			}
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for k := range 3 * len(objs) {
					check(t, (g+k)%len(objs))
				}
			})
		}
		wg.Wait()
	})
}

// ReadHeader reads the header NewReader reads, without a decompressor,
// and tells what is not a chunk from what is a broken one.
func TestReadHeader(t *testing.T) {
	raw := []byte("one\ntwo\n")
	for _, codec := range []string{CodecZstd, CodecGzip} {
		h := testHeader(codec, 7, raw)
		obj := encode(t, h, raw)
		got, err := ReadHeader(bytes.NewReader(obj))
		if err != nil || got.Checksum != h.Checksum || got.Start != 7 || got.Codec != codec {
			t.Errorf("%s: %+v, %v", codec, got, err)
		}
		if _, err := ReadHeader(bytes.NewReader(obj[:20])); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s truncated in the header: %v", codec, err)
		}
	}
	if _, err := ReadHeader(bytes.NewReader([]byte("plain text\n"))); !errors.Is(err, ErrNotChunk) || !errors.Is(err, ErrHeader) {
		t.Errorf("plain text: %v", err)
	}
	// A stock gzip file: no FEXTRA.
	gz := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if _, err := ReadHeader(bytes.NewReader(gz)); !errors.Is(err, ErrHeader) || errors.Is(err, ErrNotChunk) {
		t.Errorf("gzip without header: %v", err)
	}
	if _, err := readAll(gz); !errors.Is(err, ErrHeader) {
		t.Errorf("NewReader, gzip without header: %v", err)
	}
}

// BenchmarkReader reads a chunk of ~300 KiB raw; with pooled decoders the
// allocations per object stay small.
func BenchmarkReader(b *testing.B) {
	raw := bytes.Repeat(sampleRaw(b), 2)
	obj := encode(b, testHeader(CodecZstd, 0, raw), raw)
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(obj), Limits{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(io.Discard, onlyReader{r}, buf); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}

type onlyReader struct{ io.Reader }
