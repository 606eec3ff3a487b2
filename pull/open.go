// Package pull reads an archive back: it lists what is archived (ls),
// downloads and reassembles the original files (pull) and streams the
// reassembled lines (cat).
//
// The archive is outside input. Keys and headers are validated, header
// paths are sanitised before they name a file, every object is verified
// against its in-band checksum, decompression is bounded by the size the
// header declares, and one bad object never stops the others: it is
// reported as a Problem and the run goes on.
package pull

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/logship/logship/sinks"
	"github.com/logship/logship/sinks/dir"
)

// Archive is a read-only view of an archive: a folder or an OSS prefix.
// Keys are relative to the location given to Open.
//
// List must call fn in key order (see sinks.Lister); Get must return
// sinks.ErrNotFound (wrapped) for a missing key and, for object stores,
// verify the transfer checksum (CRC64) itself: pull verifies the in-band
// checksum of every chunk on top. An Archive may also implement
// sinks.PrefixLister, which lets a time window list only the partitions it
// needs.
type Archive interface {
	sinks.Lister
	sinks.Getter
}

// ErrOSSUnavailable is returned by Open for oss:// locations until the OSS
// reader is plugged in (see openOSS).
var ErrOSSUnavailable = errors.New("pull: oss:// archives are not available yet")

// Location is a parsed --from value.
type Location struct {
	Scheme string // "dir" or "oss"
	Dir    string // Scheme "dir": the folder
	Bucket string // Scheme "oss"
	Prefix string // Scheme "oss": key prefix, without leading or trailing "/"
}

// ParseLocation parses oss://BUCKET/PREFIX, file://DIR or a plain folder path.
func ParseLocation(from string) (Location, error) {
	if from == "" {
		return Location{}, errors.New("pull: empty location: use --from DIR or --from oss://BUCKET/PREFIX")
	}
	scheme, rest, ok := strings.Cut(from, "://")
	if !ok {
		return Location{Scheme: "dir", Dir: from}, nil
	}
	switch strings.ToLower(scheme) {
	case "file":
		if rest == "" {
			return Location{}, fmt.Errorf("pull: %q: empty folder", from)
		}
		return Location{Scheme: "dir", Dir: rest}, nil
	case "oss":
		bucket, prefix, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return Location{}, fmt.Errorf("pull: %q: no bucket: write oss://BUCKET/PREFIX", from)
		}
		return Location{Scheme: "oss", Bucket: bucket, Prefix: strings.Trim(prefix, "/")}, nil
	}
	return Location{}, fmt.Errorf("pull: %q: unknown scheme %q: use a folder or oss://BUCKET/PREFIX", from, scheme)
}

// Open opens the archive at from: a folder written by the dir sink (or
// filled by `ossutil cp -r`, or by hand), or oss://BUCKET/PREFIX.
func Open(from string) (Archive, error) {
	loc, err := ParseLocation(from)
	if err != nil {
		return nil, err
	}
	switch loc.Scheme {
	case "oss":
		return openOSS(loc)
	default:
		fi, err := os.Stat(loc.Dir)
		if err != nil {
			return nil, fmt.Errorf("pull: --from %s: %w", loc.Dir, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("pull: --from %s: not a folder", loc.Dir)
		}
		abs, err := filepath.Abs(loc.Dir)
		if err != nil {
			return nil, err
		}
		return dir.New(abs)
	}
}

// openOSS is the one place where the OSS reader plugs in: build the
// bucket reader from sinks/oss (region, endpoint and credentials from
// flags, LOGSHIP_* environment, the config file or ~/.ossutilconfig; the
// public endpoint by default), then return Sub(bucketReader, loc.Prefix)
// so that keys are relative to the prefix like those of a folder.
func openOSS(loc Location) (Archive, error) {
	return nil, fmt.Errorf("%w (oss://%s/%s): copy the objects first with `ossutil cp -r oss://%s/%s/ DIR` and use --from DIR",
		ErrOSSUnavailable, loc.Bucket, loc.Prefix, loc.Bucket, loc.Prefix)
}

// Sub returns the part of a under prefix, with keys relative to it (like
// fs.Sub). The result implements sinks.PrefixLister when a does.
func Sub(a Archive, prefix string) Archive {
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
	a Archive
	p string
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
