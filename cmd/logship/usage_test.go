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
