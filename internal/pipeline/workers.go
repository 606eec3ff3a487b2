package pipeline

import (
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/sinks"
)

// compressor turns sealed batches into objects. Its encoder (several MiB
// of window and tables once used) is closed after idleTrim without work
// and made again for the next chunk.
func (p *Pipeline) compressor() {
	defer p.workers.Done()
	var enc *archive.Encoder
	defer func() {
		if enc != nil {
			enc.Close()
		}
	}()
	idle := time.NewTimer(idleTrim)
	defer idle.Stop()
	for {
		var c *chunk
		select {
		case c = <-p.compressQ:
		case <-idle.C:
			if enc != nil {
				enc.Close()
				enc = nil
			}
			continue
		}
		if c == nil { // closed
			return
		}
		idle.Reset(idleTrim)
		if enc == nil {
			var err error
			if enc, err = archive.NewEncoder(); err != nil {
				panic(err) // only on invalid static options
			}
		}
		raw := *c.raw
		h := &archive.Header{
			V: archive.Version, App: p.o.App, Host: p.o.Host,
			Source: c.info.Kind, Path: c.info.Path, Stream: c.info.ID,
			Start: c.start, End: c.end, Unit: c.info.Unit,
			Lines: c.lines, RawSize: int64(len(raw)), Checksum: archive.FormatChecksum(c.crc),
			First: c.first.UTC(), Last: c.last.UTC(), Codec: p.o.Compression, Event: c.event,
		}
		// A body buffer of 5/4 of the last body's size holds the next one
		// without the append growing (and copying) its way up, and no more
		// than that: a compressed chunk waiting on the sink holds it.
		want := int(p.bodyHint.Load())
		if want == 0 {
			want = len(raw) / 4 // logs compress 5-15x
		}
		bp := getBuf(p.bodyFree, max(want, 64<<10))
		if cap(*bp) < want {
			*bp = make([]byte, 0, want) // a buffer from smaller bodies
		}
		body, err := enc.Encode((*bp)[:0], h, raw)
		if err != nil {
			// Cannot happen for valid headers; drop loudly, never silently.
			p.log.Error("encoding chunk failed; chunk dropped and will be read again at next start", "stream", c.info.ID, "start", c.start, "err", err)
			putBuf(p.bodyFree, bp)
			p.finish(c, false)
			continue
		}
		*bp = body
		c.body = bp
		p.bodyHint.Store(int64(len(body) + len(body)/4))
		// The raw bytes are not needed after this: a retry sends the body.
		// Giving the buffer back now means a chunk waiting on a slow or
		// unreachable sink holds its compressed size, not max_bytes.
		p.putRaw(c.raw)
		c.raw = nil
		// ... and the budget it held beyond the body's size, so that the
		// readers fill the next chunks while this one waits on the sink.
		if keep := max(int64(cap(body)), p.o.MaxBytes.Int64()/bodyShare); keep < c.held {
			p.budget.give(c.held - keep)
			c.held = keep
		}
		c.obj = &sinks.Object{Key: archive.Key(p.o.Prefix, h), Body: body, Header: h, ContentType: contentType(p.o.Compression)}
		p.uploadQ <- c // never blocks: room for every chunk the budget allows
	}
}

func contentType(codec string) string {
	switch codec {
	case archive.CodecZstd:
		return "application/zstd"
	case archive.CodecGzip:
		return "application/gzip"
	}
	return "text/plain; charset=utf-8"
}

// uploader writes objects to the sink with retries and acknowledges them.
func (p *Pipeline) uploader() {
	defer p.workers.Done()
	for {
		var c *chunk
		select {
		case c = <-p.uploadQ:
		case <-p.uploadCtx.Done():
			// Drain what is queued without writing it.
			for {
				select {
				case c = <-p.uploadQ:
					p.finish(c, false)
				default:
					return
				}
			}
		}
		if !p.saveStream(c.s) {
			p.finish(c, false)
			continue
		}
		err := p.sink.Put(p.uploadCtx, c.obj)
		p.finish(c, err == nil)
	}
}

// finish releases a chunk's buffers and budget; acked chunks advance the
// stream's checkpoint.
func (p *Pipeline) finish(c *chunk, acked bool) {
	if acked {
		mChunks.Inc()
		mRawBytes.AddInt64(c.obj.Header.RawSize)
		mStoredBytes.Add(len(c.obj.Body))
		mLines.AddInt64(c.lines)
		c.s.ack(c.start, c.end)
		p.status.uploaded(c.obj.Key, p.o.Now())
	}
	p.putRaw(c.raw)
	putBuf(p.bodyFree, c.body)
	p.release(c.held)
	p.pending.Done()
}
