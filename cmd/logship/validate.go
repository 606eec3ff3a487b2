package main

import (
	"fmt"

	"github.com/logship/logship/internal/governor"

	"github.com/spf13/cobra"
)

func newValidateCmd() *cobra.Command {
	var (
		cf    configFlags
		print bool
	)
	c := &cobra.Command{
		Use:   "validate",
		Short: "Check a config file and report every problem at once",
		Long: `Check a config file: unknown or misspelt keys, values of the wrong type,
durations without units, and settings that do not fit together are all
reported at once, each with its line. Exit code 0 when valid, 2 when not.
With --print, show the effective config (defaults, environment and flags
applied; secrets redacted): the values the agent runs with, including the
defaults that depend on this machine and user (host, pipeline.state_dir);
the settings left at 0 (automatic: compressors, cpus, the memory limit)
are followed by what they come to here, as comments.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			if print {
				b, err := cfg.YAML()
				if err != nil {
					return err
				}
				cmd.OutOrStdout().Write(b)
				fmt.Fprint(cmd.OutOrStdout(), machineNote(cfg, governor.SelfCgroup()))
				return nil
			}
			fmt.Fprintln(cmd.OutOrStdout(), "config is valid")
			return nil
		},
	}
	cf.add(c)
	c.Flags().BoolVar(&print, "print", false, "print the effective config")
	return c
}
