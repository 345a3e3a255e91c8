package collector_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/lambdascope/lambdascope/collector"
	"github.com/lambdascope/lambdascope/proto/grpczstd"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

const apiKey = "test-key-1"

type harness struct {
	store  *storage.Store
	srv    *collector.Server
	client ingestv1.IngestServiceClient
}

func start(t *testing.T, mutate ...func(*collector.Config)) *harness {
	t.Helper()
	dsn, _ := chtest.NewDatabase(t)
	store := migratedStore(t, dsn)
	cfg := testConfig(t, dsn)
	for _, m := range mutate {
		m(&cfg)
	}
	srv := serve(t, cfg, store)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	conn, err := grpc.NewClient(srv.Addr(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.UseCompressor(grpczstd.Name)))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &harness{store: store, srv: srv, client: ingestv1.NewIngestServiceClient(conn)}
}

// serve starts a collector with cfg writing to store, logging nowhere.
// Shutting it down is the caller's (a second Shutdown is harmless).
func serve(t *testing.T, cfg collector.Config, store *storage.Store) *collector.Server {
	t.Helper()
	srv, err := collector.New(cfg, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("new collector: %v", err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatalf("start collector: %v", err)
	}
	return srv
}

// migratedStore opens the database at dsn with the schema in place, closed
// when the test ends.
func migratedStore(t *testing.T, dsn string) *storage.Store {
	t.Helper()
	store, err := storage.Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("open storage: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	if err := store.Migrate(t.Context()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return store
}

// testConfig is the default configuration on free loopback ports, writing
// to dsn and accepting apiKey.
// testConfig is the default configuration on free loopback ports, with the
// test's own data directory (so the WAL is on, as by default).
func testConfig(t *testing.T, dsn string) collector.Config {
	t.Helper()
	cfg := collector.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.GRPCAddr, cfg.HTTPAddr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.ClickHouse.DSN = dsn
	cfg.APIKeySHA256 = []string{collector.HashAPIKey(apiKey)}
	// The tests read what they sent once it is acknowledged: the
	// acknowledgement waits for ClickHouse. walack_test.go turns
	// wal.ack_after on.
	cfg.WAL.AckAfter = 0
	return cfg
}

func withKey(ctx context.Context, key string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
}

func batch(t *testing.T, traceID [16]byte, spans int) *ingestv1.ExportRequest {
	t.Helper()
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	now := time.Now()
	var ss []*tracepb.Span
	for i := range spans {
		ss = append(ss, &tracepb.Span{
			TraceId:           traceID[:],
			SpanId:            []byte{1, 2, 3, 4, 5, 6, 7, byte(i + 1)},
			Name:              "work",
			StartTimeUnixNano: uint64(now.UnixNano()),
			EndTimeUnixNano:   uint64(now.Add(time.Millisecond).UnixNano()),
		})
	}
	return &ingestv1.ExportRequest{
		BatchId:  id,
		Function: &ingestv1.FunctionIdentity{Name: "orders", Version: "$LATEST", Region: "us-east-1", AccountId: "123456789012", MemoryMb: 256},
		Invocations: []*ingestv1.Invocation{{
			RequestId: "req-" + strings.ToLower(t.Name()), StartTimeUnixNano: uint64(now.UnixNano()),
			DurationMs: 12.5, BilledDurationMs: 13, MemorySizeMb: 256, MaxMemoryUsedMb: 40, Status: "success",
			TraceId: traceID[:],
		}},
		ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: ss}}}},
	}
}

func TestExportStoresBatchOnceEvenWhenRetried(t *testing.T) {
	h := start(t)
	trace := [16]byte{0xab, 1, 2, 3}
	req := batch(t, trace, 3)
	ctx := withKey(t.Context(), apiKey)

	resp, err := h.client.Export(ctx, req)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	if resp.GetDuplicate() || resp.GetAcceptedSpans() != 3 || resp.GetAcceptedInvocations() != 1 {
		t.Fatalf("first export: got %+v, want 3 spans and 1 invocation accepted", resp)
	}
	retry, err := h.client.Export(ctx, req)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if !retry.GetDuplicate() {
		t.Fatalf("retry with the same batch_id was not recognised as a duplicate: %+v", retry)
	}
	spans, err := h.store.SpansByTraceID(t.Context(), trace)
	if err != nil {
		t.Fatalf("read spans: %v", err)
	}
	if len(spans) != 3 {
		t.Fatalf("stored %d spans, want 3 (a retry must not store twice)", len(spans))
	}
	if st := h.srv.Stats(); st.DuplicateBatches != 1 || st.Spans != 3 {
		t.Fatalf("stats %+v: want 1 duplicate batch and 3 spans", st)
	}
}

func TestExportRefusesBadCallsWithoutLosingGoodOnes(t *testing.T) {
	h := start(t)
	good := [16]byte{0xcd, 9}
	shortID := batch(t, [16]byte{1}, 1)
	shortID.BatchId = []byte{1, 2, 3}
	noFunction := batch(t, [16]byte{2}, 1)
	noFunction.Function = nil

	tests := []struct {
		name string
		ctx  context.Context
		req  *ingestv1.ExportRequest
		code codes.Code
		want string
	}{
		{"no key", t.Context(), batch(t, [16]byte{3}, 1), codes.Unauthenticated, "missing authorization"},
		{"wrong key", withKey(t.Context(), "not-the-key"), batch(t, [16]byte{4}, 1), codes.Unauthenticated, "unknown API key"},
		{"short batch id", withKey(t.Context(), apiKey), shortID, codes.InvalidArgument, "batch_id must be 16 bytes"},
		{"no function", withKey(t.Context(), apiKey), noFunction, codes.InvalidArgument, "function.name is required"},
		{"good", withKey(t.Context(), apiKey), batch(t, good, 2), codes.OK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.client.Export(tt.ctx, tt.req)
			st := status.Convert(err)
			if st.Code() != tt.code || !strings.Contains(st.Message(), tt.want) {
				t.Fatalf("got %v %q, want %v containing %q", st.Code(), st.Message(), tt.code, tt.want)
			}
		})
	}
	spans, err := h.store.SpansByTraceID(t.Context(), good)
	if err != nil {
		t.Fatalf("read spans: %v", err)
	}
	if len(spans) != 2 {
		t.Fatalf("good batch stored %d spans, want 2", len(spans))
	}
	for _, bad := range [][16]byte{{1}, {2}, {3}, {4}} {
		if spans, _ := h.store.SpansByTraceID(t.Context(), bad); len(spans) != 0 {
			t.Fatalf("refused batch %x stored %d spans", bad, len(spans))
		}
	}
}

func TestOversizedMessageIsRefused(t *testing.T) {
	h := start(t)
	req := batch(t, [16]byte{7}, 1)
	req.Function.Runtime = string(bytes.Repeat([]byte("x"), 17<<20))
	_, err := h.client.Export(withKey(t.Context(), apiKey), req)
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("oversized request: got %v, want ResourceExhausted", err)
	}
}

func TestConfigValidateNamesBadFields(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*collector.Config)
		want   []string
	}{
		{"defaults need a key", func(*collector.Config) {}, []string{"api_key_sha256"}},
		{"bad digest and addr", func(c *collector.Config) {
			c.APIKeySHA256 = []string{"abc"}
			c.GRPCAddr = "nope"
		}, []string{"api_key_sha256[0]", "grpc_addr"}},
		{"bad dsn and sizes", func(c *collector.Config) {
			c.NoAuth = true
			c.ClickHouse.DSN = "http://x"
			c.MaxMessageBytes = 0
			c.WriteTimeout = 0
		}, []string{"clickhouse.dsn", "max_message_bytes", "write_timeout"}},
		{"valid", func(c *collector.Config) { c.APIKeySHA256 = []string{collector.HashAPIKey("k")} }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := collector.DefaultConfig()
			tt.mutate(&cfg)
			err := cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want errors naming %v, got none", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}
