// Command lambdascope-extension is the Lambdascope Lambda extension. Lambda
// starts it from /opt/extensions/lambdascope; it collects invocation
// reports, logs and OTLP telemetry and ships them to the collector.
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/lambdascope/lambdascope/extension/internal/agent"
	"github.com/lambdascope/lambdascope/extension/internal/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run())
}

func run() int {
	started := time.Now()
	cfg, cfgErr := config.FromEnv(os.LookupEnv)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel})).
		With("extension", agent.ExtensionName)
	slog.SetDefault(log)
	if cfgErr != nil {
		// One line naming every bad variable; the extension runs on with
		// defaults for those (no endpoint: nothing is shipped), unless
		// LAMBDASCOPE_STRICT=true makes the agent fail the init.
		msg := "invalid configuration, running degraded: "
		if cfg.Strict {
			msg = "invalid configuration, failing the init (LAMBDASCOPE_STRICT=true): "
		}
		log.Error(msg + strings.ReplaceAll(cfgErr.Error(), "\n", "; "))
	}

	opts := agent.DefaultOptions()
	opts.Config = cfg
	opts.RuntimeAPI = os.Getenv("AWS_LAMBDA_RUNTIME_API")
	opts.Env = os.LookupEnv
	opts.Version = version
	opts.Log = log
	opts.StartedAt = started
	opts.ConfigError = cfgErr
	a, err := agent.New(opts)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := a.Run(ctx); err != nil {
		log.Error("extension failed", "err", err)
		return 1
	}
	return 0
}
