package config

import (
	"testing"

	"github.com/logship/logship/configs"
)

// FuzzParse checks that no input makes the decoder panic, and that any
// config it accepts survives defaults, validation and a YAML round trip:
// YAML() output parses again to the same YAML.
func FuzzParse(f *testing.F) {
	for _, b := range configs.Examples() {
		f.Add(b)
	}
	for _, s := range []string{
		"", "app: [a", "a: &a [*a]", "sources: [{<<: {type: file}, paths: [x]}]",
		"pipeline: {max_bytes: 8MiB, max_age: 30}", "sink: {internal: yes}", "\tapp: x",
		"x: &x {a: *x}", "sources: [&s {type: file}, *s, *s]", "? [a]\n: b",
		"x-t: &t crash\nsources: [{type: *t, paths: [a]}, {paths: [b], type: kmsg}]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, ps := parse(data, "fuzz.yaml")
		_ = ps.Error()
		if len(ps) > 0 {
			return
		}
		c.SetDefaults()
		_ = c.Validate()
		y1, err := c.YAML()
		if err != nil {
			t.Fatalf("YAML: %v", err)
		}
		c2, err := Parse(y1, "round.yaml")
		if err != nil {
			t.Fatalf("YAML() output does not parse: %v\n%s", err, y1)
		}
		c2.SetDefaults()
		y2, err := c2.YAML()
		if err != nil {
			t.Fatal(err)
		}
		if string(y1) != string(y2) {
			t.Fatalf("round trip changed the config:\n%s\n---\n%s", y1, y2)
		}
	})
}
