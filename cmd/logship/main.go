// Command logship ships container logs to OSS and brings them back.
//
// Exit codes:
//
//	0  success
//	1  runtime failure (sink unusable, I/O error, shutdown deadline passed with data not yet durable)
//	2  usage error or invalid configuration
//	3  finished, but with problems to look at (pull: corrupt or missing objects; check: a step failed)
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes, documented in the package comment and the README.
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2
	exitProblems = 3
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(err error) error    { return &exitError{exitUsage, err} }
func problemsErr(err error) error { return &exitError{exitProblems, err} }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "logship",
		Short:         "Ship container logs, JVM crash files and kernel messages to OSS, and bring them back",
		Version:       readBuildInfo().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageErr(err) })
	root.AddCommand(newAgentCmd(), newValidateCmd(), newLsCmd(), newPullCmd(), newCatCmd(), newCheckCmd(), newBenchCmd(), newReportCmd(), newSnapshotCmd())
	return root
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	root := newRoot()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(os.Stderr, "logship:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if isUsage(err) {
		return exitUsage
	}
	return exitFailure
}
