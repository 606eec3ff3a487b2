package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/logship/logship/internal/retrieve"
	"github.com/logship/logship/internal/schema"
	"github.com/spf13/cobra"
)

func newLsCmd() *cobra.Command {
	var o lsOptions
	c := &cobra.Command{
		Use:   "ls --from ARCHIVE [filters]",
		Short: "Show what is archived: app, host, source, file, with time span and sizes",
		Long: `Show what the filters select as a tree app → host → source → file: the
ingest time span, the generations, the chunks (and duplicates among them),
the raw and stored bytes, the event flags of crash artifacts, snapshots
and kernel logs (jvm_crash, oom_kill), and gaps. --streams lists each
generation under its file; --json prints the same as JSON.

Only object headers the keys cannot replace are read: the first and last
chunk of each stream, those next to a gap, and the chunks of the kmsg,
crash and snapshot sources.

` + selectHelp + `

Exit codes: 0 listed; 3 listed, but some objects were corrupt, unsafe or
unreadable; 2 usage; 1 failure.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signalContext()
			defer stop()
			o.stdout, o.stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			return runLs(ctx, &o)
		},
	}
	o.sf.add(c)
	c.Flags().BoolVar(&o.asJSON, "json", false, "print JSON")
	c.Flags().BoolVar(&o.streams, "streams", false, "list each generation (stream) under its file")
	return c
}

// lsOptions are the flags of ls and where it writes.
type lsOptions struct {
	sf      selectFlags
	asJSON  bool
	streams bool

	stdout, stderr io.Writer // the listing; problems
}

// runLs lists what the filters select and prints it.
func runLs(ctx context.Context, o *lsOptions) error {
	a, flt, err := o.sf.resolve(ctx, o.stderr)
	if err != nil {
		return err
	}
	defer closeArchive(a)
	l, err := retrieve.List(ctx, a, flt, o.sf.parallel)
	if err != nil {
		return err
	}
	for _, p := range l.Problems {
		fmt.Fprintln(o.stderr, "logship:", p.String())
	}
	if o.asJSON {
		enc := json.NewEncoder(o.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(l); err != nil {
			return err
		}
	} else {
		printTree(o.stdout, l, o.streams)
	}
	if len(l.Problems) > 0 {
		return problemsErr(fmt.Errorf("%d problems (listed above)", len(l.Problems)))
	}
	return nil
}

func printTree(w io.Writer, l *retrieve.Listing, streams bool) {
	var app, host, source string
	var raw, stored int64
	for _, f := range l.Files {
		if f.App != app {
			app, host, source = f.App, "", ""
			fmt.Fprintln(w, f.App)
		}
		if f.Host != host {
			host, source = f.Host, ""
			fmt.Fprintln(w, "  "+f.Host)
		}
		if f.Source != source {
			source = f.Source
			fmt.Fprintln(w, "    "+f.Source)
		}
		path := f.Path
		if path == "" {
			path = "(" + f.Streams[0].ID + ")"
		}
		fmt.Fprintf(w, "      %s  %s  %s%s\n", quotePath(path), span(f.First, f.Last), counts(f.Generations, f.Chunks, f.Duplicates, f.Raw, f.Stored), flags(f.Events, f.Gaps))
		if streams {
			for _, s := range f.Streams {
				fmt.Fprintf(w, "        %s  [%d, %d) %s  %s  %d chunks, raw %s, stored %s%s\n", s.ID, s.Start, s.End, s.Unit,
					span(s.First, s.Last), s.Chunks, schema.HumanBytes(s.Raw), schema.HumanBytes(s.Stored), flags(s.Events, len(s.Gaps)))
				for _, g := range s.Gaps {
					fmt.Fprintf(w, "          gap: %s\n", g.Msg)
				}
			}
		}
		raw += f.Raw
		stored += f.Stored
	}
	fmt.Fprintf(w, "%d files, %d objects, raw %s, stored %s", len(l.Files), l.Objects, schema.HumanBytes(raw), schema.HumanBytes(stored))
	if l.Ignored > 0 {
		fmt.Fprintf(w, "; %d objects ignored (not logship chunks)", l.Ignored)
	}
	fmt.Fprintln(w)
}

// quotePath shows a path from the archive without letting it drive the
// terminal.
func quotePath(p string) string {
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == ' ' || r == '\uFFFD' {
			return fmt.Sprintf("%q", p)
		}
	}
	return p
}

func span(first, last time.Time) string {
	if first.IsZero() {
		return "?"
	}
	a := first.UTC().Format(time.RFC3339)
	if last.IsZero() {
		return a + " … ?"
	}
	b := last.UTC().Format(time.RFC3339)
	if a[:10] == b[:10] {
		b = b[11:]
	}
	return a + " … " + b
}

func counts(gens, chunks, dups int, raw, stored int64) string {
	var b strings.Builder
	if gens > 1 {
		fmt.Fprintf(&b, "%d generations, ", gens)
	}
	fmt.Fprintf(&b, "%d chunks", chunks)
	if dups > 0 {
		fmt.Fprintf(&b, " (%d duplicates)", dups)
	}
	fmt.Fprintf(&b, ", raw %s, stored %s", schema.HumanBytes(raw), schema.HumanBytes(stored))
	return b.String()
}

func flags(events []string, gaps int) string {
	var b strings.Builder
	for _, e := range events {
		b.WriteString("  [" + e + "]")
	}
	if gaps > 0 {
		fmt.Fprintf(&b, "  [%d gaps]", gaps)
	}
	return b.String()
}
