package storage

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage/dbmodel"
)

// countParts is the number of active parts of a table in the store's
// database.
func countParts(t *testing.T, s *Store, table string) uint64 {
	t.Helper()
	var n uint64
	err := s.conn.QueryRow(t.Context(), "SELECT count() FROM system.parts WHERE database = ? AND table = ? AND active",
		s.Database(), table).Scan(&n)
	if err != nil {
		t.Fatalf("count parts of %s: %v", table, err)
	}
	return n
}

func TestWriteExportsOneInsertPerTable(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	var reqs []*ingestv1.ExportRequest
	var traceIDs [][16]byte
	for i := range 3 {
		// The fixture's trace ID depends on the name's length.
		f := newFixture(t, fmt.Sprintf("fn%s", strings.Repeat("x", i)))
		reqs = append(reqs, f.req)
		traceIDs = append(traceIDs, f.traceID)
	}
	counts, err := s.WriteExports(ctx, reqs)
	if err != nil {
		t.Fatalf("WriteExports: %v", err)
	}
	if want := (WriteCounts{Spans: 6, Logs: 3, Invocations: 3}); counts != want {
		t.Errorf("WriteExports counts = %+v, want %+v", counts, want)
	}
	for _, table := range []string{"spans", "logs", "invocations"} {
		if n := countParts(t, s, table); n != 1 {
			t.Errorf("%s has %d parts after one WriteExports, want 1 (one insert)", table, n)
		}
	}
	for i, id := range traceIDs {
		spans, err := s.SpansByTraceID(ctx, id)
		if err != nil {
			t.Fatalf("SpansByTraceID: %v", err)
		}
		if want := fmt.Sprintf("fn%s", strings.Repeat("x", i)); len(spans) != 2 || spans[0].FunctionName != want {
			t.Errorf("trace %d: got %d spans (%+v), want 2 of %s", i, len(spans), spans, want)
		}
	}
	empty, err := s.WriteExports(ctx, nil)
	if err != nil || empty != (WriteCounts{}) {
		t.Errorf("WriteExports(nil) = %+v, %v; want zero counts and no error", empty, err)
	}
}

func TestWriteExportsFailureReportsStoredTables(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	// Without a logs table the third insert fails: the invocations and spans
	// inserts before it are stored, and the counts say so.
	if err := s.conn.Exec(ctx, "DROP TABLE "+s.Database()+".logs"); err != nil {
		t.Fatalf("drop logs: %v", err)
	}
	f := newFixture(t, "partial")
	counts, err := s.WriteExports(ctx, []*ingestv1.ExportRequest{f.req})
	if err == nil || !strings.Contains(err.Error(), "logs") {
		t.Fatalf("WriteExports error = %v, want an error naming logs", err)
	}
	if want := (WriteCounts{Spans: 2, Invocations: 1}); counts != want {
		t.Errorf("counts after failure = %+v, want %+v", counts, want)
	}
}

func TestSpansByTraceIDAcrossMidnight(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	traceID := [16]byte{9, 9, 9, 1}
	midnight := time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC)
	span := func(id byte, start time.Time, svc string) *tracepb.ResourceSpans {
		return &tracepb.ResourceSpans{
			Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{strAttr("service.name", svc)}},
			ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{
				TraceId: traceID[:], SpanId: []byte{id, 0, 0, 0, 0, 0, 0, 1}, Name: svc,
				StartTimeUnixNano: uint64(start.UnixNano()), EndTimeUnixNano: uint64(start.Add(time.Millisecond).UnixNano()),
			}}}},
		}
	}
	// Two batches, so the index holds two rows (one per day) to merge.
	reqs := []*ingestv1.ExportRequest{
		{Function: &ingestv1.FunctionIdentity{Name: "a"}, ResourceSpans: []*tracepb.ResourceSpans{span(1, midnight.Add(-500*time.Millisecond), "first")}},
		{Function: &ingestv1.FunctionIdentity{Name: "b"}, ResourceSpans: []*tracepb.ResourceSpans{span(2, midnight.Add(1500*time.Millisecond), "second")}},
	}
	for _, r := range reqs {
		if _, err := s.WriteExport(ctx, r); err != nil {
			t.Fatalf("WriteExport: %v", err)
		}
	}
	names := func() []string {
		t.Helper()
		spans, err := s.SpansByTraceID(ctx, traceID)
		if err != nil {
			t.Fatalf("SpansByTraceID: %v", err)
		}
		var out []string
		for _, sp := range spans {
			out = append(out, sp.Name)
		}
		return out
	}
	if n := countParts(t, s, "trace_index"); n != 0 {
		t.Errorf("trace_index has %d parts, want none (its view is gone since migration 15)", n)
	}
	if n := countParts(t, s, "trace_windows"); n != 0 {
		t.Errorf("trace_windows has %d parts, want none (its view is gone since migration 17)", n)
	}
	var hours uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM "+s.Database()+".trace_hours FINAL WHERE trace_key = toFixedString(substring(unhex(?), 9, 8), 8)",
		hexID(traceID[:])).Scan(&hours); err != nil {
		t.Fatalf("count trace hours: %v", err)
	}
	if hours != 2 {
		t.Errorf("trace_hours holds %d hours of the trace, want 2 (23:00 and 00:00)", hours)
	}
	if got := names(); !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("spans through the trace hours = %q, want first and second", got)
	}
	if n := len(spansThroughTraceHours(t, s, traceID)); n != 2 {
		t.Errorf("%d spans through trace_hours alone, want 2", n)
	}
	// A trace trace_hours does not know (stored before migration 17) is
	// found through its window in trace_windows, as migration 7's view
	// wrote it.
	if err := s.conn.Exec(ctx, "INSERT INTO "+s.Database()+".trace_windows (day, trace_id, start_min, end_max)"+
		" SELECT toDate(start_time), trace_id, minState(start_unix_nano), maxState(start_unix_nano + duration_ns)"+
		" FROM "+s.Database()+".spans GROUP BY toDate(start_time), trace_id"); err != nil {
		t.Fatalf("fill trace_windows as migration 7's view did: %v", err)
	}
	if err := s.conn.Exec(ctx, "TRUNCATE TABLE "+s.Database()+".trace_hours"); err != nil {
		t.Fatalf("truncate trace_hours: %v", err)
	}
	if got := names(); !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("spans through the trace windows = %q, want first and second", got)
	}
	// A trace the windows table does not know (stored before migration 7 on
	// another shard) is found through the trace index, which such a
	// database holds as its view wrote it.
	if err := s.conn.Exec(ctx, "INSERT INTO "+s.Database()+".trace_index"+
		" (day, trace_id, start_min, end_max, service_names, function_names, span_count)"+
		" SELECT toDate(start_time), trace_id, minState(start_unix_nano), maxState(start_unix_nano + duration_ns),"+
		" groupUniqArrayState(toString(service_name)), groupUniqArrayState(toString(function_name)), countState()"+
		" FROM "+s.Database()+".spans GROUP BY toDate(start_time), trace_id"); err != nil {
		t.Fatalf("fill trace_index as migration 3's view did: %v", err)
	}
	if err := s.conn.Exec(ctx, "TRUNCATE TABLE "+s.Database()+".trace_windows"); err != nil {
		t.Fatalf("truncate trace_windows: %v", err)
	}
	if got := names(); !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("spans through the index = %q, want first and second", got)
	}
	// A trace the index does not know (stored before the index existed) is
	// still found.
	if err := s.conn.Exec(ctx, "TRUNCATE TABLE "+s.Database()+".trace_index"); err != nil {
		t.Fatalf("truncate trace_index: %v", err)
	}
	if got := names(); !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("spans without the index = %q, want first and second", got)
	}
	// A database without the index table (schema version 2 or older) is
	// read too.
	for _, obj := range []string{"trace_hours_mv", "trace_hours", "trace_windows", "trace_index"} {
		if err := s.conn.Exec(ctx, "DROP TABLE "+s.Database()+"."+obj); err != nil {
			t.Fatalf("drop %s: %v", obj, err)
		}
	}
	if got := names(); !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("spans without the index table = %q, want first and second", got)
	}
}

func TestLogs(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	start := time.Date(2026, 5, 3, 12, 0, 0, 0, time.UTC)
	traceA := [16]byte{0xa, '\'', 0}
	rec := func(at time.Duration, sev logspb.SeverityNumber, body, requestID string, traceID []byte) *logspb.LogRecord {
		return &logspb.LogRecord{
			TimeUnixNano: uint64(start.Add(at).UnixNano()), SeverityNumber: sev, TraceId: traceID,
			Body:       &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: body}},
			Attributes: []*commonpb.KeyValue{strAttr("faas.invocation_id", requestID)},
		}
	}
	logsFor := func(fn string, recs ...*logspb.LogRecord) *ingestv1.ExportRequest {
		return &ingestv1.ExportRequest{
			Function:     &ingestv1.FunctionIdentity{Name: fn},
			ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: recs}}}},
		}
	}
	info, errSev := logspb.SeverityNumber_SEVERITY_NUMBER_INFO, logspb.SeverityNumber_SEVERITY_NUMBER_ERROR
	reqs := []*ingestv1.ExportRequest{
		logsFor("orders",
			rec(0, info, "order placed", "req-1", traceA[:]),
			rec(time.Second, errSev, "Payment DECLINED for order '7'", "req-1", traceA[:]),
			rec(2*time.Second, info, "order placed", "req-2", nil)),
		logsFor("inventory", rec(3*time.Second, info, "stock reserved", "req-3", traceA[:])),
	}
	if _, err := s.WriteExports(ctx, reqs); err != nil {
		t.Fatalf("WriteExports: %v", err)
	}
	tests := []struct {
		name   string
		filter LogFilter
		want   []string // bodies, newest first
	}{
		{"all", LogFilter{}, []string{"stock reserved", "order placed", "Payment DECLINED for order '7'", "order placed"}},
		{"function", LogFilter{FunctionName: "inventory"}, []string{"stock reserved"}},
		{"request id", LogFilter{RequestID: "req-1"}, []string{"Payment DECLINED for order '7'", "order placed"}},
		{"trace id", LogFilter{TraceID: traceA, FunctionName: "orders"}, []string{"Payment DECLINED for order '7'", "order placed"}},
		{"text ignores case", LogFilter{Contains: "declined for order '7"}, []string{"Payment DECLINED for order '7'"}},
		{"severity", LogFilter{MinSeverity: uint8(errSev)}, []string{"Payment DECLINED for order '7'"}},
		{"time range", LogFilter{Since: start.Add(time.Second), Until: start.Add(2 * time.Second)}, []string{"Payment DECLINED for order '7'"}},
		{"limit", LogFilter{Limit: 1}, []string{"stock reserved"}},
		{"hostile text matches nothing", LogFilter{Contains: "') OR 1=1 --"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := s.Logs(ctx, tt.filter)
			if err != nil {
				t.Fatalf("Logs: %v", err)
			}
			var bodies []string
			for _, r := range recs {
				bodies = append(bodies, r.Body)
			}
			if !slices.Equal(bodies, tt.want) {
				t.Errorf("bodies = %q, want %q", bodies, tt.want)
			}
		})
	}
	recs, err := s.Logs(ctx, LogFilter{RequestID: "req-3"})
	if err != nil || len(recs) != 1 {
		t.Fatalf("Logs(req-3) = %+v, %v", recs, err)
	}
	if r := recs[0]; r.TraceID != traceA || r.FunctionName != "inventory" || !r.Time.Equal(start.Add(3*time.Second)) ||
		r.Attributes["faas.invocation_id"] != "req-3" || r.LogType != "otlp" {
		t.Errorf("log record = %+v", r)
	}
}

// storedMetricPoints reads back every row of metric_points, by metric
// name. Nothing outside the tests reads single points.
func storedMetricPoints(t *testing.T, s *Store) map[string]dbmodel.MetricPoint {
	t.Helper()
	rows, err := s.conn.Query(t.Context(), `SELECT time_unix_nano, service_name, function_name, region,
    metric_name, metric_type, unit, temporality, is_monotonic, value, point_count, point_sum, point_min, point_max,
    bucket_counts, explicit_bounds, attributes.key, attributes.value, exemplar_trace_ids, exemplar_values
FROM `+s.database+`.metric_points`)
	if err != nil {
		t.Fatalf("query metric points: %v", err)
	}
	defer rows.Close()
	out := map[string]dbmodel.MetricPoint{}
	for rows.Next() {
		var (
			p         dbmodel.MetricPoint
			monotonic uint8
			exemplars []string
		)
		if err := rows.Scan(&p.TimeUnixNano, &p.ServiceName, &p.FunctionName, &p.Region,
			&p.Name, &p.Type, &p.Unit, &p.Temporality, &monotonic, &p.Value, &p.Count, &p.Sum, &p.Min, &p.Max,
			&p.BucketCounts, &p.ExplicitBounds, &p.Attributes.Keys, &p.Attributes.Values, &exemplars, &p.ExemplarValues); err != nil {
			t.Fatalf("scan metric point: %v", err)
		}
		p.Monotonic = monotonic != 0
		for _, id := range exemplars {
			p.ExemplarTraceIDs = append(p.ExemplarTraceIDs, [16]byte([]byte(id)))
		}
		out[p.Name] = p
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read metric points: %v", err)
	}
	return out
}

func TestMetricPointsStored(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	at := time.Date(2026, 5, 4, 9, 30, 0, 123, time.UTC)
	traceID := [16]byte{0, '\'', '\\', 5}
	req := &ingestv1.ExportRequest{
		Function: &ingestv1.FunctionIdentity{Name: "orders", Region: "eu-west-1"},
		ResourceMetrics: []*metricspb.ResourceMetrics{{
			Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{strAttr("service.name", "orders-svc")}},
			ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{
				{Name: "orders.placed", Unit: "1", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
					AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA, IsMonotonic: true,
					DataPoints: []*metricspb.NumberDataPoint{{
						TimeUnixNano: uint64(at.UnixNano()), Value: &metricspb.NumberDataPoint_AsInt{AsInt: 3},
						Attributes: []*commonpb.KeyValue{strAttr("route", "/orders")},
						Exemplars:  []*metricspb.Exemplar{{TraceId: traceID[:], Value: &metricspb.Exemplar_AsDouble{AsDouble: 1}}},
					}},
				}}},
				{Name: "http.duration", Unit: "ms", Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{
					DataPoints: []*metricspb.HistogramDataPoint{{
						TimeUnixNano: uint64(at.UnixNano()), Count: 3, Sum: new(30.0), Min: new(5.0), Max: new(15.0),
						BucketCounts: []uint64{1, 2}, ExplicitBounds: []float64{10},
					}},
				}}},
				{Name: "queue.depth", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{{
					TimeUnixNano: uint64(at.UnixNano()), Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: 4.5},
				}}}}},
			}}},
		}},
	}
	counts, err := s.WriteExport(ctx, req)
	if err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	if counts.MetricPoints != 3 {
		t.Errorf("MetricPoints = %d, want 3", counts.MetricPoints)
	}
	points := storedMetricPoints(t, s)
	if len(points) != 3 {
		t.Fatalf("stored %d points, want 3: %+v", len(points), points)
	}
	p := points["orders.placed"]
	if p.TimeUnixNano != uint64(at.UnixNano()) || p.Type != "sum" || p.Value != 3 || p.Unit != "1" || p.Temporality != 1 || !p.Monotonic ||
		p.FunctionName != "orders" || p.ServiceName != "orders-svc" || p.Region != "eu-west-1" ||
		p.Attributes.Map()["route"] != "/orders" ||
		len(p.ExemplarTraceIDs) != 1 || p.ExemplarTraceIDs[0] != traceID || !slices.Equal(p.ExemplarValues, []float64{1}) {
		t.Errorf("sum point = %+v", p)
	}
	h := points["http.duration"]
	if h.Type != "histogram" || h.Count != 3 || h.Sum != 30 || h.Min != 5 || h.Max != 15 ||
		!slices.Equal(h.BucketCounts, []uint64{1, 2}) || !slices.Equal(h.ExplicitBounds, []float64{10}) {
		t.Errorf("histogram point = %+v", h)
	}

}
