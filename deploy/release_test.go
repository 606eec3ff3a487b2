package deploy

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// repoRoot is the repository root, the Docker build context.
const repoRoot = ".."

var archs = []string{"amd64", "arm64"}

// release runs `make release` once for every test of this package.
var release struct {
	dist string
	out  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if release.dist != "" {
		os.RemoveAll(filepath.Dir(release.dist))
	}
	os.Exit(code)
}

// makeRelease runs `make release` into a temporary dist folder, once.
func makeRelease(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the release build cross-compiles two architectures")
	}
	if release.dist == "" && release.err == nil {
		tmp, err := os.MkdirTemp("", "logship-release-")
		if err != nil {
			t.Fatal(err)
		}
		release.dist = filepath.Join(tmp, "dist")
		cmd := exec.Command("make", "-C", repoRoot, "release", "DIST="+release.dist, "VERSION=v9.8.7-test")
		out, err := cmd.CombinedOutput()
		release.out, release.err = string(out), err
	}
	if release.err != nil {
		t.Fatalf("make release: %v\n%s", release.err, release.out)
	}
	return release.dist
}

// The release layout: one static binary per architecture, and checksums
// that match them.
func TestReleaseBuild(t *testing.T) {
	dist := makeRelease(t)
	sums := readSums(t, filepath.Join(dist, "SHA256SUMS"))
	if len(sums) != len(archs) {
		t.Fatalf("SHA256SUMS lists %v, want %d binaries", sums, len(archs))
	}
	for _, arch := range archs {
		name := "logship-linux-" + arch
		bin := filepath.Join(dist, name)
		if got := sha256File(t, bin); got != sums[name] {
			t.Errorf("%s: sha256 %s, SHA256SUMS says %q", name, got, sums[name])
		}
		checkStatic(t, bin, arch)
		if arch == runtime.GOARCH && runtime.GOOS == "linux" {
			out, err := exec.Command(bin, "--version").CombinedOutput()
			if err != nil {
				t.Fatalf("%s --version: %v\n%s", name, err, out)
			}
			commit := strings.TrimSpace(gitOut(t, "rev-parse", "HEAD"))[:12]
			want := regexp.MustCompile(`^logship version v9\.8\.7-test \(commit ` + commit + `, \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, go1\.\S+ linux/` + arch + `\)\n$`)
			if !want.Match(out) {
				t.Errorf("%s --version printed %q, want %s", name, out, want)
			}
		}
	}
}

// checkStatic: built without cgo, and an ELF that needs no loader and no
// shared library.
func checkStatic(t *testing.T, bin, arch string) {
	t.Helper()
	out, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, out)
	}
	for _, want := range []string{"\tbuild\tCGO_ENABLED=0\n", "\tbuild\tGOARCH=" + arch + "\n", "\tbuild\tGOOS=linux\n", "\tbuild\t-trimpath=true\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("%s: go version -m lacks %q:\n%s", filepath.Base(bin), strings.TrimSpace(want), out)
		}
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s: has a %v program header: dynamically linked", filepath.Base(bin), p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s: needs %v", filepath.Base(bin), libs)
	}
}

// Building again, from a copy of the tree in another folder and later,
// gives the same bytes.
func TestReleaseReproducible(t *testing.T) {
	dist := makeRelease(t)
	sums := readSums(t, filepath.Join(dist, "SHA256SUMS"))
	// The same commit elsewhere: the tracked files, as a clone would have them.
	src := filepath.Join(t.TempDir(), "elsewhere", "logship")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	files := strings.Split(strings.TrimRight(gitOut(t, "ls-files", "-z", "--cached", "--others", "--exclude-standard"), "\x00"), "\x00")
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			if os.IsNotExist(err) {
				continue // deleted in the work tree
			}
			t.Fatal(err)
		}
		dst := filepath.Join(src, f)
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// No git there: the version, commit and date are what the first build used.
	commit := strings.TrimSpace(gitOut(t, "rev-parse", "HEAD"))
	epoch := strings.TrimSpace(gitOut(t, "log", "-1", "--format=%ct"))
	dist2 := filepath.Join(t.TempDir(), "dist")
	cmd := exec.Command("make", "-C", src, "release", "DIST="+dist2, "PLATFORMS=linux/amd64",
		"VERSION=v9.8.7-test", "COMMIT="+commit, "SOURCE_DATE_EPOCH="+epoch)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("second build: %v\n%s", err, out)
	}
	if got := sha256File(t, filepath.Join(dist2, "logship-linux-amd64")); got != sums["logship-linux-amd64"] {
		t.Fatalf("linux/amd64 built twice: %s, then %s from %s", sums["logship-linux-amd64"], got, src)
	}
}

func gitOut(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return string(out)
}

func readSums(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("SHA256SUMS line %q", sc.Text())
		}
		sums[name] = sum
	}
	return sums
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// instruction is one Dockerfile instruction: its keyword and arguments.
type instruction struct {
	line int
	cmd  string
	args string
}

// parseDockerfile splits a Dockerfile into instructions: comments and
// blank lines dropped, backslash continuations joined.
func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur strings.Builder
	start := 0
	for i, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if cur.Len() == 0 && (l == "" || strings.HasPrefix(l, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if c, ok := strings.CutSuffix(l, `\`); ok {
			cur.WriteString(c + " ")
			continue
		}
		cur.WriteString(l)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// The example image: FROM the application's image, COPY of files that
// the release layout has (for every architecture BuildKit may set in
// TARGETARCH), logship run as the entrypoint and a java command.
func TestDockerfile(t *testing.T) {
	dist := makeRelease(t)
	ins := parseDockerfile(t, "Dockerfile")
	var from, entry, cmd bool
	args := map[string]string{}
	for _, in := range ins {
		switch in.cmd {
		case "ARG":
			k, v, _ := strings.Cut(in.args, "=")
			args[k] = v
		case "FROM":
			from = true
			if !strings.Contains(in.args, "${APP_IMAGE}") || args["APP_IMAGE"] == "" {
				t.Errorf("line %d: FROM %s: want the application's image, from ARG APP_IMAGE", in.line, in.args)
			}
		case "COPY":
			f := strings.Fields(in.args)
			if len(f) < 2 || strings.HasPrefix(f[0], "--") {
				t.Fatalf("line %d: COPY %s: want plain sources and a destination", in.line, in.args)
			}
			for _, src := range f[:len(f)-1] {
				for _, arch := range archs {
					p := strings.ReplaceAll(src, "${TARGETARCH}", arch)
					if strings.HasPrefix(p, "dist/") {
						p = filepath.Join(dist, strings.TrimPrefix(p, "dist/")) // the release layout
					} else {
						p = filepath.Join(repoRoot, p)
					}
					if _, err := os.Stat(p); err != nil {
						t.Errorf("line %d: COPY source %s (TARGETARCH=%s): %v", in.line, src, arch, err)
					}
				}
			}
		case "ENTRYPOINT":
			entry = true
			var e []string
			if err := json.Unmarshal([]byte(in.args), &e); err != nil || strings.Join(e, " ") != "logship run --" {
				t.Errorf(`line %d: ENTRYPOINT %s, want ["logship", "run", "--"] (exec form)`, in.line, in.args)
			}
		case "CMD":
			cmd = true
			var c []string
			if err := json.Unmarshal([]byte(in.args), &c); err != nil || len(c) < 3 || c[0] != "java" || !strings.Contains(in.args, `"-jar"`) {
				t.Errorf("line %d: CMD %s, want a java -jar command in exec form", in.line, in.args)
			}
		}
	}
	if !from || !entry || !cmd {
		t.Fatalf("FROM %v, ENTRYPOINT %v, CMD %v: all three are needed", from, entry, cmd)
	}
	t.Run("entrypoint command", func(t *testing.T) {
		if runtime.GOOS != "linux" {
			t.Skip("runs the linux binary")
		}
		out, err := exec.Command(filepath.Join(dist, "logship-linux-"+runtime.GOARCH), "run", "--help").CombinedOutput()
		if strings.Contains(string(out), `unknown command "run"`) {
			t.Skip("`logship run` is not in this build yet: the image's ENTRYPOINT needs it")
		}
		if err != nil {
			t.Fatalf("logship run --help: %v\n%s", err, out)
		}
	})
}
