package oss

import (
	"context"
	"fmt"
	"time"

	sdk "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
)

// MaxPresignExpiry is the longest life OSS accepts for a V4 presigned URL.
const MaxPresignExpiry = 7 * 24 * time.Hour

// Presign returns a URL that fetches key with a plain GET until expiry
// has passed (V4 query-string signature, made locally: no request is
// sent). With temporary (STS) credentials the URL stops working when the
// token expires, whichever comes first.
func (s *Sink) Presign(ctx context.Context, key string, expiry time.Duration) (string, error) {
	if expiry <= 0 || expiry > MaxPresignExpiry {
		return "", fmt.Errorf("oss: presign expiry %s: use 1s..%s", expiry, MaxPresignExpiry)
	}
	res, err := s.client.Presign(ctx, &sdk.GetObjectRequest{Bucket: sdk.Ptr(s.bucket), Key: sdk.Ptr(key)}, sdk.PresignExpires(expiry))
	if err != nil {
		return "", fmt.Errorf("oss: presigning %s: %w", key, err)
	}
	return res.URL, nil
}
