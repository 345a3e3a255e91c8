// Command lambdascope-extension is the Lambdascope Lambda extension's
// agent: it collects invocation reports, logs and OTLP telemetry and ships
// them to the collector. In the layer it sits at
// /opt/lambdascope/lambdascope-extension, and the launcher Lambda starts
// from /opt/extensions/lambdascope starts it once the first /event/next
// is sent, and watches it (see lambdascope-launcher). Started directly, it does the whole
// start itself. Started again by the launcher at SHUTDOWN after a
// takeover (_LAMBDASCOPE_TAKEOVER), it ships what the launcher counted
// and exits (agent.Report).
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/lambdascope/lambdascope/extension/internal/agent"
	"github.com/lambdascope/lambdascope/extension/internal/config"
	"github.com/lambdascope/lambdascope/extension/internal/handoff"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// usage is printed for any argument: Lambda starts the extension without.
const usage = `lambdascope-extension: the Lambdascope extension's agent.

Lambda runs it: in the layer it sits at /opt/lambdascope/lambdascope-extension
and the launcher /opt/extensions/lambdascope starts it once registered. It
receives the function's OTLP telemetry (localhost:4317 gRPC, :4318 HTTP) and
the Telemetry API's events, and ships them to the collector at
LAMBDASCOPE_ENDPOINT. Settings are LAMBDASCOPE_* environment variables; the
Lambdascope README lists them. It needs AWS_LAMBDA_RUNTIME_API, which only
Lambda (or the Lambdascope emulator) sets.
`

func main() {
	if len(os.Args) > 1 {
		_, _ = os.Stdout.WriteString(usage + "version: " + version + "\n")
		os.Exit(0)
	}
	os.Exit(run())
}

// memoryHeadroom is what the extension needs beside its buffer: the Go
// runtime, gRPC and HTTP servers, a batch being encoded.
const memoryHeadroom = 20 << 20

// setMemoryLimit gives the Go runtime a soft memory limit of the buffer cap
// plus headroom, unless GOMEMLIMIT says otherwise, so the garbage collector
// returns memory before the extension grows into the function's share.
func setMemoryLimit(bufferBytes int) {
	if _, ok := os.LookupEnv("GOMEMLIMIT"); ok {
		return
	}
	debug.SetMemoryLimit(int64(bufferBytes) + memoryHeadroom)
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

	setMemoryLimit(cfg.BufferBytes)

	opts := agent.DefaultOptions()
	opts.Config = cfg
	opts.RuntimeAPI = os.Getenv("AWS_LAMBDA_RUNTIME_API")
	opts.Env = os.LookupEnv
	opts.Version = version
	opts.Log = log
	opts.StartedAt = started
	opts.ConfigError = cfgErr
	if v, ok := os.LookupEnv(handoff.ReportEnv); ok {
		// Started again by the launcher at SHUTDOWN, after it stood in
		// for an agent that died: ship what it counted, then end.
		_ = os.Unsetenv(handoff.ReportEnv)
		t, err := handoff.DecodeTakeover(v)
		if err == nil {
			err = agent.Report(context.Background(), opts, t)
		}
		if err != nil {
			log.Error("the takeover's counts were not shipped", "err", err)
			return 1
		}
		return 0
	}
	if v, ok := os.LookupEnv(handoff.Env); ok {
		// Started by the launcher, which registered and called
		// /event/next already.
		_ = os.Unsetenv(handoff.Env)
		st, err := handoff.Decode(v)
		if err == nil {
			opts.Inherited, err = agent.Inherit(st)
		}
		if err != nil {
			log.Error("cannot take over from the launcher", "err", err)
			return 1
		}
		opts.StartedAt = st.Started
	}
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
