package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Exit code 2 comes from typed errors, whatever cobra's messages say.
func TestUsageErrorsAreTyped(t *testing.T) {
	for _, args := range [][]string{
		{"no-such-command"},
		{"ls", "extra"},
		{"validate", "extra"},
		{"ls", "--no-such-flag"},
		{"pull", "--parallel", "many"},
	} {
		root := newRoot()
		root.SetArgs(args)
		_, err := root.ExecuteC()
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != exitUsage {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	root := newRoot()
	root.SetArgs([]string{"lss"})
	if _, err := root.ExecuteC(); err == nil || !strings.Contains(err.Error(), "Did you mean this?\n\tls") {
		t.Errorf("lss: %v, want the suggestion of ls", err)
	}
	// Every command's Args validator is wrapped, whatever it is.
	root = newRoot()
	root.AddCommand(&cobra.Command{Use: "two", Args: cobra.ExactArgs(2), RunE: func(*cobra.Command, []string) error { return nil }})
	usageArgs(root)
	root.SetArgs([]string{"two", "a"})
	if _, err := root.ExecuteC(); !isUsage(err) {
		t.Errorf("ExactArgs: %v, want a usage error", err)
	}
}

// Each command's --help names the embedded config it really falls back
// to: configs/run.yaml for run, configs/default.yaml for the others that
// read a config.
func TestHelpNamesEmbeddedConfig(t *testing.T) {
	for _, tc := range []struct{ cmd, want, not string }{
		{"run", "configs/run.yaml", "configs/default.yaml"},
		{"agent", "configs/default.yaml", "configs/run.yaml"},
		{"validate", "configs/default.yaml", "configs/run.yaml"},
		{"check", "configs/default.yaml", "configs/run.yaml"},
		{"status", "configs/default.yaml", "configs/run.yaml"},
		{"snapshot", "configs/default.yaml", "configs/run.yaml"},
	} {
		root := newRoot()
		var out strings.Builder
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs([]string{tc.cmd, "--help"})
		if _, err := root.ExecuteC(); err != nil {
			t.Fatalf("%s --help: %v", tc.cmd, err)
		}
		var flag string
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.Contains(l, "--config string") {
				flag = l
			}
		}
		if !strings.Contains(flag, tc.want) || strings.Contains(flag, tc.not) {
			t.Errorf("%s --help: the -c flag says %q, want %s", tc.cmd, strings.TrimSpace(flag), tc.want)
		}
	}
}
