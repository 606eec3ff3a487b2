package oss

import (
	"slices"
	"strings"
	"time"

	"github.com/logship/logship/internal/schema"
	"github.com/logship/logship/internal/sinks"
)

// Config is an oss sink: the keys of sink: that apply to `type: oss`.
// The yaml tags are the config keys.
type Config struct {
	Bucket          string          `yaml:"bucket"`            // required
	Region          string          `yaml:"region"`            // e.g. cn-hangzhou; required unless endpoint names it
	Internal        *bool           `yaml:"internal"`          // VPC endpoint oss-REGION-internal.aliyuncs.com; default true
	Endpoint        string          `yaml:"endpoint"`          // explicit endpoint, overrides region/internal
	StorageClass    string          `yaml:"storage_class"`     // Standard|IA|Archive|ColdArchive|DeepColdArchive; default Standard
	SSE             string          `yaml:"sse"`               // ""|AES256|KMS
	SSEKeyID        string          `yaml:"sse_key_id"`        // KMS key id
	AccessKeyID     schema.KeyID    `yaml:"access_key_id"`     // prefer env OSS_ACCESS_KEY_ID
	AccessKeySecret schema.Secret   `yaml:"access_key_secret"` // prefer env OSS_ACCESS_KEY_SECRET
	Concurrency     int             `yaml:"concurrency"`       // parallel uploads; default 4
	PartSize        schema.Size     `yaml:"part_size"`         // multipart part size; default 8MiB
	Timeout         schema.Duration `yaml:"timeout"`           // per request; default 60s
	ContentMD5      *bool           `yaml:"content_md5"`       // also send Content-MD5; default false (CRC-64 is checked whenever the server returns it)
	RequireCRC64    *bool           `yaml:"require_crc64"`     // fail uploads the server answers without CRC-64; default false (verify with Content-MD5)

	// Prefix is the key prefix (sink.prefix, a key of every sink type),
	// for messages and probes; the pipeline puts it in the keys.
	Prefix string `yaml:"-"`
}

// Known values of the enumerated keys.
var (
	StorageClasses = []string{"Standard", "IA", "Archive", "ColdArchive", "DeepColdArchive"}
	SSEs           = []string{"", "AES256", "KMS"}
)

// Defaults of the keys, and the limits Validate holds them to.
const (
	DefaultInternal     = true
	DefaultContentMD5   = false
	DefaultRequireCRC64 = false
	DefaultStorageClass = "Standard"
	DefaultConcurrency  = 4
	DefaultPartSize     = 8 << 20
	DefaultTimeout      = 60 * time.Second

	MaxConcurrency = 256
	MinPartSize    = sinks.MinPartSize // OSS multipart minimum
	MaxPartSize    = 5 << 30           // OSS multipart maximum
)

// SetDefaults fills every zero value with its default. It is idempotent.
func (c *Config) SetDefaults() {
	if c.Internal == nil {
		t := DefaultInternal
		c.Internal = &t
	}
	if c.ContentMD5 == nil {
		f := DefaultContentMD5
		c.ContentMD5 = &f
	}
	if c.RequireCRC64 == nil {
		f := DefaultRequireCRC64
		c.RequireCRC64 = &f
	}
	schema.Default(&c.Concurrency, DefaultConcurrency)
	schema.Default(&c.PartSize, DefaultPartSize)
	schema.Default(&c.Timeout, schema.Duration(DefaultTimeout))
	schema.Default(&c.StorageClass, DefaultStorageClass)
}

// Validate reports every problem of a config that SetDefaults has
// completed, as schema.Problems with keys relative to sink:.
func (c Config) Validate() error {
	var ps schema.Problems
	switch {
	case c.Bucket == "":
		ps.Add("bucket", "required: the OSS bucket name (or LOGSHIP_SINK_BUCKET)")
	case !validBucket(c.Bucket):
		ps.Add("bucket", "%s is not an OSS bucket name: 3 to 63 lowercase letters, digits and '-', not starting or ending with '-'", schema.Quote(c.Bucket))
	}
	switch {
	case c.Region == "" && c.Endpoint == "":
		ps.Add("region", "required (or endpoint): e.g. region: cn-hangzhou")
	case strings.HasPrefix(c.Region, "oss-"):
		ps.Add("region", "%s: write the region without oss-: %s", schema.Quote(c.Region), strings.TrimPrefix(c.Region, "oss-"))
	case strings.Trim(c.Region, "abcdefghijklmnopqrstuvwxyz0123456789-") != "":
		ps.Add("region", "%s is not a region: e.g. cn-hangzhou", schema.Quote(c.Region))
	}
	if strings.ContainsAny(c.Endpoint, " \t\n") {
		ps.Add("endpoint", "%s has spaces: e.g. oss-cn-hangzhou-internal.aliyuncs.com", schema.Quote(c.Endpoint))
	}
	ps.OneOf("storage_class", c.StorageClass, StorageClasses)
	if !slices.Contains(SSEs, c.SSE) {
		ps.Add("sse", "%s is not one of AES256, KMS (or empty: none)%s", schema.Quote(c.SSE), schema.DidYouMean(c.SSE, SSEs[1:]))
	}
	if c.SSEKeyID != "" && c.SSE != "KMS" {
		ps.Add("sse_key_id", "only with sse: KMS")
	}
	if (c.AccessKeyID == "") != (c.AccessKeySecret == "") {
		ps.Add("access_key_id", "access_key_id and access_key_secret go together; better, leave both out and set OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET")
	}
	ps.Between("concurrency", int64(c.Concurrency), 1, MaxConcurrency, schema.Count)
	ps.Between("part_size", c.PartSize.Int64(), MinPartSize, MaxPartSize, schema.ShowSize)
	ps.Positive("timeout", c.Timeout)
	return ps.Err()
}

func validBucket(b string) bool {
	return len(b) >= 3 && len(b) <= 63 && b[0] != '-' && b[len(b)-1] != '-' &&
		strings.Trim(b, "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
}
