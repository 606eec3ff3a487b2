package snapshot

import (
	"bytes"
	"io"
	"regexp"
	"slices"
	"strings"
)

// SecretWords mark a name (an environment variable, a system property, a
// key=value pair anywhere) whose value is a secret.
var SecretWords = []string{"KEY", "SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH", "PRIVATE"}

// IsSecretName reports whether a name holds one of SecretWords (any case).
func IsSecretName(name string) bool {
	u := strings.ToUpper(name)
	for _, w := range SecretWords {
		if strings.Contains(u, w) {
			return true
		}
	}
	return false
}

// secretPair finds NAME=VALUE and NAME: VALUE (also quoted, as in JSON or
// -Dname=value) where NAME holds a secret word; group 2 is the value. An
// Authorization value keeps its scheme word, and the credential after it
// is the value.
var secretPair = regexp.MustCompile(`(?i)([A-Za-z0-9_.\-]*(?:key|secret|token|passw(?:or)?d|credential|auth|private)[A-Za-z0-9_.\-]*"?\s*[=:]\s*"?(?:(?:bearer|basic|token)\s+)?)([^\s"',;&]+)`)

// minSecretLen is the shortest literal masked everywhere: shorter values
// ("1", "true") would mask unrelated bytes all over the bundle.
const minSecretLen = 4

// Redactor masks secrets in place: every literal secret, and the value of
// every secret-looking NAME=VALUE pair. Masking keeps the length (each
// byte becomes '*'), so a file streamed into a tar entry of known size
// can be masked on the way.
type Redactor struct {
	literals [][]byte
	words    [][]byte // lower case
	maxLit   int
}

// NewRedactor returns a redactor for these literal secrets.
func NewRedactor(literals []string) *Redactor {
	r := &Redactor{}
	seen := map[string]bool{}
	for _, l := range literals {
		if len(l) < minSecretLen || seen[l] {
			continue
		}
		seen[l] = true
		r.literals = append(r.literals, []byte(l))
		r.maxLit = max(r.maxLit, len(l))
	}
	// Longest first: a secret that contains another is masked whole.
	slices.SortFunc(r.literals, func(a, b []byte) int { return len(b) - len(a) })
	for _, w := range []string{"key", "secret", "token", "passw", "credential", "auth", "private"} {
		r.words = append(r.words, []byte(w))
	}
	return r
}

// Mask masks b in place.
func (r *Redactor) Mask(b []byte) {
	for _, lit := range r.literals {
		for i := 0; ; {
			j := bytes.Index(b[i:], lit)
			if j < 0 {
				break
			}
			fill(b[i+j : i+j+len(lit)])
			i += j + len(lit)
		}
	}
	if !r.mayHavePair(b) {
		return
	}
	for _, m := range secretPair.FindAllSubmatchIndex(b, -1) {
		fill(b[m[4]:m[5]])
	}
}

// mayHavePair is a cheap filter before the regular expression: most log
// lines hold no secret word at all.
func (r *Redactor) mayHavePair(b []byte) bool {
	if bytes.IndexByte(b, '=') < 0 && bytes.IndexByte(b, ':') < 0 {
		return false
	}
	for _, w := range r.words {
		if containsFold(b, w) {
			return true
		}
	}
	return false
}

// containsFold reports whether b contains w (lower case ASCII) in any case.
func containsFold(b, w []byte) bool {
	first, upper := w[0], w[0]-'a'+'A'
	for i := 0; i+len(w) <= len(b); i++ {
		c := b[i]
		if c != first && c != upper {
			continue
		}
		ok := true
		for k := 1; k < len(w); k++ {
			if c := b[i+k] | 0x20; c != w[k] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func fill(b []byte) {
	for i := range b {
		b[i] = '*'
	}
}

// maxLine is how much of a line the streaming writer holds before it masks
// and writes it anyway.
const maxLine = 64 << 10

// Writer returns a writer that masks what it passes to w, a line at a
// time (lines longer than 64 KiB in pieces, keeping the last bytes back so
// that a literal secret across two pieces is still masked). Call Flush at
// the end. The byte count is unchanged.
func (r *Redactor) Writer(w io.Writer) *RedactWriter {
	return &RedactWriter{r: r, w: w, buf: make([]byte, 0, maxLine+4096)}
}

// RedactWriter is the streaming form of Redactor.Mask.
type RedactWriter struct {
	r   *Redactor
	w   io.Writer
	buf []byte
}

func (rw *RedactWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(len(p), cap(rw.buf)-len(rw.buf))
		rw.buf = append(rw.buf, p[:k]...)
		p = p[k:]
		if err := rw.drain(false); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// drain writes the complete lines held, or, when the buffer is full of
// one line, all of it but a tail.
func (rw *RedactWriter) drain(all bool) error {
	b := rw.buf
	cut := bytes.LastIndexByte(b, '\n') + 1
	switch {
	case all:
		cut = len(b)
	case cut == 0 && len(b) >= maxLine:
		rw.r.Mask(b)
		cut = len(b) - max(rw.r.maxLit-1, 0)
	}
	if cut == 0 {
		return nil
	}
	rw.r.Mask(b[:cut])
	if _, err := rw.w.Write(b[:cut]); err != nil {
		return err
	}
	rest := copy(rw.buf, b[cut:])
	rw.buf = rw.buf[:rest]
	return nil
}

// Flush masks and writes what is held.
func (rw *RedactWriter) Flush() error { return rw.drain(true) }
