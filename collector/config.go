package collector

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Config is the collector's configuration.
type Config struct {
	// GRPCAddr is where the Ingest API listens (host:port).
	GRPCAddr string `yaml:"grpc_addr"`
	// ClickHouseDSN names the ClickHouse server and database.
	ClickHouseDSN string `yaml:"clickhouse_dsn"`
	// APIKeySHA256 lists the hex SHA-256 digests of the accepted API keys;
	// keys are never configured in clear.
	APIKeySHA256 []string `yaml:"api_key_sha256"`
	// NoAuth accepts unauthenticated requests. Only for local trials.
	NoAuth bool `yaml:"no_auth"`
	// MaxMessageBytes bounds one decompressed request.
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// WriteTimeout bounds one batch's write to ClickHouse.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// DedupWindow is how many recent batch IDs are remembered to drop
	// retries of batches already stored.
	DedupWindow int `yaml:"dedup_window"`
}

// DefaultConfig returns the defaults: the Ingest API on :4317 next to the
// standard OTLP gRPC port, a local ClickHouse, 16 MiB messages.
func DefaultConfig() Config {
	return Config{
		GRPCAddr:        ":4317",
		ClickHouseDSN:   "clickhouse://127.0.0.1:9000/lambdascope",
		MaxMessageBytes: 16 << 20,
		WriteTimeout:    30 * time.Second,
		DedupWindow:     100_000,
	}
}

// Validate names every bad field.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.GRPCAddr); err != nil {
		errs = append(errs, fmt.Errorf("grpc_addr %q must be host:port: %w", c.GRPCAddr, err))
	}
	if !strings.HasPrefix(c.ClickHouseDSN, "clickhouse://") {
		errs = append(errs, fmt.Errorf("clickhouse_dsn %q must start with clickhouse://", c.ClickHouseDSN))
	}
	if len(c.APIKeySHA256) == 0 && !c.NoAuth {
		errs = append(errs, errors.New("api_key_sha256 must list at least one key digest (or set no_auth for a local trial)"))
	}
	for i, h := range c.APIKeySHA256 {
		if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
			errs = append(errs, fmt.Errorf("api_key_sha256[%d] must be 64 hex characters (sha256 of the key)", i))
		}
	}
	if c.MaxMessageBytes <= 0 {
		errs = append(errs, errors.New("max_message_bytes must be positive"))
	}
	if c.WriteTimeout <= 0 {
		errs = append(errs, errors.New("write_timeout must be positive"))
	}
	if c.DedupWindow < 0 {
		errs = append(errs, errors.New("dedup_window must not be negative"))
	}
	return errors.Join(errs...)
}

// HashAPIKey returns the hex SHA-256 digest under which a key is configured.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
