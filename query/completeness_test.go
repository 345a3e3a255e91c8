package query_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/query/querytest"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/storagetest"
)

// Telemetry lost on purpose at each stage is named at that stage; a clean
// run reads 100 %.
func TestCompletenessNamesWhereTelemetryWentMissing(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	hour := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	at := hour.Add(10 * time.Minute)
	tests := []struct {
		fn           string
		counts       *ingestv1.TelemetryCounts
		spans, logs  int // what reached the collector and was stored
		losses       []storage.IngestLoss
		wantLost     []query.Loss
		wantPercent  float64
		wantExpected [2]uint64
	}{
		{
			fn:     "clean",
			counts: &ingestv1.TelemetryCounts{SpansReceived: 6, SpansSampledOut: 2, LogLinesReceived: 3, BytesReceived: 900, BytesShipped: 800},
			spans:  4, logs: 3, wantPercent: 100, wantExpected: [2]uint64{4, 3},
		},
		{
			fn:     "buffer-full",
			counts: &ingestv1.TelemetryCounts{SpansReceived: 5, SpansDropped: 2, LogLinesReceived: 5, LogLinesDropped: 1},
			spans:  3, logs: 4, wantPercent: 70, wantExpected: [2]uint64{5, 5},
			wantLost: []query.Loss{{Stage: query.StageBuffer, Spans: 2, LogLines: 1}},
		},
		{
			fn:     "spool-full",
			counts: &ingestv1.TelemetryCounts{SpansReceived: 4, SpansSpooled: 4, SpansSpoolDropped: 4, LogLinesReceived: 4},
			spans:  0, logs: 4, wantPercent: 50, wantExpected: [2]uint64{4, 4},
			wantLost: []query.Loss{{Stage: query.StageSpool, Spans: 4}},
		},
		{
			fn:     "collector-limit",
			counts: &ingestv1.TelemetryCounts{SpansReceived: 4},
			spans:  3, wantPercent: 75, wantExpected: [2]uint64{4, 0},
			losses:   []storage.IngestLoss{{Hour: at, Signal: "spans", Stage: storage.StageCollector, Reason: "malformed", Items: 1}},
			wantLost: []query.Loss{{Stage: query.StageCollector, Spans: 1}},
		},
		{
			// The collector refused a batch over max_batch_items; the
			// extension counted it as dropped and refused.
			fn:     "collector-refused",
			counts: &ingestv1.TelemetryCounts{SpansReceived: 5, SpansDropped: 3, SpansRefused: 2, LogLinesReceived: 2, LogLinesDropped: 2, LogLinesRefused: 2},
			spans:  2, wantPercent: 100 * 2.0 / 7, wantExpected: [2]uint64{5, 2},
			wantLost: []query.Loss{{Stage: query.StageBuffer, Spans: 1}, {Stage: query.StageCollector, Spans: 2, LogLines: 2}},
		},
		{
			fn:     "storage-refusal",
			counts: &ingestv1.TelemetryCounts{SpansReceived: 2, LogLinesReceived: 2},
			spans:  0, logs: 0, wantPercent: 0, wantExpected: [2]uint64{2, 2},
			losses: []storage.IngestLoss{
				{Hour: at, Signal: "spans", Stage: storage.StageStorage, Reason: "refused_permanent", Items: 2},
				{Hour: at, Signal: "logs", Stage: storage.StageStorage, Reason: "refused_permanent", Items: 2},
			},
			wantLost: []query.Loss{{Stage: query.StageStorage, Spans: 2, LogLines: 2}},
		},
		{
			fn:     "lambda-dropped",
			counts: &ingestv1.TelemetryCounts{LogLinesReceived: 3, PlatformLogsDropped: 1},
			logs:   3, wantPercent: 75, wantExpected: [2]uint64{0, 4},
			wantLost: []query.Loss{{Stage: query.StageLambda, LogLines: 1}},
		},
		{
			fn:     "uncounted-loss",
			counts: &ingestv1.TelemetryCounts{SpansReceived: 2, LogLinesReceived: 2},
			spans:  2, logs: 1, wantPercent: 75, wantExpected: [2]uint64{2, 2},
			wantLost: []query.Loss{{Stage: query.StageUnaccounted, LogLines: 1}},
		},
	}
	var losses []storage.IngestLoss
	for _, tt := range tests {
		if _, err := st.WriteExport(t.Context(), storagetest.CompletenessExport(tt.fn, "req-"+tt.fn, at, tt.counts, tt.spans, tt.logs)); err != nil {
			t.Fatalf("write %s: %v", tt.fn, err)
		}
		for _, l := range tt.losses {
			l.FunctionName = tt.fn
			losses = append(losses, l)
		}
	}
	// A record without counts (an older extension) is left out.
	if _, err := st.WriteExport(t.Context(), storagetest.CompletenessExport("old-extension", "req-old-extension", at, nil, 1, 1)); err != nil {
		t.Fatalf("write old-extension: %v", err)
	}
	if err := st.WriteIngestLosses(t.Context(), losses); err != nil {
		t.Fatalf("WriteIngestLosses: %v", err)
	}

	got, err := query.NewService(st).Completeness(t.Context(), query.TimeRange{Since: hour, Until: hour.Add(time.Hour)}, "")
	if err != nil {
		t.Fatalf("Completeness: %v", err)
	}
	byFn := map[string]query.Completeness{}
	for _, c := range got {
		byFn[c.FunctionName] = c
	}
	if len(got) != len(tests) {
		t.Errorf("got %d function hours, want %d: %+v", len(got), len(tests), got)
	}
	for _, tt := range tests {
		t.Run(tt.fn, func(t *testing.T) {
			c, ok := byFn[tt.fn]
			if !ok {
				t.Fatalf("no row for %s", tt.fn)
			}
			if !c.Hour.Equal(hour) || c.Invocations != 1 {
				t.Errorf("hour %v, %d invocations; want %v, 1", c.Hour, c.Invocations, hour)
			}
			if c.Percent != tt.wantPercent {
				t.Errorf("percent = %v, want %v", c.Percent, tt.wantPercent)
			}
			if got := [2]uint64{c.SpansExpected, c.LogLinesExpected}; got != tt.wantExpected {
				t.Errorf("expected spans, logs = %v, want %v", got, tt.wantExpected)
			}
			if got := [2]uint64{c.SpansStored, c.LogLinesStored}; got != [2]uint64{uint64(tt.spans), uint64(tt.logs)} {
				t.Errorf("stored spans, logs = %v, want %d, %d", got, tt.spans, tt.logs)
			}
			if !slices.Equal(c.Lost, tt.wantLost) {
				t.Errorf("lost = %+v, want %+v", c.Lost, tt.wantLost)
			}
			if c.Complete() != (tt.wantPercent == 100) {
				t.Errorf("complete = %v at %v %%", c.Complete(), c.Percent)
			}
		})
	}
	if c := byFn["clean"]; c.BytesReceived != 900 || c.BytesShipped != 800 || c.SpansSampledOut != 2 {
		t.Errorf("clean: bytes %d/%d, sampled out %d; want 900/800, 2", c.BytesReceived, c.BytesShipped, c.SpansSampledOut)
	}
}

// With spans kept fewer days than invocations, the day whose spans
// retention dropped is not reported as spans lost in the pipeline: the
// report starts where every table it compares is whole, and says so.
func TestCompletenessReportStartsAfterRetention(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	now := time.Now().UTC()
	today := now.Truncate(24 * time.Hour)
	old, kept := today.AddDate(0, 0, -3).Add(5*time.Hour), today.AddDate(0, 0, -1).Add(5*time.Hour)
	counts := &ingestv1.TelemetryCounts{SpansReceived: 2, LogLinesReceived: 1}
	for i, at := range []time.Time{old, kept} {
		if _, err := st.WriteExport(t.Context(), storagetest.CompletenessExport("orders", "req-"+string(rune('a'+i)), at, counts, 2, 1)); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	// Spans keep 2 days: the old day's spans go, its invocations stay.
	if _, err := st.DropExpired(t.Context(), storage.Retention{"spans": 2}, now); err != nil {
		t.Fatalf("DropExpired: %v", err)
	}
	svc := query.NewService(st)
	r := query.TimeRange{Since: today.AddDate(0, 0, -7), Until: now}
	rep, err := svc.CompletenessReport(t.Context(), r, "")
	if err != nil {
		t.Fatalf("CompletenessReport: %v", err)
	}
	cutoff := today.AddDate(0, 0, -2)
	if !rep.Since.Equal(cutoff) || len(rep.Retained) != 1 || rep.Retained[0].Table != "spans" || !rep.Retained[0].DroppedBefore.Equal(cutoff) {
		t.Errorf("report since %s, retained %+v; want %s by spans", rep.Since, rep.Retained, cutoff)
	}
	if len(rep.Hours) != 1 || !rep.Hours[0].Hour.Equal(kept.Truncate(time.Hour)) || rep.Hours[0].Percent != 100 {
		t.Errorf("hours = %+v, want the kept day's one hour at 100 %%", rep.Hours)
	}
	for _, c := range rep.Hours {
		if len(c.Lost) > 0 {
			t.Errorf("%s lost %+v: what retention dropped reads as lost", c.Hour, c.Lost)
		}
	}
	note := rep.Note(r.Since)
	for _, want := range []string{"retention dropped spans", cutoff.Format("2006-01-02 15:04")} {
		if !strings.Contains(note, want) {
			t.Errorf("note %q does not say %q", note, want)
		}
	}
	// Completeness answers the same hours.
	cs, err := svc.Completeness(t.Context(), r, "")
	if err != nil || !reflect.DeepEqual(cs, rep.Hours) {
		t.Errorf("Completeness = %+v, %v; want the report's hours %+v", cs, err, rep.Hours)
	}
	// A range after the cutoff needs no note.
	after, err := svc.CompletenessReport(t.Context(), query.TimeRange{Since: cutoff, Until: now}, "")
	if err != nil || len(after.Retained) != 0 || after.Note(cutoff) != "" || !after.Since.Equal(cutoff) {
		t.Errorf("report from the cutoff = %+v, %v; want no retained table and no note", after, err)
	}
}

// A cost report over a range whose cost_hours retention dropped says so:
// the days before the cutoff are missing from its figures, not free.
func TestCostReportSaysWhatRetentionDropped(t *testing.T) {
	st, _ := querytest.OpenStore(t)
	now := time.Now().UTC()
	today := now.Truncate(24 * time.Hour)
	for i, at := range []time.Time{today.AddDate(0, 0, -3).Add(5 * time.Hour), today.AddDate(0, 0, -1).Add(5 * time.Hour)} {
		if _, err := st.WriteExport(t.Context(), storagetest.CompletenessExport("orders", "req-"+string(rune('a'+i)), at, &ingestv1.TelemetryCounts{}, 0, 0)); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	svc := query.NewService(st)
	prices := query.DefaultPrices()
	r := query.TimeRange{Since: today.AddDate(0, 0, -7), Until: now}
	before, err := svc.Cost(t.Context(), &prices, query.CostQuery{TimeRange: r})
	if err != nil {
		t.Fatalf("Cost: %v", err)
	}
	if len(before.Retained) != 0 || before.RetentionNote() != "" {
		t.Errorf("before retention: retained %+v, note %q; want none", before.Retained, before.RetentionNote())
	}
	if _, err := st.DropExpired(t.Context(), storage.Retention{storage.RetentionDefault: 2}, now); err != nil {
		t.Fatalf("DropExpired: %v", err)
	}
	rep, err := svc.Cost(t.Context(), &prices, query.CostQuery{TimeRange: r})
	if err != nil {
		t.Fatalf("Cost: %v", err)
	}
	cutoff := today.AddDate(0, 0, -2)
	found := false
	for _, tb := range rep.Retained {
		found = found || (tb.Table == "invocations" && tb.DroppedBefore.Equal(cutoff))
	}
	if !found {
		t.Errorf("retained %+v, want invocations dropped before %s", rep.Retained, cutoff)
	}
	if note := rep.RetentionNote(); !strings.Contains(note, "invocations before "+cutoff.Format("2006-01-02 15:04")) || !strings.Contains(note, "not free") {
		t.Errorf("note %q does not say what retention dropped", note)
	}
	// A range after every cutoff needs no note.
	after, err := svc.Cost(t.Context(), &prices, query.CostQuery{TimeRange: query.TimeRange{Since: today, Until: now}})
	if err != nil || len(after.Retained) != 0 {
		t.Errorf("range after the cutoffs: retained %+v, %v; want none", after.Retained, err)
	}
}
