package storage

import (
	"bytes"
	"slices"
	"strings"
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
	// drops from, or follows one (partitionFollowers).
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
	want := fedTablesSorted()
	for _, followers := range partitionFollowers {
		want = append(want, followers...)
	}
	slices.Sort(want)
	if !slices.Equal(partitioned, want) {
		t.Errorf("tables with daily partitions %q, retention drops from %q", partitioned, want)
	}

	tests := []struct {
		name        string
		cutoff      time.Time
		wantDropped []string // tables, sorted
		wantLeft    []string
	}{
		{"cutoff inside day 2 keeps day 2", day2.Add(12 * time.Hour), dailyFedTablesSorted(), []string{"new"}},
		{"repeated drop is a no-op", day2.Add(12 * time.Hour), nil, []string{"new"}},
		{"cutoff after day 2", day2.Add(24 * time.Hour), []string{"function_figures", "invocations", "usage_daily", "usage_hourly"}, nil},
		// completeness_hours, cost_hours and trace_hours are partitioned by
		// month: their February goes once the whole month lies before the
		// cutoff.
		{"cutoff on the last day of the month keeps it", time.Date(2026, 2, 28, 23, 0, 0, 0, time.UTC), nil, nil},
		{"cutoff after the month", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), []string{"completeness_hours", "cost_hours", "trace_hours"}, nil},
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

// dailyFedTablesSorted are fedTablesSorted but completeness_hours,
// cost_hours and trace_hours, partitioned by month.
func dailyFedTablesSorted() []string {
	return slices.DeleteFunc(fedTablesSorted(), func(t string) bool {
		return t == "completeness_hours" || t == "cost_hours" || t == "trace_hours"
	})
}

// fedTablesSorted are the retained tables that this test's writes reach:
// all but trace_index and trace_windows, whose views migrations 15 and 17
// dropped, ingest_losses, which only a loss fills, and streaming_hours,
// which only a response beyond 6 MiB fills.
func fedTablesSorted() []string {
	out := slices.DeleteFunc(slices.Clone(retainedTables), func(t string) bool {
		return t == "trace_index" || t == "trace_windows" || t == "ingest_losses" || t == "streaming_hours"
	})
	slices.Sort(out)
	return out
}

// activeDays lists table/YYYYMMDD for the active partitions of tables.
func activeDays(t *testing.T, s *Store, tables ...string) []string {
	t.Helper()
	rows, err := s.conn.Query(t.Context(), "SELECT DISTINCT table, partition_id FROM system.parts WHERE database = ? AND active AND table IN ? ORDER BY table, partition_id", s.database, inList(tables))
	if err != nil {
		t.Fatalf("list partitions: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var table, id string
		if err := rows.Scan(&table, &id); err != nil {
			t.Fatal(err)
		}
		out = append(out, table+"/"+id)
	}
	return out
}

func TestRetentionDropsOldPartitionsAndKeepsNewOnes(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	now := time.Date(2026, 3, 20, 9, 30, 0, 0, time.UTC)
	old, edge, recent := now.AddDate(0, 0, -10), now.AddDate(0, 0, -7), now.AddDate(0, 0, -1)
	req := &ingestv1.ExportRequest{Function: &ingestv1.FunctionIdentity{Name: "ret"}}
	for i, at := range []time.Time{old, edge, recent, now} {
		ns := uint64(at.UnixNano())
		req.Invocations = append(req.Invocations, &ingestv1.Invocation{RequestId: at.Format("0102"), StartTimeUnixNano: ns})
		req.ResourceSpans = append(req.ResourceSpans, &tracepb.ResourceSpans{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{
			TraceId: bytes.Repeat([]byte{byte(i + 1)}, 16), SpanId: bytes.Repeat([]byte{2}, 8),
			StartTimeUnixNano: ns, EndTimeUnixNano: ns + 1,
		}}}}})
	}
	if _, err := s.WriteExport(ctx, req); err != nil {
		t.Fatalf("WriteExport: %v", err)
	}
	all := []string{"invocations/20260310", "invocations/20260313", "invocations/20260319", "invocations/20260320",
		"spans/20260310", "spans/20260313", "spans/20260319", "spans/20260320"}
	if got := activeDays(t, s, "spans", "invocations"); !slices.Equal(got, all) {
		t.Fatalf("partitions before retention %q, want %q", got, all)
	}

	// Spans keep the 7 days before today (the 13th to the 19th) and
	// today: the 10th goes, nothing else; Expired lists it and drops
	// nothing.
	spans7 := Retention{"spans": 7}
	listed, err := s.Expired(ctx, spans7, now)
	if err != nil {
		t.Fatalf("Expired: %v", err)
	}
	want := []DroppedPartition{{Table: "spans", Day: time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)}}
	if !slices.Equal(listed, want) {
		t.Fatalf("Expired listed %+v, want %+v", listed, want)
	}
	if got := activeDays(t, s, "spans", "invocations"); !slices.Equal(got, all) {
		t.Fatalf("Expired dropped something: partitions %q", got)
	}
	dropped, err := s.DropExpired(ctx, spans7, now)
	if err != nil || !slices.Equal(dropped, want) {
		t.Fatalf("DropExpired = %+v, %v; want %+v", dropped, err, want)
	}
	if got, want := activeDays(t, s, "spans", "invocations"), slices.DeleteFunc(slices.Clone(all), func(p string) bool { return p == "spans/20260310" }); !slices.Equal(got, want) {
		t.Fatalf("after spans=7: partitions %q, want %q", got, want)
	}

	// The default covers the tables not named; a named table keeps its own.
	dropped, err = s.DropExpired(ctx, Retention{RetentionDefault: 1, "spans": 30}, now)
	if err != nil {
		t.Fatalf("DropExpired: %v", err)
	}
	var tables []string
	for _, d := range dropped {
		tables = append(tables, d.Table+"/"+d.Day.Format("20060102"))
	}
	if !slices.Contains(tables, "invocations/20260310") || !slices.Contains(tables, "invocations/20260313") || slices.ContainsFunc(tables, func(p string) bool { return strings.HasPrefix(p, "spans/") }) {
		t.Errorf("default=1,spans=30 dropped %q", tables)
	}
	left := []string{"invocations/20260319", "invocations/20260320", "spans/20260313", "spans/20260319", "spans/20260320"}
	if got := activeDays(t, s, "spans", "invocations"); !slices.Equal(got, left) {
		t.Fatalf("after default=1: partitions %q, want %q", got, left)
	}
	recs, err := s.Invocations(ctx, InvocationFilter{FunctionName: "ret"})
	if err != nil {
		t.Fatalf("Invocations: %v", err)
	}
	if len(recs) != 2 {
		t.Errorf("%d invocations left, want the 2 of yesterday and today", len(recs))
	}
}

func TestRetentionValidateNamesTheKey(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" when valid
	}{
		{"default=30,spans=7", ""},
		{" logs = 14 ", ""},
		{"", ""},
		{"spans=0", "retention_days.spans must be at least 1"},
		{"default=-2", "retention_days.default must be at least 1"},
		{"span=7", "retention_days.span: no such table"},
		{"view_horizons=7", "retention_days.view_horizons: no such table"},
		{"spans", `retention "spans" must be table=days`},
		{"spans=7d", `retention "spans=7d": days must be a whole number`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseRetention(tt.in)
			if err == nil {
				err = r.Validate()
			}
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
