package oss

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/artifact"
	"github.com/logship/logship/internal/sinks"
)

// The policy grants exactly the RAM actions of the calls the agent's sink
// makes: the sink is driven through every call the pipeline makes of it
// (chunks, a crash artifact uploaded in parts, resumed after a restart,
// an upload aborted, the check for an artifact already stored) against
// osstest, and the operations the server saw, mapped to RAM actions by the
// error classifier's table, must equal the policy's actions.
func TestAgentPolicyMatchesCalls(t *testing.T) {
	srv := newServer(t)
	s := newTestSink(t, srv)
	ctx := context.Background()
	if err := s.Put(ctx, &sinks.Object{Key: "logs/a/1-2.log.zst", Body: []byte("x\n")}); err != nil {
		t.Fatal(err)
	}
	part := bytes.Repeat([]byte("p"), sinks.MinPartSize)
	up, _, err := s.ResumeUpload(ctx, "logs/crash/heap.hprof.zst", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	p1, err := up.PutPart(ctx, 1, part)
	if err != nil {
		t.Fatal(err)
	}
	up, parts, err := s.ResumeUpload(ctx, "logs/crash/heap.hprof.zst", nil, "") // a restart: resumed
	if err != nil || len(parts) != 1 {
		t.Fatalf("resume: %v, %d parts", err, len(parts))
	}
	p2, err := up.PutPart(ctx, 2, []byte("tail"))
	if err != nil {
		t.Fatal(err)
	}
	if err := up.Complete(ctx, []sinks.Part{p1, p2}); err != nil {
		t.Fatal(err)
	}
	up, _, err = s.ResumeUpload(ctx, "logs/crash/other.hprof.zst", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := up.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	found := false
	if err := s.List(ctx, "logs/crash/heap.hprof.zst", func(oi sinks.ObjectInfo) error { found = true; return nil }); err != nil || !found {
		t.Fatalf("list: %v, found %v", err, found)
	}

	var seen, called []string
	for op := range srv.Counts() {
		a, ok := ramAction[op]
		if !ok {
			t.Errorf("the sink called %s, which has no RAM action in ramAction", op)
		}
		seen = appendNew(seen, a)
		called = append(called, op)
	}
	slices.Sort(seen)
	slices.Sort(called)
	ops := slices.Clone(AgentOps)
	slices.Sort(ops)
	if !slices.Equal(called, ops) {
		t.Errorf("calls %v, AgentOps %v", called, ops)
	}
	pol := AgentPolicy(testBucket, "logs/", "")
	if got := pol.Actions(); !slices.Equal(got, seen) {
		t.Fatalf("policy actions %v, calls need %v", got, seen)
	}
}

// The resources and conditions: objects under the prefix only, listings
// of the prefix only; the control prefix when asked for.
func TestAgentPolicyDocument(t *testing.T) {
	b, err := json.MarshalIndent(AgentPolicy("my-logs", "logs/", ""), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, w := range []string{`"Version": "1"`, `"acs:oss:*:*:my-logs/logs/*"`, `"oss:Prefix": [`, `"logs/*"`, `"oss:ListMultipartUploads"`, `"oss:AbortMultipartUpload"`} {
		if !strings.Contains(doc, w) {
			t.Errorf("policy lacks %s:\n%s", w, doc)
		}
	}
	for _, w := range []string{"oss:GetObject", "oss:DeleteObject", "_control", `"acs:oss:*:*:my-logs/*"`, `"*"`} {
		if strings.Contains(doc, w) {
			t.Errorf("policy grants %s:\n%s", w, doc)
		}
	}
	ctl, _ := json.Marshal(AgentPolicy("my-logs", "logs/", "logs/_control/app=shop/"))
	for _, w := range []string{`"acs:oss:*:*:my-logs/logs/_control/app=shop/*"`, `"logs/_control/app=shop/*"`, "oss:GetObject"} {
		if !strings.Contains(string(ctl), w) {
			t.Errorf("control policy lacks %s:\n%s", w, ctl)
		}
	}
	if strings.Contains(string(ctl), "oss:DeleteObject") {
		t.Errorf("the control policy grants a delete the poller never makes:\n%s", ctl)
	}
	if nop, _ := json.Marshal(AgentPolicy("b", "", "")); strings.Contains(string(nop), "Condition") {
		t.Errorf("a policy for the whole bucket has a prefix condition: %s", nop)
	}
}

// The artifact shipper the agent uses (crash files, snapshots), driven
// against the oss sink: every call it makes is among AgentOps, so the
// policy covers it.
func TestAgentPolicyCoversArtifactShipper(t *testing.T) {
	srv := newServer(t)
	s := newTestSink(t, srv)
	sh, err := artifact.New(artifact.Options{App: "app", Host: "host", Prefix: "logs/", Sink: s, TempDir: t.TempDir(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 600<<10)
	rand.NewChaCha8([32]byte{1}).Read(body) // incompressible: every part is full size
	a := artifact.Artifact{Kind: archive.KindCrash, ID: "heap-1", Path: "/app/java_pid1.hprof", Time: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC),
		File: bytes.NewReader(body), Size: int64(len(body)), PartSize: 256 << 10}
	for range 2 { // the second finds it stored
		if _, err := sh.Upload(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	if srv.Count("UploadPart") < 2 {
		t.Fatalf("not a multipart upload: %v", srv.Counts())
	}
	allowed := AgentPolicy(testBucket, "logs/", "").Actions()
	for op := range srv.Counts() {
		if !slices.Contains(AgentOps, op) || !slices.Contains(allowed, ramAction[op]) {
			t.Errorf("the shipper called %s (%s), which the policy does not grant", op, ramAction[op])
		}
	}
}
