package retrieve

import (
	"os"
	"sync/atomic"
)

// writeBehindWindow is the unit of write-behind: a pull starts the
// writeback of each window of an output file as soon as it is written,
// and asks the kernel to drop its pages two windows later.
var writeBehindWindow int64 = 8 << 20

// writeBehind keeps a pull from filling the page cache with the files it
// writes, as dd's oflag=nocache and PostgreSQL's *_flush_after do: when a
// window of the output is complete it starts the window's writeback
// (without waiting for it), and it drops the pages of the window written
// two windows before, which are clean by then when the disk keeps up
// (pages still dirty stay: a slow disk does not slow the pull down).
//
// The pages a pull writes into are then the pages it freed a moment
// earlier. Fresh pages cost far more: on a virtual machine whose host
// takes back free memory, plain writes into new page-cache pages took
// 0.61 s of system time per GiB here, into pages just freed 0.14-0.19,
// and write-behind 0.19-0.21 either way (BenchmarkWriteBehind). It also
// leaves the page cache (and the dirty memory that the kernel throttles
// writers on) to the machine's other work. The price is that a file just
// pulled is read back from the disk, not from memory.
//
// It is advice: the calls' errors are ignored, and it does nothing where
// the system has no such calls.
type writeBehind struct {
	f       *os.File
	started int64 // writeback started on [0, started)
	dropped int64 // pages dropped on [0, dropped)
}

// wrote tells that the output is now size bytes long.
func (b *writeBehind) wrote(size int64) {
	for size-b.started >= writeBehindWindow {
		startWriteback(b.f, b.started, writeBehindWindow)
		b.started += writeBehindWindow
		if b.started-b.dropped > 2*writeBehindWindow {
			dropCache(b.f, b.dropped, writeBehindWindow)
			b.dropped += writeBehindWindow
			cacheDrops.Add(1)
		}
	}
}

// cacheDrops counts the windows dropped (for tests).
var cacheDrops atomic.Int64
