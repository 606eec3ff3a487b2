package config

import (
	"fmt"
	"net"
	"path"
	"reflect"
	"slices"
	"strings"

	"github.com/logship/logship/archive"
)

// Known values of the enumerated keys.
var (
	SourceTypes    = []string{SourceFile, SourceCrash, SourceKmsg}
	SinkTypes      = []string{SinkDir, SinkOSS}
	Compressions   = []string{"zstd", "gzip", "none"}
	LogLevels      = []string{"debug", "info", "warn", "error"}
	LogFormats     = []string{"text", "json"}
	ReadFroms      = []string{"beginning", "end"}
	KmsgModes      = []string{"auto", "kmsg", "klogctl", "cgroup"}
	StorageClasses = []string{"Standard", "IA", "Archive", "ColdArchive", "DeepColdArchive"}
	SSEs           = []string{"", "AES256", "KMS"}
)

// Limits on sizes, so that a typo cannot exhaust memory.
const (
	MinMaxBytes    = 64 << 10
	MaxMaxBytes    = 256 << 20
	MinPartSize    = 100 << 10 // OSS multipart minimum
	MaxPartSize    = 5 << 30   // OSS multipart maximum
	MaxMaxInFlight = 1024
)

// Validate reports every problem of a config at once as Problems, each
// with its key path and, for a config read from a file, its line. Run it
// after SetDefaults: it checks values, not absence of optional ones.
func (c *Config) Validate() error {
	v := &checker{c: c}
	v.config()
	return v.ps.err()
}

type checker struct {
	c  *Config
	ps Problems
}

func (v *checker) add(path, format string, args ...any) {
	p := v.c.where(path)
	v.ps = append(v.ps, Problem{Origin: p.origin, Line: p.line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (v *checker) oneOf(path, val string, allowed []string) {
	if slices.Contains(allowed, val) {
		return
	}
	if val == "" {
		v.add(path, "required: one of %s", strings.Join(allowed, ", "))
		return
	}
	v.add(path, "%s is not one of %s%s", quote(val), strings.Join(allowed, ", "), didYouMean(val, allowed))
}

func (v *checker) positive(path string, d Duration) {
	if d <= 0 {
		v.add(path, "must be more than 0s, e.g. 1s")
	}
}

func (v *checker) between(path string, n, lo, hi int64, show func(int64) string) {
	switch {
	case n < lo:
		v.add(path, "%s is too small: at least %s", show(n), show(lo))
	case n > hi:
		v.add(path, "%s is too large: at most %s", show(n), show(hi))
	}
}

func count(n int64) string { return fmt.Sprint(n) }
func size(n int64) string  { return Size(n).String() }

func (v *checker) config() {
	c := v.c
	switch {
	case c.App == "":
		v.add("app", "required: the name of your application, e.g. app: order-service (or LOGSHIP_APP)")
	default:
		if err := archive.CheckName(c.App); err != nil {
			v.add("app", "%v; e.g. %s", err, archive.SafeName(c.App))
		}
	}
	switch {
	case c.Host == "":
		v.add("host", "required: the hostname could not be read; set host: or LOGSHIP_HOST")
	default:
		if err := archive.CheckName(c.Host); err != nil {
			v.add("host", "%v; e.g. %s", err, archive.SafeName(c.Host))
		}
	}
	v.oneOf("log_level", c.LogLevel, LogLevels)
	v.oneOf("log_format", c.LogFormat, LogFormats)
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			v.add("metrics_addr", "%s is not host:port: write e.g. 127.0.0.1:9108", quote(c.MetricsAddr))
		}
	}
	v.positive("shutdown_timeout", c.ShutdownTimeout)

	if len(c.Sources) == 0 {
		v.add("sources", "at least one source is needed, e.g. sources: [{type: file, paths: [\"/var/log/app/*.log\"]}]")
	}
	names := map[string]int{}
	for i := range c.Sources {
		s := &c.Sources[i]
		p := fmt.Sprintf("sources[%d]", i)
		if j, dup := names[s.Name]; dup && s.Name != "" {
			v.add(p+".name", "%s is also the name of sources[%d]: names must be unique (they name checkpoints)", quote(s.Name), j)
		}
		names[s.Name] = i
		v.source(p, s)
	}
	v.pipeline()
	v.sink()
}

func (v *checker) foreign(p string, val reflect.Value, typ, what string) {
	for _, key := range foreign(val, typ) {
		f, _ := lookup(fieldsOf(val.Type()), key)
		v.add(p+"."+key, "%s is for %s %ss, not %s: remove it", key, strings.Join(f.kinds, " and "), what, typ)
	}
}

func (v *checker) source(p string, s *Source) {
	if !slices.Contains(SourceTypes, s.Type) {
		v.oneOf(p+".type", s.Type, SourceTypes)
		return
	}
	if s.Name == "" {
		v.add(p+".name", "required (SetDefaults names it %s)", s.Type)
	} else if err := archive.CheckName(s.Name); err != nil {
		v.add(p+".name", "%v", err)
	}
	v.foreign(p, reflect.ValueOf(s).Elem(), s.Type, "source")
	if s.Type == SourceFile || s.Type == SourceCrash {
		if len(s.Paths) == 0 {
			v.add(p+".paths", "required: the files to read, e.g. paths: [\"/home/admin/logs/**/*.log\"]")
		}
		v.globs(p+".paths", s.Paths)
		v.globs(p+".exclude", s.Exclude)
	}
	switch s.Type {
	case SourceFile:
		v.oneOf(p+".read_from", s.ReadFrom, ReadFroms)
		v.fits(p+".max_line_bytes", s.MaxLineBytes, "a line must fit in one chunk")
		v.fits(p+".read_buffer", s.ReadBufferBytes, "one read must fit in one chunk")
		v.positive(p+".scan_interval", s.ScanInterval)
		v.positive(p+".partial_line_after", s.PartialLineAfter)
		v.positive(p+".rotated_keep_open", s.RotatedKeepOpen)
		v.between(p+".max_open_files", int64(s.MaxOpenFiles), 1, 1<<20, count)
		v.between(p+".max_rotated_open", int64(s.MaxRotatedOpen), 1, int64(max(s.MaxOpenFiles, 1)), count)
		v.between(p+".fingerprint_bytes", int64(s.FingerprintBytes), 16, 64<<10, count)
	case SourceCrash:
		v.positive(p+".settle", s.Settle)
		v.between(p+".rate_limit", s.RateLimit.Int64(), 0, 1<<40, size)
	case SourceKmsg:
		if s.Device == "" {
			v.add(p+".device", "required, e.g. /dev/kmsg")
		}
		if s.CgroupRoot == "" {
			v.add(p+".cgroup_root", "required, e.g. /sys/fs/cgroup")
		}
		v.oneOf(p+".mode", s.Mode, KmsgModes)
	}
}

// fits checks a positive size no larger than pipeline.max_bytes.
func (v *checker) fits(path string, n Size, why string) {
	limit := v.c.Pipeline.MaxBytes
	switch {
	case n <= 0:
		v.add(path, "must be more than 0, e.g. 64KiB")
	case limit > 0 && n > limit:
		v.add(path, "%s is larger than pipeline.max_bytes (%s): %s", n, limit, why)
	}
}

// globs checks pattern syntax: ** is any number of folders, and every
// other path segment must be a valid path.Match pattern.
func (v *checker) globs(p string, globs []string) {
	for i, g := range globs {
		gp := fmt.Sprintf("%s[%d]", p, i)
		if g == "" {
			v.add(gp, "empty pattern")
			continue
		}
		for seg := range strings.SplitSeq(g, "/") {
			if seg == "**" {
				continue
			}
			if _, err := path.Match(seg, ""); err != nil {
				v.add(gp, "%s is not a valid glob (segment %s): use *, ?, [a-z] and ** for any folders", quote(g), quote(seg))
				break
			}
		}
	}
}

func (v *checker) pipeline() {
	p := &v.c.Pipeline
	v.between("pipeline.max_bytes", p.MaxBytes.Int64(), MinMaxBytes, MaxMaxBytes, size)
	v.positive("pipeline.max_age", p.MaxAge)
	if p.MaxAge > Duration(3600e9) {
		v.add("pipeline.max_age", "%s is too long: at most 1h", p.MaxAge)
	}
	v.oneOf("pipeline.compression", p.Compression, Compressions)
	v.between("pipeline.max_in_flight", int64(p.MaxInFlight), 1, MaxMaxInFlight, count)
	if p.StateDir == "" {
		v.add("pipeline.state_dir", "required: a folder for checkpoints that survives restarts, e.g. /var/lib/logship")
	}
	v.positive("pipeline.checkpoint_interval", p.CheckpointInterval)
	v.positive("pipeline.retry_refused", p.RetryRefused)
}

func (v *checker) sink() {
	k := &v.c.Sink
	if !slices.Contains(SinkTypes, k.Type) {
		v.oneOf("sink.type", k.Type, SinkTypes)
		return
	}
	v.foreign("sink", reflect.ValueOf(k).Elem(), k.Type, "sink")
	v.prefix(k.Prefix)
	switch k.Type {
	case SinkDir:
		if k.Path == "" {
			v.add("sink.path", "required: the folder to write to, e.g. ./archive")
		}
	case SinkOSS:
		v.oss(k)
	}
}

// prefix checks that the key prefix is a clean relative path.
func (v *checker) prefix(prefix string) {
	t := strings.Trim(prefix, "/")
	if t == "" {
		return
	}
	for seg := range strings.SplitSeq(t, "/") {
		ok := seg != "" && seg[0] != '.' && strings.Trim(seg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._=-") == ""
		if !ok {
			v.add("sink.prefix", "%s: each folder must be letters, digits, '.', '_', '=' or '-', not starting with '.', e.g. logs/", quote(prefix))
			return
		}
	}
}

func (v *checker) oss(k *Sink) {
	switch {
	case k.Bucket == "":
		v.add("sink.bucket", "required: the OSS bucket name (or LOGSHIP_SINK_BUCKET)")
	case !validBucket(k.Bucket):
		v.add("sink.bucket", "%s is not an OSS bucket name: 3 to 63 lowercase letters, digits and '-', not starting or ending with '-'", quote(k.Bucket))
	}
	switch {
	case k.Region == "" && k.Endpoint == "":
		v.add("sink.region", "required (or endpoint): e.g. region: cn-hangzhou")
	case strings.HasPrefix(k.Region, "oss-"):
		v.add("sink.region", "%s: write the region without oss-: %s", quote(k.Region), strings.TrimPrefix(k.Region, "oss-"))
	case strings.Trim(k.Region, "abcdefghijklmnopqrstuvwxyz0123456789-") != "":
		v.add("sink.region", "%s is not a region: e.g. cn-hangzhou", quote(k.Region))
	}
	if strings.ContainsAny(k.Endpoint, " \t\n") {
		v.add("sink.endpoint", "%s has spaces: e.g. oss-cn-hangzhou-internal.aliyuncs.com", quote(k.Endpoint))
	}
	v.oneOf("sink.storage_class", k.StorageClass, StorageClasses)
	if !slices.Contains(SSEs, k.SSE) {
		v.add("sink.sse", "%s is not one of AES256, KMS (or empty: none)%s", quote(k.SSE), didYouMean(k.SSE, SSEs[1:]))
	}
	if k.SSEKeyID != "" && k.SSE != "KMS" {
		v.add("sink.sse_key_id", "only with sse: KMS")
	}
	if (k.AccessKeyID == "") != (k.AccessKeySecret == "") {
		v.add("sink.access_key_id", "access_key_id and access_key_secret go together; better, leave both out and set OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET")
	}
	v.between("sink.concurrency", int64(k.Concurrency), 1, 256, count)
	v.between("sink.part_size", k.PartSize.Int64(), MinPartSize, MaxPartSize, size)
	v.positive("sink.timeout", k.Timeout)
}

func validBucket(b string) bool {
	return len(b) >= 3 && len(b) <= 63 && b[0] != '-' && b[len(b)-1] != '-' &&
		strings.Trim(b, "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
}
