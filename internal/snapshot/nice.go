package snapshot

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Niceness is the priority LowerPriority sets.
const Niceness = 10

// LowerPriority sets the nice value of every thread of this process to
// Niceness (Linux keeps it per thread; threads started later inherit it
// from the thread that starts them). For the snapshot command, which must
// not take CPU from the app it inspects; errors are ignored (a priority
// that cannot be lowered is no reason not to collect).
func LowerPriority() {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		unix.Setpriority(unix.PRIO_PROCESS, 0, Niceness)
		return
	}
	for _, t := range tasks {
		if tid, err := strconv.Atoi(t.Name()); err == nil {
			unix.Setpriority(unix.PRIO_PROCESS, tid, Niceness)
		}
	}
}
