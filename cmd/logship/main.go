// Command logship ships container logs to OSS and brings them back.
//
// Exit codes:
//
//	0  success
//	1  runtime failure (sink unusable, I/O error, shutdown deadline passed with data not yet durable)
//	2  usage error or invalid configuration
//	3  finished, but with problems to look at (pull: corrupt or missing objects; check: a step failed)
//	4  snapshot --remote: a host asked did not answer within --wait
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/logship/logship/internal/config"
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

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
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
		// Args and RunE make an unknown command a typed usage error:
		// without them cobra reports it as text only.
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErr(fmt.Errorf("unknown command %q for %q%s", args[0], c.CommandPath(), suggest(c, args[0])))
			}
			return nil
		},
		RunE:                       func(c *cobra.Command, _ []string) error { return c.Help() },
		SuggestionsMinimumDistance: 2, // as cobra's own unknown-command message
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageErr(err) })
	root.AddCommand(newAgentCmd(), newValidateCmd(), newLsCmd(), newPullCmd(), newCatCmd(), newCheckCmd(), newBenchCmd(), newReportCmd(), newRunCmd(), newSnapshotCmd(), newStatusCmd())
	usageArgs(root)
	return root
}

// suggest is cobra's "did you mean" for an unknown command.
func suggest(c *cobra.Command, arg string) string {
	s := c.SuggestionsFor(arg)
	if len(s) == 0 {
		return ""
	}
	return "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
}

// usageArgs marks the errors of every command's Args validator (cobra's
// NoArgs and the like) as usage errors.
func usageArgs(root *cobra.Command) {
	for _, c := range root.Commands() {
		if v := c.Args; v != nil {
			c.Args = func(c *cobra.Command, args []string) error {
				if err := v(c, args); err != nil {
					return usageErr(err)
				}
				return nil
			}
		}
	}
}

// isUsage reports an error that means exit code 2: one marked with
// usageErr, or an invalid configuration.
func isUsage(err error) bool {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code == exitUsage
	}
	_, ok := config.AsProblems(err)
	return ok
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
	var ee *exitError
	if errors.As(err, &ee) && ee.err == nil {
		return ee.code // logship run: the child's status, nothing to say
	}
	fmt.Fprintln(os.Stderr, "logship:", err)
	if errors.As(err, &ee) {
		return ee.code
	}
	if isUsage(err) { // an invalid config returned as it is
		return exitUsage
	}
	return exitFailure
}
