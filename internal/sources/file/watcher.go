package file

import (
	"sync"
	"sync/atomic"

	"github.com/fsnotify/fsnotify"
)

// maxWatches bounds the folders watched; beyond it the scan alone finds
// changes (within scan_interval).
const maxWatches = 4096

// watcher turns fsnotify events on the listed folders into wake-ups. It is
// only a hint: the scan stays the source of truth, so lost or overflowed
// events cost latency, never data.
type watcher struct {
	w       *fsnotify.Watcher
	wake    chan struct{}
	scan    atomic.Bool // a name appeared, disappeared or changed mode
	dirs    map[string]bool
	done    chan struct{}
	stopped sync.WaitGroup
}

func newWatcher() (*watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	w := &watcher{w: fw, wake: make(chan struct{}, 1), dirs: map[string]bool{}, done: make(chan struct{})}
	w.stopped.Add(1)
	go w.loop()
	return w, nil
}

func (w *watcher) loop() {
	defer w.stopped.Done()
	for {
		select {
		case <-w.done:
			return
		case ev, ok := <-w.w.Events:
			if !ok {
				return
			}
			if ev.Op&(fsnotify.Create|fsnotify.Remove|fsnotify.Rename|fsnotify.Chmod) != 0 {
				w.scan.Store(true)
			}
			w.poke()
		case _, ok := <-w.w.Errors:
			if !ok {
				return
			}
			// Overflow or the like: rescan.
			w.scan.Store(true)
			w.poke()
		}
	}
}

func (w *watcher) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// wakeup returns the channel that receives a value after events; nil (never
// ready) when there is no watcher.
func (w *watcher) wakeup() <-chan struct{} {
	if w == nil {
		return nil
	}
	return w.wake
}

// takeScan reports (and clears) whether an event asked for a scan.
func (w *watcher) takeScan() bool { return w.scan.Swap(false) }

// sync watches exactly the folders in dirs (up to maxWatches). Called from
// the tailer's goroutine only.
func (w *watcher) sync(dirs map[string]bool) {
	// The kernel drops the watch of a removed folder: a folder created
	// again under the same name needs a new one.
	clear(w.dirs)
	for _, d := range w.w.WatchList() {
		w.dirs[d] = true
	}
	for d := range w.dirs {
		if !dirs[d] {
			_ = w.w.Remove(d)
			delete(w.dirs, d)
		}
	}
	for d := range dirs {
		if w.dirs[d] || len(w.dirs) >= maxWatches {
			continue
		}
		if w.w.Add(d) == nil {
			w.dirs[d] = true
		}
	}
}

func (w *watcher) close() {
	close(w.done)
	_ = w.w.Close()
	w.stopped.Wait()
}
