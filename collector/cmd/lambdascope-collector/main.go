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
	"strings"
	"syscall"
	"time"

	"github.com/lambdascope/lambdascope/collector"
	"github.com/lambdascope/lambdascope/storage"
)

const usage = `lambdascope-collector receives telemetry from the Lambdascope extension
(the Ingest API over gRPC, zstd accepted) and writes it to ClickHouse. It
creates or upgrades the schema on start.

Usage:
  lambdascope-collector [flags]

Every flag can also be set through the environment variable in brackets.

Examples:
  # local trial, no API key
  lambdascope-collector --no-auth --clickhouse-dsn clickhouse://127.0.0.1:9000/lambdascope

  # production: accept one key, configured by its SHA-256 digest
  lambdascope-collector --api-key-sha256 "$(printf %s "$KEY" | sha256sum | cut -d' ' -f1)"

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

func run(args []string) error {
	cfg := collector.DefaultConfig()
	fs := flag.NewFlagSet("lambdascope-collector", flag.ContinueOnError)
	fs.Usage = func() {
		_, _ = io.WriteString(fs.Output(), usage)
		fs.PrintDefaults()
	}
	keys := envOr("LAMBDASCOPE_API_KEY_SHA256", "")
	fs.StringVar(&cfg.GRPCAddr, "grpc-addr", envOr("LAMBDASCOPE_GRPC_ADDR", cfg.GRPCAddr), "Ingest API listen address [LAMBDASCOPE_GRPC_ADDR]")
	fs.StringVar(&cfg.ClickHouseDSN, "clickhouse-dsn", envOr("LAMBDASCOPE_CLICKHOUSE_DSN", cfg.ClickHouseDSN), "ClickHouse server and database [LAMBDASCOPE_CLICKHOUSE_DSN]")
	fs.StringVar(&keys, "api-key-sha256", keys, "comma-separated hex SHA-256 digests of accepted API keys [LAMBDASCOPE_API_KEY_SHA256]")
	fs.BoolVar(&cfg.NoAuth, "no-auth", envOr("LAMBDASCOPE_NO_AUTH", "") == "true", "accept requests without an API key, for local trials [LAMBDASCOPE_NO_AUTH]")
	logLevel := fs.String("log-level", envOr("LAMBDASCOPE_LOG_LEVEL", "info"), "debug, info, warn or error [LAMBDASCOPE_LOG_LEVEL]")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	for k := range strings.SplitSeq(keys, ",") {
		if k = strings.TrimSpace(k); k != "" {
			cfg.APIKeySHA256 = append(cfg.APIKeySHA256, k)
		}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("log-level %q must be debug, info, warn or error", *logLevel)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	openCtx, cancel := context.WithTimeout(ctx, time.Minute)
	store, err := storage.Open(openCtx, cfg.ClickHouseDSN)
	if err == nil {
		err = store.Migrate(openCtx)
	}
	cancel()
	if err != nil {
		return fmt.Errorf("prepare ClickHouse at %s: %w", cfg.ClickHouseDSN, err)
	}
	defer store.Close()

	srv, err := collector.New(cfg, store, log)
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	log.Info("shutting down; draining in-flight batches")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}
