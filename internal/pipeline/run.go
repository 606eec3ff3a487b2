package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Run starts the pipeline and the sources and blocks until ctx ends (the
// agent was asked to stop) or every source returned. Then, in order: the
// sources are stopped, every open batch is flushed, uploads are drained
// under their own deadline (shutdownTimeout, not the cancelled ctx), the
// checkpoint is saved and the sink closed. A source that fails to run at
// all is reported in the returned error; the others keep going.
func Run(ctx context.Context, p *Pipeline, sources []Source, shutdownTimeout time.Duration) error {
	p.Start()
	srcCtx, stopSources := context.WithCancel(ctx)
	defer stopSources()
	var wg sync.WaitGroup
	errs := make([]error, len(sources))
	for i, s := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Run(srcCtx, p.Emitter(s.Name())); err != nil && !errors.Is(err, context.Canceled) {
				errs[i] = fmt.Errorf("source %s: %w", s.Name(), err)
				p.log.Error("source stopped", "source", s.Name(), "err", err)
			}
		}()
	}
	wg.Wait()
	p.log.Info("sources stopped; draining", "timeout", shutdownTimeout)
	dctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	start := time.Now()
	derr := p.Drain(dctx)
	cerr := p.Close()
	if derr == nil {
		p.log.Info("drained", "took", time.Since(start).Round(time.Millisecond))
	}
	return errors.Join(append(errs, derr, cerr)...)
}
