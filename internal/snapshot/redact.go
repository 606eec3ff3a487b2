package snapshot

import (
	"bytes"
	"io"
	"slices"
	"strings"

	"github.com/logship/logship/internal/secret"
)

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
	for _, w := range secret.Words { // the names run's events and crash summaries hide
		r.words = append(r.words, []byte(strings.ToLower(w)))
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
	for _, w := range r.words {
		for i := 0; ; {
			j := indexFold(b[i:], w)
			if j < 0 {
				break
			}
			i += j + len(w)
			i = maskPair(b, i)
		}
	}
}

// maskPair masks the value of a NAME=VALUE or NAME: VALUE pair whose name
// holds a secret word ending at i (also quoted, as in JSON, and with an
// Authorization scheme word before the credential). It returns where to
// go on searching.
func maskPair(b []byte, i int) int {
	for i < len(b) && isNameByte(b[i]) {
		i++
	}
	j := i
	if j < len(b) && (b[j] == '"' || b[j] == '\'') {
		j++
	}
	j = skipBlanks(b, j)
	if j >= len(b) || (b[j] != '=' && b[j] != ':') {
		return i
	}
	j = skipBlanks(b, j+1)
	if j < len(b) && (b[j] == '"' || b[j] == '\'') {
		j++
	}
	for _, scheme := range [][]byte{[]byte("bearer"), []byte("basic"), []byte("token")} {
		if k := j + len(scheme); k < len(b) && (b[k] == ' ' || b[k] == '\t') && indexFold(b[j:k], scheme) == 0 {
			j = skipBlanks(b, k)
			break
		}
	}
	k := j
	for k < len(b) && !isValueEnd(b[k]) {
		k++
	}
	fill(b[j:k])
	return max(k, i)
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

func isValueEnd(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '"', '\'', ',', ';', '&':
		return true
	}
	return false
}

func skipBlanks(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return i
}

// indexFold returns the index of the first w (lower-case ASCII) in b in
// any case, or -1.
func indexFold(b, w []byte) int {
	first, upper := w[0], w[0]-'a'+'A'
	for i := 0; i+len(w) <= len(b); i++ {
		if c := b[i]; c != first && c != upper {
			continue
		}
		k := 1
		for k < len(w) && b[i+k]|0x20 == w[k] {
			k++
		}
		if k == len(w) {
			return i
		}
	}
	return -1
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
	r       *Redactor
	w       io.Writer
	buf     []byte
	lineEnd int // end of the last complete line in buf; 0: none
}

func (rw *RedactWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(len(p), cap(rw.buf)-len(rw.buf))
		// Only the bytes just added can hold the last newline.
		nl := bytes.LastIndexByte(p[:k], '\n')
		if nl >= 0 {
			rw.lineEnd = len(rw.buf) + nl + 1
		}
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
	cut := rw.lineEnd
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
	rw.lineEnd = 0 // no newline is held: the cut was at the last one, or past it
	return nil
}

// Flush masks and writes what is held.
func (rw *RedactWriter) Flush() error { return rw.drain(true) }
