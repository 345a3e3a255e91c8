package agent

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/extension/internal/collectortest"
	"github.com/lambdascope/lambdascope/extension/internal/handoff"
	"github.com/lambdascope/lambdascope/extension/internal/selfmetrics"
	"github.com/lambdascope/lambdascope/extension/internal/spool"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// TestReportShipsTheTakeover: the agent started again after a takeover
// ships what the launcher counted as the extension's metrics, with the
// function's identity, then the batch the dead agent had spooled.
func TestReportShipsTheTakeover(t *testing.T) {
	collector := collectortest.Start(t)
	opts := DefaultOptions()
	opts.Config.Endpoint = collector.Addr
	opts.Config.SpoolDir = filepath.Join(t.TempDir(), "spool")
	opts.Log = slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	opts.Env = func(k string) (string, bool) {
		v, ok := map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "checkout", "AWS_REGION": "eu-west-1"}[k]
		return v, ok
	}
	sp, err := spool.Open(spool.Config{Dir: opts.Config.SpoolDir, MaxBytes: 1 << 20}, opts.Log)
	if err != nil {
		t.Fatal(err)
	}
	spooledID := bytes.Repeat([]byte{7}, 16)
	if err := sp.Put(&ingestv1.ExportRequest{BatchId: spooledID}, spool.Counts{}); err != nil {
		t.Fatal(err)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}

	err = Report(t.Context(), opts, handoff.Takeover{
		Registration: []byte(`{"functionName":"checkout","functionVersion":"7"}`),
		Started:      time.Now().Add(-time.Minute), Deadline: time.Now().Add(2 * time.Second),
		AgentEnd: "killed by signal killed", Invocations: 3, OTLPRequests: 4, OTLPBytes: 500,
		TelemetryPushes: 6, TelemetryBytes: 700, EarlyLost: 1, EarlyLostBytes: 80,
	})
	if err != nil {
		t.Fatalf("Report: %v", err)
	}
	got := collector.Accepted()
	if len(got) != 2 {
		t.Fatalf("the collector took %d batches; want the takeover's, then the spooled one", len(got))
	}
	if got[0].GetFunction().GetName() != "checkout" || got[0].GetFunction().GetVersion() != "7" {
		t.Errorf("the takeover's batch names function %v; want checkout, version 7", got[0].GetFunction())
	}
	points := map[string]int64{}
	for _, rm := range got[0].GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				for _, p := range m.GetSum().GetDataPoints() {
					key := m.GetName()
					for _, a := range p.GetAttributes() {
						key += " " + a.GetKey() + "=" + a.GetValue().GetStringValue()
					}
					points[key] = p.GetAsInt()
				}
			}
		}
	}
	for key, want := range map[string]int64{
		selfmetrics.Takeovers + " agent.end=killed by signal killed": 1,
		selfmetrics.TakeoverInvocations:                              3,
		selfmetrics.TakeoverDroppedRequests + " source=otlp":         4,
		selfmetrics.TakeoverDroppedBytes + " source=otlp":            500,
		selfmetrics.TakeoverDroppedRequests + " source=telemetry":    6,
		selfmetrics.TakeoverDroppedBytes + " source=telemetry":       700,
		selfmetrics.TakeoverDroppedRequests + " source=early_otlp":   1,
		selfmetrics.TakeoverDroppedBytes + " source=early_otlp":      80,
	} {
		if points[key] != want {
			t.Errorf("%s = %d; want %d (all: %v)", key, points[key], want, points)
		}
	}
	if !bytes.Equal(got[1].GetBatchId(), spooledID) {
		t.Errorf("second batch %x; want the spooled one %x", got[1].GetBatchId(), spooledID)
	}
}
