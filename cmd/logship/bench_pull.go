package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/logship/logship/internal/osstest"
	"github.com/logship/logship/internal/retrieve"
	"github.com/logship/logship/internal/sinks"
)

// benchPull pulls what the agent stored in osstest back with `logship pull`
// (a child process: its wall time, CPU and peak RSS), and checks that it
// rebuilt raw bytes. The pulled files stay (the round's work folder goes
// at its end) and are written back to the disk before it returns, and so
// are the naive way's: the one measured next must neither write into the
// pages their removal would free (on a virtual machine whose host takes
// back long free memory, a fresh page costs ten times more to write into:
// 2.0 s against 0.15 s of system time per GiB with dd here) nor share the
// disk with their writeback. What the first one freed as it went (pull's
// write-behind) is the second's: the two take turns at going first.
func benchPull(ctx context.Context, srv *osstest.Server, work string, raw int64, maxMemory, profile string) (figure, error) {
	f := figure{Name: "pull <- osstest", Bytes: raw}
	out := filepath.Join(work, "pulled")
	args := []string{"pull", "--from", "oss://" + benchBucket + "/logs", "--endpoint", srv.Endpoint(), "--region", "cn-hangzhou",
		"--out", out, "--progress", "none"}
	if maxMemory != "" {
		args = append(args, "--max-memory", maxMemory)
	}
	if profile != "" {
		args = append(args, "--cpuprofile", profile+".pull")
	}
	cmd, logs, err := startSelf(benchEnv(work), args...)
	if err != nil {
		return f, err
	}
	start := time.Now()
	hwm := watchHWM(cmd.Process.Pid)
	err = cmd.Wait()
	elapsed := time.Since(start)
	if err != nil {
		return f, fmt.Errorf("pull: %w: %s", err, logs.String())
	}
	got, err := dirSize(out)
	if err != nil {
		return f, err
	}
	if got != raw {
		return f, fmt.Errorf("pull wrote %d bytes, the agent shipped %d", got, raw)
	}
	_, f.Stored, _ = storedInOSS(srv, benchBucket)()
	f.finish(elapsed, cpuOf(cmd.ProcessState), hwm())
	syscall.Sync()
	return f, nil
}

// benchNaivePull is what a user without logship would do, as ossutil cp -r
// and zstd do it: download every object into a folder, three at a time
// (ossutil's default --jobs), then `zstd -dc` of all of them in key order
// into one file. Its time is the sum of the two; its CPU is the zstd
// CLI's alone (the download runs in this process, beside osstest).
func benchNaivePull(ctx context.Context, srv *osstest.Server, zstd, work string, raw int64) (figure, error) {
	f := figure{Name: "naive: GET + zstd -dc", Bytes: raw}
	// This process's credentials for osstest, as the children get them.
	os.Setenv("OSS_ACCESS_KEY_ID", benchAK)
	os.Setenv("OSS_ACCESS_KEY_SECRET", benchSK)
	st, err := retrieve.Open(ctx, "oss://"+benchBucket+"/logs", retrieve.OSSOptions{Endpoint: srv.Endpoint(), Region: "cn-hangzhou", Parallel: naiveJobs})
	if err != nil {
		return f, err
	}
	if c, ok := st.(io.Closer); ok {
		defer c.Close()
	}
	dl := filepath.Join(work, "downloaded") // removed with work, at the round's end
	start := time.Now()
	var keys []string
	if err := st.List(ctx, "", func(o sinks.ObjectInfo) error { keys = append(keys, o.Key); return nil }); err != nil {
		return f, err
	}
	paths := make([]string, len(keys))
	for i, k := range keys {
		paths[i] = filepath.Join(dl, fmt.Sprintf("%06d-%s", i, filepath.Base(k)))
	}
	next := make(chan int)
	errs := make(chan error, naiveJobs)
	for range naiveJobs {
		go func() {
			var err error
			for i := range next {
				if err == nil {
					err = download(ctx, st, keys[i], paths[i])
				}
			}
			errs <- err
		}()
	}
	for i := range keys {
		next <- i
	}
	close(next)
	for range naiveJobs {
		if err := <-errs; err != nil {
			return f, err
		}
	}
	for _, p := range paths {
		f.Stored += fileSize(p)
	}
	outFile := filepath.Join(work, "naive.log") // removed with work, at the round's end
	o, err := os.Create(outFile)
	if err != nil {
		return f, err
	}
	defer o.Close()
	cmd := exec.Command(zstd, append([]string{"-dc", "-q"}, paths...)...)
	cmd.Stdout = o
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return f, err
	}
	hwm := watchHWM(cmd.Process.Pid)
	if err := cmd.Wait(); err != nil {
		return f, fmt.Errorf("%s -dc: %w: %s", zstd, err, stderr.String())
	}
	f.finish(time.Since(start), cpuOf(cmd.ProcessState), hwm())
	if n := fileSize(outFile); n != raw {
		return f, fmt.Errorf("zstd -dc wrote %d bytes, the agent shipped %d", n, raw)
	}
	syscall.Sync()
	return f, nil
}

// naiveJobs is ossutil cp's default --jobs: objects downloaded at once.
const naiveJobs = 3

func download(ctx context.Context, st retrieve.Store, key, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	rc, _, err := st.Get(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return -1
	}
	return fi.Size()
}

// dirSize is the total size of the regular files under root, but for
// pull's own state folder.
func dirSize(root string) (int64, error) {
	var n int64
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.IsDir() && fi.Name() == ".logship-pull" {
			return filepath.SkipDir
		}
		if fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n, err
}

// benchEnv is the environment of a child talking to the bench's osstest.
func benchEnv(home string) []string {
	return []string{"OSS_ACCESS_KEY_ID=" + benchAK, "OSS_ACCESS_KEY_SECRET=" + benchSK, "HOME=" + home}
}
