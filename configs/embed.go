// Package configs holds logship's example configs, embedded in the binary:
// default.yaml is the config used when none is given; the others are
// examples to copy. Every file here is loaded and validated by the tests.
package configs

import (
	"embed"
	"io/fs"
	"path"
)

//go:embed *.yaml
var files embed.FS

// DefaultName is the file name of the embedded default config.
const DefaultName = "default.yaml"

// Default returns the embedded default config: app demo, reading
// ./logs/**/*.log into ./archive.
func Default() []byte {
	b, err := files.ReadFile(DefaultName)
	if err != nil {
		panic("configs: " + err.Error()) // embedded at build time: cannot happen
	}
	return b
}

// RunName is the file name of logship run's embedded default config.
const RunName = "run.yaml"

// Run returns logship run's embedded default config: the command's
// output, crash files and kernel log into ./archive, unless LOGSHIP_*
// variables say otherwise.
func Run() []byte {
	b, err := files.ReadFile(RunName)
	if err != nil {
		panic("configs: " + err.Error())
	}
	return b
}

// Examples returns every embedded config, default.yaml included, by file
// name. The map is new on each call.
func Examples() map[string][]byte {
	names, err := fs.Glob(files, "*.yaml")
	if err != nil {
		panic("configs: " + err.Error())
	}
	m := make(map[string][]byte, len(names))
	for _, n := range names {
		b, err := files.ReadFile(n)
		if err != nil {
			panic("configs: " + err.Error())
		}
		m[path.Base(n)] = b
	}
	return m
}

// FS returns the embedded configs as a file system.
func FS() fs.FS { return files }
