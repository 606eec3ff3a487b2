// Package oss is the sink that stores the archive in Aliyun OSS through
// the official SDK (github.com/aliyun/alibabacloud-oss-go-sdk-v2).
//
// # What it promises, beyond sinks.Sink
//
//   - Put returns nil only when OSS has the object and the CRC64-ECMA it
//     reports equals the CRC64 of the bytes sent; a mismatch is retried,
//     and the retry overwrites the same key. With sink.content_md5 the
//     body also travels with Content-MD5, so OSS refuses a body damaged on
//     the way instead of storing it (off by default, as in the OSS SDKs
//     and ossutil: it costs an MD5 of every byte). OSS-protocol servers
//     that send no CRC-64 (Aliyun's oss-emulator, gateways, OSS-compatible
//     stores) are verified with Content-MD5 instead: it goes with every
//     upload until an answer carrying a CRC-64 is seen, and with every
//     upload for good once one came without; the server then refuses a
//     damaged body, and an ETag that is an MD5 must be the body's. That is
//     logged once ("server returns no CRC-64") and `logship check` says
//     it; sink.require_crc64 makes such an answer a permanent error
//     instead. Bodies are seekable byte readers with a known
//     length. A key is a pure function of the chunk, so a retry overwrites
//     the same object. Bodies larger than twice sink.part_size (and at
//     least 32 MiB) go up as a multipart upload, sink.concurrency parts at
//     a time, aborted on failure.
//   - Objects carry Content-Type (application/zstd, application/gzip,
//     text/plain) and Content-Disposition: attachment with the file name,
//     and no Content-Encoding: a .zst object is a file, not a transfer
//     encoding (with Content-Encoding: zstd a browser or curl --compressed
//     would store the decompressed bytes under a .zst name). The chunk
//     header is mirrored in x-oss-meta-logship-*; storage_class, sse and
//     sse_key_id apply to every object.
//   - Nothing retries or sleeps here: the SDK's retryer is off (NopRetryer,
//     one attempt), so that pipeline.Retry is the only policy: its backoff,
//     logs and metrics see every attempt, and a Put never hides seconds of
//     SDK sleeps from the caller's context. (The SDK corrects a skewed
//     clock only inside its own retries; with one attempt,
//     RequestTimeTooSkewed reaches classify and is reported with the
//     offset.) Every error goes through classify: throttling (503 SlowDown,
//     429), 5xx, InvalidDigest, CRC64 mismatches, network errors and
//     timeouts are retryable; AccessDenied, NoSuchBucket,
//     InvalidAccessKeyId, SignatureDoesNotMatch, RequestTimeTooSkewed,
//     expired STS tokens and other 4xx refusals are sinks.Permanent, and
//     say what to fix (the RAM action and resource that are missing, the
//     region the bucket is really in, how far the clock is off).
//   - Every request has an idle timeout of sink.timeout: it fails when no
//     byte moves for that long, however big the body.
//   - Get verifies the length and, when the server sends it, the CRC64 of
//     what it streams (readers check each chunk's CRC-32C either way); List and
//     ListPrefixes page through ListObjectsV2; Multipart (ResumeUpload)
//     finds an unfinished upload of the key and returns its stored parts,
//     so a restarted process does not send them again, and Complete checks
//     the assembled object's CRC64 against the parts' (and succeeds when an
//     earlier Complete's answer was lost).
//   - No secret reaches a log line or an error: the SDK's logger is off
//     whatever OSS_SDK_LOG_LEVEL says (its debug output holds request
//     headers, including the STS token), errors are rebuilt from the code,
//     message and request id, and key ids are shown masked (LTAI****wxyz).
//
// # Endpoint
//
// sink.endpoint when set (a host name or URL; https unless it says http),
// with path-style addressing when its host is an IP address or localhost;
// else oss-REGION-internal.aliyuncs.com (internal: true, the default: the
// VPC endpoint, no traffic fees) or oss-REGION.aliyuncs.com (internal:
// false), over HTTPS, with virtual-hosted addressing (BUCKET.endpoint):
// Aliyun refuses path style (SecondLevelDomainForbidden). Requests are
// signed with V4 for sink.region. When it is empty the region comes from
// where the user already said it: an Aliyun endpoint name
// (oss-REGION[-internal].aliyuncs.com; the acceleration endpoints name
// none), else ~/.ossutilconfig's endpoint and region when the config has
// neither, else the bucket itself (GetBucketLocation signed V1; else the
// region OSS names when it refuses a request signed for another). Failing
// all, a RegionError says what was tried. HTTPS_PROXY is honoured.
//
// # Credentials
//
// The first source that has credentials is used and logged by name:
// OSS_ACCESS_KEY_ID / OSS_ACCESS_KEY_SECRET (/ OSS_SESSION_TOKEN); the
// config file's sink.access_key_id / access_key_secret (a warning when the
// file can be read by group or others: pass it with WithConfigFile); the
// ECS instance's RAM role (metadata service in hardened mode, refreshed 15
// minutes before expiry, never through a proxy); ~/.ossutilconfig as
// `ossutil config` writes it. Readers (logship ls, pull, cat) ask for
// ~/.ossutilconfig before the RAM role, and give the metadata service one
// second (WithLocalCredentialsFirst).
//
// # RAM permissions
//
// The agent needs oss:PutObject on acs:oss:*:*:BUCKET/PREFIX*; to resume
// interrupted artifact uploads also oss:ListMultipartUploads on
// acs:oss:*:*:BUCKET and oss:ListParts and oss:AbortMultipartUpload on
// acs:oss:*:*:BUCKET/PREFIX* (without them a new upload starts). logship
// ls, pull and cat need oss:ListObjects on acs:oss:*:*:BUCKET and
// oss:GetObject on the prefix. logship check uses oss:GetBucketInfo,
// oss:GetObject and oss:DeleteObject when it has them (warnings when not).
// With sse: KMS the key also needs kms:GenerateDataKey and kms:Decrypt. A
// lifecycle rule that deletes incomplete multipart uploads after a few
// days keeps parts of abandoned artifacts from costing storage.
//
// # Diagnosis
//
// Probe (sinks.Prober; `logship check` through open.Check) runs, with a
// time and a verdict each: the
// credentials; DNS of the host requests go to; TCP; TLS; authentication
// and the bucket (GetBucketInfo: it exists, in the configured region); the
// clock against OSS's Date; and a probe object written exactly as chunks
// are, read back and deleted. Each failure comes with its diagnosis.
package oss
