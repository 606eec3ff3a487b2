package pipeline

import (
	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/sinks"
)

// compressor turns sealed batches into objects.
func (p *Pipeline) compressor() {
	defer p.workers.Done()
	enc, err := archive.NewEncoder()
	if err != nil {
		panic(err) // only on invalid static options
	}
	defer enc.Close()
	for c := range p.compressQ {
		raw := *c.raw
		h := &archive.Header{
			V: archive.Version, App: p.o.App, Host: p.o.Host,
			Source: c.info.Kind, Path: c.info.Path, Stream: c.info.ID,
			Start: c.start, End: c.end, Unit: c.info.Unit,
			Lines: c.lines, RawSize: int64(len(raw)), Checksum: archive.FormatChecksum(c.crc),
			First: c.first.UTC(), Last: c.last.UTC(), Codec: p.o.Compression, Event: c.event,
		}
		// Logs compress 5-15x: an eighth of a chunk holds most bodies
		// without the append doubling (and copying) its way up.
		bp := getBuf(p.bodyFree, max(int(p.o.MaxBytes)/8, 64<<10))
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
		// The raw bytes are not needed after this: a retry sends the body.
		// Giving the buffer back now means a chunk waiting on a slow or
		// unreachable sink holds its compressed size, not max_bytes.
		putBuf(p.rawFree, c.raw)
		c.raw = nil
		c.obj = &sinks.Object{Key: archive.Key(p.o.Prefix, h), Body: body, Header: h, ContentType: contentType(p.o.Compression)}
		p.uploadQ <- c
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
		err := p.sink.Put(p.uploadCtx, c.obj)
		p.finish(c, err == nil)
	}
}

// finish releases a chunk's buffers and slot; acked chunks advance the
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
	putBuf(p.rawFree, c.raw)
	putBuf(p.bodyFree, c.body)
	p.release()
	p.pending.Done()
}
