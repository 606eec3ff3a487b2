package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/sinks"
)

// Client is the laptop's side: it writes requests and reads responses and
// bundles. Keys are whole (they start with Prefix).
type Client struct {
	Store  Store
	Prefix string // the archive prefix
	App    string
	Now    func() time.Time
}

func (c *Client) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

// Send writes a request for host (or AllHosts) that lives for life
// (DefaultLife when 0) and returns it.
func (c *Client) Send(ctx context.Context, host, note string, heapDumps bool, life time.Duration) (*Request, error) {
	if life <= 0 {
		life = DefaultLife
	}
	now := c.now().UTC().Truncate(time.Millisecond)
	q := &Request{V: Version, ID: NewID(), App: c.App, Host: host, Note: note, Created: now, Expires: now.Add(life), HeapDumps: heapDumps}
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	b, err := Encode(q)
	if err != nil {
		return nil, err
	}
	key := RequestKey(c.Prefix, q)
	if err := c.Store.Put(ctx, &sinks.Object{Key: key, Body: b, ContentType: "application/json"}); err != nil {
		return nil, fmt.Errorf("control: writing the request %s: %w", key, err)
	}
	return q, nil
}

// Responses returns the responses to q written so far, by host, skipping
// those in have. A malformed response is returned as an error beside the
// others.
func (c *Client) Responses(ctx context.Context, q *Request, have map[string]*Response) ([]*Response, error) {
	pre := ResponsesOf(c.Prefix, q.App, q.ID)
	var keys []string
	err := c.Store.List(ctx, pre, func(oi sinks.ObjectInfo) error {
		host, ok := strings.CutSuffix(strings.TrimPrefix(oi.Key, pre), ".json")
		if ok && have[host] == nil && !strings.Contains(host, "/") {
			keys = append(keys, oi.Key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("control: listing %s: %w", pre, err)
	}
	var out []*Response
	var errs []error
	for _, k := range keys {
		rc, _, err := c.Store.Get(ctx, k)
		if err != nil {
			return out, fmt.Errorf("control: %s: %w", k, err)
		}
		r, err := DecodeResponse(rc)
		rc.Close()
		if err == nil && (r.ID != q.ID || ResponseKey(c.Prefix, q.App, r.ID, r.Host) != k) {
			err = errors.New("its id or host does not match its key")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k, err))
			continue
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

// ErrTimeout is returned by Wait when not every host asked answered in
// time.
var ErrTimeout = errors.New("control: no answer in time")

// Wait polls the responses to q every interval until the hosts in want
// have all answered (want empty: until ctx ends, for AllHosts), calling
// progress after each poll. It returns the responses by host; when ctx
// ends first, what came and ErrTimeout (not ctx's error).
func (c *Client) Wait(ctx context.Context, q *Request, want []string, interval time.Duration, progress func(got map[string]*Response, bad error)) (map[string]*Response, error) {
	got := map[string]*Response{}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return got, ErrTimeout
		case <-t.C:
		}
		rs, err := c.Responses(ctx, q, got)
		if ctx.Err() != nil {
			return got, ErrTimeout
		}
		for _, r := range rs {
			got[r.Host] = r
		}
		if progress != nil {
			progress(got, err)
		}
		if len(want) > 0 && !slices.ContainsFunc(want, func(h string) bool { return got[h] == nil }) {
			return got, nil
		}
		t.Reset(interval)
	}
}

// MaxBundle bounds the bundle bytes Fetch accepts.
const MaxBundle = 64 << 30

// Fetch writes the bundle of r to w, verified object by object (in-band
// header and checksum, contiguous byte ranges, the app, host and path the
// response names), and returns its size.
func (c *Client) Fetch(ctx context.Context, r *Response, w io.Writer) (int64, error) {
	if r.Status != StatusOK || len(r.Keys) == 0 {
		return 0, fmt.Errorf("control: %s answered %s: %s", r.Host, r.Status, r.Message)
	}
	want := strings.TrimLeft(strings.Trim(c.Prefix, "/")+"/app="+r.App+"/", "/")
	var n int64
	for _, k := range r.Keys {
		if !strings.HasPrefix(k, want) || !strings.Contains(k, "/host="+r.Host+"/source="+archive.KindSnapshot+"/") {
			return n, fmt.Errorf("control: %s's response names %q, not a snapshot of that host", r.Host, k)
		}
		m, err := c.fetchOne(ctx, r, k, n, w)
		n += m
		if err != nil {
			return n, fmt.Errorf("control: %s: %w", k, err)
		}
	}
	if r.Size > 0 && n != r.Size {
		return n, fmt.Errorf("control: bundle of %d bytes, the response says %d", n, r.Size)
	}
	return n, nil
}

func (c *Client) fetchOne(ctx context.Context, r *Response, key string, at int64, w io.Writer) (int64, error) {
	rc, _, err := c.Store.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	ar, err := archive.NewReader(rc, archive.Limits{MaxRaw: MaxBundle})
	if err != nil {
		return 0, err
	}
	defer ar.Close()
	h := ar.Header
	switch {
	case h.App != r.App || h.Host != r.Host || h.Source != archive.KindSnapshot:
		return 0, fmt.Errorf("header says %s/%s/%s", h.App, h.Host, h.Source)
	case h.Path != r.Bundle:
		return 0, fmt.Errorf("header path %q, the response says %q", h.Path, r.Bundle)
	case h.Start != at:
		return 0, fmt.Errorf("bytes from %d, want %d", h.Start, at)
	}
	return io.Copy(w, ar)
}
