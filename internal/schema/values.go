package schema

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Duration is a time.Duration that must be written with a unit ("30s",
// "5m", "1h30m"). A bare number is refused: viper-style configs silently
// read `timeout: 30` as 30ns.
type Duration time.Duration

// Std returns the value as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String writes the duration as time.Duration does, without zero trailing
// units: 5m, not 5m0s; 1h30m, not 1h30m0s.
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// ParseDuration parses a duration that has a unit.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return 0, fmt.Errorf("%q has no unit: write %ss (or ms, m, h)", s, s)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: use a number with a unit such as 500ms, 30s, 5m, 1h", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return Duration(v), nil
}

// MarshalText writes the duration with its unit.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a duration that has a unit.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Size is a byte count written as "8MiB", "512KiB", "1GB" or a plain
// number of bytes.
type Size int64

// Int64 returns the number of bytes.
func (s Size) Int64() int64 { return int64(s) }

func (s Size) String() string {
	switch {
	case s != 0 && s%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", s>>30)
	case s != 0 && s%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", s>>20)
	case s != 0 && s%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", s>>10)
	}
	return strconv.FormatInt(int64(s), 10)
}

var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1000, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1000 * 1000, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1000 * 1000 * 1000, "gib": 1 << 30,
}

// ParseSize parses a size such as 8MiB, 512KiB, 10MB or 4096.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return !unicode.IsDigit(r) && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	}
	mult, ok := sizeUnits[unit]
	if num == "" || !ok {
		return 0, fmt.Errorf("%q is not a size: use bytes or a unit such as 512KiB, 8MiB, 1GiB", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("%q is not a size: use bytes or a unit such as 512KiB, 8MiB, 1GiB", s)
	}
	if f*float64(mult) >= 1<<62 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return Size(f * float64(mult)), nil
}

// MarshalText writes the size with a binary unit where it divides evenly.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a size.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// KeyID is an access key id: not a secret, but printed masked as `logship
// check` and the agent's log show it ("LTAI****0042": enough to tell keys
// apart), and masked in snapshot bundles. Reveal returns the value.
type KeyID string

// Reveal returns the key id.
func (k KeyID) Reveal() string { return string(k) }

func (k KeyID) String() string { return MaskID(string(k)) }

// GoString masks the id in %#v too.
func (k KeyID) GoString() string { return k.String() }

// MarshalText masks the id for encoders (validate --print).
func (k KeyID) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// MaskID shows the first and last four characters of an id, and stars
// for an id of eight or fewer.
func MaskID(id string) string {
	if len(id) <= 8 {
		return strings.Repeat("*", len(id))
	}
	return id[:4] + "****" + id[len(id)-4:]
}

// Secret is a string that never prints: %v, %s, JSON and YAML output all
// show "[redacted]". Reveal returns the value for the one place that needs it.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString hides the secret from %#v.
func (s Secret) GoString() string { return s.String() }

// MarshalText hides the secret from encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads the secret.
func (s *Secret) UnmarshalText(b []byte) error { *s = Secret(b); return nil }

// HumanBytes formats a byte count for people: 512 B, 1.5 KiB, 2.0 GiB.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
