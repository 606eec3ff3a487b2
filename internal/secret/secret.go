// Package secret tells which names hold secrets and hides their values in
// command lines. One list serves the events of `logship run`, the crash
// summaries of hs_err files (archive headers, `ls`, `report`) and the
// snapshot's environment and process listings, so that a value hidden in
// one is not shown by another.
package secret

import "strings"

// Words mark a name (an environment variable, a system property, a flag, a
// key=value pair) whose value is a secret, in any case.
var Words = []string{"KEY", "SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH", "PRIVATE"}

// Redacted replaces a secret value in a command line.
const Redacted = "[redacted]"

// IsName reports whether name holds one of Words (any case).
func IsName(name string) bool {
	u := strings.ToUpper(name)
	for _, w := range Words {
		if strings.Contains(u, w) {
			return true
		}
	}
	return false
}

// Args returns a copy of a command's arguments with secret values
// replaced by Redacted: the value of NAME=VALUE (-DNAME=VALUE,
// --NAME=VALUE, NAME=VALUE) when NAME holds a secret word, and the
// argument after a flag named so (--db-password VALUE).
func Args(args []string) []string {
	out := make([]string, len(args))
	hideNext := false
	for i, a := range args {
		out[i] = a
		if hideNext {
			hideNext = false
			if !strings.HasPrefix(a, "-") { // another flag is no value: it is looked at in turn
				out[i] = Redacted
				continue
			}
		}
		name, _, ok := strings.Cut(a, "=")
		switch {
		case ok && IsName(name):
			out[i] = name + "=" + Redacted
		case !ok && strings.HasPrefix(a, "-") && IsName(a):
			hideNext = true
		}
	}
	return out
}

// CommandLine is Args for a command line held as one string, its words
// separated by spaces (as a JVM prints its own in hs_err files). Spacing
// is kept.
func CommandLine(s string) string {
	return strings.Join(Args(strings.Split(s, " ")), " ")
}
