package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/logship/logship/internal/control"
	"github.com/logship/logship/internal/schema"
	"github.com/logship/logship/internal/sinks/open"
)

// exitTimeout: logship snapshot --remote: not every host asked answered
// within --wait (documented in the package comment and the README).
const exitTimeout = 4

// remoteFlags are the flags of logship snapshot --remote (the laptop's
// side); --app, --host, -c, --note, --heap-dumps and --out are the
// command's own.
type remoteFlags struct {
	remote, allHosts bool
	from, extract    string
	region, endpoint string
	internal         bool
	expect           int
	wait, poll, life time.Duration
	progress         string
}

const remoteHelp = `

Remote (from a laptop, through the bucket): --remote --from oss://BUCKET/PREFIX
--app APP with --host HOST or --all-hosts writes a request under
PREFIX/_control/app=APP/requests/, which every running agent of the app
polls (snapshot.remote.poll_interval, default 30s); the host asked (or each
host) takes a snapshot, uploads it and answers. The command waits (--wait)
showing progress, then saves each bundle as HOST-<bundle>.tar.zst in --out
(a folder, default .) or unpacks it into --extract DIR/HOST/ (only files and
folders, no path outside DIR, bounded sizes; when DIR/HOST/ holds files
already, the bundle is kept as a file in DIR instead). With --all-hosts it waits
until --expect N hosts answered, else all of --wait. Exit status 4 when a
host asked did not answer in time, 3 when one answered with an error.`

func (f *remoteFlags) add(c *cobra.Command) {
	fl := c.Flags()
	fl.BoolVar(&f.remote, "remote", false, "ask running agents through the bucket instead of snapshotting this container")
	fl.StringVar(&f.from, "from", "", "--remote: the archive, oss://BUCKET/PREFIX or a folder (default $LOGSHIP_FROM, else the sink of -c, else of $LOGSHIP_CONFIG)")
	fl.BoolVar(&f.allHosts, "all-hosts", false, "--remote: ask every agent of --app")
	fl.IntVar(&f.expect, "expect", 0, "--remote --all-hosts: stop waiting once this many hosts answered")
	fl.DurationVar(&f.wait, "wait", 2*time.Minute, "--remote: how long to wait for the answers")
	fl.DurationVar(&f.life, "request-expiry", control.DefaultLife, "--remote: agents ignore the request after this long (at most 1h)")
	fl.DurationVar(&f.poll, "poll", 2*time.Second, "--remote: time between two looks for answers")
	fl.StringVar(&f.extract, "extract", "", "--remote: unpack each bundle into DIR/HOST/")
	fl.StringVar(&f.progress, "progress", "auto", "--remote: auto (a line on a terminal, plain lines otherwise), bar, plain or none")
	fl.StringVar(&f.region, "region", "", "--remote: OSS region, e.g. cn-hangzhou")
	fl.StringVar(&f.endpoint, "endpoint", "", "--remote: OSS endpoint, instead of the one --region makes")
	fl.BoolVar(&f.internal, "internal", false, "--remote: use the VPC endpoint (inside Aliyun)")
	fl.MarkHidden("poll")
}

// runRemote is logship snapshot --remote.
func runRemote(cmd *cobra.Command, f *remoteFlags, cf *configFlags, note string, heap bool, out string) error {
	var errs []error
	// The agent's config (-c; or, with no archive named, $LOGSHIP_CONFIG)
	// gives the archive and the app, as to every command in the container.
	from, cfg, path, err := readerArchive(f.from, cf.path)
	if err != nil {
		errs = append(errs, err)
	}
	app, host := cf.app, cf.host
	if app == "" && cfg != nil {
		app = cfg.App
	}
	switch {
	case app == "":
		errs = append(errs, errors.New("--remote needs --app"))
	case f.allHosts == (host != ""):
		errs = append(errs, errors.New("--remote needs exactly one of --host HOST and --all-hosts"))
	case f.expect != 0 && !f.allHosts:
		errs = append(errs, errors.New("--expect N is for --all-hosts (how many hosts to wait for)"))
	}
	if f.allHosts {
		host = control.AllHosts
	}
	if f.wait <= 0 || f.poll <= 0 || f.life <= 0 || f.life > control.MaxLife {
		errs = append(errs, fmt.Errorf("--wait, --poll and --request-expiry must be more than 0 (--request-expiry at most %s)", control.MaxLife))
	}
	if out == "-" {
		errs = append(errs, errors.New("--remote --out names a folder, not -"))
	}
	if !slices.Contains([]string{"auto", "bar", "plain", "none"}, f.progress) {
		errs = append(errs, fmt.Errorf("--progress %q: use auto, bar, plain or none", f.progress))
	}
	oo := open.Reader{Region: f.region, Endpoint: f.endpoint, Internal: f.internal, Parallel: 4, Log: newLogger(cmd.ErrOrStderr(), "warn", "text")}
	if cfg != nil {
		oo.Sink, oo.ConfigFile = cfg.Sink.OSSConfig(), path
	}
	if from == "" {
		errs = append(errs, errors.New("--remote needs --from oss://BUCKET/PREFIX (or LOGSHIP_FROM, or -c or LOGSHIP_CONFIG with an oss sink)"))
	}
	if len(errs) > 0 {
		return usageErr(errors.Join(errs...))
	}
	ctx, stop := signalContext()
	defer stop()
	// Keys are whole (the location's prefix is part of each control key),
	// and the client writes as well as reads.
	s, loc, err := open.URL(ctx, from, oo)
	var re *open.RuntimeError
	if errors.As(err, &re) { // the bucket or the network said no: exit 1
		return err
	}
	if err != nil {
		return usageErr(err)
	}
	defer s.Close()
	store, ok := s.(control.Store)
	if !ok {
		return fmt.Errorf("--from %s: this store cannot be written", from)
	}
	c := &control.Client{Store: store, Prefix: loc.Prefix, App: app}
	q, err := c.Send(ctx, host, note, heap, f.life)
	if err != nil {
		return err
	}
	w := cmd.ErrOrStderr()
	fmt.Fprintf(w, "logship: request %s for app %s, host %s, written to %s\n", q.ID, q.App, map[bool]string{true: "all", false: host}[f.allHosts], control.RequestKey(loc.Prefix, q))
	var want []string
	if !f.allHosts {
		want = []string{host}
	}
	wctx, cancel := context.WithTimeout(ctx, f.wait)
	defer cancel()
	pr := newRemoteProgress(w, f.progress, want, f.wait)
	got, err := c.Wait(wctx, q, want, f.poll, func(got map[string]*control.Response, bad error) {
		pr.update(got, bad)
		if f.expect > 0 && len(got) >= f.expect {
			cancel() // enough hosts answered
		}
	})
	pr.done()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, control.ErrTimeout) && f.allHosts && (f.expect == 0 || len(got) >= f.expect) {
		err = nil // --all-hosts: whoever answered within --wait
	}
	failed := 0
	for _, h := range slices.Sorted(maps.Keys(got)) {
		if e := saveBundle(ctx, c, got[h], f.extract, out, cmd.OutOrStdout()); e != nil {
			fmt.Fprintf(w, "logship: %s: %v\n", h, e)
			failed++
		}
	}
	switch {
	case errors.Is(err, control.ErrTimeout):
		var missing []string
		for _, h := range want {
			if got[h] == nil {
				missing = append(missing, h)
			}
		}
		what := "host " + strings.Join(missing, ", ")
		if f.allHosts {
			what = fmt.Sprintf("%d of the %d hosts expected (%d answered)", f.expect-len(got), f.expect, len(got))
		}
		return &exitError{exitTimeout, fmt.Errorf("timed out after %s: no answer from %s to request %s; is its agent running (logship agent, with snapshot.remote enabled) and allowed to list %s?",
			f.wait, what, q.ID, control.Root(loc.Prefix, q.App))}
	case err != nil:
		return err
	case len(got) == 0:
		return &exitError{exitTimeout, fmt.Errorf("timed out after %s: no host of app %s answered request %s", f.wait, q.App, q.ID)}
	case failed > 0:
		return problemsErr(fmt.Errorf("%d of %d answers brought no bundle", failed, len(got)))
	}
	return nil
}

// saveBundle fetches the bundle of r into out/HOST-<bundle>, or unpacks it
// into extract/HOST/, and prints where it went.
func saveBundle(ctx context.Context, c *control.Client, r *control.Response, extract, out string, stdout io.Writer) error {
	if r.Status != control.StatusOK {
		return fmt.Errorf("answered %s: %s", r.Status, r.Message)
	}
	if r.Message != "" {
		fmt.Fprintf(stdout, "%s: note: %s\n", r.Host, r.Message)
	}
	if dir := filepath.Join(extract, r.Host); extract != "" && holdsFiles(dir) {
		// Nothing is overwritten, and the bundle is not dropped either.
		fmt.Fprintf(stdout, "%s: %s holds files already (nothing is overwritten): the bundle is kept as a file in %s\n", r.Host, dir, extract)
		extract, out = "", extract
	}
	if extract != "" {
		dir := filepath.Join(extract, r.Host)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		pr, pw := io.Pipe()
		go func() {
			_, err := c.Fetch(ctx, r, pw)
			pw.CloseWithError(err)
		}()
		files, n, err := control.Extract(pr, dir, control.ExtractLimits{})
		pr.CloseWithError(errors.New("extract stopped"))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %s unpacked into %s (%d files, %s)\n", r.Host, r.Bundle, dir, files, schema.HumanBytes(n))
		return nil
	}
	if out == "" {
		out = "."
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	name := filepath.Join(out, r.Host+"-"+r.Bundle)
	fh, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	n, err := c.Fetch(ctx, r, fh)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return err
	}
	fmt.Fprintf(stdout, "%s: %s (%s; open with: zstd -dc %s | tar -x)\n", r.Host, name, schema.HumanBytes(n), name)
	return nil
}

// holdsFiles reports whether dir exists and is not empty.
func holdsFiles(dir string) bool {
	es, err := os.ReadDir(dir)
	return err == nil && len(es) > 0
}

// remoteProgress shows the wait: one line rewritten on a terminal, plain
// lines otherwise (when an answer comes, and every 10s).
type remoteProgress struct {
	w     io.Writer
	tty   bool
	off   bool
	want  []string
	wait  time.Duration
	start time.Time
	last  time.Time
	seen  int
	drawn bool
}

func newRemoteProgress(w io.Writer, mode string, want []string, wait time.Duration) *remoteProgress {
	p := &remoteProgress{w: w, want: want, wait: wait, start: time.Now(), off: mode == "none"}
	f, isFile := w.(*os.File)
	p.tty = mode == "bar" || (mode == "auto" && isFile && isTerminal(f))
	return p
}

func (p *remoteProgress) update(got map[string]*control.Response, bad error) {
	if p.off {
		return
	}
	if bad != nil {
		p.line(fmt.Sprintf("logship: ignoring a malformed answer: %v", bad))
	}
	el := time.Since(p.start).Round(time.Second)
	what := fmt.Sprintf("%d answered", len(got))
	if len(p.want) > 0 {
		what = fmt.Sprintf("%d/%d answered", len(got), len(p.want))
	}
	var names []string
	for _, h := range slices.Sorted(maps.Keys(got)) {
		names = append(names, h+" "+got[h].Status)
	}
	if len(names) > 0 {
		what += " (" + strings.Join(names, ", ") + ")"
	}
	msg := fmt.Sprintf("logship: waiting for the agents: %s, %s of %s", what, el, p.wait)
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", msg)
		p.drawn = true
		return
	}
	if len(got) != p.seen || time.Since(p.last) >= 10*time.Second {
		p.line(msg)
	}
	p.seen = len(got)
}

func (p *remoteProgress) line(s string) {
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintln(p.w, s)
	p.last = time.Now()
}

func (p *remoteProgress) done() {
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
	}
}
