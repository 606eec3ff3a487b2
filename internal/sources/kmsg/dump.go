package kmsg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/sys/unix"
)

// DumpStats is what Dump read.
type DumpStats struct {
	Mode     string // ModeKmsg or ModeKlogctl
	Records  int64
	OOMLines int64 // lines of OOM killer reports
	OOMKills int64 // processes the OOM killer announced as killed
}

// Dump writes the kernel log as it is now, one line per record in the
// format of the archived stream (appendLine), to w, and each line of an
// OOM killer report also to oom when oom is not nil. It reads the device
// with s.OpenDevice until the ring is exhausted (EAGAIN), or, when the
// device cannot be opened, syslog(2) READ_ALL with s.Klogctl, like dmesg.
// It is the snapshot's kernel collector: the same readers and parsers as
// the source, without a pipeline.
func (s *Source) Dump(ctx context.Context, w, oom io.Writer) (DumpStats, error) {
	boot := s.BootTime
	if boot.IsZero() {
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
			return DumpStats{}, fmt.Errorf("kmsg: clock_gettime: %w", err)
		}
		boot = time.Now().Add(-time.Duration(ts.Nano()))
	}
	var st DumpStats
	line := make([]byte, 0, 1024)
	emit := func(r *record) error {
		line = appendLine(line[:0], r, boot)
		st.Records++
		if _, err := w.Write(line); err != nil {
			return err
		}
		if isOOM(r.Msg) {
			st.OOMLines++
			if isOOMKill(r.Msg) {
				st.OOMKills++
			}
			if oom != nil {
				if _, err := oom.Write(line); err != nil {
					return err
				}
			}
		}
		return nil
	}
	dev, devErr := s.OpenDevice(s.device)
	if devErr == nil {
		defer dev.Close()
		st.Mode = ModeKmsg
		buf := make([]byte, recordBufSize)
		for ctx.Err() == nil {
			n, err := dev.Read(buf)
			switch {
			case errors.Is(err, unix.EPIPE):
				continue // overwritten while reading: go on with the next
			case errors.Is(err, unix.EAGAIN) || errors.Is(err, io.EOF) || err == nil && n == 0:
				return st, nil // the ring is read (a /dev/null in its place reads empty)
			case err != nil:
				return st, fmt.Errorf("kmsg: %s: %w", s.device, err)
			}
			r, err := parseRecord(buf[:n])
			if err != nil {
				continue
			}
			if err := emit(&r); err != nil {
				return st, err
			}
		}
		return st, ctx.Err()
	}
	var buf []byte
	text, err := s.readKlog(&buf)
	if err != nil {
		return st, fmt.Errorf("kmsg: %s: %v; %w", s.device, devErr, err)
	}
	st.Mode = ModeKlogctl
	for _, l := range splitKlog(text) {
		if err := emit(&l.rec); err != nil {
			return st, err
		}
	}
	return st, nil
}
