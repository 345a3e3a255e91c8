// Command lambdascope-collector receives batches from Lambdascope
// extensions over gRPC and writes them to ClickHouse.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lambdascope/lambdascope/collector"
	"github.com/lambdascope/lambdascope/collector/internal/memlimit"
	"github.com/lambdascope/lambdascope/storage"
)

const usage = `lambdascope-collector receives telemetry from the Lambdascope extension
(the Ingest API over gRPC, zstd accepted) and from any OpenTelemetry SDK or
Collector (OTLP gRPC on the same port, OTLP/HTTP), and writes it to
ClickHouse. It creates or upgrades the schema on start; while ClickHouse is
unreachable it keeps trying in the background and takes batches into the
WAL (data_dir/wal, on by default).

Usage:
  lambdascope-collector [--config FILE] [flags]

Settings come from the defaults, then the YAML file (--config, see
deploy/collector.example.yaml), then the environment variables in brackets,
then the flags given on the command line.

Examples:
  # local trial, no API key, the WAL in a directory of your own
  lambdascope-collector --no-auth --data-dir "$PWD/collector-data" \
    --clickhouse-dsn clickhouse://127.0.0.1:9000/lambdascope

  # a ClickHouse cluster: the name from the servers' remote_servers
  lambdascope-collector --no-auth --clickhouse-dsn clickhouse://ch1:9000/lambdascope \
    --clickhouse-cluster lambdascope

  # production: accept one key, configured by its SHA-256 digest, with a WAL
  lambdascope-collector --config /etc/lambdascope/collector.yaml \
    --api-key-sha256 "$(printf %s "$KEY" | sha256sum | cut -d' ' -f1)"

Flags:
`

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "lambdascope-collector:", err)
		os.Exit(1)
	}
}

// setting is one value settable from the environment and a flag.
type setting struct {
	flag, env, help string
	apply           func(cfg *collector.Config, v string) error
}

func settings() []setting {
	str := func(f func(*collector.Config) *string) func(*collector.Config, string) error {
		return func(c *collector.Config, v string) error { *f(c) = v; return nil }
	}
	return []setting{
		{"grpc-addr", "LAMBDASCOPE_GRPC_ADDR", "Ingest API and OTLP gRPC listen address (grpc_addr)",
			str(func(c *collector.Config) *string { return &c.GRPCAddr })},
		{"http-addr", "LAMBDASCOPE_HTTP_ADDR", "OTLP/HTTP listen address, empty to turn off (http_addr)",
			str(func(c *collector.Config) *string { return &c.HTTPAddr })},
		{"admin-addr", "LAMBDASCOPE_ADMIN_ADDR", "/healthz, /readyz and /metrics listen address, empty to turn off (admin_addr)",
			str(func(c *collector.Config) *string { return &c.AdminAddr })},
		{"clickhouse-dsn", "LAMBDASCOPE_CLICKHOUSE_DSN", "ClickHouse server and database (clickhouse.dsn)",
			str(func(c *collector.Config) *string { return &c.ClickHouse.DSN })},
		{"clickhouse-cluster", "LAMBDASCOPE_CLICKHOUSE_CLUSTER", "ClickHouse cluster name from the servers' remote_servers, empty for a single server (clickhouse.cluster)",
			str(func(c *collector.Config) *string { return &c.ClickHouse.Cluster })},
		{"clickhouse-tls-ca-file", "LAMBDASCOPE_CLICKHOUSE_TLS_CA_FILE", "PEM CAs ClickHouse's certificate must chain to; turns on TLS to ClickHouse (clickhouse.tls.ca_file)",
			str(func(c *collector.Config) *string { return &c.ClickHouse.TLS.CAFile })},
		{"clickhouse-tls-server-name", "LAMBDASCOPE_CLICKHOUSE_TLS_SERVER_NAME", "name ClickHouse's certificate must carry, when not the DSN's host; turns on TLS to ClickHouse (clickhouse.tls.server_name)",
			str(func(c *collector.Config) *string { return &c.ClickHouse.TLS.ServerName })},
		{"data-dir", "LAMBDASCOPE_DATA_DIR", "directory of the WAL and the quarantine (data_dir)",
			str(func(c *collector.Config) *string { return &c.DataDir })},
		{"wal-dir", "LAMBDASCOPE_WAL_DIR", "write-ahead log directory, instead of data_dir/wal (wal.dir)",
			str(func(c *collector.Config) *string { return &c.WAL.Dir })},
		{"no-wal", "LAMBDASCOPE_NO_WAL", "true to run without a WAL: batches are lost in a ClickHouse outage once senders give up (wal.enabled: false)",
			func(c *collector.Config, v string) error {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return fmt.Errorf("wal.enabled %q: --no-wal must be true or false", v)
				}
				c.WAL.Enabled = !b
				return nil
			}},
		{"api-key-sha256", "LAMBDASCOPE_API_KEY_SHA256", "comma-separated hex SHA-256 digests of accepted API keys (api_key_sha256)",
			func(c *collector.Config, v string) error {
				c.APIKeySHA256 = nil
				for k := range strings.SplitSeq(v, ",") {
					if k = strings.TrimSpace(k); k != "" {
						c.APIKeySHA256 = append(c.APIKeySHA256, k)
					}
				}
				return nil
			}},
		{"tls-cert-file", "LAMBDASCOPE_TLS_CERT_FILE", "PEM certificate chain; with tls-key-file turns on TLS for gRPC and OTLP/HTTP (tls.cert_file)",
			str(func(c *collector.Config) *string { return &c.TLS.CertFile })},
		{"tls-key-file", "LAMBDASCOPE_TLS_KEY_FILE", "PEM private key of the certificate (tls.key_file)",
			str(func(c *collector.Config) *string { return &c.TLS.KeyFile })},
		{"tls-client-ca-file", "LAMBDASCOPE_TLS_CLIENT_CA_FILE", "PEM CAs client certificates must be signed by; requires them (tls.client_ca_file)",
			str(func(c *collector.Config) *string { return &c.TLS.ClientCAFile })},
		{"max-inflight-bytes", "LAMBDASCOPE_MAX_INFLIGHT_BYTES", "request bytes all requests in flight may hold together; more are refused with a retryable status (max_inflight_bytes)",
			func(c *collector.Config, v string) error {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return fmt.Errorf("max_inflight_bytes %q must be a number of bytes", v)
				}
				c.MaxInflightBytes = n
				return nil
			}},
		{"grpc-read-timeout", "LAMBDASCOPE_GRPC_READ_TIMEOUT", "gRPC: time from a call's headers to its decoded body (grpc_read_timeout)",
			duration("grpc_read_timeout", func(c *collector.Config) *time.Duration { return &c.GRPCReadTimeout })},
		{"http-read-header-timeout", "LAMBDASCOPE_HTTP_READ_HEADER_TIMEOUT", "OTLP/HTTP: time to send a request's headers (http_limits.read_header_timeout)",
			duration("http_limits.read_header_timeout", func(c *collector.Config) *time.Duration { return &c.HTTPLimits.ReadHeaderTimeout })},
		{"http-read-timeout", "LAMBDASCOPE_HTTP_READ_TIMEOUT", "OTLP/HTTP: time to send a whole request, body included (http_limits.read_timeout)",
			duration("http_limits.read_timeout", func(c *collector.Config) *time.Duration { return &c.HTTPLimits.ReadTimeout })},
		{"http-idle-timeout", "LAMBDASCOPE_HTTP_IDLE_TIMEOUT", "OTLP/HTTP: keep-alive connections idle this long are closed (http_limits.idle_timeout)",
			duration("http_limits.idle_timeout", func(c *collector.Config) *time.Duration { return &c.HTTPLimits.IdleTimeout })},
		{"http-max-conns-per-ip", "LAMBDASCOPE_HTTP_MAX_CONNS_PER_IP", "OTLP/HTTP: open connections one client IP may hold, 0 for no bound (http_limits.max_conns_per_ip)",
			func(c *collector.Config, v string) error {
				n, err := strconv.Atoi(v)
				if err != nil {
					return fmt.Errorf("http_limits.max_conns_per_ip %q must be a whole number", v)
				}
				c.HTTPLimits.MaxConnsPerIP = n
				return nil
			}},
		{"no-auth", "LAMBDASCOPE_NO_AUTH", "true to accept requests without an API key, for local trials (no_auth)",
			func(c *collector.Config, v string) error {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return fmt.Errorf("no_auth %q must be true or false", v)
				}
				c.NoAuth = b
				return nil
			}},
	}
}

// duration parses a Go duration (10s, 1m30s) into the field f returns.
func duration(key string, f func(*collector.Config) *time.Duration) func(*collector.Config, string) error {
	return func(c *collector.Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%s %q must be a duration such as 30s", key, v)
		}
		*f(c) = d
		return nil
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("lambdascope-collector", flag.ContinueOnError)
	fs.Usage = func() {
		_, _ = io.WriteString(fs.Output(), usage)
		fs.PrintDefaults()
	}
	configPath := fs.String("config", os.Getenv("LAMBDASCOPE_CONFIG"), "YAML configuration file [LAMBDASCOPE_CONFIG]")
	logLevel := fs.String("log-level", envOr("LAMBDASCOPE_LOG_LEVEL", "info"), "debug, info, warn or error [LAMBDASCOPE_LOG_LEVEL]")
	all := settings()
	flagVals := make(map[string]*string, len(all))
	for _, st := range all {
		flagVals[st.flag] = fs.String(st.flag, "", st.help+" ["+st.env+"]")
	}
	if err := fs.Parse(normalizeBoolFlags(args)); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	cfg := collector.DefaultConfig()
	if *configPath != "" {
		var err error
		if cfg, err = collector.LoadConfig(*configPath); err != nil {
			return err
		}
	}
	for _, st := range all {
		if v, ok := os.LookupEnv(st.env); ok {
			if err := st.apply(&cfg, v); err != nil {
				return fmt.Errorf("%s: %w", st.env, err)
			}
		}
	}
	var flagErr error
	fs.Visit(func(f *flag.Flag) {
		for _, st := range all {
			if st.flag == f.Name {
				if err := st.apply(&cfg, *flagVals[st.flag]); err != nil {
					flagErr = errors.Join(flagErr, fmt.Errorf("--%s: %w", st.flag, err))
				}
			}
		}
	})
	if flagErr != nil {
		return flagErr
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("log-level %q must be debug, info, warn or error", *logLevel)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	// Under systemd's MemoryMax= or a container's limit, the garbage
	// collector works harder before the kernel kills the process.
	memlimit.Apply(memlimit.Host, log)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// ClickHouse may be unreachable at start: the collector then takes
	// batches into the WAL and keeps opening and migrating in the
	// background. With clickhouse.cluster the schema is migrated ON CLUSTER
	// and batches are written through the Distributed tables.
	sc := cfg.ClickHouse
	where := sc.DSN
	if sc.Cluster != "" {
		where += " (cluster " + sc.Cluster + ")"
	}
	if sc.TLS.On() {
		where += " over TLS"
	}
	open := func(ctx context.Context) (collector.BatchWriter, error) {
		store, err := storage.OpenConfig(ctx, sc)
		if err != nil {
			return nil, fmt.Errorf("open ClickHouse at %s: %w", where, err)
		}
		if err := store.Migrate(ctx); err != nil {
			return nil, errors.Join(fmt.Errorf("migrate ClickHouse at %s: %w", where, err), store.Close())
		}
		return store, nil
	}
	srv, err := collector.NewConnecting(cfg, open, log)
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	log.Info("shutting down; draining in-flight batches")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// normalizeBoolFlags lets --no-auth and --no-wal be given without a value.
func normalizeBoolFlags(args []string) []string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		switch a {
		case "--no-auth", "-no-auth":
			a = "--no-auth=true"
		case "--no-wal", "-no-wal":
			a = "--no-wal=true"
		}
		out = append(out, a)
	}
	return out
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}
