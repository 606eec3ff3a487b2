package main

import (
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/logship/logship/configs"
	"github.com/logship/logship/internal/config"
	"github.com/spf13/cobra"
)

// configFlags are the flags every command that reads a config takes.
type configFlags struct {
	path string
	sets []string
	app  string
	host string
}

func (f *configFlags) add(c *cobra.Command) {
	c.Flags().StringVarP(&f.path, "config", "c", "", "config file (default: $LOGSHIP_CONFIG, else the embedded default: configs/default.yaml)")
	c.Flags().StringArrayVar(&f.sets, "set", nil, "override a config key, e.g. --set pipeline.max_bytes=8MiB (repeatable)")
	c.Flags().StringVar(&f.app, "app", "", "override app")
	c.Flags().StringVar(&f.host, "host", "", "override host")
}

// load reads the config: file (or $LOGSHIP_CONFIG, or the embedded
// default), then LOGSHIP_* environment, then flags; then defaults and
// validation. Every problem is reported at once, as a usage error.
func (f *configFlags) load() (*config.Config, error) {
	return f.resolve(configs.Default())
}

// resolve is load with def as the config used when no file is named.
func (f *configFlags) resolve(def []byte) (*config.Config, error) {
	sets := append([]string(nil), f.sets...)
	if f.app != "" {
		sets = append(sets, "app="+f.app)
	}
	if f.host != "" {
		sets = append(sets, "host="+f.host)
	}
	cfg, err := config.ResolveDefault(f.path, def, os.Environ(), sets)
	if err != nil {
		return nil, usageErr(err)
	}
	return cfg, nil
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "warn":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
