package main

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/logship/logship/internal/retrieve"
	"github.com/spf13/cobra"
)

func newCatCmd() *cobra.Command {
	var (
		sf       selectFlags
		grep     string
		withName bool
	)
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
			var re *regexp.Regexp
			if grep != "" {
				var err error
				if re, err = regexp.Compile(grep); err != nil {
					return usageErr(fmt.Errorf("--grep: %w", err))
				}
			}
			ctx, stop := signalContext()
			defer stop()
			a, flt, err := sf.resolve(ctx, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer closeArchive(a)
			errw := cmd.ErrOrStderr()
			sum, err := retrieve.Cat(ctx, a, cmd.OutOrStdout(), retrieve.CatOptions{Filter: flt, Parallel: sf.parallel, Grep: re, WithName: withName,
				OnProblem: func(p retrieve.Problem) { fmt.Fprintln(errw, "logship:", p.String()) }})
			if err != nil {
				if ctx.Err() != nil {
					return errors.New("interrupted")
				}
				return err
			}
			if len(sum.Problems) > 0 {
				return problemsErr(fmt.Errorf("%d problems (listed above)", len(sum.Problems)))
			}
			return nil
		},
	}
	sf.add(c)
	c.Flags().StringVar(&grep, "grep", "", "print only lines matching this regular expression")
	c.Flags().BoolVarP(&withName, "with-name", "H", false, "start each line with APP/HOST/SOURCE/PATH:")
	return c
}
