package artifact

// Artifacts too large for one PUT: a multipart upload of independent zstd
// frames, resumed from the parts a previous process stored. Retries are
// the sink wrapper's (pipeline.Retry.Wrap), around every call.

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/logship/logship/internal/sinks"
)

// multipart stores the artifact in parts, resuming an earlier upload: at
// most two parts are in memory (one being compressed, one uploading).
func (r *run) multipart(ctx context.Context, mp sinks.Multipart) error {
	free := make(chan *[]byte, 2)
	for range 2 {
		b := make([]byte, 0, r.part+r.part/64+sinks.MinPartSize+int64(len(r.hb))+(64<<10))
		free <- &b
	}
	scratch := <-free
	up, have, err := r.resume(ctx, mp, (*scratch)[:0])
	free <- scratch
	if err != nil {
		return err
	}
	parts := make([]sinks.Part, r.n)
	for _, p := range have {
		parts[p.Number-1] = p
	}
	r.kept = len(have)
	r.progress(false)
	mPartsResumed.Add(r.kept)
	if r.kept > 0 {
		r.log.Info("resuming artifact upload", "parts_stored", r.kept, "parts", r.n)
	}

	// Fresh uploads read the file in order: its checksum is verified
	// against the header's before the object is completed.
	var crc uint32
	checkCRC := r.kept == 0

	upCtx, stopUp := context.WithCancel(ctx)
	defer stopUp()
	type job struct {
		i    int
		body *[]byte
	}
	jobs := make(chan job)
	var upErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for j := range jobs {
			if upErr == nil {
				var p sinks.Part
				p, upErr = up.PutPart(upCtx, j.i, *j.body) // retried by the sink's wrapper
				if upErr != nil {
					stopUp()
				} else {
					parts[j.i-1] = p
					r.sent++
					r.progress(false)
					r.stored += int64(len(*j.body))
					mPartsUploaded.Inc()
					mUploadedBytes.Add(len(*j.body))
				}
			}
			free <- j.body
		}
	}()
	var encErr error
	for i := 1; i <= r.n; i++ {
		if parts[i-1].Number != 0 {
			continue
		}
		var buf *[]byte
		select {
		case buf = <-free:
		case <-upCtx.Done():
		}
		if buf == nil {
			break
		}
		var c *uint32
		if checkCRC {
			c = &crc
		}
		body, err := r.encodePart(upCtx, i, (*buf)[:0], c)
		if err != nil {
			encErr = err
			free <- buf
			break
		}
		*buf = body
		jobs <- job{i: i, body: buf}
	}
	close(jobs)
	wg.Wait()
	if encErr != nil && upErr == nil {
		return encErr
	}
	if upErr != nil {
		return upErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if checkCRC {
		if err := r.checkRead(crc); err != nil {
			r.abort(ctx, up)
			return err
		}
	}
	for _, p := range parts {
		if p.Number == 0 {
			return fmt.Errorf("artifact: %s: part missing after upload", r.key)
		}
	}
	// A Complete whose answer was lost is the sink's to recognise (it
	// checks the object holds these parts): an object merely existing at
	// the key proves nothing.
	return up.Complete(ctx, parts)
}

// resume opens the upload and returns the stored parts that fit this
// artifact's layout. The last of them is encoded again and compared (size,
// and MD5 where the ETag is one): if an earlier version of logship laid
// the parts out differently, the upload is aborted and started over.
func (r *run) resume(ctx context.Context, mp sinks.Multipart, scratch []byte) (sinks.Upload, []sinks.Part, error) {
	var up sinks.Upload
	var stored []sinks.Part
	open := func() error {
		var err error
		up, stored, err = mp.ResumeUpload(ctx, r.key, r.h, "application/zstd")
		return err
	}
	if err := open(); err != nil {
		return nil, nil, err
	}
	have := r.usable(stored)
	if len(have) == 0 {
		return up, nil, nil
	}
	last := have[len(have)-1]
	body, err := r.encodePart(ctx, last.Number, scratch, nil)
	if err != nil {
		return nil, nil, err
	}
	if sameBody(last, body) {
		return up, have, nil
	}
	r.log.Warn("stored parts of an earlier upload do not match this artifact; uploading it again",
		"part", last.Number, "stored_size", last.Size, "expected_size", len(body))
	r.abort(ctx, up)
	if err := open(); err != nil {
		return nil, nil, err
	}
	return up, nil, nil // whatever is still listed is replaced part by part
}

func (r *run) abort(ctx context.Context, up sinks.Upload) {
	if err := up.Abort(ctx); err != nil {
		r.log.Warn("aborting artifact upload failed", "err", err)
	}
}

// usable keeps the stored parts that can belong to this layout: numbers
// 1..n, every part but the last at least sinks.MinPartSize. Sorted.
func (r *run) usable(stored []sinks.Part) []sinks.Part {
	seen := map[int]bool{}
	var out []sinks.Part
	for _, p := range stored {
		if p.Number < 1 || p.Number > r.n || seen[p.Number] || p.Size <= 0 {
			continue
		}
		if p.Number < r.n && p.Size < sinks.MinPartSize {
			continue
		}
		seen[p.Number] = true
		out = append(out, p)
	}
	sortParts(out)
	return out
}

func sortParts(ps []sinks.Part) {
	sort.Slice(ps, func(i, j int) bool { return ps[i].Number < ps[j].Number })
}

// sameBody compares a stored part with the bytes it should hold: size, and
// MD5 when the ETag is a plain MD5 (OSS and the dir sink use one).
func sameBody(p sinks.Part, body []byte) bool {
	if p.Size != int64(len(body)) {
		return false
	}
	tag := strings.ToLower(strings.Trim(p.ETag, `"`))
	if len(tag) != 32 {
		return true
	}
	if _, err := hex.DecodeString(tag); err != nil {
		return true
	}
	sum := md5.Sum(body)
	return tag == hex.EncodeToString(sum[:])
}
