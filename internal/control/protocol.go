// Package control is the channel into a running agent through the bucket:
// remote snapshot requests and their responses, as small JSON objects under
// PREFIX/_control/app=APP/.
//
// A laptop writes a request (Client.Send); each agent of the app polls the
// requests with a cheap LIST (Poller.Run), answers a request addressed to
// its host (or to all hosts) once, by taking a snapshot through its
// Snapshotter, and writes a response object beside the others. The laptop
// waits for the responses (Client.Wait) and fetches the bundles.
//
// Requests are outside input. They are decoded strictly (size-bounded, no
// unknown fields, one JSON value) and carry nothing that names a path: what
// a snapshot reads is fixed by the agent's own config. Heap dumps are taken
// only when the agent's config allows them.
package control

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/logship/logship/archive"
)

// Version is the protocol version in every request and response.
const Version = 1

// Bounds.
const (
	MaxObjectBytes = 8 << 10 // a request or response larger than this is refused
	MaxNote        = 1024
	// MaxLife bounds a request's life (expires - created): the agent lists
	// the date partitions this far back, no further.
	MaxLife        = time.Hour
	DefaultLife    = 10 * time.Minute
	clockSkewSlack = 5 * time.Minute
)

// AllHosts is the Host of a request that every agent of the app answers.
const AllHosts = "*"

// Request asks the agents of one app for a snapshot. It names no path.
type Request struct {
	V         int       `json:"v"`
	ID        string    `json:"id"`
	App       string    `json:"app"`
	Host      string    `json:"host"` // a host name, or AllHosts
	Note      string    `json:"note,omitempty"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires"`
	HeapDumps bool      `json:"heap_dumps,omitempty"`
}

// Response statuses.
const (
	StatusOK    = "ok"
	StatusError = "error"
)

// Response is one host's answer to a request.
type Response struct {
	V         int       `json:"v"`
	ID        string    `json:"id"` // the request's
	App       string    `json:"app"`
	Host      string    `json:"host"`
	Status    string    `json:"status"` // StatusOK or StatusError
	Message   string    `json:"message,omitempty"`
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished"`
	Bundle    string    `json:"bundle,omitempty"` // the bundle's file name (header path)
	Keys      []string  `json:"keys,omitempty"`   // object keys of the bundle, in stream order
	Size      int64     `json:"size,omitempty"`   // bundle bytes
	HeapDumps bool      `json:"heap_dumps"`       // whether heap dumps were included
}

var idRE = regexp.MustCompile(`^[a-z0-9]{8,32}$`)

// NewID returns a random request id.
func NewID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Validate checks a request as an agent must before acting on it.
func (r *Request) Validate() error {
	var errs []error
	if r.V != Version {
		errs = append(errs, fmt.Errorf("version %d, want %d", r.V, Version))
	}
	if !idRE.MatchString(r.ID) {
		errs = append(errs, fmt.Errorf("id %q: want 8..32 of [a-z0-9]", r.ID))
	}
	if err := archive.CheckName(r.App); err != nil {
		errs = append(errs, fmt.Errorf("app: %w", err))
	}
	if r.Host != AllHosts {
		if err := archive.CheckName(r.Host); err != nil {
			errs = append(errs, fmt.Errorf("host: %w", err))
		}
	}
	if len(r.Note) > MaxNote {
		errs = append(errs, fmt.Errorf("note of %d bytes, limit %d", len(r.Note), MaxNote))
	}
	if r.Created.IsZero() || r.Expires.IsZero() {
		errs = append(errs, errors.New("created and expires are required"))
	} else if life := r.Expires.Sub(r.Created); life <= 0 || life > MaxLife {
		errs = append(errs, fmt.Errorf("life %s: want 0..%s", life, MaxLife))
	}
	return errors.Join(errs...)
}

// Validate checks a response as a laptop reads it.
func (r *Response) Validate() error {
	var errs []error
	if r.V != Version {
		errs = append(errs, fmt.Errorf("version %d, want %d", r.V, Version))
	}
	if !idRE.MatchString(r.ID) {
		errs = append(errs, fmt.Errorf("id %q", r.ID))
	}
	if err := archive.CheckName(r.Host); err != nil {
		errs = append(errs, fmt.Errorf("host: %w", err))
	}
	if r.Status != StatusOK && r.Status != StatusError {
		errs = append(errs, fmt.Errorf("status %q", r.Status))
	}
	if len(r.Keys) > 4096 {
		errs = append(errs, fmt.Errorf("%d keys", len(r.Keys)))
	}
	return errors.Join(errs...)
}

// DecodeRequest reads one request strictly: at most MaxObjectBytes, no
// unknown fields, nothing after the object, and valid.
func DecodeRequest(r io.Reader) (*Request, error) {
	var q Request
	if err := decodeStrict(r, &q); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("control: request: %w", err)
	}
	return &q, nil
}

// DecodeResponse reads one response strictly.
func DecodeResponse(r io.Reader) (*Response, error) {
	var s Response
	if err := decodeStrict(r, &s); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("control: response: %w", err)
	}
	return &s, nil
}

// ErrTooLarge is returned for a control object over MaxObjectBytes.
var ErrTooLarge = fmt.Errorf("control: object over %d bytes", MaxObjectBytes)

func decodeStrict(r io.Reader, v any) error {
	b, err := io.ReadAll(io.LimitReader(r, MaxObjectBytes+1))
	if err != nil {
		return fmt.Errorf("control: reading: %w", err)
	}
	if len(b) > MaxObjectBytes {
		return ErrTooLarge
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()

	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("control: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("control: data after the JSON object")
	}
	return nil
}

// Encode returns v (a Request or Response) as JSON.
func Encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxObjectBytes {
		return nil, ErrTooLarge
	}
	return append(b, '\n'), nil
}

// Keys: where the control objects live, below the archive prefix.
//
//	PREFIX/_control/app=APP/requests/dt=YYYY-MM-DD/YYYYMMDDTHHMMSSZ-ID.json
//	PREFIX/_control/app=APP/responses/ID/HOST.json
//
// The date partition keeps the agent's LIST flat: it lists today's (and,
// within MaxLife after midnight, yesterday's) partition only, whatever
// the number of older requests.

// Dir is the folder of the control objects below the archive prefix:
// readers of the archive (ls, pull) pass over it.
const Dir = "_control"

// Root is the control prefix of an app, ending in "/".
func Root(prefix, app string) string {
	return join(prefix, Dir, "app="+app) + "/"
}

// RequestsDay is the partition of the requests created on day t (UTC).
func RequestsDay(prefix, app string, t time.Time) string {
	return Root(prefix, app) + "requests/dt=" + t.UTC().Format("2006-01-02") + "/"
}

// RequestKey is where request q is written.
func RequestKey(prefix string, q *Request) string {
	return RequestsDay(prefix, q.App, q.Created) + q.Created.UTC().Format("20060102T150405Z") + "-" + q.ID + ".json"
}

// ResponsesOf is the prefix of the responses to request id.
func ResponsesOf(prefix, app, id string) string {
	return Root(prefix, app) + "responses/" + id + "/"
}

// ResponseKey is where host's response to request id is written.
func ResponseKey(prefix, app, id, host string) string {
	return ResponsesOf(prefix, app, id) + host + ".json"
}

func join(parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p = strings.Trim(p, "/"); p != "" {
			keep = append(keep, p)
		}
	}
	return path.Join(keep...)
}
