package configs_test

import (
	"bytes"
	"io/fs"
	"testing"

	"github.com/logship/logship/configs"
	"github.com/logship/logship/internal/config"
)

// TestExamplesValidate loads and validates every embedded config, so that
// an example added to this folder is covered without touching the test.
func TestExamplesValidate(t *testing.T) {
	names, err := fs.Glob(configs.FS(), "*")
	if err != nil {
		t.Fatal(err)
	}
	examples := configs.Examples()
	if len(names) < 3 || len(examples) != len(names) {
		t.Fatalf("embedded files %v, Examples() has %d", names, len(examples))
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			data, err := fs.ReadFile(configs.FS(), name)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, examples[name]) {
				t.Fatal("Examples() differs from the file")
			}
			c, err := config.Parse(data, name)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDefaults()
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if _, err := c.YAML(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDefault(t *testing.T) {
	c, err := config.Parse(configs.Default(), configs.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	s := c.Sources
	if c.App != "demo" || len(s) != 1 || s[0].Type != "file" || len(s[0].File.Paths) != 1 || s[0].File.Paths[0] != "./demo/logs/**/*.log" ||
		c.Sink.Type != "dir" || c.Sink.Dir.Path != "./demo/archive" || c.Pipeline.StateDir != "./demo/state" ||
		c.Pipeline.MaxAge.String() != "2s" {
		t.Errorf("default config is not the demo: %+v", c)
	}
}
