package storage

import (
	"fmt"
	"testing"
	"time"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage/dbmodel"
)

// TestTimesAfter2105AreRejected writes items dated 2262 and 2106-02-07
// beside an item at the last second stored (the end of 2105). ClickHouse
// stores DateTime in 32 bits, so the 2262 items would land in 1990, and
// 18.16's date functions already fail at 2^32-1 s; those items are refused
// and counted instead, on the block writer and on clickhouse-go alike, and
// the rest is stored with its own time.
func TestTimesAfter2105AreRejected(t *testing.T) {
	stores := []struct {
		name string
		open func(*testing.T) *Store
	}{
		{"block writer", func(t *testing.T) *Store { return openStore(t) }},
		{"clickhouse-go", openDriverStore},
	}
	last := time.Date(2105, 12, 31, 23, 59, 59, 999_999_999, time.UTC)
	if uint64(last.UnixNano()) != dbmodel.MaxDateTimeUnixNano {
		t.Fatalf("MaxDateTimeUnixNano %d is not %s", dbmodel.MaxDateTimeUnixNano, last)
	}
	far := uint64(time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	for i, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			f := newFixture(t, fmt.Sprintf("times%d", i))
			ss := f.req.ResourceSpans[0].ScopeSpans[0]
			ss.Spans = append(ss.Spans,
				&tracepb.Span{TraceId: f.traceID[:], SpanId: []byte{0xcc, 0, 0, 0, 0, 0, 0, 1}, Name: "far", StartTimeUnixNano: far, EndTimeUnixNano: far + 1},
				&tracepb.Span{TraceId: f.traceID[:], SpanId: []byte{0xcc, 0, 0, 0, 0, 0, 0, 2}, Name: "last", StartTimeUnixNano: dbmodel.MaxDateTimeUnixNano},
				&tracepb.Span{TraceId: f.traceID[:], SpanId: []byte{0xcc, 0, 0, 0, 0, 0, 0, 3}, Name: "wraps", StartTimeUnixNano: uint64(1<<32-1) * 1e9},
			)
			sl := f.req.ResourceLogs[0].ScopeLogs[0]
			sl.LogRecords = append(sl.LogRecords, &logspb.LogRecord{TimeUnixNano: far, SeverityText: "FAR"})
			f.req.Invocations = append(f.req.Invocations, &ingestv1.Invocation{RequestId: "far", StartTimeUnixNano: far})
			f.req.ResourceMetrics = []*metricspb.ResourceMetrics{{ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{{
				Name: "times.gauge", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{
					{TimeUnixNano: far, Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: 1}},
					{TimeUnixNano: uint64(f.start.UnixNano()), Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: 2}},
				}}},
			}}}}}}

			counts, err := s.WriteExport(t.Context(), f.req)
			if err != nil {
				t.Fatalf("WriteExport: %v", err)
			}
			if want := (WriteCounts{Spans: 3, Logs: 1, Invocations: 1, MetricPoints: 1, Rejected: 5}); counts != want {
				t.Fatalf("counts = %+v, want %+v (the span of 2106, the span, log, invocation and point of 2262 rejected)", counts, want)
			}
			db := s.Database()
			for _, q := range []struct {
				table, column, where string
			}{
				{"spans", "start_time", "function_name = ?"},
				{"logs", "timestamp", "function_name = ?"},
				{"invocations", "start_time", "function_name = ?"},
				{"metric_points", "timestamp", "function_name = ?"},
			} {
				var n uint64
				sql := fmt.Sprintf("SELECT count() FROM %s.%s WHERE %s AND toUInt32(%s) < 946684800", db, q.table, q.where, q.column)
				if err := s.conn.QueryRow(t.Context(), sql, f.function).Scan(&n); err != nil {
					t.Fatalf("count %s: %v", q.table, err)
				}
				if n != 0 {
					t.Errorf("%s holds %d rows dated before 2000: a time after 2106 wrapped", q.table, n)
				}
			}
			var lastStored time.Time
			sql := fmt.Sprintf("SELECT start_time FROM %s.spans WHERE function_name = ? AND name = 'last'", db)
			if err := s.conn.QueryRow(t.Context(), sql, f.function).Scan(&lastStored); err != nil {
				t.Fatalf("read the span at the last second: %v", err)
			}
			if !lastStored.Equal(last.Truncate(time.Second)) {
				t.Errorf("span at the last second stored at %s, want %s", lastStored.UTC(), last.Truncate(time.Second))
			}
		})
	}
}
