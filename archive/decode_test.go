package archive

import (
	"bytes"
	"testing"
)

// DecodeInto gives what Decode gives, appended to dst (TestCorruptionDetected
// and FuzzReader check that it catches what Decode catches).
func TestDecodeInto(t *testing.T) {
	raw := sampleRaw(t)
	for _, codec := range []string{CodecZstd, CodecGzip} {
		obj := encode(t, testHeader(codec, 0, raw), raw)
		prefix := []byte("kept")
		dst := make([]byte, len(prefix), len(prefix)+len(raw))
		copy(dst, prefix)
		h, out, err := DecodeInto(dst, obj, Limits{})
		if err != nil || !bytes.Equal(out, append(prefix, raw...)) || h.RawSize != int64(len(raw)) {
			t.Fatalf("%s: %v, %d bytes", codec, err, len(out))
		}
		if codec == CodecZstd && &out[0] != &dst[0] {
			t.Errorf("zstd: decoded into a new buffer, not dst's spare capacity")
		}
	}
}

// A frame holding more than the header says is stopped without decoding
// it into memory.
func TestDecodeIntoBomb(t *testing.T) {
	big := bytes.Repeat([]byte("A"), 50<<20)
	h := testHeader(CodecZstd, 0, big[:100])
	h.Lines = 0
	e, _ := NewEncoder()
	obj, err := e.Encode(nil, h, big)
	if err != nil {
		t.Fatal(err)
	}
	_, out, err := DecodeInto(nil, obj, Limits{})
	if err == nil || cap(out) > 1<<20 {
		t.Fatalf("bomb: err %v, buffer of %d", err, cap(out))
	}
}
