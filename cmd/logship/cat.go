package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"

	"github.com/logship/logship/internal/retrieve"
	"github.com/spf13/cobra"
)

func newCatCmd() *cobra.Command {
	var o catOptions
	c := &cobra.Command{
		Use:   "cat --from ARCHIVE [filters] [--grep REGEX]",
		Short: "Print the reassembled lines of archived logs, verified, without writing files",
		Long: `Print what the filters select to stdout, file by file (in app, host, source,
path order) and generation by generation in ingest order, with duplicates
and overlaps removed and every object verified, so that
logship cat ... | grep works. --grep keeps the lines a regular expression
(Go syntax) matches; -H starts each line with APP/HOST/SOURCE/PATH:.
Problems go to stderr.

` + selectHelp + `

Exit codes: 0 all good; 3 printed, but something was corrupt, unsafe,
could not be fetched, or a stream has a gap; 2 usage; 1 failure.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signalContext()
			defer stop()
			o.stdout, o.stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			return runCat(ctx, &o)
		},
	}
	o.sf.add(c)
	c.Flags().StringVar(&o.grep, "grep", "", "print only lines matching this regular expression")
	c.Flags().BoolVarP(&o.withName, "with-name", "H", false, "start each line with APP/HOST/SOURCE/PATH:")
	return c
}

// catOptions are the flags of cat and where it writes.
type catOptions struct {
	sf       selectFlags
	grep     string
	withName bool

	stdout, stderr io.Writer // the lines; problems
}

// runCat prints the reassembled lines the filters select.
func runCat(ctx context.Context, o *catOptions) error {
	var re *regexp.Regexp
	if o.grep != "" {
		var err error
		if re, err = regexp.Compile(o.grep); err != nil {
			return usageErr(fmt.Errorf("cat: --grep: %w", err))
		}
	}
	a, flt, err := o.sf.resolve(ctx, o.stderr)
	if err != nil {
		return err
	}
	defer closeArchive(a)
	sum, err := retrieve.Cat(ctx, a, o.stdout, retrieve.CatOptions{Filter: flt, Parallel: o.sf.parallel, Grep: re, WithName: o.withName,
		OnProblem: func(p retrieve.Problem) { fmt.Fprintln(o.stderr, "logship:", p.String()) }})
	if err != nil {
		if ctx.Err() != nil {
			return errors.New("cat: interrupted")
		}
		return err
	}
	if len(sum.Problems) > 0 {
		return problemsErr(fmt.Errorf("%d problems (listed above)", len(sum.Problems)))
	}
	return nil
}
