package archive

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
)

// ErrKey is returned for a key that does not follow the layout.
var ErrKey = errors.New("archive: not a chunk key")

// Ext returns the object name extension for a codec.
func Ext(codec string) string {
	switch codec {
	case CodecZstd:
		return ".log.zst"
	case CodecGzip:
		return ".log.gz"
	default:
		return ".log"
	}
}

// checkSegment reports whether s is safe as one key segment and one path
// element: 1..128 bytes of [A-Za-z0-9._-], not starting with a dot.
func checkSegment(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	if len(s) > 128 {
		return fmt.Errorf("%d bytes, limit 128", len(s))
	}
	if s[0] == '.' {
		return fmt.Errorf("%q starts with a dot", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%q has %q: only letters, digits, '.', '_' and '-' are allowed", s, c)
		}
	}
	return nil
}

// CheckName reports whether s may be used as app, host or stream id.
func CheckName(s string) error { return checkSegment(s) }

// SafeName maps any string to one that passes CheckName, replacing other
// bytes with '_' (for host names and file base names in stream ids).
func SafeName(s string) string {
	b := []byte(s)
	if len(b) > 96 {
		b = b[:96]
	}
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) == 0 || b[0] == '.' {
		b = append([]byte{'_'}, b...)
	}
	return string(b)
}

// PartitionPrefix is the key prefix of one app's hour:
// PREFIX/app=APP/dt=YYYY-MM-DD/hour=HH/.
func PartitionPrefix(prefix, app string, t time.Time) string {
	t = t.UTC()
	return joinPrefix(prefix) + "app=" + app + "/dt=" + t.Format("2006-01-02") + "/hour=" + t.Format("15") + "/"
}

func joinPrefix(prefix string) string {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return ""
	}
	return prefix + "/"
}

// Key returns the object key of a chunk: a pure function of the header's
// identity, range, first ingest time and codec.
//
//	PREFIX/app=APP/dt=YYYY-MM-DD/hour=HH/host=HOST/source=KIND/STREAM/START-END.log.zst
func Key(prefix string, h *Header) string {
	return PartitionPrefix(prefix, h.App, h.First) + "host=" + h.Host + "/source=" + h.Source + "/" +
		h.Stream + "/" + fmt.Sprintf("%016d-%016d", h.Start, h.End) + Ext(h.Codec)
}

// KeyInfo is what a key says about its chunk.
type KeyInfo struct {
	Prefix string
	App    string
	Hour   time.Time // UTC, truncated to the hour
	Host   string
	Source string
	Stream string
	Start  int64
	End    int64
	Codec  string
}

// ParseKey parses a chunk key written by Key. Keys from outside are refused
// unless every segment is safe.
func ParseKey(key string) (KeyInfo, error) {
	var ki KeyInfo
	parts := strings.Split(key, "/")
	if len(parts) < 7 {
		return ki, fmt.Errorf("%w: %q", ErrKey, key)
	}
	n := len(parts)
	tail := parts[n-7:]
	ki.Prefix = strings.Join(parts[:n-7], "/")
	var dt, hour string
	for i, want := range []string{"app=", "dt=", "hour=", "host=", "source="} {
		if !strings.HasPrefix(tail[i], want) {
			return ki, fmt.Errorf("%w: %q: segment %d is not %s...", ErrKey, key, i, want)
		}
		v := tail[i][len(want):]
		switch i {
		case 0:
			ki.App = v
		case 1:
			dt = v
		case 2:
			hour = v
		case 3:
			ki.Host = v
		case 4:
			ki.Source = v
		}
	}
	t, err := time.Parse("2006-01-02 15", dt+" "+hour)
	if err != nil {
		return ki, fmt.Errorf("%w: %q: bad dt/hour: %v", ErrKey, key, err)
	}
	ki.Hour = t
	ki.Stream = tail[5]
	for _, s := range []string{ki.App, ki.Host, ki.Source, ki.Stream} {
		if err := checkSegment(s); err != nil {
			return ki, fmt.Errorf("%w: %q: %v", ErrKey, key, err)
		}
	}
	name := tail[6]
	switch {
	case strings.HasSuffix(name, ".log.zst"):
		ki.Codec, name = CodecZstd, strings.TrimSuffix(name, ".log.zst")
	case strings.HasSuffix(name, ".log.gz"):
		ki.Codec, name = CodecGzip, strings.TrimSuffix(name, ".log.gz")
	case strings.HasSuffix(name, ".log"):
		ki.Codec, name = CodecNone, strings.TrimSuffix(name, ".log")
	default:
		return ki, fmt.Errorf("%w: %q: unknown extension", ErrKey, key)
	}
	a, b, ok := strings.Cut(name, "-")
	if !ok {
		return ki, fmt.Errorf("%w: %q: name is not START-END", ErrKey, key)
	}
	if ki.Start, err = strconv.ParseInt(a, 10, 64); err != nil || ki.Start < 0 {
		return ki, fmt.Errorf("%w: %q: bad start", ErrKey, key)
	}
	if ki.End, err = strconv.ParseInt(b, 10, 64); err != nil || ki.End < ki.Start {
		return ki, fmt.Errorf("%w: %q: bad end", ErrKey, key)
	}
	if path.Clean(key) != key {
		return ki, fmt.Errorf("%w: %q: not a clean path", ErrKey, key)
	}
	return ki, nil
}
