package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set by the release build (make release) with -ldflags "-X main.version=...
// -X main.commit=... -X main.date=...". Empty, they come from the build
// information Go embeds: the module version (a tag, or a pseudo-version
// built from the commit), vcs.revision and vcs.time (the commit's time,
// which keeps builds reproducible: no clock is read).
var (
	version string
	commit  string
	date    string
)

// buildInfo is what --version prints.
type buildInfo struct {
	Version, Commit, Date string
	Modified              bool // built from a tree with uncommitted changes
}

// readBuildInfo combines the ldflags values with debug.ReadBuildInfo; the
// ldflags win.
func readBuildInfo() buildInfo {
	var b buildInfo
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			b.Version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.time":
				b.Date = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if version != "" {
		b.Version = version
	}
	if commit != "" {
		b.Commit = commit
	}
	if date != "" {
		b.Date = date
	}
	return b
}

// shortVersion is the version alone ("dev" when Go could not learn one),
// as recorded in events and snapshots.
func shortVersion() string {
	if v := readBuildInfo().Version; v != "" {
		return v
	}
	return "dev"
}

// String is "v1.2.0 (commit 0123456789ab, 2026-12-06T07:00:00Z, go1.26.8
// linux/amd64)"; parts Go could not learn (a build outside a git tree)
// are left out, and a version it could not learn is "dev".
func (b buildInfo) String() string {
	v := b.Version
	if v == "" {
		v = "dev"
	}
	var extra []string
	if c := b.Commit; c != "" {
		if len(c) > 12 {
			c = c[:12]
		}
		if b.Modified && !strings.HasSuffix(b.Version, "+dirty") {
			c += "+dirty"
		}
		extra = append(extra, "commit "+c)
	}
	if b.Date != "" {
		extra = append(extra, b.Date)
	}
	extra = append(extra, fmt.Sprintf("%s %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH))
	return v + " (" + strings.Join(extra, ", ") + ")"
}
