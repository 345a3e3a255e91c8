package storage

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
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
	// TLS, when on, connects with TLS under this configuration (a private
	// CA, a server name), in place of what the DSN's secure and
	// skip_verify parameters would give.
	TLS TLSConfig `yaml:"tls"`
}

// TLSConfig says how to reach ClickHouse over TLS (its secure native port,
// usually 9440). It is on when any field is set. A DSN with secure=true is
// enough for a server whose certificate the system trusts.
type TLSConfig struct {
	// Enabled turns TLS on with the system's CAs when no other key does.
	Enabled bool `yaml:"enabled"`
	// CAFile holds the PEM CAs the server's certificate must chain to,
	// instead of the system's.
	CAFile string `yaml:"ca_file"`
	// CAPEM is CAFile's content given in place, for configurations that
	// hold the certificate itself (the Grafana plugin's secure settings).
	CAPEM string `yaml:"-"`
	// ServerName is the name the certificate must carry, when it is not
	// each address's host.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any certificate. Only for trials.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// On says whether the connection uses this TLS configuration.
func (c TLSConfig) On() bool {
	return c.Enabled || c.CAFile != "" || c.CAPEM != "" || c.ServerName != "" || c.InsecureSkipVerify
}

// Client builds the client's *tls.Config, nil when TLS is off: TLS 1.2+,
// verified with the CAs of CAFile or CAPEM (the system's when neither is
// set) against ServerName (each address's host when empty), or not at all
// with InsecureSkipVerify. It is the one place that builds TLS to
// ClickHouse, for the collector, the CLI and the Grafana plugin. Its errors
// name the key (tls.ca_file) of what cannot be used.
func (c TLSConfig) Client() (*tls.Config, error) {
	if !c.On() {
		return nil, nil
	}
	cfg := &tls.Config{ServerName: c.ServerName, InsecureSkipVerify: c.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	var pem []byte
	switch {
	case c.CAFile != "" && c.CAPEM != "":
		return nil, errors.New("tls.ca_file and the CA certificate given in place are both set; set one")
	case c.CAFile != "":
		b, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		pem = b
	case c.CAPEM != "":
		pem = []byte(c.CAPEM)
	default:
		return cfg, nil
	}
	cfg.RootCAs = x509.NewCertPool()
	if !cfg.RootCAs.AppendCertsFromPEM(pem) {
		if c.CAFile != "" {
			return nil, fmt.Errorf("tls.ca_file %q holds no PEM certificate", c.CAFile)
		}
		return nil, errors.New("the CA certificate holds no PEM certificate")
	}
	return cfg, nil
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
	if _, err := c.TLS.Client(); err != nil {
		errs = append(errs, err)
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

// redactDSN hides a password in a DSN, for error messages.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "the DSN"
	}
	return u.Redacted()
}

func checkDSN(dsn string, withDatabase bool) error {
	if dsn == "" {
		return errors.New("must be set")
	}
	if !strings.HasPrefix(dsn, "clickhouse://") {
		// The driver reads any other scheme (ftp://, a typo) as its native
		// protocol, and http:// as HTTP, which 18.16 does not speak.
		return fmt.Errorf("%q must start with clickhouse:// (the native protocol)", redactDSN(dsn))
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
