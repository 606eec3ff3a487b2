package artifact_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/logship/logship/archive"
	"github.com/logship/logship/internal/artifact"
	"github.com/logship/logship/internal/sinks/dir"
)

// A stream of unknown length (a snapshot bundle being written by a
// collector) is shipped with Body; a finished file would set File and
// Size instead, and resume after a restart.
func ExampleShipper_Upload() {
	root, cleanup := tempDir()
	defer cleanup()
	sink, err := dir.New(root)
	if err != nil {
		panic(err)
	}
	defer sink.Close()
	up, err := artifact.New(artifact.Options{App: "order-service", Host: "host-1", Sink: sink,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		panic(err)
	}
	key, err := up.Upload(context.Background(), artifact.Artifact{
		Kind: archive.KindSnapshot,
		ID:   "snapshot-20261126T120000Z",
		Path: "snapshot.tar",
		Time: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
		Body: strings.NewReader("a tar stream, say\n"),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(key)
	// Output: app=order-service/dt=2026-11-26/hour=12/host=host-1/source=snapshot/snapshot-20261126T120000Z/0000000000000000-0000000000000018.log.zst
}

func tempDir() (string, func()) {
	d, err := os.MkdirTemp("", "artifact-example-")
	if err != nil {
		panic(err)
	}
	return d, func() { os.RemoveAll(d) }
}
