// Package config is logship's configuration: the YAML schema, defaults,
// strict decoding with line numbers, LOGSHIP_* environment and flag
// overrides, and validation that reports every problem at once.
//
// A command builds its config in this order (Resolve does all of it):
//
//	c, err := config.Load(path)  // strict: unknown keys, types, units; no defaults
//	err = c.ApplyEnv(os.Environ()) // LOGSHIP_PIPELINE_MAX_BYTES=8MiB ...
//	err = c.Set("sink.path", dir)  // --set key=value and specific flags
//	c.SetDefaults()                // after overrides: a changed type gets its own defaults
//	err = c.Validate()
//
// Every error from these is Problems, one Problem per line with the file,
// line, key path, bad value and fix; AsProblems gets it back.
package config

// Config is the whole configuration file.
type Config struct {
	App             string   `yaml:"app"`              // identity in every key; required
	Host            string   `yaml:"host"`             // default: the hostname
	LogLevel        string   `yaml:"log_level"`        // debug|info|warn|error; default info
	LogFormat       string   `yaml:"log_format"`       // text|json; default text
	MetricsAddr     string   `yaml:"metrics_addr"`     // e.g. 127.0.0.1:9108; empty: no metrics endpoint
	ShutdownTimeout Duration `yaml:"shutdown_timeout"` // drain deadline on SIGTERM; default 10s
	Sources         []Source `yaml:"sources"`
	Pipeline        Pipeline `yaml:"pipeline"`
	Sink            Sink     `yaml:"sink"`

	origin *origin // where each key was set, for messages; nil for a Config built in code
}

// Source is one entry of sources:. Type selects which fields apply: the
// for:"..." tag lists the types a field belongs to (none: every type), and
// Validate refuses a field set on a source of another type.
type Source struct {
	Type string `yaml:"type"` // file|crash|kmsg
	Name string `yaml:"name"` // unique; default TYPE or TYPE-N; names checkpoint entries

	// file and crash
	Paths   []string `yaml:"paths" for:"file,crash"`   // globs, ** matches any number of folders
	Exclude []string `yaml:"exclude" for:"file,crash"` // globs matched against the full path and the base name

	// file
	ReadFrom         string   `yaml:"read_from" for:"file"`          // beginning|end, for files found at the very first start; default beginning
	MaxLineBytes     Size     `yaml:"max_line_bytes" for:"file"`     // longer lines are split; default 1MiB
	ScanInterval     Duration `yaml:"scan_interval" for:"file"`      // glob rescan; default 1s
	PartialLineAfter Duration `yaml:"partial_line_after" for:"file"` // ship an unterminated last line after this idle time; default 2s
	MaxOpenFiles     int      `yaml:"max_open_files" for:"file"`     // cap on open descriptors; default 256
	RotatedKeepOpen  Duration `yaml:"rotated_keep_open" for:"file"`  // how long a rotated/deleted file is held to finish reading; default 5m
	MaxRotatedOpen   int      `yaml:"max_rotated_open" for:"file"`   // how many rotated/deleted files may be held; default 32
	FingerprintBytes int      `yaml:"fingerprint_bytes" for:"file"`  // bytes of the file head in its identity; default 1024
	ReadBufferBytes  Size     `yaml:"read_buffer" for:"file"`        // read size; default 256KiB

	// crash
	Settle    Duration `yaml:"settle" for:"crash"`     // size unchanged this long = complete; default 5s
	RateLimit Size     `yaml:"rate_limit" for:"crash"` // bytes per second for artifact uploads; 0 = unlimited

	// kmsg
	Device     string `yaml:"device" for:"kmsg"`      // default /dev/kmsg
	CgroupRoot string `yaml:"cgroup_root" for:"kmsg"` // default /sys/fs/cgroup
	Mode       string `yaml:"mode" for:"kmsg"`        // auto|kmsg|klogctl|cgroup; default auto
}

// Pipeline is batching, compression and checkpoints.
type Pipeline struct {
	MaxBytes           Size     `yaml:"max_bytes"`           // raw bytes per chunk; default 4MiB
	MaxAge             Duration `yaml:"max_age"`             // oldest byte waits at most this; default 5s
	Compression        string   `yaml:"compression"`         // zstd|gzip|none; default zstd
	MaxInFlight        int      `yaml:"max_in_flight"`       // chunks buffered or uploading; default 6
	StateDir           string   `yaml:"state_dir"`           // checkpoint folder; default /var/lib/logship
	CheckpointInterval Duration `yaml:"checkpoint_interval"` // default 1s
	RetryRefused       Duration `yaml:"retry_refused"`       // retry pace after a refusal (AccessDenied, bad key, skewed clock); default 1m
}

// Sink is where chunks go. Type selects which fields apply, as for Source.
type Sink struct {
	Type   string `yaml:"type"`   // dir|oss
	Prefix string `yaml:"prefix"` // key prefix, e.g. logs/

	// dir
	Path string `yaml:"path" for:"dir"` // folder; default ./archive

	// oss
	Bucket          string   `yaml:"bucket" for:"oss"`
	Region          string   `yaml:"region" for:"oss"`            // e.g. cn-hangzhou
	Internal        *bool    `yaml:"internal" for:"oss"`          // VPC endpoint oss-REGION-internal.aliyuncs.com; default true
	Endpoint        string   `yaml:"endpoint" for:"oss"`          // explicit endpoint, overrides region/internal
	StorageClass    string   `yaml:"storage_class" for:"oss"`     // Standard|IA|Archive|ColdArchive
	SSE             string   `yaml:"sse" for:"oss"`               // ""|AES256|KMS
	SSEKeyID        string   `yaml:"sse_key_id" for:"oss"`        // KMS key id
	AccessKeyID     string   `yaml:"access_key_id" for:"oss"`     // prefer env OSS_ACCESS_KEY_ID
	AccessKeySecret Secret   `yaml:"access_key_secret" for:"oss"` // prefer env OSS_ACCESS_KEY_SECRET
	Concurrency     int      `yaml:"concurrency" for:"oss"`       // parallel uploads; default 4
	PartSize        Size     `yaml:"part_size" for:"oss"`         // multipart part size; default 8MiB
	Timeout         Duration `yaml:"timeout" for:"oss"`           // per request; default 60s
	ContentMD5      *bool    `yaml:"content_md5" for:"oss"`       // also send Content-MD5; default false (CRC-64 is always checked)
}
