// Command osstest runs the OSS imitation of internal/osstest on its own,
// for trying logship (or ossutil, or any OSS client) without Aliyun:
//
//	go run ./cmd/osstest -addr 127.0.0.1:9000 -ak ID -sk SECRET -bucket NAME
//
// It prints the endpoint and serves until interrupted.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/logship/logship/internal/osstest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "listen address")
	ak := flag.String("ak", "test-ak", "access key id")
	sk := flag.String("sk", "test-sk", "access key secret")
	buckets := flag.String("bucket", "test-bucket", "bucket names, comma separated")
	region := flag.String("region", "cn-hangzhou", "region of the buckets")
	disk := flag.String("disk", "", "keep object bodies in a temporary directory under this one instead of memory")
	verbose := flag.Bool("v", false, "log every request")
	flag.Parse()

	opts := osstest.Options{
		AccessKeyID: *ak, AccessKeySecret: *sk, Region: *region,
		Addr: *addr, DiskDir: *disk,
	}
	for _, b := range strings.Split(*buckets, ",") {
		if b = strings.TrimSpace(b); b != "" {
			opts.Buckets = append(opts.Buckets, b)
		}
	}
	if *verbose {
		opts.Logf = log.Printf
	}
	srv, err := osstest.Start(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "osstest:", err)
		os.Exit(1)
	}
	fmt.Printf("endpoint %s region %s buckets %s\n", srv.Endpoint(), srv.Region(), strings.Join(srv.Buckets(), ","))

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	srv.Close()
}
