package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/extapi"
	"github.com/lambdascope/lambdascope/extension/internal/handoff"
	"github.com/lambdascope/lambdascope/extension/internal/selfmetrics"
	"github.com/lambdascope/lambdascope/extension/internal/shipper"
	"github.com/lambdascope/lambdascope/extension/internal/spool"
)

// reportMargin is kept before the SHUTDOWN deadline for the report's end:
// the launcher waits for the agent, and Lambda for the launcher.
const reportMargin = 150 * time.Millisecond

// Report ships what a launcher's takeover counted (handoff.Takeover) to
// the collector, as the extension's own metrics are shipped, together with
// the batches the dead agent had spooled, within the takeover's SHUTDOWN
// deadline; what the collector does not take is spooled. The launcher
// starts the agent with it at SHUTDOWN: the agent that died had the only
// connection to the collector, and the launcher links no gRPC.
func Report(ctx context.Context, opts Options, t handoff.Takeover) error {
	cfg, log := opts.Config, opts.Log
	if cfg.Endpoint == "" {
		return errors.New("report the takeover: LAMBDASCOPE_ENDPOINT is not set")
	}
	var reg extapi.Registration
	if len(t.Registration) > 0 {
		if err := json.Unmarshal(t.Registration, &reg); err != nil {
			return fmt.Errorf("report the takeover: decode the registration: %w", err)
		}
	}
	identity := Identity(opts.Env, reg, cfg, opts.Version)
	res := Resource(identity, cfg)

	hard := t.Deadline.Add(-reportMargin)
	if now := time.Now(); hard.Before(now.Add(50 * time.Millisecond)) {
		hard = now.Add(50 * time.Millisecond)
	}
	ctx, cancel := context.WithDeadline(ctx, hard)
	defer cancel()

	buf := buffer.New(cfg.BufferBytes, cfg.BufferBytes/2, log)
	buf.AddMetrics([]*metricspb.ResourceMetrics{selfmetrics.BuildTakeover(res, selfmetrics.Takeover{
		AgentEnd: t.AgentEnd, Invocations: t.Invocations,
		OTLPRequests: t.OTLPRequests, OTLPBytes: t.OTLPBytes,
		TelemetryPushes: t.TelemetryPushes, TelemetryBytes: t.TelemetryBytes,
		EarlyLost: t.EarlyLost, EarlyLostBytes: t.EarlyLostBytes,
	}, t.Started, time.Now())})
	scfg := shipper.DefaultConfig()
	scfg.Endpoint, scfg.TLS, scfg.APIKey = cfg.Endpoint, cfg.TLS, cfg.APIKey
	scfg.TLSCAFile, scfg.TLSServerName = cfg.TLSCAFile, cfg.TLSServerName
	scfg.Identity = identity
	scfg.Interval = 0
	// The counts first, then, in the time left, what the dead agent
	// spooled (a shipper with a spool sends the spool's batches first).
	err := ship(ctx, scfg, buf, log)
	if err != nil {
		err = fmt.Errorf("report the takeover: %w", err)
	}
	if cfg.SpoolDir == "" || ctx.Err() != nil {
		return err
	}
	sp, spErr := spool.Open(spool.Config{Dir: cfg.SpoolDir, MaxBytes: cfg.SpoolBytes}, log)
	if spErr != nil {
		return errors.Join(err, fmt.Errorf("replay the dead agent's spool: %w", spErr))
	}
	defer sp.Close()
	if sp.Len() == 0 {
		return err
	}
	scfg.Spool = sp
	if rerr := ship(ctx, scfg, buffer.New(cfg.BufferBytes, cfg.BufferBytes/2, log), log); rerr != nil {
		err = errors.Join(err, fmt.Errorf("replay the dead agent's spool: %w", rerr))
	}
	return err
}

// ship sends what buf holds (and the spool of cfg, first) within ctx.
func ship(ctx context.Context, cfg shipper.Config, buf *buffer.Buffer, log *slog.Logger) error {
	s, err := shipper.New(cfg, buf, log)
	if err != nil {
		return err
	}
	flushErr := s.Drain(ctx)
	sctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_ = s.Shutdown(sctx)
	return flushErr
}
