package osstest

import "net/http"

const crcHeader = "X-Oss-Hash-Crc64ecma"

// noCRCWriter removes the CRC-64 header from a response (Options.NoCRC64).
type noCRCWriter struct {
	http.ResponseWriter
	started bool
}

func (w *noCRCWriter) WriteHeader(code int) {
	if !w.started {
		w.started = true
		w.Header().Del(crcHeader)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *noCRCWriter) Write(p []byte) (int, error) {
	if !w.started {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

func (w *noCRCWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *noCRCWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// crc64Combine returns the CRC64-ECMA (as hash/crc64 and OSS compute it) of
// the concatenation A+B from crc1 = CRC(A), crc2 = CRC(B) and len2 = len(B),
// the way zlib's crc32_combine does: multiply crc1 by x^(8*len2) in GF(2)
// using repeated squaring of the one-zero-bit operator matrix.
func crc64Combine(crc1, crc2 uint64, len2 int64) uint64 {
	if len2 <= 0 {
		return crc1
	}
	var even, odd [64]uint64
	odd[0] = 0xC96C5795D7870F42 // reflected ECMA-182 polynomial
	row := uint64(1)
	for i := 1; i < 64; i++ {
		odd[i] = row
		row <<= 1
	}
	gf2Square(&even, &odd) // two zero bits
	gf2Square(&odd, &even) // four zero bits
	for {
		gf2Square(&even, &odd) // apply len2 zeros, a bit at a time
		if len2&1 != 0 {
			crc1 = gf2Times(&even, crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
		gf2Square(&odd, &even)
		if len2&1 != 0 {
			crc1 = gf2Times(&odd, crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
	}
	return crc1 ^ crc2
}

func gf2Times(mat *[64]uint64, vec uint64) uint64 {
	var sum uint64
	for i := 0; vec != 0; i++ {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
		vec >>= 1
	}
	return sum
}

func gf2Square(square, mat *[64]uint64) {
	for n := 0; n < 64; n++ {
		square[n] = gf2Times(mat, mat[n])
	}
}
