package storage

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// DefaultDatabase is the database used when neither the configuration nor
// the DSN names one.
const DefaultDatabase = "lambdascope"

// identifierPattern is what a database or table name must look like before it
// is placed in SQL text (names cannot be bound parameters).
var identifierPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Config says how to reach ClickHouse.
type Config struct {
	// DSN is a native-protocol address, clickhouse://user:pass@host:9000/db.
	// Its path names the database unless Database is set.
	DSN string `yaml:"dsn"`
	// Database overrides the DSN's database; default "lambdascope".
	Database string `yaml:"database"`
	// DialTimeout bounds connecting to the server.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// MaxOpenConns bounds the connection pool.
	MaxOpenConns int `yaml:"max_open_conns"`
	// Cluster, when set, names the ClickHouse cluster (remote_servers) the
	// schema spans: tables become ReplicatedMergeTree shards named
	// <table>_local behind Distributed tables with the plain names, DDL runs
	// ON CLUSTER, and spans are sharded by cityHash64(trace_id). Every
	// server needs the {shard} and {replica} macros and ZooKeeper.
	Cluster string `yaml:"cluster"`
	// ReadOnly opens without creating the database; readers such as the
	// CLI use it so that a wrong DSN creates nothing.
	ReadOnly bool `yaml:"-"`
	// TLS, when set, connects with TLS under this configuration (a private
	// CA, a server name, client certificates), in place of what the DSN's
	// secure and skip_verify parameters would give.
	TLS *tls.Config `yaml:"-"`
}

// DefaultConfig is a local server on the native port.
func DefaultConfig() Config {
	return Config{
		DSN:          "clickhouse://127.0.0.1:9000/" + DefaultDatabase,
		DialTimeout:  10 * time.Second,
		MaxOpenConns: 10,
	}
}

// Validate reports every invalid key.
func (c Config) Validate() error {
	var errs []error
	if err := checkDSN(c.DSN, c.Database == ""); err != nil {
		errs = append(errs, fmt.Errorf("dsn %w", err))
	}
	if c.Database != "" && !identifierPattern.MatchString(c.Database) {
		errs = append(errs, fmt.Errorf("database %q must match %s", c.Database, identifierPattern))
	}
	if c.Cluster != "" && !identifierPattern.MatchString(c.Cluster) {
		errs = append(errs, fmt.Errorf("cluster %q must match %s", c.Cluster, identifierPattern))
	}
	if c.DialTimeout <= 0 {
		errs = append(errs, errors.New("dial_timeout must be positive"))
	}
	if c.MaxOpenConns < 1 {
		errs = append(errs, errors.New("max_open_conns must be at least 1"))
	}
	return errors.Join(errs...)
}

// CheckDSN reports what is wrong with a DSN, in words that follow the name
// of the key holding it ("clickhouse_dsn " + err): it must parse, use the
// native protocol and name a database that is a plain identifier (or none).
// Configurations that hold a DSN under a key of their own check it at
// start with it, so that a DSN the store would refuse stops the start
// instead of being retried.
func CheckDSN(dsn string) error {
	return checkDSN(dsn, true)
}

func checkDSN(dsn string, withDatabase bool) error {
	if dsn == "" {
		return errors.New("must be set")
	}
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return fmt.Errorf("is invalid: %w", err)
	}
	var errs []error
	if opts.Protocol != clickhouse.Native {
		errs = append(errs, errors.New("must use the native protocol (clickhouse://), not HTTP"))
	}
	if withDatabase && opts.Auth.Database != "" && !identifierPattern.MatchString(opts.Auth.Database) {
		errs = append(errs, fmt.Errorf("names database %q, which must match %s", opts.Auth.Database, identifierPattern))
	}
	return errors.Join(errs...)
}

// ClientTLS builds Config.TLS: TLS 1.2+ to ClickHouse, verified with the
// PEM CAs in caFile (the system's when empty) against serverName (each
// address's host when empty), or not verified at all with skipVerify.
func ClientTLS(caFile, serverName string, skipVerify bool) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: serverName, InsecureSkipVerify: skipVerify, MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	cfg.RootCAs = x509.NewCertPool()
	if !cfg.RootCAs.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	return cfg, nil
}
