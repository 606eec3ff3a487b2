package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/logship/logship/internal/agent"
	"github.com/logship/logship/internal/config"
	"github.com/logship/logship/internal/schema"
	"github.com/logship/logship/internal/snapshot"
)

func newSnapshotCmd() *cobra.Command {
	var (
		cf                 configFlags
		note, out, logTail string
		heap               bool
		timeout, expiry    time.Duration
		probes             []string
		pid                int
		jcmd               string
		uploadTimeout      time.Duration
		noPriority         bool
		rf                 remoteFlags
	)
	c := &cobra.Command{
		Use:   "snapshot",
		Short: "Collect one diagnostic bundle of this container and upload it (or write it with --out)",
		Long: `Collect one diagnostic bundle (tar.zst) from /proc and /sys, with no
external tool: manifest.json (what was collected, what failed and why,
timings, key facts), processes (ps.txt), kernel messages and OOM reports
(kmsg.txt, kmsg-oom.txt), cgroup memory/CPU limits, usage, pressure and OOM
counters (cgroup.txt), open descriptors (fds.txt), TCP sockets (sockets.txt),
mounts and disk use (mounts.txt), the app's environment (env.txt), JVM
diagnostics through jcmd (jvm/PID/), connectivity probes (probes.txt), the
tail of each configured log (logs/) and JVM crash files (crash/; heap dumps
only with --heap-dumps). Secrets are masked in every file: values of names
holding KEY, SECRET, TOKEN, PASSWORD, PASSWD, CREDENTIAL, AUTH or PRIVATE, and
the sink's access keys wherever they appear.

The bundle is streamed into the configured sink under source=snapshot (ls and
pull find it); the command prints its key, a download URL (OSS: presigned,
--expiry; dir sink: the file) and the pull command that fetches it. With
--out FILE (or - for stdout) it is written there instead.

Each collector has a time limit (--timeout); one that fails or hangs is
recorded in the manifest and the bundle is still complete. The command runs
niced, with bounded memory.` + remoteHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rf.remote {
				return runRemote(cmd, &rf, &cf, note, heap, out)
			}
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			sc := cfg.Snapshot // the snapshot: section, defaults applied; flags win
			if timeout > 0 {
				sc.Timeout = schema.Duration(timeout)
			}
			if expiry > 0 {
				sc.PresignExpiry = schema.Duration(expiry)
			}
			if logTail != "" {
				n, err := config.ParseSize(logTail)
				if err != nil {
					return usageErr(fmt.Errorf("--log-tail: %w", err))
				}
				sc.LogTailBytes = n
			}
			for _, p := range probes {
				sc.Probes = append(sc.Probes, parseProbe(p))
			}
			sc.SetDefaults()
			if err := sc.Validate(); err != nil {
				return usageErr(fmt.Errorf("snapshot: %w", err))
			}
			if !noPriority {
				snapshot.LowerPriority()
			}
			// The snapshot must not crowd the app it inspects.
			debug.SetMemoryLimit(40 << 20)
			debug.SetGCPercent(50)
			log := newLogger(cmd.ErrOrStderr(), cfg.LogLevel, cfg.LogFormat)
			ctx, stop := signalContext()
			defer stop()
			o := agent.SnapshotOptions(cfg, nil, shortVersion(), log)
			o.Config, o.AppPID, o.Jcmd = sc, pid, jcmd
			agent.AddEndpointProbe(&o, cfg, nil)
			if jcmd == "none" {
				o.Jcmd = "-"
			}
			req := snapshot.Request{Trigger: snapshot.TriggerManual, Note: note, HeapDumps: heap}
			if out != "" {
				return writeSnapshot(ctx, cmd, o, req, out)
			}
			return uploadSnapshot(ctx, cmd, cfg, o, req, uploadTimeout)
		},
	}
	cf.add(c)
	rf.add(c)
	fl := c.Flags()
	fl.StringVar(&note, "note", "", "free text stored with the bundle (manifest and object header)")
	fl.StringVarP(&out, "out", "o", "", "write the bundle to this file (- for stdout) instead of uploading it")
	fl.BoolVar(&heap, "heap-dumps", false, "include java_pid*.hprof heap dumps (large)")
	fl.StringVar(&logTail, "log-tail", "", "bytes from the end of each log (default: snapshot.log_tail_bytes, 8MiB)")
	fl.DurationVar(&timeout, "timeout", 0, "time limit of each collector (default: snapshot.timeout, 20s)")
	fl.DurationVar(&expiry, "expiry", 0, "life of the presigned download URL, at most 168h (default: snapshot.presign_expiry, 1h)")
	fl.StringArrayVar(&probes, "probe", nil, "connectivity probe: URL or host:port, optionally NAME=URL (repeatable; the OSS endpoint is always probed)")
	fl.IntVar(&pid, "pid", 0, "the app's process (default: the first JVM, else the largest process)")
	fl.StringVar(&jcmd, "jcmd", "", "jcmd binary for JVM diagnostics, or none (default: beside the JVM's java, else on PATH)")
	fl.DurationVar(&uploadTimeout, "upload-timeout", 5*time.Minute, "give up uploading after this long")
	fl.BoolVar(&noPriority, "no-nice", false, "do not lower the command's CPU priority")
	fl.MarkHidden("no-nice")
	return c
}

func parseProbe(s string) snapshot.Probe {
	var p snapshot.Probe
	if name, rest, ok := strings.Cut(s, "="); ok && !strings.Contains(name, "/") && !strings.Contains(name, ":") {
		p.Name, s = name, rest
	}
	if strings.Contains(s, "://") {
		p.URL = s
	} else {
		p.Addr = s
	}
	return p
}

func writeSnapshot(ctx context.Context, cmd *cobra.Command, o snapshot.Options, req snapshot.Request, out string) error {
	t, err := snapshot.New(o)
	if err != nil {
		return usageErr(err)
	}
	var w io.Writer = cmd.OutOrStdout()
	var f *os.File
	if out != "-" {
		if f, err = os.Create(out); err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	m, err := t.Write(ctx, req, w)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return err
		}
	}
	printCollectors(cmd.ErrOrStderr(), m)
	if out != "-" {
		fmt.Fprintf(cmd.ErrOrStderr(), "bundle: %s (open with: zstd -dc %s | tar -x)\n", out, out)
	}
	return nil
}

func uploadSnapshot(ctx context.Context, cmd *cobra.Command, cfg *config.Config, o snapshot.Options, req snapshot.Request, limit time.Duration) error {
	sink, err := agent.NewSink(ctx, cfg, o.Log)
	if err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	defer sink.Close()
	from := cfg.Sink.Dir.Path
	if _, ok := sink.(interface{ Endpoint() string }); ok {
		agent.AddEndpointProbe(&o, cfg, sink)
		from = "oss://" + cfg.Sink.OSS.Bucket + "/" + strings.Trim(cfg.Sink.Prefix, "/")
		// No --internal: the laptop that pulls is outside the VPC.
		if cfg.Sink.OSS.Endpoint != "" {
			from += " --endpoint " + cfg.Sink.OSS.Endpoint
		}
		if cfg.Sink.OSS.Region != "" {
			from += " --region " + cfg.Sink.OSS.Region
		}
	} else if abs, err := filepath.Abs(from); err == nil {
		from = abs
	}
	o.Uploader = agent.SnapshotOptions(cfg, sink, shortVersion(), o.Log).Uploader
	t, err := snapshot.New(o)
	if err != nil {
		return usageErr(err)
	}
	uctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	res, err := t.Take(uctx, req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return fmt.Errorf("%w (--upload-timeout %s)", err, limit)
		}
		return err
	}
	printCollectors(cmd.ErrOrStderr(), res.Manifest)
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "bundle:  %s (%d bytes)\n", res.Path, res.Stored.Size)
	expiry := o.Config.PresignExpiry.Std()
	for _, key := range res.Stored.Keys {
		fmt.Fprintf(w, "key:     %s\n", key)
		if ps, ok := sink.(snapshot.Presigner); ok {
			url, err := ps.Presign(ctx, key, expiry)
			if err != nil {
				fmt.Fprintf(w, "url:     (not available: %v)\n", err)
				continue
			}
			fmt.Fprintf(w, "url:     %s\n         (valid %s; the object wraps the bundle in a zstd frame with its header: curl -s URL | zstd -dc > %s)\n", url, expiry, res.Path)
		} else {
			fmt.Fprintf(w, "file:    %s\n         (zstd -dc FILE > %s)\n", filepath.Join(from, filepath.FromSlash(key)), res.Path)
		}
	}
	fmt.Fprintf(w, "pull:    logship pull --from %s --app %s --host %s --source snapshot --path '%s' --out ./snapshots\n", from, cfg.App, cfg.Host, res.Path)
	return nil
}

func printCollectors(w io.Writer, m *snapshot.Manifest) {
	var bad []string
	for _, c := range m.Collectors {
		if c.Status == snapshot.StatusError || c.Status == snapshot.StatusTimeout {
			bad = append(bad, fmt.Sprintf("%s (%s: %s)", c.Name, c.Status, c.Error))
		}
	}
	fmt.Fprintf(w, "snapshot %s: %d collectors in %dms", m.ID, len(m.Collectors), m.DurationMS)
	if len(bad) > 0 {
		fmt.Fprintf(w, "; with problems: %s", strings.Join(bad, "; "))
	}
	fmt.Fprintln(w)
}
