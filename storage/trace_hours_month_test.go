package storage

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/storage/chtest"
	"github.com/lambdascope/lambdascope/storage/storagetest"
)

// traceHoursRows reads trace_hours whole, folded (FINAL), as "key hour"
// lines in order.
func traceHoursRows(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.conn.Query(t.Context(), "SELECT hex(trace_key), hour FROM "+s.database+".trace_hours FINAL ORDER BY trace_key, hour")
	if err != nil {
		t.Fatalf("read trace_hours: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var (
			key  string
			hour time.Time
		)
		if err := rows.Scan(&key, &hour); err != nil {
			t.Fatalf("scan trace_hours: %v", err)
		}
		out = append(out, key+" "+hour.UTC().Format(time.DateTime))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read trace_hours: %v", err)
	}
	return out
}

// openBefore opens a new database migrated to the version before v.
func openBefore(t *testing.T, v uint32) *Store {
	t.Helper()
	dsn, _ := chtest.NewDatabase(t)
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	applyMigrationsBefore(t, s, v)
	return s
}

// Migration 46 on a database with data: trace_hours is partitioned by
// month, one part each, and holds every row it held, traces stored before are found
// through it, and its view writes the hours of new spans into it.
func TestMigration46OnStoredData(t *testing.T) {
	s := openBefore(t, traceHoursByMonthVersion)
	ctx := t.Context()
	write := demoTraceWriter(t, s, 46)
	count := counter(t, s)
	// Two weeks of two months, and a trace across midnight into May.
	old := [][16]byte{
		write(time.Date(2026, 4, 20, 10, 0, 0, 0, time.UTC)),
		write(time.Date(2026, 4, 30, 23, 59, 59, 999_000_000, time.UTC)),
		write(time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)),
	}
	want := traceHoursRows(t, s)
	if len(want) < len(old) {
		t.Fatalf("trace_hours before migration 46 holds %d rows for %d traces", len(want), len(old))
	}

	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate to 46: %v", err)
	}
	if key, err := s.partitionKey(ctx, "trace_hours"); err != nil || key != traceHoursMonthKey {
		t.Errorf("partition key of trace_hours = %q, %v; want %q", key, err, traceHoursMonthKey)
	}
	if got := traceHoursRows(t, s); !slices.Equal(got, want) {
		t.Errorf("trace_hours after migration 46 = %q, want the rows before, %q", got, want)
	}
	if got, want := activeDays(t, s, "trace_hours"), []string{"trace_hours/202604", "trace_hours/202605"}; !slices.Equal(got, want) {
		t.Errorf("partitions of trace_hours = %q, want %q", got, want)
	}
	if n := count("SELECT count() FROM system.tables WHERE database = '" + s.Database() + "' AND name IN ('trace_hours_v17', 'trace_hours_v46')"); n != 0 {
		t.Errorf("%d tables of the copy left behind", n)
	}
	if n := count("SELECT count() FROM system.parts WHERE database = '" + s.Database() + "' AND table = 'trace_hours' AND active"); n != 2 {
		t.Errorf("trace_hours is in %d parts after the copy, want one per month (2)", n)
	}
	after := write(time.Date(2026, 5, 5, 10, 0, 0, 0, time.UTC))
	if n := count("SELECT count() FROM DB.trace_hours FINAL"); n != uint64(len(want))+1 {
		t.Errorf("trace_hours holds %d rows after a trace written after migration 46, want %d: its view did not write into the new table", n, len(want)+1)
	}
	for i, id := range append(old, after) {
		if n := len(spansThroughTraceHours(t, s, id)); n != storagetest.SpansPerDemoTrace {
			t.Errorf("trace %d: %d spans through trace_hours, want %d", i, n, storagetest.SpansPerDemoTrace)
		}
	}
}

// Migration 46 stopped after the new table took the name trace_hours, in
// the middle of a week's copy (the week copied, not yet dropped from the
// old table), with a trace written meanwhile: the migration run again
// copies the rest, keeps the new rows, and leaves no table of the copy.
func TestMigration46ResumesAndKeepsWritesDuringTheCopy(t *testing.T) {
	s := openBefore(t, traceHoursByMonthVersion)
	ctx := t.Context()
	write := demoTraceWriter(t, s, 47)
	week := time.Date(2026, 4, 20, 0, 0, 0, 0, time.UTC)
	old := [][16]byte{write(week.Add(10 * time.Hour)), write(week.AddDate(0, 0, 7).Add(10 * time.Hour))}

	ms, err := renderMigrations(s.Database(), s.Capabilities(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Version != traceHoursByMonthVersion {
			continue
		}
		for _, stmt := range m.Statements {
			if err := s.conn.Exec(ctx, stmt); err != nil {
				t.Fatalf("migration 46: %v", err)
			}
		}
	}
	if err := s.conn.Exec(ctx, swapTraceHoursSQL(s.database)); err != nil {
		t.Fatalf("swap: %v", err)
	}
	sql, args := copyTraceHoursWeekSQL(s.database, week)
	if err := s.conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("copy the first week: %v", err)
	}
	during := write(week.AddDate(0, 0, 8).Add(10 * time.Hour))

	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate after a stop: %v", err)
	}
	count := counter(t, s)
	if n := count("SELECT count() FROM DB.trace_hours FINAL"); n != 3 {
		t.Errorf("trace_hours holds %d rows, want 3 (two traces copied, one written during the copy)", n)
	}
	if n := count("SELECT count() FROM system.tables WHERE database = '" + s.Database() + "' AND name IN ('trace_hours_v17', 'trace_hours_v46')"); n != 0 {
		t.Errorf("%d tables of the copy left behind", n)
	}
	for i, id := range append(old, during) {
		if n := len(spansThroughTraceHours(t, s, id)); n != storagetest.SpansPerDemoTrace {
			t.Errorf("trace %d: %d spans through trace_hours, want %d", i, n, storagetest.SpansPerDemoTrace)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate once more: %v", err)
	}
	if n := count("SELECT count() FROM DB.trace_hours FINAL"); n != 3 {
		t.Errorf("trace_hours holds %d rows after migrating once more, want 3", n)
	}
}

// A statement of migration 46's step that rewrites a partition (a week's
// copy, a month's merge) is not cut short by the client's read timeout:
// on a store whose read timeout is 1 s, a statement of 2 s fails when run
// as a read, and runs to its end as a rewrite.
func TestRewriteOutlastsTheReadTimeout(t *testing.T) {
	dsn, _ := chtest.NewDatabase(t)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	s, err := Open(t.Context(), dsn+sep+"read_timeout=1s")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	const slow = "SELECT sleep(2)"
	if err := s.conn.Exec(t.Context(), slow); err == nil {
		t.Fatalf("%s with a read timeout of 1 s: no error; the test cannot tell the rewrite's wait from the read timeout", slow)
	}
	if err := s.execRewrite(t.Context(), slow); err != nil {
		t.Errorf("%s as a rewrite: %v, want it to run to its end", slow, err)
	}
}
