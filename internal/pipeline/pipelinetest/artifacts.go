package pipelinetest

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/artifact"
)

// Artifacts is an in-memory artifact.Uploader for source tests: it
// refuses what the real one refuses, reads every artifact whole, keeps
// its bytes and returns the key the real one would give it (app "app",
// host "host", no prefix). Checkpoints stay the source's: it records a
// shipped artifact on its Emitter (StreamWriter.CloseStored).
type Artifacts struct {
	mu       sync.Mutex
	uploaded []Uploaded
	gate     chan struct{}
	above    int64
	waiting  int
	// Fail, when set, is called first; an error is returned as is.
	Fail func(a artifact.Artifact) error
}

// Uploaded is one artifact stored by Artifacts.
type Uploaded struct {
	Artifact artifact.Artifact
	Data     []byte
	Key      string
}

var _ artifact.Uploader = (*Artifacts)(nil)

// NewArtifacts returns an empty in-memory uploader.
func NewArtifacts() *Artifacts { return &Artifacts{} }

// Upload implements artifact.Uploader.
func (u *Artifacts) Upload(ctx context.Context, a artifact.Artifact) (string, error) {
	if err := a.Validate(); err != nil {
		return "", err
	}
	if u.Fail != nil {
		if err := u.Fail(a); err != nil {
			return "", err
		}
	}
	if err := u.hold(ctx, a); err != nil {
		return "", err
	}
	var data []byte
	var err error
	if a.Body != nil {
		data, err = io.ReadAll(a.Body)
	} else {
		data = make([]byte, a.Size)
		var n int
		n, err = a.File.ReadAt(data, 0)
		if err == io.EOF && int64(n) == a.Size {
			err = nil
		}
		if err == io.EOF {
			err = fmt.Errorf("%w: %d bytes, expected %d", artifact.ErrChanged, n, a.Size)
		}
	}
	if err != nil {
		return "", err
	}
	t := a.Time.UTC()
	key := archive.Key("", &archive.Header{App: "app", Host: "host", Source: a.Kind, Stream: a.ID,
		End: int64(len(data)), First: t, Codec: archive.CodecZstd})
	u.mu.Lock()
	u.uploaded = append(u.uploaded, Uploaded{Artifact: a, Data: data, Key: key})
	u.mu.Unlock()
	return key, nil
}

// Hold makes Upload wait, for artifacts of more than above bytes (by
// Size), until release is called or its ctx ends.
func (u *Artifacts) Hold(above int64) (release func()) {
	u.mu.Lock()
	defer u.mu.Unlock()
	g := make(chan struct{})
	u.gate, u.above = g, above
	var once sync.Once
	return func() { once.Do(func() { close(g) }) }
}

func (u *Artifacts) hold(ctx context.Context, a artifact.Artifact) error {
	u.mu.Lock()
	g := u.gate
	if g == nil || a.Size <= u.above {
		u.mu.Unlock()
		return nil
	}
	u.waiting++
	u.mu.Unlock()
	defer func() { u.mu.Lock(); u.waiting--; u.mu.Unlock() }()
	select {
	case <-g:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Waiting returns how many Uploads wait because of Hold.
func (u *Artifacts) Waiting() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.waiting
}

// All returns the artifacts stored so far, in order.
func (u *Artifacts) All() []Uploaded {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Uploaded(nil), u.uploaded...)
}

// Count returns how many artifacts with this path were stored.
func (u *Artifacts) Count(path string) int {
	n := 0
	for _, up := range u.All() {
		if up.Artifact.Path == path {
			n++
		}
	}
	return n
}
