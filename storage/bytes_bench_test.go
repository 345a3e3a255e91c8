package storage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// demoResource is the resource the demo's functions send (see
// examples/functions/internal/otelfaas).
func demoResource(function string) *resourcepb.Resource {
	return &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
		strAttr("service.name", function+"-svc"), strAttr("cloud.provider", "aws"),
		strAttr("cloud.platform", "aws_lambda"), strAttr("cloud.region", "eu-west-1"),
		strAttr("faas.name", function), strAttr("faas.version", "$LATEST"),
		strAttr("faas.instance", "2026/06/01/[$LATEST]8f1c2a7b9d0e4f51"),
		intAttr("faas.max_memory", 512*1024*1024),
		strAttr("telemetry.sdk.language", "go"), strAttr("telemetry.sdk.name", "opentelemetry"),
	}}
}

// demoTrace builds one trace shaped like the demo's: orders (HTTP root,
// business span, a database call, an invoke of inventory) and inventory
// (HTTP root, business span), six spans in two requests.
func demoTrace(rng *rand.Rand, at time.Time) []*ingestv1.ExportRequest {
	var traceID [16]byte
	for i := range traceID {
		traceID[i] = byte(rng.Uint32())
	}
	spanID := func() []byte {
		b := make([]byte, 8)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	ns := func(d time.Duration) uint64 { return uint64(at.Add(d).UnixNano()) }
	jitter := func(base time.Duration) time.Duration { return base + time.Duration(rng.IntN(int(base/2)+1)) }
	requestID := fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xffff, rng.Uint32()&0xffff, rng.Uint64()&0xffffffffffff)
	invRequestID := fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xffff, rng.Uint32()&0xffff, rng.Uint64()&0xffffffffffff)
	root, biz, db, invoke, invRoot, invBiz := spanID(), spanID(), spanID(), spanID(), spanID(), spanID()
	total := jitter(40 * time.Millisecond)
	span := func(id, parent []byte, name string, kind tracepb.Span_SpanKind, start, dur time.Duration, attrs ...*commonpb.KeyValue) *tracepb.Span {
		return &tracepb.Span{TraceId: traceID[:], SpanId: id, ParentSpanId: parent, Name: name, Kind: kind,
			StartTimeUnixNano: ns(start), EndTimeUnixNano: ns(start + dur), Attributes: attrs,
			Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_UNSET}}
	}
	orders := &ingestv1.ExportRequest{
		Function: &ingestv1.FunctionIdentity{Name: "orders", Version: "$LATEST", Region: "eu-west-1", AccountId: "123456789012"},
		ResourceSpans: []*tracepb.ResourceSpans{{Resource: demoResource("orders"), ScopeSpans: []*tracepb.ScopeSpans{{
			Scope: &commonpb.InstrumentationScope{Name: "orders", Version: "0.1.0"},
			Spans: []*tracepb.Span{
				span(root, nil, "POST /orders", tracepb.Span_SPAN_KIND_SERVER, 0, total,
					strAttr("faas.trigger", "http"), strAttr("faas.coldstart", "false"), strAttr("faas.invocation_id", requestID),
					strAttr("cloud.resource_id", "arn:aws:lambda:eu-west-1:123456789012:function:orders"),
					strAttr("cloud.account.id", "123456789012"), strAttr("http.request.method", "POST"),
					strAttr("url.path", "/orders"), strAttr("http.route", "/orders"), intAttr("http.response.status_code", 201)),
				span(biz, root, "place order", tracepb.Span_SPAN_KIND_INTERNAL, time.Millisecond, total-2*time.Millisecond,
					strAttr("order.sku", fmt.Sprintf("SKU-%04d", rng.IntN(500))), intAttr("order.qty", int64(1+rng.IntN(5)))),
				span(db, biz, "INSERT shop.orders", tracepb.Span_SPAN_KIND_CLIENT, 2*time.Millisecond, jitter(4*time.Millisecond),
					strAttr("db.system.name", "postgresql"), strAttr("db.namespace", "shop"), strAttr("db.collection.name", "orders"),
					strAttr("db.operation.name", "INSERT"),
					strAttr("db.query.text", "INSERT INTO orders (sku, qty) VALUES ($1, $2) RETURNING id"),
					strAttr("server.address", "orders-db.internal"), intAttr("server.port", 5432)),
				span(invoke, biz, "Lambda.Invoke", tracepb.Span_SPAN_KIND_CLIENT, 10*time.Millisecond, jitter(20*time.Millisecond),
					strAttr("rpc.system", "aws-api"), strAttr("rpc.service", "Lambda"), strAttr("rpc.method", "Invoke"),
					strAttr("cloud.region", "eu-west-1"), strAttr("faas.invoked_name", "inventory"),
					strAttr("faas.invoked_provider", "aws"), strAttr("faas.invoked_region", "eu-west-1")),
			},
		}}}},
	}
	inventory := &ingestv1.ExportRequest{
		Function: &ingestv1.FunctionIdentity{Name: "inventory", Version: "$LATEST", Region: "eu-west-1", AccountId: "123456789012"},
		ResourceSpans: []*tracepb.ResourceSpans{{Resource: demoResource("inventory"), ScopeSpans: []*tracepb.ScopeSpans{{
			Scope: &commonpb.InstrumentationScope{Name: "inventory", Version: "0.1.0"},
			Spans: []*tracepb.Span{
				span(invRoot, invoke, "POST /reserve", tracepb.Span_SPAN_KIND_SERVER, 12*time.Millisecond, jitter(12*time.Millisecond),
					strAttr("faas.trigger", "http"), strAttr("faas.coldstart", "false"), strAttr("faas.invocation_id", invRequestID),
					strAttr("cloud.resource_id", "arn:aws:lambda:eu-west-1:123456789012:function:inventory"),
					strAttr("cloud.account.id", "123456789012"), strAttr("http.request.method", "POST"),
					strAttr("url.path", "/reserve"), intAttr("http.response.status_code", 200)),
				span(invBiz, invRoot, "reserve stock", tracepb.Span_SPAN_KIND_INTERNAL, 13*time.Millisecond, jitter(8*time.Millisecond),
					strAttr("inventory.sku", fmt.Sprintf("SKU-%04d", rng.IntN(500))), intAttr("inventory.qty", int64(1+rng.IntN(5)))),
			},
		}}}},
	}
	return []*ingestv1.ExportRequest{orders, inventory}
}

// BenchmarkBytesPerSpan stores a demo-shaped workload (six spans per trace,
// one trace every 10 ms of simulated time, written 200 requests per
// WriteExports), merges the spans table to one part per partition with
// OPTIMIZE ... FINAL and reports the compressed bytes per span on disk,
// next to the baseline of the same spans as OTLP protobuf (the bytes the
// extension sends before compression) and their ratio. Run:
//
//	go test ./storage -run '^$' -bench BytesPerSpan -benchtime 1x
func BenchmarkBytesPerSpan(b *testing.B) {
	const traces = 20_000
	for b.Loop() {
		s := openStore(b)
		ctx := b.Context()
		rng := rand.New(rand.NewPCG(1, 2))
		start := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
		var (
			pending   []*ingestv1.ExportRequest
			spans     int
			otlpBytes int
		)
		for i := range traces {
			for _, req := range demoTrace(rng, start.Add(time.Duration(i)*10*time.Millisecond)) {
				otlpBytes += proto.Size(req.ResourceSpans[0])
				spans += len(req.ResourceSpans[0].ScopeSpans[0].Spans)
				pending = append(pending, req)
			}
			if len(pending) >= 200 || i == traces-1 {
				if _, err := s.WriteExports(ctx, pending); err != nil {
					b.Fatalf("WriteExports: %v", err)
				}
				pending = pending[:0]
			}
		}
		for _, table := range []string{"spans", "trace_index", "service_edges"} {
			if err := s.Conn().Exec(ctx, "OPTIMIZE TABLE "+s.Database()+"."+table+" FINAL"); err != nil {
				b.Fatalf("optimize %s: %v", table, err)
			}
		}
		diskBytes := func(table string) float64 {
			var n uint64
			err := s.Conn().QueryRow(ctx, "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = ? AND table = ? AND active",
				s.Database(), table).Scan(&n)
			if err != nil {
				b.Fatalf("read size of %s: %v", table, err)
			}
			return float64(n)
		}
		spanBytes := diskBytes("spans")
		withIndexes := spanBytes + diskBytes("trace_index") + diskBytes("service_edges")
		b.ReportMetric(spanBytes/float64(spans), "disk-B/span")
		b.ReportMetric(withIndexes/float64(spans), "disk+views-B/span")
		b.ReportMetric(float64(otlpBytes)/float64(spans), "otlp-B/span")
		b.ReportMetric(spanBytes/float64(otlpBytes), "disk/otlp")
		rows, err := s.Conn().Query(ctx, "SELECT name, data_compressed_bytes FROM system.columns WHERE database = ? AND table = 'spans' ORDER BY data_compressed_bytes DESC LIMIT 10", s.Database())
		if err != nil {
			b.Fatalf("read column sizes: %v", err)
		}
		for rows.Next() {
			var name string
			var n uint64
			if err := rows.Scan(&name, &n); err != nil {
				b.Fatalf("scan column size: %v", err)
			}
			b.Logf("column %-28s %6.2f B/span", name, float64(n)/float64(spans))
		}
		rows.Close()
		dropLargeTables(b, s)
	}
}

// dropLargeTables drops the schema's tables with time to spare on a loaded
// machine, so that the test cleanup's DROP DATABASE is quick.
func dropLargeTables(b *testing.B, s *Store) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, table := range []string{"trace_index_mv", "service_edges_mv", "function_minutes_mv",
		"spans", "logs", "invocations", "metric_points", "trace_index", "service_edges", "function_minutes"} {
		if err := s.Conn().Exec(ctx, "DROP TABLE IF EXISTS "+s.Database()+"."+table); err != nil {
			b.Errorf("drop %s: %v", table, err)
		}
	}
}

// BenchmarkWriteExports compares, side by side, storing 50 demo requests
// (25 traces, 150 spans) with one WriteExports call and with one WriteExport
// call per request. Run:
//
//	go test ./storage -run '^$' -bench WriteExports -benchtime 20x
func BenchmarkWriteExports(b *testing.B) {
	s := openStore(b)
	b.Cleanup(func() { dropLargeTables(b, s) })
	ctx := b.Context()
	rng := rand.New(rand.NewPCG(3, 4))
	start := time.Date(2026, 6, 2, 9, 0, 0, 0, time.UTC)
	batch := func() []*ingestv1.ExportRequest {
		var reqs []*ingestv1.ExportRequest
		for i := range 25 {
			reqs = append(reqs, demoTrace(rng, start.Add(time.Duration(i)*time.Millisecond))...)
		}
		return reqs
	}
	b.Run("one call", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			reqs := batch()
			b.StartTimer()
			if _, err := s.WriteExports(ctx, reqs); err != nil {
				b.Fatalf("WriteExports: %v", err)
			}
		}
		b.ReportMetric(150*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
	})
	b.Run("call per request", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			reqs := batch()
			b.StartTimer()
			for _, r := range reqs {
				if _, err := s.WriteExport(ctx, r); err != nil {
					b.Fatalf("WriteExport: %v", err)
				}
			}
		}
		b.ReportMetric(150*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
	})
}
