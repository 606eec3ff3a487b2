package schema

import (
	"errors"
	"strings"
	"testing"
)

func TestChecks(t *testing.T) {
	var ps Problems
	ps.OneOf("mode", "kmesg", []string{"auto", "kmsg"})
	ps.OneOf("mode", "", []string{"auto", "kmsg"})
	ps.Between("n", -1, 1, 10, Count)
	ps.Between("n", 0, 1, 10, Count)
	ps.Between("size", 1<<30, 0, 1<<20, ShowSize)
	ps.Positive("d", -1)
	ps.Positive("d", 0)
	ps.Positive("d", 1)
	want := []string{
		`mode: "kmesg" is not one of auto, kmsg; did you mean kmsg?`,
		"mode: required: one of auto, kmsg",
		"n: -1 is negative: at least 1",
		"n: 0 is too small: at least 1",
		"size: 1GiB is too large: at most 1MiB",
		"d: -1ns is negative: must be more than 0s, e.g. 1s",
		"d: must be more than 0s, e.g. 1s",
	}
	if got := ps.Error(); got != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
}

// Nest places a part's problems under its key path; an error that is not
// Problems becomes one problem at the prefix.
func TestNest(t *testing.T) {
	var part Problems
	part.Add("read_from", "bad")
	part.Add("paths[1]", "bad")
	part.Add("", "whole")
	var ps Problems
	ps.Nest("sources[0]", part.Err())
	ps.Nest("sink", nil)
	ps.Nest("pipeline", errors.New("broken"))
	var got []string
	for _, p := range ps {
		got = append(got, p.Path)
	}
	if want := "sources[0].read_from sources[0].paths[1] sources[0] pipeline"; strings.Join(got, " ") != want {
		t.Errorf("paths %q, want %q", strings.Join(got, " "), want)
	}
	if (Problems{}).Err() != nil {
		t.Error("no problems must be a nil error")
	}
}

func TestDefault(t *testing.T) {
	n, s := 0, "set"
	Default(&n, 5)
	Default(&s, "default")
	if n != 5 || s != "set" {
		t.Errorf("Default: %d %q", n, s)
	}
}
