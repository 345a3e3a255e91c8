package collector_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/lambdascope/lambdascope/collector"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chserver"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

// openShard opens the lambdascope database on one server of the cluster
// without creating anything.
func openShard(t *testing.T, s *chserver.Server, cluster string) *storage.Store {
	t.Helper()
	cfg := storage.DefaultConfig()
	cfg.DSN, cfg.Database, cfg.Cluster, cfg.ReadOnly = s.DSN(), "lambdascope", cluster, true
	st, err := storage.OpenConfig(t.Context(), cfg)
	if err != nil {
		t.Fatalf("OpenConfig(%s): %v", s.DSN(), err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// TestCollectorWritesThroughClusterDistributedTables runs the real binary
// with clickhouse_cluster against shard 1 of a two-shard cluster, sends
// traces over the Ingest API and reads every trace back whole through the
// Distributed tables of shard 2. The collector only ever talks to shard 1,
// so the schema on shard 2 and the rows there come from ON CLUSTER DDL and
// Distributed inserts.
func TestCollectorWritesThroughClusterDistributedTables(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "lambdascope-collector")
	if out, err := execCommand(t.Context(), "go", "build", "-o", bin, "./cmd/lambdascope-collector").CombinedOutput(); err != nil {
		t.Fatalf("build collector: %v\n%s", err, out)
	}
	c := chtest.StartCluster(t, 2)

	grpcAddr, adminAddr := freeAddr(t), freeAddr(t)
	cfgPath := filepath.Join(t.TempDir(), "collector.yaml")
	cfgYAML := fmt.Sprintf("grpc_addr: %s\nhttp_addr: \"\"\nadmin_addr: %s\nclickhouse_dsn: %s\nclickhouse_cluster: %s\napi_key_sha256: [%s]\ndata_dir: %s\nwal:\n  ack_after: 0s\n",
		grpcAddr, adminAddr, c.Servers[0].DSNFor("lambdascope"), c.Name, collector.HashAPIKey(apiKey), t.TempDir())
	if err := os.WriteFile(cfgPath, []byte(cfgYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	proc := startCollector(t, bin, cfgPath)
	waitFor(t, "the collector to migrate the cluster schema (/readyz 200)", 2*time.Minute, func() bool {
		if !dialable(adminAddr) {
			return false
		}
		code, _ := get(t, "http://"+adminAddr+"/readyz")
		return code == http.StatusOK
	})

	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial collector: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	client := ingestv1.NewIngestServiceClient(conn)

	// 40 traces of three spans each, five traces per request. With
	// ClickHouse up and wal.ack_after 0 a request is acknowledged once its
	// insert succeeded, and the Distributed inserts are synchronous, so an
	// acknowledged trace is on its shard.
	const traces, perTrace, perReq = 40, 3, 5
	now := time.Now().Add(-time.Minute)
	ids := make([][16]byte, traces)
	for i := range ids {
		ids[i] = [16]byte{byte(i*37 + 1), 0xc1, 0x05, byte(i)}
	}
	for r := range traces / perReq {
		batchID := make([]byte, 16)
		_, _ = rand.Read(batchID)
		req := &ingestv1.ExportRequest{
			BatchId:  batchID,
			Function: &ingestv1.FunctionIdentity{Name: "orders", Region: "us-east-1", AccountId: "123456789012", MemoryMb: 512},
		}
		var spans []*tracepb.Span
		for i := r * perReq; i < (r+1)*perReq; i++ {
			at := uint64(now.Add(time.Duration(i) * time.Second).UnixNano())
			id := ids[i][:]
			req.Invocations = append(req.Invocations, &ingestv1.Invocation{
				RequestId: fmt.Sprintf("req-%02d", i), StartTimeUnixNano: at, Status: "success",
				DurationMs: 10, BilledDurationMs: 10, TraceId: id,
			})
			root := []byte{1, 1, 1, 1, 1, 1, 1, byte(i)}
			spans = append(spans,
				&tracepb.Span{TraceId: id, SpanId: root, Name: "handler", Kind: tracepb.Span_SPAN_KIND_SERVER,
					StartTimeUnixNano: at, EndTimeUnixNano: at + 9e6},
				&tracepb.Span{TraceId: id, SpanId: []byte{2, 1, 1, 1, 1, 1, 1, byte(i)}, ParentSpanId: root, Name: "GetItem",
					Kind: tracepb.Span_SPAN_KIND_CLIENT, StartTimeUnixNano: at + 1e6, EndTimeUnixNano: at + 3e6},
				&tracepb.Span{TraceId: id, SpanId: []byte{3, 1, 1, 1, 1, 1, 1, byte(i)}, ParentSpanId: root, Name: "PutItem",
					Kind: tracepb.Span_SPAN_KIND_CLIENT, StartTimeUnixNano: at + 4e6, EndTimeUnixNano: at + 8e6},
			)
		}
		req.ResourceSpans = []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}}}}
		ctx, cancel := context.WithTimeout(withKey(t.Context(), apiKey), 30*time.Second)
		_, err := client.Export(ctx, req)
		cancel()
		if err != nil {
			t.Fatalf("Export request %d: %v", r, err)
		}
	}

	// Every trace reads back whole through the Distributed tables of the
	// server the collector never talked to.
	reader := openShard(t, c.Servers[1], c.Name)
	for _, id := range ids {
		spans, err := reader.SpansByTraceID(t.Context(), id)
		if err != nil {
			t.Fatalf("SpansByTraceID(%x) on shard 2: %v", id, err)
		}
		if len(spans) != perTrace || spans[0].Name != "handler" || spans[1].Name != "GetItem" || spans[2].Name != "PutItem" {
			names := make([]string, len(spans))
			for i, s := range spans {
				names[i] = s.Name
			}
			t.Errorf("trace %x on shard 2: got spans %v, want [handler GetItem PutItem]", id, names)
		}
	}

	// Each shard's local table holds whole traces, and both hold some.
	shardOf := map[string]int{}
	for i, srv := range c.Servers {
		local := openShard(t, srv, c.Name)
		rows, err := chtest.ConnTo(t, local.Config().DSN).Query(t.Context(), "SELECT hex(trace_id), count() FROM lambdascope.spans_local GROUP BY trace_id")
		if err != nil {
			t.Fatalf("spans_local on shard %d: %v", i+1, err)
		}
		n := 0
		for rows.Next() {
			var trace string
			var count uint64
			if err := rows.Scan(&trace, &count); err != nil {
				t.Fatalf("scan spans_local on shard %d: %v", i+1, err)
			}
			if count != perTrace {
				t.Errorf("shard %d holds %d spans of trace %s, want all %d", i+1, count, trace, perTrace)
			}
			if prev, ok := shardOf[trace]; ok {
				t.Errorf("trace %s is on shards %d and %d", trace, prev, i+1)
			}
			shardOf[trace] = i + 1
			n++
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("read spans_local on shard %d: %v", i+1, err)
		}
		_ = rows.Close()
		if n == 0 {
			t.Errorf("shard %d holds no trace; want traces spread over both shards", i+1)
		}
		t.Logf("shard %d holds %d whole traces", i+1, n)
	}
	if len(shardOf) != traces {
		t.Errorf("the shards hold %d traces in all, want %d", len(shardOf), traces)
	}
	proc.stop(t)
}
