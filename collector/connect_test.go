package collector_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/lambdascope/lambdascope/collector"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

// TestStartsWhileClickHouseIsDown starts the collector with ClickHouse
// unreachable (a proxy that refuses connections), sends batches, which go
// to the WAL, then lets the proxy through: the collector connects,
// migrates and replays, and every span is stored once.
func TestStartsWhileClickHouseIsDown(t *testing.T) {
	dsn, db := chtest.NewDatabase(t)
	px := chtest.NewProxy(t, chtest.Server().Addr())
	px.Cut()
	proxyDSN := "clickhouse://" + px.Addr() + "/" + db

	cfg := collector.DefaultConfig()
	cfg.GRPCAddr, cfg.HTTPAddr, cfg.AdminAddr = "127.0.0.1:0", "", "127.0.0.1:0"
	cfg.ClickHouse.DSN = proxyDSN
	cfg.APIKeySHA256 = []string{collector.HashAPIKey(apiKey)}
	cfg.DataDir = t.TempDir()
	logs := &syncBuffer{}
	open := func(ctx context.Context) (collector.BatchWriter, error) {
		store, err := storage.Open(ctx, proxyDSN)
		if err != nil {
			return nil, err
		}
		if err := store.Migrate(ctx); err != nil {
			_ = store.Close()
			return nil, err
		}
		return store, nil
	}
	srv, err := collector.NewConnecting(cfg, open, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatalf("start with ClickHouse down: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	client := ingestv1.NewIngestServiceClient(conn)
	ctx := withKey(t.Context(), apiKey)

	trace := [16]byte{0xd0, 0x3e}
	const batches, perBatch = 20, 5
	for i := range batches {
		req := batch(t, trace, perBatch)
		for j, sp := range req.ResourceSpans[0].ScopeSpans[0].Spans {
			sp.SpanId = []byte{0xd0, 0, 0, 0, 0, 0, byte(i), byte(j + 1)}
		}
		req.Invocations = nil
		resp, err := client.Export(ctx, req)
		if err != nil {
			t.Fatalf("batch %d with ClickHouse down: %v (want it acknowledged into the WAL)", i, err)
		}
		if resp.GetAcceptedSpans() != perBatch {
			t.Fatalf("batch %d: accepted %d spans, want %d", i, resp.GetAcceptedSpans(), perBatch)
		}
	}
	code, body := get(t, "http://"+srv.AdminAddr()+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "not connected to ClickHouse yet") {
		t.Fatalf("/readyz while ClickHouse is down: %d %q, want 503 saying it is not connected", code, body)
	}
	health := healthpb.NewHealthClient(conn)
	if resp, err := health.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("gRPC health while ClickHouse is down: %v, %v; want NOT_SERVING", resp.GetStatus(), err)
	}
	waitFor(t, "a logged connection attempt", 30*time.Second, func() bool {
		return strings.Contains(logs.String(), "cannot open ClickHouse")
	})

	px.Resume(chtest.Server().Addr())
	waitFor(t, "/readyz after ClickHouse came back", time.Minute, func() bool {
		code, _ := get(t, "http://"+srv.AdminAddr()+"/readyz")
		return code == http.StatusOK
	})
	waitFor(t, "gRPC health SERVING once connected", 10*time.Second, func() bool {
		resp, err := health.Check(t.Context(), &healthpb.HealthCheckRequest{})
		return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
	})
	check, err := storage.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = check.Close() })
	const want = batches * perBatch
	waitFor(t, "the WAL to be replayed", time.Minute, func() bool {
		rows, _ := spanCounts(t, check, trace)
		return rows >= want
	})
	if rows, distinct := spanCounts(t, check, trace); rows != want || distinct != want {
		t.Fatalf("stored %d rows of %d distinct spans, want exactly %d of each", rows, distinct, want)
	}
	if !strings.Contains(logs.String(), "connected to ClickHouse; schema ready") {
		t.Errorf("no log line for the connection:\n%s", logs.String())
	}
}
