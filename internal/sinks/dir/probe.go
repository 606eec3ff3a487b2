package dir

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/logship/logship/internal/sinks"
)

// Probe implements sinks.Prober: it writes a probe file under
// prefix+".logship-check/" as chunks are written (fsynced, renamed into
// place), reads it back and removes it, with the folder when nothing else
// is in it.
func (s *Sink) Probe(ctx context.Context, prefix string, report func(sinks.Step)) bool {
	timed := func(name string, f func() sinks.Step) sinks.Step {
		start := time.Now()
		st := f()
		st.Name, st.Took = name, time.Since(start)
		report(st)
		return st
	}
	host, _ := os.Hostname()
	key := prefix + ".logship-check/probe-" + time.Now().UTC().Format("20060102T150405.000000000Z") + ".txt"
	body := []byte("logship check probe from " + host + "; safe to delete\n")
	p := filepath.Join(s.root, filepath.FromSlash(key))
	st := timed("write", func() sinks.Step {
		if err := s.Put(ctx, &sinks.Object{Key: key, Body: body}); err != nil {
			return sinks.Step{Verdict: sinks.Fail, Detail: err.Error(), Diagnosis: "the agent cannot write to sink.path: check that the folder exists and is writable by this user"}
		}
		return sinks.Step{Verdict: sinks.OK, Detail: p + " (fsynced)"}
	})
	if st.Verdict == sinks.Fail {
		return false
	}
	ok := timed("read", func() sinks.Step {
		rc, _, err := s.Get(ctx, key)
		if err != nil {
			return sinks.Step{Verdict: sinks.Fail, Detail: err.Error()}
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, body) {
			return sinks.Step{Verdict: sinks.Fail, Detail: "the probe read back differs"}
		}
		return sinks.Step{Verdict: sinks.OK, Detail: "same bytes"}
	}).Verdict != sinks.Fail
	timed("delete", func() sinks.Step {
		if err := os.Remove(p); err != nil {
			return sinks.Step{Verdict: sinks.Warn, Detail: err.Error(), Diagnosis: "remove " + p + " by hand"}
		}
		_ = os.Remove(filepath.Dir(p)) // the probe folder, when nothing else is in it
		return sinks.Step{Verdict: sinks.OK, Detail: "probe removed"}
	})
	return ok
}
