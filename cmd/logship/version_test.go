package main

import (
	"os/exec"
	"regexp"
	"runtime"
	"testing"
)

func TestVersionString(t *testing.T) {
	goos := runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
	tests := []struct {
		name string
		b    buildInfo
		want string
	}{
		{"nothing known", buildInfo{}, "dev (" + goos + ")"},
		{"from build info", buildInfo{Version: "v0.0.0-20261206070000-0123456789ab", Commit: "0123456789abcdef0123456789abcdef01234567", Date: "2026-12-06T07:00:00Z"},
			"v0.0.0-20261206070000-0123456789ab (commit 0123456789ab, 2026-12-06T07:00:00Z, " + goos + ")"},
		{"uncommitted changes", buildInfo{Commit: "0123456789abcdef", Modified: true}, "dev (commit 0123456789ab+dirty, " + goos + ")"},
		{"pseudo-version says dirty", buildInfo{Version: "v0.0.0-x+dirty", Commit: "0123456789abcdef", Modified: true}, "v0.0.0-x+dirty (commit 0123456789ab, " + goos + ")"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.b.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// The -ldflags -X values of the release build win over what Go embedded.
func TestVersionLdflags(t *testing.T) {
	defer func(v, c, d string) { version, commit, date = v, c, d }(version, commit, date)
	version, commit, date = "v1.2.3", "fedcba9876543210", "2026-12-01T00:00:00Z"
	b := readBuildInfo()
	if b.Version != "v1.2.3" || b.Commit != "fedcba9876543210" || b.Date != "2026-12-01T00:00:00Z" {
		t.Fatalf("%+v", b)
	}
}

// --version of a built binary, and of `go build -ldflags -X` as the
// release does it.
func TestVersionFlag(t *testing.T) {
	out, _, code := runLogship(t, nil, "--version")
	if code != 0 || !regexp.MustCompile(`^logship version (dev|v\S+) \(.*go1\.\S+ \w+/\w+\)\n$`).MatchString(out) {
		t.Fatalf("--version: exit %d, %q", code, out)
	}
	if testing.Short() {
		return
	}
	bin := t.TempDir() + "/logship"
	build := exec.Command("go", "build", "-o", bin, "-ldflags", "-X main.version=v7.7.7 -X main.commit=abcdefabcdefabcdef -X main.date=2026-01-02T03:04:05Z", ".")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	got, err := exec.Command(bin, "--version").Output()
	want := "logship version v7.7.7 (commit abcdefabcdef, 2026-01-02T03:04:05Z, " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
	if err != nil || string(got) != want {
		t.Fatalf("--version: %q, %v; want %q", got, err, want)
	}
}
