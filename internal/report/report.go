// Package report reads a folder written by `logship pull`
// (OUT/APP/HOST/SOURCE/<original path>) and says what went wrong: OOM
// kills, JVM crashes, exits and restarts, snapshots, and what the
// application logged, per host and on one merged timeline.
//
// Every file is streamed once; what is kept is bounded by caps on
// distinct templates, exception classes, events and time buckets, never
// by the number of lines. Text, HTML and JSON are renderers of one Result.
package report

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/sources/glob"
)

// Options select what is read and tune the analysis. The zero value reads
// everything with the defaults.
type Options struct {
	// App, Host, Source are names or path.Match patterns; Path is a glob
	// over the original path (as pull's --path, base name without "/").
	App, Host, Source, Path string
	// Since and Until select by ingest time as pull's --since and --until
	// do: what sits in a chunk whose ingest times overlap [Since, Until]
	// (from pull's state). Only in a file without ingest times are the
	// times in its data compared. Zero is open.
	Since, Until time.Time
	// Zone is given to log timestamps without one: "auto" (guessed per
	// file from pull's ingest times, else UTC), "UTC", "Local" or an IANA
	// name.
	Zone string
	// Gap is the shortest time with nothing shipped from a host that is
	// reported (default 15m).
	Gap time.Duration
	// Before is how far before a crash or OOM kill errors are collected
	// (default 10m).
	Before time.Duration
	// From names the archive the folder was pulled from, for the fetch
	// commands of heap dumps left there; "" prints ARCHIVE.
	From string
	// HeapDumps are heap dumps known to be in the archive but not pulled,
	// listed with the same filters (they are not filtered again).
	HeapDumps []HeapDump
}

func (o *Options) defaults() {
	if o.Zone == "" {
		o.Zone = "auto"
	}
	if o.Gap <= 0 {
		o.Gap = 15 * time.Minute
	}
	if o.Before <= 0 {
		o.Before = 10 * time.Minute
	}
}

// Validate reports every bad option at once.
func (o Options) Validate() error {
	var errs []error
	for _, p := range []struct{ name, v string }{{"--app", o.App}, {"--host", o.Host}, {"--source", o.Source}, {"--path", o.Path}} {
		if _, err := path.Match(p.v, ""); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %v", p.name, p.v, err))
		}
	}
	if _, err := zoneOption(o.Zone); err != nil {
		errs = append(errs, err)
	}
	if !o.Since.IsZero() && !o.Until.IsZero() && o.Until.Before(o.Since) {
		errs = append(errs, fmt.Errorf("--until %s is before --since %s", o.Until.Format(time.RFC3339), o.Since.Format(time.RFC3339)))
	}
	return errors.Join(errs...)
}

// zoneOption resolves Options.Zone; nil means auto.
func zoneOption(z string) (*time.Location, error) {
	switch z {
	case "", "auto":
		return nil, nil
	case "UTC", "utc":
		return time.UTC, nil
	case "Local", "local":
		return time.Local, nil
	}
	loc, err := time.LoadLocation(z)
	if err != nil {
		return nil, fmt.Errorf("--tz %q: use auto, UTC, Local or a zone name like Asia/Shanghai (%v)", z, err)
	}
	return loc, nil
}

// Source kinds of the folder layout.
const (
	srcKmsg     = archive.KindKmsg
	srcCrash    = archive.KindCrash
	srcSnapshot = archive.KindSnapshot
	srcEvent    = archive.KindEvent
)

// input is one file of the folder.
type input struct {
	app, host, source string
	rel               string // path under SOURCE: the original path without its leading "/"
	abs               string
	size              int64
	mtime             time.Time
	segs              []segment // its chunks, from pull's state
	picked            []segment // those the window selects
}

func (in *input) hostID() string { return in.app + "/" + in.host }

// Original is the original path on the host.
func (in *input) Original() string { return "/" + in.rel }

// maxInputs caps the files read.
const maxInputs = 100000

// Build reads the folder dir and returns what it found. Files that cannot
// be read are listed in Result.Problems; the error is for a folder that
// cannot be read at all or a cancelled ctx.
func Build(ctx context.Context, dir string, opt Options) (*Result, error) {
	opt.defaults()
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	loc, _ := zoneOption(opt.Zone)
	r := newRun(opt, loc)
	r.res.Dir = dir
	r.res.From = opt.From
	r.res.Since, r.res.Until = opt.Since, opt.Until
	segs, err := loadSegments(dir)
	if err != nil {
		r.problem("%v (ingest times unknown)", err)
	}
	inputs, err := r.walk(dir, segs)
	if err != nil {
		return nil, err
	}
	// Kernel, crash, run events and snapshots first: they are the
	// incidents the log pass collects the errors before.
	sort.SliceStable(inputs, func(i, j int) bool { return phase(inputs[i].source) < phase(inputs[j].source) })
	for _, in := range inputs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if in.picked = r.selectChunks(in.segs); len(in.segs) > 0 && len(in.picked) == 0 {
			continue // pull would not have pulled it
		}
		h := r.host(in.app, in.host)
		for _, s := range in.picked {
			noteSpan(&h.ShipFirst, &h.ShipLast, s.First)
			noteSpan(&h.ShipFirst, &h.ShipLast, s.Last)
		}
		r.shipSpans(h, in.picked)
		var err error
		switch in.source {
		case srcKmsg:
			err = r.readKernel(in)
		case srcCrash:
			err = r.readCrash(in)
		case srcEvent:
			err = r.readEvents(in)
		case srcSnapshot:
			err = r.readSnapshot(in)
		default:
			if phase(in.source) == 1 && len(r.incidents) > 0 && !r.incidentsSorted {
				r.sortIncidents()
			}
			err = r.readLog(ctx, in)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			r.problem("%s: %v", in.abs, err)
		}
	}
	for _, hd := range opt.HeapDumps {
		r.addHeapDump(hd)
	}
	r.finish()
	return r.res, nil
}

// phase orders sources: incidents first, logs after.
func phase(source string) int {
	switch source {
	case srcKmsg, srcCrash, srcEvent, srcSnapshot:
		return 0
	}
	return 1
}

// walk lists OUT/APP/HOST/SOURCE/** regular files, skipping pull's own
// state (dot folders at the top) and symbolic links.
func (r *run) walk(dir string, segs map[string][]segment) ([]*input, error) {
	apps, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	var out []*input
	for _, a := range apps {
		if !a.IsDir() || strings.HasPrefix(a.Name(), ".") || !match(r.opt.App, a.Name()) {
			continue
		}
		hosts, err := os.ReadDir(filepath.Join(dir, a.Name()))
		if err != nil {
			r.problem("%v", err)
			continue
		}
		for _, h := range hosts {
			if !h.IsDir() || !match(r.opt.Host, h.Name()) {
				continue
			}
			srcs, err := os.ReadDir(filepath.Join(dir, a.Name(), h.Name()))
			if err != nil {
				r.problem("%v", err)
				continue
			}
			for _, s := range srcs {
				if !s.IsDir() || !match(r.opt.Source, s.Name()) {
					continue
				}
				root := filepath.Join(dir, a.Name(), h.Name(), s.Name())
				err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
					if err != nil {
						r.problem("%v", err)
						return nil
					}
					if !d.Type().IsRegular() {
						return nil
					}
					rel, _ := filepath.Rel(root, p)
					rel = filepath.ToSlash(rel)
					if !glob.MatchFilter(r.opt.Path, "/"+rel) {
						return nil
					}
					if len(out) >= maxInputs {
						r.filesSkipped++
						return nil
					}
					fi, err := d.Info()
					if err != nil {
						r.problem("%v", err)
						return nil
					}
					name := a.Name() + "/" + h.Name() + "/" + s.Name() + "/" + rel
					out = append(out, &input{app: a.Name(), host: h.Name(), source: s.Name(), rel: rel, abs: p,
						size: fi.Size(), mtime: fi.ModTime(), segs: segs[name]})
					return nil
				})
				if err != nil {
					return nil, err
				}
			}
		}
	}
	if r.filesSkipped > 0 {
		r.problem("more than %d files: %d not read", maxInputs, r.filesSkipped)
	}
	return out, nil
}

func match(pattern, s string) bool {
	if pattern == "" {
		return true
	}
	ok, _ := path.Match(pattern, s)
	return ok
}
