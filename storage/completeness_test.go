package storage

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage/storagetest"
)

// writeCompletenessFixture writes, over five hours from base, the
// invocations of functions that lost telemetry at every stage the report
// names (Lambda, the extension's buffer, its spool, the collector, by
// limit and by refusal, storage), a clean one, one whose extension does
// not count, and losses in an hour without records; several records per
// function hour, at ragged times.
func writeCompletenessFixture(t *testing.T, s *Store, base time.Time) {
	t.Helper()
	type fixture struct {
		fn          string
		counts      *ingestv1.TelemetryCounts
		spans, logs int
	}
	fixtures := []fixture{
		{"clean", &ingestv1.TelemetryCounts{SpansReceived: 6, SpansSampledOut: 2, LogLinesReceived: 3, BytesReceived: 900, BytesShipped: 800}, 4, 3},
		{"buffer-full", &ingestv1.TelemetryCounts{SpansReceived: 5, SpansDropped: 2, LogLinesReceived: 5, LogLinesDropped: 1}, 3, 4},
		{"spool-full", &ingestv1.TelemetryCounts{SpansReceived: 4, SpansSpooled: 4, SpansSpoolDropped: 4, LogLinesReceived: 4,
			LogLinesSpooled: 2, LogLinesSpoolDropped: 1}, 0, 3},
		{"collector-limit", &ingestv1.TelemetryCounts{SpansReceived: 4}, 3, 0},
		{"collector-refused", &ingestv1.TelemetryCounts{SpansReceived: 5, SpansDropped: 3, SpansRefused: 2, LogLinesReceived: 2,
			LogLinesDropped: 2, LogLinesRefused: 2}, 2, 0},
		{"storage-refusal", &ingestv1.TelemetryCounts{SpansReceived: 2, LogLinesReceived: 2}, 0, 0},
		{"lambda-dropped", &ingestv1.TelemetryCounts{LogLinesReceived: 3, PlatformLogsDropped: 1}, 0, 3},
		{"old-extension", nil, 1, 1},
	}
	var (
		losses []IngestLoss
		reqs   []*ingestv1.ExportRequest
	)
	n := 0
	for h := range 5 {
		for i, f := range fixtures {
			// 1 to 3 records per function hour, at minutes that differ.
			for k := range 1 + (h+i)%3 {
				at := base.Add(time.Duration(h)*time.Hour + time.Duration(7+k*19+i)*time.Minute + time.Duration(n)*time.Millisecond)
				n++
				reqs = append(reqs, storagetest.CompletenessExport(f.fn, fmt.Sprintf("req-%d", n), at, f.counts, f.spans, f.logs))
			}
		}
		hour := base.Add(time.Duration(h) * time.Hour)
		losses = append(losses,
			IngestLoss{Hour: hour, FunctionName: "collector-limit", Signal: "spans", Stage: StageCollector, Reason: "malformed", Items: 1},
			IngestLoss{Hour: hour, FunctionName: "storage-refusal", Signal: "spans", Stage: StageStorage, Reason: "refused_permanent", Items: 2},
			IngestLoss{Hour: hour, FunctionName: "storage-refusal", Signal: "logs", Stage: StageStorage, Reason: "refused_permanent", Items: 2},
			IngestLoss{Hour: hour, FunctionName: "spool-full", Signal: "logs", Stage: StageCollector, Reason: "bad_item", Items: 1})
	}
	if _, err := s.WriteExports(t.Context(), reqs); err != nil {
		t.Fatalf("write the exports: %v", err)
	}
	// Losses in an hour whose records were lost with them.
	losses = append(losses, IngestLoss{Hour: base.Add(6 * time.Hour), FunctionName: "records-lost", Signal: "spans",
		Stage: StageStorage, Reason: "refused_permanent", Items: 5})
	if err := s.WriteIngestLosses(t.Context(), losses); err != nil {
		t.Fatalf("WriteIngestLosses: %v", err)
	}
}

// What Completeness reads for whole hours from completeness_hours
// (migration 50) is what the raw invocations, spans and logs give
// (CompletenessBefore), whatever the range's edges and filters, with
// every stage's losses; hours before the view's horizon are read from the
// raw tables.
func TestCompletenessFromViewMatchesRawRows(t *testing.T) {
	s := openStore(t)
	base := time.Date(2026, 5, 5, 0, 0, 0, 0, time.UTC)
	writeCompletenessFixture(t, s, base)
	ranges := []struct {
		name string
		f    UsageFilter
	}{
		{"whole hours", UsageFilter{Since: base, Until: base.Add(8 * time.Hour)}},
		{"ragged edges", UsageFilter{Since: base.Add(17*time.Minute + 3*time.Second), Until: base.Add(3*time.Hour + 40*time.Minute + 500*time.Millisecond)}},
		{"inside one hour", UsageFilter{Since: base.Add(2*time.Hour + 10*time.Minute), Until: base.Add(2*time.Hour + 50*time.Minute)}},
		{"one function", UsageFilter{Since: base.Add(-time.Hour), Until: base.Add(9 * time.Hour), FunctionName: "storage-refusal"}},
		{"a function that only lost", UsageFilter{Since: base, Until: base.Add(9 * time.Hour), FunctionName: "records-lost"}},
	}
	check := func(t *testing.T) {
		t.Helper()
		for _, rg := range ranges {
			got, err := s.Completeness(t.Context(), rg.f)
			if err != nil {
				t.Fatalf("%s: Completeness: %v", rg.name, err)
			}
			want, err := s.CompletenessBefore(t.Context(), rg.f)
			if err != nil {
				t.Fatalf("%s: CompletenessBefore: %v", rg.name, err)
			}
			if len(want) == 0 || !reflect.DeepEqual(got, want) {
				t.Errorf("%s: Completeness =\n%+v\nthe raw rows =\n%+v", rg.name, got, want)
			}
		}
	}
	check(t)

	// The comparison covers every count the report names a stage by.
	whole := ranges[0].f
	recs, err := s.CompletenessBefore(t.Context(), whole)
	if err != nil {
		t.Fatalf("CompletenessBefore: %v", err)
	}
	var sum CompletenessRecord
	for _, r := range recs {
		sum.Invocations += r.Invocations
		sum.SpansSampledOut += r.SpansSampledOut
		sum.SpansDropped += r.SpansDropped
		sum.LogLinesDropped += r.LogLinesDropped
		sum.SpansSpoolDropped += r.SpansSpoolDropped
		sum.LogLinesSpoolDropped += r.LogLinesSpoolDropped
		sum.PlatformLogsDropped += r.PlatformLogsDropped
		sum.SpansRefused += r.SpansRefused
		sum.LogLinesRefused += r.LogLinesRefused
		sum.SpansCollectorLost += r.SpansCollectorLost
		sum.LogLinesCollectorLost += r.LogLinesCollectorLost
		sum.SpansStorageLost += r.SpansStorageLost
		sum.LogLinesStorageLost += r.LogLinesStorageLost
		sum.SpansStored += r.SpansStored
		sum.LogLinesStored += r.LogLinesStored
	}
	v := reflect.ValueOf(sum)
	for i := range v.NumField() {
		if f := v.Type().Field(i); f.Type.Kind() == reflect.Uint64 && v.Field(i).Uint() == 0 && !isUnsummed(f.Name) {
			t.Errorf("the fixture leaves %s 0 over the whole range: the comparison does not cover it", f.Name)
		}
	}

	// The whole hours come from the view: a row written while its views
	// are detached is missing from them until the horizon says its hour
	// may miss rows.
	views := []string{"completeness_hours_invocations_mv", "completeness_hours_spans_mv", "completeness_hours_logs_mv"}
	for _, v := range views {
		if err := s.conn.Exec(t.Context(), "DETACH TABLE "+s.database+"."+v); err != nil {
			t.Fatalf("detach view: %v", err)
		}
	}
	late := storagetest.CompletenessExport("clean", "late", base.Add(4*time.Hour+30*time.Minute),
		&ingestv1.TelemetryCounts{SpansReceived: 1, LogLinesReceived: 1}, 1, 1)
	if _, err := s.WriteExport(t.Context(), late); err != nil {
		t.Fatalf("write export: %v", err)
	}
	for _, v := range views {
		if err := s.conn.Exec(t.Context(), "ATTACH TABLE "+s.database+"."+v); err != nil {
			t.Fatalf("attach view: %v", err)
		}
	}
	got, err := s.Completeness(t.Context(), whole)
	if err != nil {
		t.Fatalf("Completeness: %v", err)
	}
	want, err := s.CompletenessBefore(t.Context(), whole)
	if err != nil {
		t.Fatalf("CompletenessBefore: %v", err)
	}
	if reflect.DeepEqual(got, want) {
		t.Fatal("Completeness holds the row written while the views were detached: it did not read the view")
	}
	for _, q := range []string{
		"SELECT 'completeness_hours', max(start_unix_nano) FROM " + s.database + ".invocations",
		"SELECT 'completeness_hours', max(time_unix_nano) FROM " + s.database + ".logs",
	} {
		if err := s.conn.Exec(t.Context(), "INSERT INTO "+s.database+".view_horizons (view, horizon_unix_nano) "+q); err != nil {
			t.Fatalf("record horizon: %v", err)
		}
	}
	check(t)
}

// isUnsummed names the record's fields the fixture need not set: the
// byte counts and spooled items name no stage.
func isUnsummed(name string) bool {
	switch name {
	case "SpansReceived", "LogLinesReceived", "BytesReceived", "BytesShipped", "SpansSpooled", "LogLinesSpooled":
		return true
	}
	return false
}
