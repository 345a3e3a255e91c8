package collector

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/lambdascope/lambdascope/storage"
)

// Config is the collector's configuration. A YAML file (LoadConfig) sets
// any subset of it; the rest keeps DefaultConfig's values.
type Config struct {
	// GRPCAddr is where the Ingest API and OTLP gRPC listen (host:port).
	GRPCAddr string `yaml:"grpc_addr"`
	// HTTPAddr is where OTLP/HTTP listens (host:port); empty turns it off.
	HTTPAddr string `yaml:"http_addr"`
	// AdminAddr serves /healthz, /readyz and /metrics; empty turns it off.
	AdminAddr string `yaml:"admin_addr"`
	// ClickHouse says how to reach ClickHouse: storage's own configuration
	// (dsn, database, cluster, dial_timeout, max_open_conns, tls), checked
	// by storage at start. With a cluster the schema is created ON CLUSTER
	// as ReplicatedMergeTree shards behind Distributed tables, and writes
	// go through the Distributed tables, sharded by trace ID. The keys
	// clickhouse_dsn, clickhouse_cluster and clickhouse_tls of earlier
	// versions are still read (legacyKeys).
	ClickHouse storage.Config `yaml:"clickhouse"`
	// APIKeySHA256 lists the hex SHA-256 digests of the accepted API keys;
	// keys are never configured in clear.
	APIKeySHA256 []string `yaml:"api_key_sha256"`
	// NoAuth accepts unauthenticated requests. Only for local trials.
	NoAuth bool `yaml:"no_auth"`
	// MaxMessageBytes bounds one decompressed request.
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// MaxBatchItems bounds the spans, logs, metric points and invocations
	// of one request; a larger one is refused whole.
	MaxBatchItems int `yaml:"max_batch_items"`
	// MaxAttributeKeyBytes: attributes with longer keys are dropped.
	MaxAttributeKeyBytes int `yaml:"max_attribute_key_bytes"`
	// MaxAttributeValueBytes: longer string values are truncated.
	MaxAttributeValueBytes int `yaml:"max_attribute_value_bytes"`
	// WriteTimeout bounds one insert into ClickHouse.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// ShutdownTimeout bounds the drain of in-flight work on shutdown.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// DedupWindow is how many recent batch IDs are remembered to drop
	// retries of batches already stored.
	DedupWindow int `yaml:"dedup_window"`
	// Batch shapes the inserts into ClickHouse.
	Batch BatchConfig `yaml:"batch"`
	// WAL keeps batches ClickHouse could not take on local disk.
	WAL WALConfig `yaml:"wal"`
	// Tracing exports the collector's own spans.
	Tracing TracingConfig `yaml:"tracing"`
	// TLS secures the gRPC and OTLP/HTTP listeners.
	TLS TLSConfig `yaml:"tls"`

	// DataDir holds the collector's state: the WAL (data_dir/wal unless
	// wal.dir says otherwise) and the quarantine of batches ClickHouse
	// refuses (data_dir/quarantine).
	DataDir string `yaml:"data_dir"`
	// Quarantine bounds the retries of a batch ClickHouse keeps refusing
	// and the file such batches are set aside in.
	Quarantine QuarantineConfig `yaml:"quarantine"`
	// Fields caps the strings of spans, logs and metrics (config_safety.go).
	Fields FieldLimits `yaml:"fields"`
	// MaxInflightBytes bounds the request bytes that all requests being
	// read or handled may hold together, on gRPC and OTLP/HTTP; a request
	// beyond it is refused with a retryable status (RESOURCE_EXHAUSTED
	// with RetryInfo, HTTP 429 with Retry-After). A gRPC request reserves
	// max_message_bytes while its body is read (gRPC says no size before),
	// then its size once decoded; an HTTP request is charged its decompressed
	// bytes as they are read.
	MaxInflightBytes int64 `yaml:"max_inflight_bytes"`
	// GRPCReadTimeout bounds the time from a gRPC call's headers to its
	// decoded body; a slower call is cancelled, so that it cannot hold its
	// share of max_inflight_bytes for ever.
	GRPCReadTimeout time.Duration `yaml:"grpc_read_timeout"`
	// HTTPLimits bounds slow and numerous OTLP/HTTP clients.
	HTTPLimits HTTPLimitsConfig `yaml:"http_limits"`
}

// HTTPLimitsConfig bounds how long OTLP/HTTP clients may take and how many
// connections one client address may hold.
type HTTPLimitsConfig struct {
	// ReadHeaderTimeout bounds the reading of a request's headers.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds the reading of a whole request, headers and body.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxConnsPerIP bounds the open connections of one client IP address;
	// more are closed at once and counted. 0 means no bound.
	MaxConnsPerIP int `yaml:"max_conns_per_ip"`
}

// BatchConfig shapes the inserts: requests are grouped until MaxItems or
// FlushInterval, and Parallelism groups are inserted at once.
type BatchConfig struct {
	MaxItems      int           `yaml:"max_items"`
	FlushInterval time.Duration `yaml:"flush_interval"`
	Parallelism   int           `yaml:"parallelism"`
	// QueueSize is how many requests may wait for an insert before callers
	// are held back.
	QueueSize int `yaml:"queue_size"`
}

// WALConfig configures the write-ahead log, on by default in data_dir/wal.
// Enabled false turns it off: then a batch ClickHouse cannot take is refused
// with UNAVAILABLE, and the sender's data is lost once its retries run out.
type WALConfig struct {
	Enabled bool `yaml:"enabled"`
	// Dir overrides data_dir/wal.
	Dir          string `yaml:"dir"`
	MaxBytes     int64  `yaml:"max_bytes"`
	SegmentBytes int64  `yaml:"segment_bytes"`
	// AckAfter is how long a request waits for its direct insert before
	// its batch is put in the WAL (fsynced) and acknowledged; the insert
	// goes on, and the WAL replays the batch only if it fails. 0 turns
	// this off: requests wait for ClickHouse while it answers.
	AckAfter time.Duration `yaml:"ack_after"`
	// AckMaxItems bounds the batches acknowledged that way by their spans,
	// log records, metric points and invocation records together: encoding
	// a batch again for the WAL costs CPU in proportion to its size, and
	// what waits on the answer is a small flush at an invocation's end
	// (a cold start's first one above all). Larger batches wait for
	// their insert.
	AckMaxItems int `yaml:"ack_max_items"`
	// AckMaxPending bounds how many batches at a time are acknowledged
	// from the WAL while their inserts run or wait for a writer; past it a
	// batch waits for its insert.
	AckMaxPending int `yaml:"ack_max_pending"`
	// ReplayTimeout bounds one insert from the WAL. Nothing waits on it,
	// so it is longer than write_timeout: an insert cut off while
	// ClickHouse is still writing it has an unknown outcome, and the
	// replay that follows stores its rows again if it landed (18.16
	// deduplicates inserts only in replicated tables). Never less than
	// write_timeout; once the collector stops, an insert from the WAL
	// gets write_timeout more at most.
	ReplayTimeout time.Duration `yaml:"replay_timeout"`
}

// TracingConfig turns on the collector's own traces, sent over OTLP/HTTP.
type TracingConfig struct {
	Enabled bool `yaml:"enabled"`
	// Endpoint is the OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318/v1/traces.
	Endpoint    string  `yaml:"endpoint"`
	SampleRatio float64 `yaml:"sample_ratio"`
}

// DefaultConfig returns the defaults: the Ingest API and OTLP gRPC on :4317,
// OTLP/HTTP on :4318, health and metrics on :8888, a local ClickHouse,
// 4 MiB messages (as the OpenTelemetry Collector's OTLP receiver), a 1 GiB
// WAL in /var/lib/lambdascope-collector.
func DefaultConfig() Config {
	return Config{
		GRPCAddr:               ":4317",
		HTTPAddr:               ":4318",
		AdminAddr:              ":8888",
		ClickHouse:             storage.DefaultConfig(),
		MaxMessageBytes:        4 << 20,
		MaxBatchItems:          100_000,
		MaxAttributeKeyBytes:   256,
		MaxAttributeValueBytes: 16 << 10,
		WriteTimeout:           30 * time.Second,
		ShutdownTimeout:        30 * time.Second,
		DedupWindow:            100_000,
		Batch: BatchConfig{
			MaxItems:      20_000,
			FlushInterval: 10 * time.Millisecond,
			Parallelism:   2,
			QueueSize:     256,
		},
		WAL: WALConfig{
			Enabled:       true,
			MaxBytes:      1 << 30,
			SegmentBytes:  64 << 20,
			AckAfter:      25 * time.Millisecond,
			AckMaxItems:   256,
			AckMaxPending: 32,
			ReplayTimeout: 2 * time.Minute,
		},
		Tracing: TracingConfig{SampleRatio: 0.01},

		DataDir:          DefaultDataDir,
		Quarantine:       defaultQuarantine(),
		Fields:           defaultFieldLimits(),
		MaxInflightBytes: 512 << 20,
		GRPCReadTimeout:  60 * time.Second,
		HTTPLimits: HTTPLimitsConfig{
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxConnsPerIP:     256,
		},
	}
}

// Validate names every bad field.
func (c Config) Validate() error {
	var errs []error
	addr := func(key, v string, optional bool) {
		if v == "" && optional {
			return
		}
		if _, _, err := net.SplitHostPort(v); err != nil {
			errs = append(errs, fmt.Errorf("%s %q must be host:port", key, v))
		}
	}
	addr("grpc_addr", c.GRPCAddr, false)
	addr("http_addr", c.HTTPAddr, true)
	addr("admin_addr", c.AdminAddr, true)
	// The store would refuse these too, but only when it opens, which the
	// collector retries in the background for ever.
	errs = append(errs, prefixed("clickhouse.", c.ClickHouse.Validate())...)
	if len(c.APIKeySHA256) == 0 && !c.NoAuth {
		errs = append(errs, errors.New("api_key_sha256 must list at least one key digest (or set no_auth for a local trial)"))
	}
	for i, h := range c.APIKeySHA256 {
		if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
			errs = append(errs, fmt.Errorf("api_key_sha256[%d] must be 64 hex characters (sha256 of the key)", i))
		}
	}
	positive := func(key string, v int64) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", key))
		}
	}
	positive("max_message_bytes", int64(c.MaxMessageBytes))
	positive("max_batch_items", int64(c.MaxBatchItems))
	positive("max_attribute_key_bytes", int64(c.MaxAttributeKeyBytes))
	positive("max_attribute_value_bytes", int64(c.MaxAttributeValueBytes))
	positive("write_timeout", int64(c.WriteTimeout))
	positive("shutdown_timeout", int64(c.ShutdownTimeout))
	if c.DedupWindow < 0 {
		errs = append(errs, errors.New("dedup_window must not be negative"))
	}
	positive("batch.max_items", int64(c.Batch.MaxItems))
	positive("batch.flush_interval", int64(c.Batch.FlushInterval))
	positive("batch.parallelism", int64(c.Batch.Parallelism))
	positive("batch.queue_size", int64(c.Batch.QueueSize))
	if c.WAL.Enabled {
		positive("wal.segment_bytes", c.WAL.SegmentBytes)
		if c.WAL.MaxBytes < 2<<20 {
			errs = append(errs, errors.New("wal.max_bytes must be at least 2 MiB"))
		} else if c.WAL.SegmentBytes > c.WAL.MaxBytes {
			errs = append(errs, errors.New("wal.segment_bytes must not exceed wal.max_bytes"))
		}
		positive("wal.replay_timeout", int64(c.WAL.ReplayTimeout))
		if c.WAL.AckAfter > 0 && c.WAL.AckAfter >= c.WriteTimeout {
			errs = append(errs, fmt.Errorf("wal.ack_after (%s) must be shorter than write_timeout (%s), or 0 to turn it off", c.WAL.AckAfter, c.WriteTimeout))
		}
	}
	if c.WAL.AckAfter < 0 {
		errs = append(errs, errors.New("wal.ack_after must not be negative (0 turns it off)"))
	}
	if c.WAL.AckAfter > 0 && c.WAL.AckMaxItems <= 0 {
		errs = append(errs, errors.New("wal.ack_max_items must be positive while wal.ack_after is on"))
	}
	if c.WAL.AckAfter > 0 && c.WAL.AckMaxPending <= 0 {
		errs = append(errs, errors.New("wal.ack_max_pending must be positive while wal.ack_after is on"))
	}
	if c.Tracing.Enabled && !strings.HasPrefix(c.Tracing.Endpoint, "http://") && !strings.HasPrefix(c.Tracing.Endpoint, "https://") {
		errs = append(errs, fmt.Errorf("tracing.endpoint %q must be an http:// or https:// URL", c.Tracing.Endpoint))
	}
	if c.Tracing.SampleRatio < 0 || c.Tracing.SampleRatio > 1 {
		errs = append(errs, errors.New("tracing.sample_ratio must be between 0 and 1"))
	}
	if _, err := c.TLS.serverConfig(); err != nil {
		errs = append(errs, err)
	}

	if c.MaxInflightBytes < int64(c.MaxMessageBytes) {
		errs = append(errs, fmt.Errorf("max_inflight_bytes (%d) must be at least max_message_bytes (%d)", c.MaxInflightBytes, c.MaxMessageBytes))
	}
	positive("grpc_read_timeout", int64(c.GRPCReadTimeout))
	positive("http_limits.read_header_timeout", int64(c.HTTPLimits.ReadHeaderTimeout))
	positive("http_limits.read_timeout", int64(c.HTTPLimits.ReadTimeout))
	positive("http_limits.idle_timeout", int64(c.HTTPLimits.IdleTimeout))
	if c.HTTPLimits.MaxConnsPerIP < 0 {
		errs = append(errs, errors.New("http_limits.max_conns_per_ip must not be negative (0: no bound)"))
	}
	errs = append(errs, c.validateSafety()...)
	return errors.Join(errs...)
}

// prefixed names each error of err (one, or several joined) under key
// prefix, as storage's keys sit under clickhouse.
func prefixed(prefix string, err error) []error {
	if err == nil {
		return nil
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			errs = append(errs, prefixed(prefix, e)...)
		}
		return errs
	}
	return []error{fmt.Errorf("%s%w", prefix, err)}
}

// LoadConfig reads a YAML file over DefaultConfig. Unknown keys are errors,
// so a misspelt key does not silently keep its default.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	if err := ParseConfig(b, &cfg); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig decodes YAML into cfg, keeping the fields it does not name.
func ParseConfig(b []byte, cfg *Config) error {
	file := fileConfig{Config: *cfg}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("parse YAML: %w", err)
	}
	if err := file.legacyKeys.apply(cfg.ClickHouse, &file.Config.ClickHouse); err != nil {
		return err
	}
	*cfg = file.Config
	return nil
}

// fileConfig is what a configuration file may hold: Config, and the keys
// of earlier versions.
type fileConfig struct {
	Config     `yaml:",inline"`
	legacyKeys `yaml:",inline"`
}

// legacyKeys are the ClickHouse keys of earlier versions, before the
// collector nested storage's configuration under clickhouse; each is read
// into its place there.
type legacyKeys struct {
	DSN     *string `yaml:"clickhouse_dsn"`
	Cluster *string `yaml:"clickhouse_cluster"`
	TLS     *struct {
		CAFile             *string `yaml:"ca_file"`
		ServerName         *string `yaml:"server_name"`
		InsecureSkipVerify *bool   `yaml:"insecure_skip_verify"`
	} `yaml:"clickhouse_tls"`
}

// apply puts the legacy keys a file sets into ch; before is ch as it was
// before the file was read, so that a file setting a key both ways is
// refused rather than one of them silently losing.
func (l legacyKeys) apply(before storage.Config, ch *storage.Config) error {
	var errs []error
	set := func(legacy, key string, from *string, to *string, was string) {
		if from == nil {
			return
		}
		if *to != was && *to != *from {
			errs = append(errs, fmt.Errorf("%s and %s are the same setting; keep %s", legacy, key, key))
			return
		}
		*to = *from
	}
	set("clickhouse_dsn", "clickhouse.dsn", l.DSN, &ch.DSN, before.DSN)
	set("clickhouse_cluster", "clickhouse.cluster", l.Cluster, &ch.Cluster, before.Cluster)
	if t := l.TLS; t != nil {
		set("clickhouse_tls.ca_file", "clickhouse.tls.ca_file", t.CAFile, &ch.TLS.CAFile, before.TLS.CAFile)
		set("clickhouse_tls.server_name", "clickhouse.tls.server_name", t.ServerName, &ch.TLS.ServerName, before.TLS.ServerName)
		if t.InsecureSkipVerify != nil {
			ch.TLS.InsecureSkipVerify = ch.TLS.InsecureSkipVerify || *t.InsecureSkipVerify
		}
	}
	return errors.Join(errs...)
}

// HashAPIKey returns the hex SHA-256 digest under which a key is configured.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
