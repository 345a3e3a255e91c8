package storage

import (
	"reflect"
	"testing"
	"time"
)

// The completeness report over a range that reaches past retention's
// cutoff reads only what every table it compares still holds. Retention
// drops the raw invocations, spans, logs and ingest_losses by day but
// completeness_hours by month; without the cutoff the report read the
// dropped day's hours from completeness_hours as still stored (what the
// raw tables no longer hold), and with spans kept fewer days than
// invocations, their counts against no span.
func TestCompletenessAfterRetention(t *testing.T) {
	day1 := time.Date(2026, 5, 5, 0, 0, 0, 0, time.UTC)
	day2 := day1.AddDate(0, 0, 1)
	now := day1.AddDate(0, 0, 3).Add(10 * time.Hour) // day1+3 10:00: 2 days back is day2
	whole := UsageFilter{Since: day1.Add(-time.Hour), Until: now}
	kept := UsageFilter{Since: day2, Until: now}
	tests := []struct {
		name      string
		retention Retention
		// cutoffs are the tables the report names as having moved its
		// start to day2.
		cutoffs []string
	}{
		{"every table keeps 2 days", Retention{RetentionDefault: 2}, []string{"invocations", "spans", "logs", "ingest_losses"}},
		{"only spans keep 2 days", Retention{"spans": 2}, []string{"spans"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t)
			writeCompletenessFixture(t, s, day1)
			writeCompletenessFixture(t, s, day2)
			before, err := s.Completeness(t.Context(), kept)
			if err != nil {
				t.Fatalf("Completeness: %v", err)
			}
			if len(before) == 0 {
				t.Fatal("the fixture wrote no hour after the cutoff")
			}
			if got, err := s.Completeness(t.Context(), whole); err != nil || len(got) == len(before) {
				t.Fatalf("before retention, Completeness over both days = %d hours (err %v), want more than day 2's %d", len(got), err, len(before))
			}
			dropped, err := s.DropExpired(t.Context(), tt.retention, now)
			if err != nil {
				t.Fatalf("DropExpired: %v", err)
			}
			for _, p := range dropped {
				if p.Table == "completeness_hours" {
					t.Fatalf("retention dropped completeness_hours' month %s: the case needs it kept", p.Day)
				}
			}

			got, err := s.Completeness(t.Context(), whole)
			if err != nil {
				t.Fatalf("Completeness: %v", err)
			}
			for _, r := range got {
				if r.Hour.Before(day2) {
					t.Errorf("Completeness lists %s %s, a day retention dropped: %+v", r.Hour.Format(time.RFC3339), r.FunctionName, r)
				}
			}
			if !reflect.DeepEqual(got, before) {
				t.Errorf("Completeness after retention =\n%+v\nthe kept day's hours before it =\n%+v", got, before)
			}
			raw, err := s.CompletenessBefore(t.Context(), whole)
			if err != nil {
				t.Fatalf("CompletenessBefore: %v", err)
			}
			if !reflect.DeepEqual(got, raw) {
				t.Errorf("Completeness after retention =\n%+v\nthe raw rows =\n%+v", got, raw)
			}

			since, cutoffs, err := s.CompletenessSince(t.Context(), whole)
			if err != nil {
				t.Fatalf("CompletenessSince: %v", err)
			}
			if !since.Equal(day2) {
				t.Errorf("CompletenessSince = %s, want %s", since, day2)
			}
			var names []string
			for _, c := range cutoffs {
				names = append(names, c.Table)
				if !c.DroppedBefore.Equal(day2) {
					t.Errorf("cutoff of %s = %s, want %s", c.Table, c.DroppedBefore, day2)
				}
			}
			if !reflect.DeepEqual(names, tt.cutoffs) {
				t.Errorf("cutoffs name %q, want %q", names, tt.cutoffs)
			}
			// A range wholly after the cutoffs is read as asked.
			if since, cutoffs, err := s.CompletenessSince(t.Context(), kept); err != nil || !since.Equal(day2) || len(cutoffs) != 0 {
				t.Errorf("CompletenessSince(day 2 on) = %s, %v, %v; want %s and no cutoff", since, cutoffs, err, day2)
			}
			// A range wholly before them reads nothing.
			if got, err := s.Completeness(t.Context(), UsageFilter{Since: day1, Until: day2}); err != nil || len(got) != 0 {
				t.Errorf("Completeness of the dropped day = %d hours, %v; want none", len(got), err)
			}
		})
	}
}

// completeness_hours dropped by month while the raw tables still hold the
// month: the report starts after the month it can no longer read whole.
func TestCompletenessAfterMonthDropped(t *testing.T) {
	day1 := time.Date(2026, 5, 5, 0, 0, 0, 0, time.UTC)
	june := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	s := openStore(t)
	writeCompletenessFixture(t, s, day1)
	writeCompletenessFixture(t, s, june)
	now := june.AddDate(0, 0, 2)
	if _, err := s.DropExpired(t.Context(), Retention{"completeness_hours": 1}, now); err != nil {
		t.Fatalf("DropExpired: %v", err)
	}
	whole := UsageFilter{Since: day1, Until: now}
	got, err := s.Completeness(t.Context(), whole)
	if err != nil {
		t.Fatalf("Completeness: %v", err)
	}
	raw, err := s.CompletenessBefore(t.Context(), whole)
	if err != nil {
		t.Fatalf("CompletenessBefore: %v", err)
	}
	if len(got) == 0 || !reflect.DeepEqual(got, raw) {
		t.Errorf("Completeness =\n%+v\nthe raw rows =\n%+v", got, raw)
	}
	for _, r := range got {
		if r.Hour.Before(june) {
			t.Errorf("Completeness lists %s, in the month completeness_hours lost", r.Hour.Format(time.RFC3339))
		}
	}
	since, cutoffs, err := s.CompletenessSince(t.Context(), whole)
	if err != nil || !since.Equal(june) || len(cutoffs) != 1 || cutoffs[0].Table != "completeness_hours" {
		t.Errorf("CompletenessSince = %s, %+v, %v; want %s by completeness_hours", since, cutoffs, err, june)
	}
}
