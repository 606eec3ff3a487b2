package osstest

import (
	"hash/crc64"
	"math/rand"
	"testing"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
)

func TestCRC64Combine(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	data := randomBytes(1<<16, 5)
	for i := 0; i < 200; i++ {
		a := rng.Intn(len(data) + 1)
		b := a + rng.Intn(len(data)-a+1)
		if i < 3 { // empty pieces
			a, b = []int{0, 0, len(data)}[i], []int{0, len(data), len(data)}[i]
		}
		c1 := crc64.Checksum(data[:a], crcTable)
		c2 := crc64.Checksum(data[a:b], crcTable)
		want := crc64.Checksum(data[:b], crcTable)
		if got := crc64Combine(c1, c2, int64(b-a)); got != want {
			t.Fatalf("combine(%d, %d) = %x, want %x", a, b, got, want)
		}
		// The SDK's own combination, which its Uploader checks, agrees.
		if got := oss.CRC64Combine(c1, c2, uint64(b-a)); got != want {
			t.Fatalf("SDK combine(%d, %d) = %x, want %x", a, b, got, want)
		}
	}
}
