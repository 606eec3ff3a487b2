package retrieve

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"time"

	"github.com/logship/logship/archive"
)

// CatOptions configure Cat.
type CatOptions struct {
	Filter   Filter
	Parallel int
	Memory   int64
	// Grep, when set, keeps only the lines it matches.
	Grep *regexp.Regexp
	// WithName starts every line with "APP/HOST/SOURCE/PATH:" (grep -H).
	WithName  bool
	Stats     *Stats
	OnProblem func(Problem)
}

// Cat writes the reassembled streams to w, file by file and generation by
// generation in ingest order, with the same verification as Pull. Nothing
// is written to disk. A chunk that fails verification is left out and
// reported; one too large to buffer (over 32 MiB raw) is streamed, so part
// of it may have been written when its checksum turns out wrong.
func Cat(ctx context.Context, a Store, w io.Writer, opt CatOptions) (*Summary, error) {
	o := Options{Filter: opt.Filter, Parallel: opt.Parallel, Memory: opt.Memory, Stats: opt.Stats, OnProblem: opt.OnProblem}
	o.defaults()
	if err := o.Filter.Validate(); err != nil {
		return nil, err
	}
	ps := &problems{fn: o.OnProblem}
	hr := &headerReader{a: a, par: o.Parallel, ps: ps}
	sel, err := (&selector{a: a, f: o.Filter, ps: ps, hr: hr}).run(ctx)
	if err != nil {
		return nil, fmt.Errorf("cat: %w", err)
	}
	sum := &Summary{Ignored: sel.ignored}
	type owner struct {
		name   string
		stream *Stream
	}
	owners := map[*Step]owner{}
	var steps []*Step
	var streams []owner
	for _, f := range sel.files {
		for _, s := range f.Streams {
			name, err := outputName(s.App, s.Host, s.Source, s.Path, s.ID, false)
			if err != nil {
				ps.add(Problem{Kind: KindUnsafe, File: s.App + "/" + s.Host + "/" + s.Source + "/" + strconv.Quote(archive.Shorten(s.Path)),
					Key: s.Steps[0].Chunk.Key, Msg: err.Error() + "; stream " + s.ID + " left out"})
				continue
			}
			streams = append(streams, owner{name, s})
			sum.Duplicates += s.Duplicates
			sum.Overlap += s.Overlap
			for i := range s.Steps {
				owners[&s.Steps[i]] = owner{name, s}
				steps = append(steps, &s.Steps[i])
				o.Stats.BytesTotal.Add(s.Steps[i].Chunk.Size)
			}
		}
	}
	o.Stats.ObjectsTotal.Add(int64(len(steps)))
	bw := bufio.NewWriterSize(w, 256<<10)
	lw := &lineWriter{w: bw, re: opt.Grep}
	var out io.Writer = bw
	if opt.Grep != nil || opt.WithName {
		out = lw
	}
	times := map[*Chunk][2]time.Time{}
	var cur *Stream
	endStream := func() error {
		if cur == nil {
			return nil
		}
		if err := lw.flushLine(); err != nil {
			return err
		}
		for _, p := range gapProblems(owners[&cur.Steps[0]].name, cur, times) {
			ps.add(p)
		}
		sum.Files++
		return nil
	}
	fr := newFetcher(a, o.Parallel, o.Memory, o.Stats)
	err = fr.run(ctx, steps, func(ft *fetched) error {
		ow := owners[ft.step]
		if ow.stream != cur {
			if err := endStream(); err != nil {
				return err
			}
			cur = ow.stream
			if opt.WithName {
				lw.prefix = []byte(ow.name + ":")
			}
		}
		cw := &countWriter{w: out}
		var err error
		if ft.err == nil && ft.inline {
			hdr, serr := fr.stream(ctx, ft.step, cw)
			if serr == nil {
				times[ft.step.Chunk] = [2]time.Time{hdr.First, hdr.Last}
			}
			err = serr
		} else if ft.err == nil {
			times[ft.step.Chunk] = [2]time.Time{ft.hdr.First, ft.hdr.Last}
			_, err = ft.deliverTo(cw)
		} else {
			err = ft.err
		}
		sum.Bytes += cw.n
		o.Stats.Written.Add(cw.n)
		if err != nil {
			if errors.Is(err, errWrite) || ctx.Err() != nil {
				return err
			}
			s := ft.step
			ps.add(Problem{Kind: classify(err), Key: s.Chunk.Key, File: ow.name,
				Msg: fmt.Sprintf("%v; %s [%d, %d) of stream %s left out", err, unitName(s), s.Chunk.Start+s.Skip, s.Chunk.End, s.Chunk.Stream)})
		}
		return nil
	})
	if err == nil {
		err = endStream()
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	sum.Fetched = o.Stats.Objects.Load()
	sum.FetchedBytes = o.Stats.Bytes.Load()
	sum.HeaderReads = hr.reads.Load()
	sum.Problems = ps.all()
	return sum, err
}

// maxLine bounds the part of a line held while waiting for its end; a
// longer line is matched and written in pieces.
const maxLine = 1 << 20

// lineWriter writes whole lines that match re (all when nil), each after
// prefix. A line cut between chunks is joined before matching.
type lineWriter struct {
	w      *bufio.Writer
	re     *regexp.Regexp
	prefix []byte
	carry  []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.carry = append(l.carry, p...)
			if len(l.carry) >= maxLine {
				if err := l.flushLine(); err != nil {
					return 0, err
				}
			}
			break
		}
		line := p[:i+1]
		if len(l.carry) > 0 {
			l.carry = append(l.carry, line...)
			line = l.carry
		}
		if err := l.emit(line); err != nil {
			return 0, err
		}
		l.carry = l.carry[:0]
		p = p[i+1:]
	}
	return n, nil
}

// flushLine writes a last line that has no newline (end of a stream).
func (l *lineWriter) flushLine() error {
	if len(l.carry) == 0 {
		return nil
	}
	line := append(l.carry, '\n')
	l.carry = l.carry[:0]
	return l.emit(line)
}

func (l *lineWriter) emit(line []byte) error {
	if l.re != nil && !l.re.Match(bytes.TrimSuffix(line, []byte{'\n'})) {
		return nil
	}
	if len(l.prefix) > 0 {
		if _, err := l.w.Write(l.prefix); err != nil {
			return err
		}
	}
	_, err := l.w.Write(line)
	return err
}
