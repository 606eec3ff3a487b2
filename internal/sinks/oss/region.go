package oss

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	sdk "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/retry"
)

// errNoRegion is wrapped by the errors of resolveEndpoint that lack a
// region to sign with.
var errNoRegion = errors.New("oss: sink.region is required")

// RegionError reports that no region was found for a bucket, with where
// New looked: sink.region, the endpoint's name, ~/.ossutilconfig, and the
// bucket itself.
type RegionError struct {
	Bucket string
	Tried  []string
	Err    error // resolveEndpoint's error
	// Asked are the bucket's answers when the endpoint was known and the
	// bucket was asked (also the last ones of Tried) and gave no region:
	// the bucket, the credentials or the network are wrong more often
	// than the region is missing. Empty: the bucket was not asked.
	Asked []string
}

func (e *RegionError) Error() string {
	return e.Err.Error() + "; tried " + strings.Join(e.Tried, ", ")
}

func (e *RegionError) Unwrap() error { return e.Err }

// withOssutilEndpoint fills the endpoint and region of c from
// ~/.ossutilconfig (or o.ossutilPath) when c names neither: the laptop
// where `ossutil config` was run already says where the bucket is. It
// returns what it tried, for a RegionError.
func withOssutilEndpoint(c Config, o *options) (Config, string) {
	if c.Endpoint != "" || c.Region != "" {
		return c, ""
	}
	p := ossutilPath(o)
	if p == "" {
		return c, ""
	}
	oc, err := readOssutilConfig(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return c, p + " (none)"
	case err != nil:
		return c, p + " (" + err.Error() + ")"
	case oc.endpoint == "" && oc.region == "":
		return c, p + " (no endpoint or region)"
	}
	c.Endpoint, c.Region = oc.endpoint, oc.region
	return c, p + " (endpoint " + oc.endpoint + ")"
}

func ossutilPath(o *options) string {
	if o.ossutilPath != "" {
		return o.ossutilPath
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".ossutilconfig")
	}
	return ""
}

// guessRegion signs the fallback request of askRegion; any region does:
// OSS answers a V4 signature scoped to the wrong one with the right one.
const guessRegion = "cn-hangzhou"

// askRegion asks the bucket behind a custom or accelerate endpoint where
// it is: first GetBucketLocation signed with V1, which needs no region;
// when that is refused (oss:GetBucketLocation is not granted, V1 is
// switched off), a V4 request signed for guessRegion, whose refusal names
// the bucket's region (the <Region> or <Endpoint> of OSS's error
// document), or whose success proves the guess. It returns the region, or
// "" and what it tried.
func askRegion(ctx context.Context, c Config, ep endpointInfo, creds *chosenCreds, o *options) (string, []string) {
	hc := o.httpClient
	if hc == nil {
		tr := newTransport(o, 1)
		defer tr.CloseIdleConnections()
		hc = &http.Client{Transport: tr, CheckRedirect: noRedirect}
	}
	client := func(v sdk.SignatureVersionType, region string) *sdk.Client {
		cfg := sdk.NewConfig().WithEndpoint(ep.url.String()).WithHttpClient(hc).
			WithCredentialsProvider(creds.provider).WithRetryer(retry.NopRetryer{}).WithRetryMaxAttempts(1).
			WithSignatureVersion(v).WithLogLevel(sdk.LogOff).WithUserAgent("logship")
		if region != "" {
			cfg.WithRegion(region)
		}
		if ep.pathStyle {
			cfg.WithUsePathStyle(true)
		}
		return sdk.NewClient(cfg)
	}
	timeout := c.Timeout.Std()
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	req := &sdk.GetBucketLocationRequest{Bucket: &c.Bucket}
	var tried []string

	ctx1, _, done := watchdog(ctx, timeout)
	res, err := client(sdk.SignatureVersionV1, "").GetBucketLocation(ctx1, req)
	done()
	if err == nil && res.LocationConstraint != nil {
		if r := strings.TrimPrefix(*res.LocationConstraint, "oss-"); r != "" {
			return r, nil
		}
	}
	tried = append(tried, "GetBucketLocation of bucket "+c.Bucket+" at "+ep.url.Host+" ("+answer(err)+")")

	ctx2, _, done := watchdog(ctx, timeout)
	res, err = client(sdk.SignatureVersionV4, guessRegion).GetBucketLocation(ctx2, req)
	done()
	if err == nil {
		if r := strings.TrimPrefix(sdk.ToString(res.LocationConstraint), "oss-"); r != "" {
			return r, nil
		}
		return guessRegion, nil
	}
	var se *sdk.ServiceError
	if errors.As(err, &se) {
		var d errDetail
		_ = xml.Unmarshal(se.Snapshot, &d)
		if r := regionOf(d.Endpoint); r != "" {
			return r, nil
		}
		if d.Region != "" {
			return strings.TrimPrefix(d.Region, "oss-"), nil
		}
	}
	tried = append(tried, "a request signed for "+guessRegion+" (the answer named no region: "+answer(err)+")")
	return "", tried
}

// answer is what an error of askRegion says, briefly: the OSS code, or the
// network error.
func answer(err error) string {
	if err == nil {
		return "no location in the answer"
	}
	var se *sdk.ServiceError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s, HTTP %d", se.Code, se.StatusCode)
	}
	msg := unwrapSDK(err).Error()
	if strings.Contains(msg, "server gave HTTP response to HTTPS client") {
		msg += " (an endpoint without a scheme is https: write http://HOST:PORT for a plain HTTP server)"
	}
	return msg
}
