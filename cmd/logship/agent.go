package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strings"

	"github.com/logship/logship/internal/config"
	"github.com/logship/logship/internal/schema"

	"github.com/VictoriaMetrics/metrics"
	"github.com/logship/logship/internal/agent"
	"github.com/logship/logship/internal/governor"
	"github.com/spf13/cobra"
)

func newAgentCmd() *cobra.Command {
	o := agentOptions{logw: os.Stderr}
	c := &cobra.Command{
		Use:   "agent",
		Short: "Tail logs and archive them until SIGINT/SIGTERM",
		Long: `Run the archiving agent: tail the configured sources, batch and compress
them, and write them to the sink. On SIGINT or SIGTERM it stops reading,
flushes every open batch, drains uploads within shutdown_timeout, saves the
checkpoint and exits 0 (1 if data was still not durable at the deadline; it
is read again at the next start).

Without -c it runs the embedded default (configs/default.yaml): ./demo/logs/**/*.log
into the folder ./demo/archive.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signalContext()
			defer stop()
			return runAgent(ctx, &o)
		},
	}
	o.cf.add(c)
	c.Flags().StringVar(&o.profile, "cpuprofile", "", "write a CPU profile to this file until the agent stops")
	c.Flags().MarkHidden("cpuprofile")
	return c
}

// agentOptions are the flags of agent and where it logs.
type agentOptions struct {
	cf      configFlags
	profile string // CPU profile file
	logw    io.Writer
}

// runAgent loads the config and runs the agent until ctx ends, with the
// metrics endpoint and the CPU profile when asked for.
func runAgent(ctx context.Context, o *agentOptions) error {
	cfg, err := o.cf.load()
	if err != nil {
		return err
	}
	log := newLogger(o.logw, cfg.LogLevel, cfg.LogFormat)
	setMemoryLimit(cfg, log)
	if o.profile != "" {
		f, err := os.Create(o.profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	stopMetrics, err := serveMetrics(cfg, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	err = agent.RunExtra(ctx, cfg, log, agent.Extra{Version: shortVersion()})
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("agent stopped")
	return nil
}

// writeMetrics serves the metrics in Prometheus' text format, with their
// # TYPE lines (without them Prometheus takes every series as untyped),
// and the Go runtime's and the process's.
func writeMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	metrics.WritePrometheus(w, true)
}

func init() { metrics.ExposeMetadata(true) }

// serveMetrics serves /metrics on metrics_addr, when set, until the
// returned stop is called.
func serveMetrics(cfg *config.Config, log *slog.Logger) (stop func(), err error) {
	if cfg.MetricsAddr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("metrics_addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", writeMetrics)
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	log.Info("metrics listening", "addr", ln.Addr().String())
	return func() { srv.Close() }, nil
}

// setMemoryLimit gives the Go runtime a soft memory limit sized to the
// pipeline's bound (in-flight chunks) plus a fixed allowance, capped at
// limits.memory_percent of the container's cgroup memory limit, or
// limits.memory (governor.Apply), unless the user set GOMEMLIMIT; and
// GOMAXPROCS to limits.cpus when set. Without it the garbage collector lets the heap
// grow to twice the live data, which is most of the agent's peak RSS.
func setMemoryLimit(cfg *config.Config, log *slog.Logger) {
	governor.Apply(governor.SelfCgroup(), agentNeed(cfg), cfg.Limits, log)
}

// agentNeed is the memory the agent of cfg needs: its in-flight chunks
// and encoders, and a fixed allowance.
func agentNeed(cfg *config.Config) int64 {
	return int64(16<<20) + cfg.Pipeline.MemoryNeed(cfg.Pipeline.Workers())
}

// machineNote is what validate --print adds after the config: what the
// settings left to the machine (0: automatic) come to here, as YAML
// comments, so the config printed stays the one to copy elsewhere.
func machineNote(cfg *config.Config, cg governor.Cgroup) string {
	lim := cfg.Limits
	lim.SetDefaults()
	pl := governor.Plan(cg, agentNeed(cfg), lim)
	var lines []string
	if cfg.Pipeline.Compressors <= 0 {
		n := max(min(pl.Procs, cfg.Pipeline.MaxInFlight), 1)
		lines = append(lines, fmt.Sprintf("pipeline.compressors: %d (one per CPU the Go runtime uses, at most max_in_flight)", n))
	}
	if cfg.Pipeline.UploadRate <= 0 {
		lines = append(lines, "pipeline.upload_rate: unlimited")
	}
	switch env := os.Getenv("GOMAXPROCS"); {
	case env != "":
		lines = append(lines, "limits.cpus: "+env+", from $GOMAXPROCS (which wins over the config)")
	case lim.CPUs <= 0:
		lines = append(lines, fmt.Sprintf("limits.cpus: %d (GOMAXPROCS: the CPUs of this machine, or of the cgroup's quota)", pl.Procs))
	}
	switch env := os.Getenv("GOMEMLIMIT"); {
	case env == "off":
		lines = append(lines, "limits.memory: no limit ($GOMEMLIMIT=off, which wins over the config)")
	case env != "":
		lines = append(lines, "limits.memory: "+env+", from $GOMEMLIMIT (which wins over the config)")
	case lim.Memory <= 0:
		switch {
		case pl.CgroupMemory > 0:
			lines = append(lines, fmt.Sprintf("limits.memory: %s (what the pipeline needs, at most %d%% of the cgroup's %s)",
				schema.HumanBytes(pl.MemoryLimit), lim.MemoryPercent, schema.HumanBytes(pl.CgroupMemory)))
		default:
			lines = append(lines, fmt.Sprintf("limits.memory: %s (what the pipeline needs; no cgroup memory limit)", schema.HumanBytes(pl.MemoryLimit)))
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return "# On this machine, what is left to it (0: automatic) comes to:\n#   " + strings.Join(lines, "\n#   ") + "\n"
}

// limitMemory gives pull's Go runtime a soft memory limit a little above
// --max-memory (its chunk buffers), unless the user set GOMEMLIMIT: the
// garbage collector then keeps the heap near what is live instead of
// letting it grow to twice that, and peak RSS stays near --max-memory.
func limitMemory(maxMemory int64) {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(maxMemory + 16<<20)
	}
}
