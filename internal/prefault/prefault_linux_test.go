package prefault

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"syscall"
	"testing"
	"unsafe"
)

// Buffer keeps a buffer's bytes and maps its pages up front, so the
// first writes into a new chunk buffer take no page faults.
func TestBuffer(t *testing.T) {
	for _, n := range []int{0, 1, 4095, 4096, 3*4096 + 7} {
		b := bytes.Repeat([]byte{0xa5}, n)
		if err := Buffer(b); err != nil && !errors.Is(err, syscall.EINVAL) {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(b, bytes.Repeat([]byte{0xa5}, n)) {
			t.Fatalf("%d bytes: contents changed", n)
		}
	}
	const size = 8 << 20
	b := make([]byte, size)[:0]
	if err := Buffer(b[1:1]); errors.Is(err, syscall.EINVAL) {
		t.Skip("kernel before 5.14: MADV_POPULATE_WRITE refused")
	} else if err != nil {
		t.Fatal(err)
	}
	zero, err := os.Open("/dev/zero")
	if err != nil {
		t.Fatal(err)
	}
	defer zero.Close()
	runtime.LockOSThread() // RUSAGE_THREAD counts this thread only
	defer runtime.UnlockOSThread()
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_THREAD, &before)
	// The kernel writes the pages (a raw read, not instrumented by the
	// race detector, whose shadow memory would fault on every write).
	p := unsafe.Pointer(unsafe.SliceData(b[:size]))
	if n, _, e := syscall.Syscall(syscall.SYS_READ, zero.Fd(), uintptr(p), size); e != 0 || n != size {
		t.Fatalf("read /dev/zero: %d, %v", n, e)
	}
	syscall.Getrusage(syscall.RUSAGE_THREAD, &after)
	if faults := after.Minflt - before.Minflt; faults > size/4096/4 {
		t.Fatalf("%d page faults writing %d prefaulted pages", faults, size/4096)
	}
}
