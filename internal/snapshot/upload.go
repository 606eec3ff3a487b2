package snapshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/pipeline"
	"github.com/logship/logship/internal/sinks"
)

// Artifact describes a bundle to store: the stream it is, and what its
// header says.
type Artifact struct {
	Stream string // stream id: snapshot-YYYYMMDDTHHMMSSZ-ID
	Path   string // header path: the bundle's file name
	Time   time.Time
	Event  string            // archive.EventSnapshot
	Extra  map[string]string // trigger, note, request_id, event_*
}

// Stored says where an uploaded bundle went.
type Stored struct {
	Keys []string // object keys in stream order; one unless the bundle is large
	Size int64    // bytes of the bundle
}

// Uploader stores a stream of unknown length as an artifact under
// source=snapshot, so that `logship ls` and `pull` find it. Upload reads r
// to its end (or until ctx ends or r fails) and returns only when every
// byte read is durable; on an error, objects already stored may remain.
type Uploader interface {
	Upload(ctx context.Context, a Artifact, r io.Reader) (Stored, error)
}

// Presigner is implemented by sinks that can hand out a download URL for
// one object (OSS). Expiry is at most 7 days.
type Presigner interface {
	Presign(ctx context.Context, key string, expiry time.Duration) (string, error)
}

// DefaultChunkBytes is the raw bundle bytes per object of SinkUploader.
const DefaultChunkBytes = 8 << 20

// SinkUploader ships a bundle through any sink as a stream of chunks with
// byte ranges, exactly as a log file is shipped: the bundle needs no
// known length, is never whole in memory (one chunk is), and `logship
// pull` reassembles it byte for byte. A bundle up to ChunkBytes is one
// object.
type SinkUploader struct {
	Sink       sinks.Sink
	Prefix     string
	App, Host  string
	ChunkBytes int            // 0: DefaultChunkBytes
	Retry      pipeline.Retry // for each Put, until ctx ends
	Log        *slog.Logger
}

// Upload implements Uploader.
func (u *SinkUploader) Upload(ctx context.Context, a Artifact, r io.Reader) (Stored, error) {
	var st Stored
	size := u.ChunkBytes
	if size <= 0 {
		size = DefaultChunkBytes
	}
	log := u.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	enc, err := archive.NewEncoder()
	if err != nil {
		return st, err
	}
	defer enc.Close()
	raw := make([]byte, size)
	var body []byte
	for {
		n, rerr := io.ReadFull(r, raw)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			return st, rerr
		}
		if n == 0 && st.Size > 0 {
			return st, nil
		}
		h := &archive.Header{
			V: archive.Version, App: u.App, Host: u.Host, Source: archive.KindSnapshot,
			Path: a.Path, Stream: a.Stream, Start: st.Size, End: st.Size + int64(n), Unit: archive.UnitBytes,
			Lines: int64(bytes.Count(raw[:n], []byte{'\n'})), RawSize: int64(n), Checksum: archive.Checksum(raw[:n]),
			First: a.Time.UTC(), Last: a.Time.UTC(), Codec: archive.CodecZstd, Event: a.Event, Extra: a.Extra,
		}
		if body, err = enc.Encode(body[:0], h, raw[:n]); err != nil {
			return st, err
		}
		obj := &sinks.Object{Key: archive.Key(u.Prefix, h), Body: body, Header: h, ContentType: "application/zstd"}
		if err := u.Retry.Do(ctx, log, obj.Key, func(ctx context.Context) error { return u.Sink.Put(ctx, obj) }); err != nil {
			return st, fmt.Errorf("snapshot: storing %s: %w", obj.Key, err)
		}
		st.Keys = append(st.Keys, obj.Key)
		st.Size += int64(n)
		if rerr != nil { // EOF: the bundle has ended
			return st, nil
		}
	}
}

// Result is one snapshot taken and stored.
type Result struct {
	Manifest *Manifest
	Stored   Stored
	Path     string // the bundle's file name
}

// ErrNoUploader is returned by Take when the Taker has no Uploader.
var ErrNoUploader = errors.New("snapshot: no uploader configured")

// maxNote bounds the note carried in the header extra.
const maxNote = 1024

// Take collects one bundle and uploads it, streaming: the collectors'
// output flows through tar and zstd straight into the uploader. It is
// what `logship snapshot`, the event triggers and a remote request call.
func (t *Taker) Take(ctx context.Context, req Request) (*Result, error) {
	if t.o.Uploader == nil {
		return nil, ErrNoUploader
	}
	if req.Trigger == "" {
		req.Trigger = TriggerManual
	}
	id, at := newID(), t.o.Now().UTC()
	name := Name(at, id)
	extra := map[string]string{"trigger": req.Trigger, "snapshot_id": id}
	if req.Note != "" {
		extra["note"] = truncate(req.Note, maxNote)
	}
	if req.RequestID != "" {
		extra["request_id"] = req.RequestID
	}
	for k, v := range req.Event {
		extra["event_"+k] = truncate(v, maxNote)
	}
	a := Artifact{Stream: "snapshot-" + at.Format("20060102T150405Z") + "-" + id, Path: name, Time: at, Event: archive.EventSnapshot, Extra: extra}

	pr, pw := io.Pipe()
	type written struct {
		m   *Manifest
		err error
	}
	done := make(chan written, 1)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		m, err := t.write(wctx, req, id, at, pw)
		pw.CloseWithError(err)
		done <- written{m, err}
	}()
	st, uerr := t.o.Uploader.Upload(ctx, a, pr)
	if uerr != nil {
		cancel()
		pr.CloseWithError(uerr)
	}
	w := <-done
	res := &Result{Manifest: w.m, Stored: st, Path: name}
	if w.err != nil && uerr == nil {
		return res, fmt.Errorf("snapshot: writing the bundle: %w", w.err)
	}
	if uerr != nil {
		return res, uerr
	}
	return res, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
