package storage

import (
	"bytes"
	"slices"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

func TestDropBefore(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	day1 := time.Date(2026, 2, 1, 23, 59, 59, 0, time.UTC)
	day2 := time.Date(2026, 2, 2, 0, 0, 1, 0, time.UTC)
	req := &ingestv1.ExportRequest{
		Function: &ingestv1.FunctionIdentity{Name: "ret"},
		Invocations: []*ingestv1.Invocation{
			{RequestId: "old", StartTimeUnixNano: uint64(day1.UnixNano())},
			{RequestId: "new", StartTimeUnixNano: uint64(day2.UnixNano())},
		},
		ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{
			TraceId: bytes.Repeat([]byte{1}, 16), SpanId: bytes.Repeat([]byte{2}, 8), Kind: tracepb.Span_SPAN_KIND_CLIENT,
			Attributes:        []*commonpb.KeyValue{strAttr("peer.service", "db")},
			StartTimeUnixNano: uint64(day1.UnixNano()), EndTimeUnixNano: uint64(day1.UnixNano()) + 1,
			Links: []*tracepb.Span_Link{{TraceId: bytes.Repeat([]byte{3}, 16), SpanId: bytes.Repeat([]byte{4}, 8)}},
		}}}}}},
		ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{
			{TimeUnixNano: uint64(day1.UnixNano())},
		}}}}},
		ResourceMetrics: []*metricspb.ResourceMetrics{{ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{
			{Name: "m", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{
				{TimeUnixNano: uint64(day1.UnixNano())},
			}}}},
		}}}}},
	}
	if _, err := s.WriteExport(ctx, req); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}

	// Every table partitioned by day that holds rows is one retention
	// drops from.
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT table FROM system.parts WHERE database = ? AND active AND partition != 'tuple()' ORDER BY table", s.database)
	if err != nil {
		t.Fatalf("list partitioned tables: %v", err)
	}
	var partitioned []string
	for rows.Next() {
		var table string
		if err := rows.Scan(&table); err != nil {
			t.Fatal(err)
		}
		partitioned = append(partitioned, table)
	}
	rows.Close()
	if want := fedTablesSorted(); !slices.Equal(partitioned, want) {
		t.Errorf("tables with daily partitions %q, retention drops from %q", partitioned, want)
	}

	tests := []struct {
		name        string
		cutoff      time.Time
		wantDropped []string // tables, sorted
		wantLeft    []string
	}{
		{"cutoff inside day 2 keeps day 2", day2.Add(12 * time.Hour), fedTablesSorted(), []string{"new"}},
		{"repeated drop is a no-op", day2.Add(12 * time.Hour), nil, []string{"new"}},
		{"cutoff after day 2", day2.Add(24 * time.Hour), []string{"function_figures", "invocations", "usage_daily", "usage_hourly"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dropped, err := s.DropBefore(ctx, tt.cutoff)
			if err != nil {
				t.Fatalf("DropBefore: %v", err)
			}
			var tables []string
			for _, d := range dropped {
				tables = append(tables, d.Table)
			}
			slices.Sort(tables)
			if !slices.Equal(tables, tt.wantDropped) {
				t.Errorf("dropped %+v, want one partition of each of %q", dropped, tt.wantDropped)
			}
			recs, err := s.Invocations(ctx, InvocationFilter{FunctionName: "ret"})
			if err != nil {
				t.Fatalf("Invocations: %v", err)
			}
			var left []string
			for _, r := range recs {
				left = append(left, r.RequestID)
			}
			if !slices.Equal(left, tt.wantLeft) {
				t.Errorf("invocations left = %q, want %q", left, tt.wantLeft)
			}
		})
	}
}

// fedTablesSorted are the retained tables that new rows still reach:
// all but trace_index, whose view migration 15 dropped.
func fedTablesSorted() []string {
	out := slices.DeleteFunc(slices.Clone(retainedTables), func(t string) bool { return t == "trace_index" })
	slices.Sort(out)
	return out
}
