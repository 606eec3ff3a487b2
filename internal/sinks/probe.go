package sinks

import (
	"context"
	"time"
)

// Prober is implemented by sinks that can test, step by step, that
// shipping to them works (`logship check`). Probe reports each step
// through report as it ends, in order; a step that fails ends the probe
// (the steps after it are reported as Skip, or not at all). Probe writes a
// probe object under prefix+".logship-check/" exactly as chunks are
// written, reads it back and removes it. It returns true when no step
// failed: a warning (a permission only readers need, a probe that could
// not be removed) does not count.
type Prober interface {
	Probe(ctx context.Context, prefix string, report func(Step)) bool
}

// Verdict is the outcome of one probe step.
type Verdict string

// Verdicts. Warn is a problem that does not stop shipping.
const (
	OK   Verdict = "ok"
	Warn Verdict = "warn"
	Fail Verdict = "FAIL"
	Skip Verdict = "skip"
)

// Step is one step of a probe (or of opening a sink: see StepError).
type Step struct {
	Name      string // e.g. credentials, dns, tcp, tls, auth, bucket, clock, write, read, delete, uploads
	Verdict   Verdict
	Took      time.Duration
	Detail    string // what was seen
	Diagnosis string // for Fail and Warn: the cause and the fix
}

// StepError is an error of a sink's constructor that names the probe step
// it belongs to ("endpoint", "credentials"), so that a check reports it
// under that name instead of a generic one.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }
