// Package retrieve reads an archive back: it lists what is archived (ls),
// downloads and reassembles the original files (pull) and streams the
// reassembled lines (cat).
//
// The archive is outside input. Keys and headers are validated, header
// paths are sanitised before they name a file, every object is verified
// against its in-band checksum, decompression is bounded by the size the
// header declares, and one bad object never stops the others: it is
// reported as a Problem and the run goes on.
package retrieve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/logship/logship/internal/sinks"
	"github.com/logship/logship/internal/sinks/open"
)

// Store is a read-only view of an archive: a folder or an OSS prefix.
// Keys are relative to the location given to Open.
//
// List must call fn in key order (see sinks.Lister); Get must return
// sinks.ErrNotFound (wrapped) for a missing key and, for object stores,
// verify the transfer checksum (CRC64) itself: pull verifies the in-band
// checksum of every chunk on top. A Store may also implement
// sinks.PrefixLister, which lets a time window list only the partitions it
// needs.
type Store interface {
	sinks.Lister
	sinks.Getter
}

// OSSOptions say how to reach an oss:// location (open.Reader).
type OSSOptions = open.Reader

// Open opens the archive at from: a folder written by the dir sink (or
// filled by `ossutil cp -r`, or by hand), or oss://BUCKET/PREFIX, through
// open.URL, the one place sinks are opened, scoped to the location's
// prefix. Its errors are all about the location and the options (no
// region, a bad endpoint, no credentials): nothing is listed yet. The
// result implements io.Closer when it holds connections.
func Open(ctx context.Context, from string, o OSSOptions) (Store, error) {
	o.Parallel = max(o.Parallel, DefaultParallel)
	s, loc, err := open.URL(ctx, from, o)
	if err != nil {
		return nil, err
	}
	st, ok := s.(Store)
	if !ok {
		s.Close()
		return nil, fmt.Errorf("%s: the %s sink cannot be read back", loc, loc.Scheme)
	}
	return Sub(st, loc.Prefix), nil
}

// Sub returns the part of a under prefix, with keys relative to it (like
// fs.Sub). The result implements sinks.PrefixLister when a does.
func Sub(a Store, prefix string) Store {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return a
	}
	s := &sub{a: a, p: prefix + "/"}
	if pl, ok := a.(sinks.PrefixLister); ok {
		return &subPrefix{sub: s, pl: pl}
	}
	return s
}

type sub struct {
	a Store
	p string
}

// Close closes the archive under the prefix when it holds connections.
func (s *sub) Close() error {
	if c, ok := s.a.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

func (s *sub) List(ctx context.Context, prefix string, fn func(sinks.ObjectInfo) error) error {
	return s.a.List(ctx, s.p+prefix, func(oi sinks.ObjectInfo) error {
		if !strings.HasPrefix(oi.Key, s.p) {
			return nil
		}
		oi.Key = oi.Key[len(s.p):]
		return fn(oi)
	})
}

func (s *sub) Get(ctx context.Context, key string) (io.ReadCloser, sinks.ObjectInfo, error) {
	rc, oi, err := s.a.Get(ctx, s.p+key)
	oi.Key = strings.TrimPrefix(oi.Key, s.p)
	return rc, oi, err
}

// Stat implements sinks.Stater when the archive under the prefix does;
// otherwise it returns errors.ErrUnsupported.
func (s *sub) Stat(ctx context.Context, key string) (sinks.ObjectInfo, error) {
	st, ok := s.a.(sinks.Stater)
	if !ok {
		return sinks.ObjectInfo{}, errors.ErrUnsupported
	}
	oi, err := st.Stat(ctx, s.p+key)
	oi.Key = strings.TrimPrefix(oi.Key, s.p)
	return oi, err
}

type subPrefix struct {
	*sub
	pl sinks.PrefixLister
}

func (s *subPrefix) ListPrefixes(ctx context.Context, prefix string) ([]string, error) {
	ps, err := s.pl.ListPrefixes(ctx, s.p+prefix)
	if err != nil {
		return nil, err
	}
	out := ps[:0]
	for _, p := range ps {
		if strings.HasPrefix(p, s.p) {
			out = append(out, p[len(s.p):])
		}
	}
	return out, nil
}
