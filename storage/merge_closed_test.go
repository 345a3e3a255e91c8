package storage

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// partsOf reads the active parts of a table per partition, as
// "partition:parts" in partition order.
func partsOf(t *testing.T, s *Store, table string) []string {
	t.Helper()
	rows, err := s.conn.Query(t.Context(), "SELECT partition_id, count() FROM system.parts WHERE active AND database = ? AND table = ? GROUP BY partition_id ORDER BY partition_id", s.database, table)
	if err != nil {
		t.Fatalf("parts of %s: %v", table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var (
			id string
			n  uint64
		)
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s:%d", id, n))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// MergeClosed folds each closed day of invocations and each closed month
// of trace_hours into one part, keeps every row, leaves the days and
// months not yet closed (and those ClosedPartitionSettle after their end)
// as they are, and merges nothing the second time.
func TestMergeClosed(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	count := counter(t, s)
	now := time.Date(2026, 5, 3, 4, 0, 0, 0, time.UTC)
	// Each statement makes a part of each day it writes: two parts of
	// 1 May (closed 22 hours before now), of 2 May (closed 4 hours before,
	// less than ClosedPartitionSettle) and of 3 May (open).
	insert := func(fn string, days ...string) {
		t.Helper()
		for _, day := range days {
			q := "INSERT INTO " + s.database + ".invocations (start_time, start_unix_nano, function_name, request_id) " +
				"SELECT toDateTime(?) + number * 60 AS st, toUInt64(st) * 1000000000, ?, concat(?, toString(number)) FROM numbers(10)"
			if err := s.conn.Exec(ctx, q, day, fn, fn+"-"+day); err != nil {
				t.Fatalf("insert invocations: %v", err)
			}
		}
	}
	insert("orders", "2026-05-01 10:00:00", "2026-05-02 10:00:00", "2026-05-03 01:00:00")
	insert("inventory", "2026-05-01 10:00:00", "2026-05-02 10:00:00", "2026-05-03 01:00:00")
	write := demoTraceWriter(t, s, 48)
	write(time.Date(2026, 4, 10, 10, 0, 0, 0, time.UTC))
	write(time.Date(2026, 4, 20, 10, 0, 0, 0, time.UTC))
	write(time.Date(2026, 5, 2, 10, 0, 0, 0, time.UTC))
	write(time.Date(2026, 5, 2, 11, 0, 0, 0, time.UTC))
	invocations := count("SELECT count() FROM DB.invocations")
	hours := count("SELECT count() FROM DB.trace_hours")
	if got, want := partsOf(t, s, "invocations"), []string{"20260501:2", "20260502:2", "20260503:2"}; !slices.Equal(got, want) {
		t.Fatalf("parts of invocations before = %q, want %q", got, want)
	}
	if got := partsOf(t, s, "trace_hours"); !slices.Equal(got, []string{"202604:2", "202605:2"}) {
		t.Fatalf("parts of trace_hours before = %q, want two a month", got)
	}

	merged, err := s.MergeClosed(ctx, now)
	if err != nil {
		t.Fatalf("MergeClosed: %v", err)
	}
	var got []string
	for _, m := range merged {
		got = append(got, fmt.Sprintf("%s %s %d", m.Table, m.Day.Format(time.DateOnly), m.Parts))
	}
	if want := []string{"invocations 2026-05-01 2", "trace_hours 2026-04-01 2"}; !slices.Equal(got, want) {
		t.Errorf("MergeClosed merged %q, want %q", got, want)
	}
	if got, want := partsOf(t, s, "invocations"), []string{"20260501:1", "20260502:2", "20260503:2"}; !slices.Equal(got, want) {
		t.Errorf("parts of invocations after = %q, want %q", got, want)
	}
	if got, want := partsOf(t, s, "trace_hours"), []string{"202604:1", "202605:2"}; !slices.Equal(got, want) {
		t.Errorf("parts of trace_hours after = %q, want %q", got, want)
	}
	if n := count("SELECT count() FROM DB.invocations"); n != invocations {
		t.Errorf("invocations holds %d rows after the merge, want %d", n, invocations)
	}
	if n := count("SELECT count() FROM DB.trace_hours FINAL"); n > hours || n == 0 {
		t.Errorf("trace_hours holds %d rows after the merge, want at most %d (ReplacingMergeTree folds repeats) and some", n, hours)
	}
	if again, err := s.MergeClosed(ctx, now); err != nil || len(again) != 0 {
		t.Errorf("MergeClosed again = %v, %v; want nothing merged", again, err)
	}
	// A day later, 2 May is closed too.
	merged, err = s.MergeClosed(ctx, now.Add(24*time.Hour))
	if err != nil || len(merged) != 1 || merged[0].Table != "invocations" || !merged[0].Day.Equal(time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("MergeClosed a day later = %+v, %v; want 2 May of invocations", merged, err)
	}
}

// partitionSpan reads the partition IDs of days, weeks (trace_hours
// before migration 46) and months, and no other.
func TestPartitionSpan(t *testing.T) {
	for _, c := range []struct {
		table, id  string
		start, end string
		ok         bool
	}{
		{"invocations", "20260501", "2026-05-01", "2026-05-02", true},
		{"invocations", "20260504", "2026-05-04", "2026-05-05", true}, // a Monday, still a day
		{"trace_hours", "20260504", "2026-05-04", "2026-05-11", true},
		{"trace_hours", "202612", "2026-12-01", "2027-01-01", true},
		{"invocations", "2026-05", "", "", false},
		{"invocations", "20261399", "", "", false},
	} {
		start, end, ok := partitionSpan(c.table, c.id)
		if ok != c.ok || (ok && (start.Format(time.DateOnly) != c.start || end.Format(time.DateOnly) != c.end)) {
			t.Errorf("partitionSpan(%s, %s) = %s, %s, %v; want %s, %s, %v", c.table, c.id, start, end, ok, c.start, c.end, c.ok)
		}
	}
}
