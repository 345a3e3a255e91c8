package collector

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"
)

// failingWriter stands for a ClickHouse that refuses every insert; it lets
// the lifecycle test run without a server.
type failingWriter struct{}

func (failingWriter) WriteExports(context.Context, []*ingestv1.ExportRequest) (storage.WriteCounts, error) {
	return storage.WriteCounts{}, context.DeadlineExceeded
}

func TestShutdownStopsEveryGoroutineAndKeepsTheWAL(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	cfg := DefaultConfig()
	cfg.GRPCAddr, cfg.HTTPAddr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.NoAuth = true
	cfg.DataDir = t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := New(cfg, failingWriter{}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(t.Context()); err != nil {
		t.Fatalf("shutdown before start: %v", err)
	}
	srv, _ = New(cfg, failingWriter{}, log)
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	req := otlpBatch()
	req.Function = &ingestv1.FunctionIdentity{Name: "f"}
	res, err := srv.pipe.submit(t.Context(), req, nil)
	if err != nil || res.duplicate {
		t.Fatalf("submit with ClickHouse failing and a WAL: %+v %v, want accepted into the WAL", res, err)
	}
	if err := srv.Shutdown(t.Context()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := srv.Shutdown(t.Context()); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
	w, ids, err := openWAL(cfg.WALDir(), cfg.WAL.MaxBytes, cfg.WAL.SegmentBytes)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	if len(ids) != 1 || string(ids[0][:]) != string(req.BatchId) {
		t.Fatalf("WAL after shutdown holds %d batches, want the accepted one", len(ids))
	}
}

// TestFailedStartLeavesNothingRunning: a Start that cannot listen closes
// what it opened (the WAL, the listeners before, the tracing exporter) and
// leaves no goroutine behind.
func TestFailedStartLeavesNothingRunning(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := DefaultConfig()
	cfg.GRPCAddr, cfg.HTTPAddr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0", taken.Addr().String()
	cfg.NoAuth = true
	cfg.DataDir = t.TempDir()
	cfg.Tracing = TracingConfig{Enabled: true, Endpoint: "http://127.0.0.1:1/v1/traces", SampleRatio: 1}
	srv, err := New(cfg, failingWriter{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "listen on "+taken.Addr().String()) {
		t.Fatalf("Start on a taken admin address: %v, want a listen error naming it", err)
	}
	// The WAL was closed: it opens again.
	w, _, err := openWAL(cfg.WALDir(), cfg.WAL.MaxBytes, cfg.WAL.SegmentBytes)
	if err != nil {
		t.Fatalf("WAL after a failed start: %v", err)
	}
	w.close()
}
