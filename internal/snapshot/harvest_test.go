package snapshot

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestHarvestSecretsFromCommandLine: the values run's events hide are
// masked in the bundle too: -Dname.password=VALUE, --api-token=VALUE and
// the argument after a flag named like a secret (--db-password VALUE).
func TestHarvestSecretsFromCommandLine(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "42"), 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"java", "-Dspring.datasource.password=zz9secret", "-jar", "app.jar", "--db-password", "hunter2", "--api-token=abc123", "--port", "8080"}
	if err := os.WriteFile(filepath.Join(root, "42", "cmdline"), []byte(strings.Join(args, "\x00")+"\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := harvestSecrets(root, 42, nil)
	for _, want := range []string{"zz9secret", "hunter2", "abc123"} {
		if !slices.Contains(got, want) {
			t.Errorf("%q not harvested: %q", want, got)
		}
	}
	for _, not := range []string{"8080", "app.jar", "--db-password"} {
		if slices.Contains(got, not) {
			t.Errorf("%q harvested: %q", not, got)
		}
	}
}
