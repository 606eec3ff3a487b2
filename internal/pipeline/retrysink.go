package pipeline

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/sinks"
)

// Wrap returns s with every write retried under r: Put, and where s has
// multipart uploads (sinks.Multipart), ResumeUpload and the PutPart and
// Complete of the uploads it returns. It is the one place the policy is
// applied (as OpenTelemetry's exporterhelper wraps an exporter): the
// pipeline wraps its sink once in New, package artifact once in its New.
//
// The wrapper has the abilities of s that writers use (sinks.Multipart,
// sinks.Lister) and no others; List, Close and Abort are passed through
// without retries.
func (r Retry) Wrap(s sinks.Sink, log *slog.Logger) sinks.Sink {
	if log == nil {
		log = slog.Default()
	}
	rs := &retrySink{s: s, r: r, log: log, wk: newWaker()}
	mp, multipart := s.(sinks.Multipart)
	l, lister := s.(sinks.Lister)
	switch {
	case multipart && lister:
		return &retryMultipartLister{retryMultipart{rs, mp}, l}
	case multipart:
		return &retryMultipart{rs, mp}
	case lister:
		return &retryLister{rs, l}
	}
	return rs
}

type retrySink struct {
	s   sinks.Sink
	r   Retry
	log *slog.Logger
	wk  *waker // a success ends the backoff of the other writes
}

func (rs *retrySink) do(ctx context.Context, what string, op func(context.Context) error) error {
	return rs.r.do(ctx, rs.log, what, op, rs.wk)
}

func (rs *retrySink) Put(ctx context.Context, obj *sinks.Object) error {
	return rs.do(ctx, obj.Key, func(ctx context.Context) error { return rs.s.Put(ctx, obj) })
}

func (rs *retrySink) Close() error { return rs.s.Close() }

type retryLister struct {
	*retrySink
	sinks.Lister
}

type retryMultipart struct {
	*retrySink
	mp sinks.Multipart
}

type retryMultipartLister struct {
	retryMultipart
	sinks.Lister
}

func (rm *retryMultipart) ResumeUpload(ctx context.Context, key string, h *archive.Header, contentType string) (sinks.Upload, []sinks.Part, error) {
	var up sinks.Upload
	var parts []sinks.Part
	err := rm.do(ctx, key, func(ctx context.Context) error {
		var err error
		up, parts, err = rm.mp.ResumeUpload(ctx, key, h, contentType)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return &retryUpload{up: up, key: key, rs: rm.retrySink}, parts, nil
}

type retryUpload struct {
	up  sinks.Upload
	key string
	rs  *retrySink
}

func (ru *retryUpload) PutPart(ctx context.Context, n int, body []byte) (sinks.Part, error) {
	var p sinks.Part
	err := ru.rs.do(ctx, fmt.Sprintf("%s part %d", ru.key, n), func(ctx context.Context) error {
		var err error
		p, err = ru.up.PutPart(ctx, n, body)
		return err
	})
	return p, err
}

// Complete is retried like a write: a Complete whose answer was lost is
// the sink's to recognise (it checks the object holds these parts).
func (ru *retryUpload) Complete(ctx context.Context, parts []sinks.Part) error {
	return ru.rs.do(ctx, ru.key, func(ctx context.Context) error { return ru.up.Complete(ctx, parts) })
}

func (ru *retryUpload) Abort(ctx context.Context) error { return ru.up.Abort(ctx) }
