package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/logship/logship/internal/retrieve"
	"github.com/logship/logship/internal/schema"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// progress shows pull and cat progress on stderr: an mpb bar on a
// terminal, a plain line every few seconds otherwise. Problems are printed
// as they are found.
type progressView struct {
	w      io.Writer
	p      *mpb.Progress
	done   chan struct{}
	exited chan struct{}
}

func startProgress(ctx context.Context, w io.Writer, mode, verb string, st *retrieve.Stats) *progressView {
	pv := &progressView{w: w, done: make(chan struct{}), exited: make(chan struct{})}
	f, isFile := w.(*os.File)
	if mode == "auto" {
		mode = "plain"
		if isFile && isTerminal(f) {
			mode = "bar"
		}
	}
	if mode == "none" {
		close(pv.exited)
		return pv
	}
	var bar *mpb.Bar
	tick := 5 * time.Second
	if mode == "bar" {
		tick = 200 * time.Millisecond
		pv.p = mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithWidth(32), mpb.WithRefreshRate(200*time.Millisecond), mpb.WithAutoRefresh())
		bar = pv.p.AddBar(0,
			mpb.PrependDecorators(decor.Name(verb+" "), decor.Any(func(decor.Statistics) string {
				return fmt.Sprintf("%d/%d objects", st.Objects.Load(), st.ObjectsTotal.Load())
			}, decor.WCSyncSpaceR)),
			mpb.AppendDecorators(decor.CountersKibiByte("% .1f / % .1f"), decor.Name(" "),
				decor.AverageSpeed(decor.SizeB1024(0), "% .1f"), decor.Name(" ETA "), decor.AverageETA(decor.ET_STYLE_GO)))
	}
	start := time.Now()
	go func() {
		defer close(pv.exited)
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-pv.done:
				if bar != nil {
					bar.SetCurrent(st.Bytes.Load())
					bar.SetTotal(-1, true) // complete at what was fetched
				}
				return
			case <-t.C:
			}
			if bar != nil {
				bar.SetTotal(st.BytesTotal.Load(), false)
				bar.SetCurrent(st.Bytes.Load())
				continue
			}
			secs := time.Since(start).Seconds()
			fmt.Fprintf(w, "logship: %s: %d/%d objects, %s/%s fetched, %s written, %.1f MB/s\n", verb,
				st.Objects.Load(), st.ObjectsTotal.Load(), schema.HumanBytes(st.Bytes.Load()), schema.HumanBytes(st.BytesTotal.Load()),
				schema.HumanBytes(st.Written.Load()), float64(st.Written.Load())/1e6/secs)
		}
	}()
	return pv
}

func (pv *progressView) problem(p retrieve.Problem) {
	var w io.Writer = pv.w
	if pv.p != nil {
		w = pv.p
	}
	fmt.Fprintln(w, "logship:", p.String())
}

func (pv *progressView) stop() {
	select {
	case <-pv.done:
		return
	default:
	}
	close(pv.done)
	<-pv.exited
	if pv.p != nil {
		pv.p.Wait()
	}
}
