package storage

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/storage/chtest"
	"github.com/lambdascope/lambdascope/storage/storagetest"
)

// spansThroughTraceHours reads a trace by the first query SpansByTraceID
// runs, the one through trace_hours, without its fallbacks.
func spansThroughTraceHours(t *testing.T, s *Store, id [16]byte) []SpanRecord {
	t.Helper()
	hex := hexID(id[:])
	spans, err := s.readSpans(t.Context(), selectSpansInTraceHoursSQL(s.database, s.subqueryIn()), hex, hex)
	if err != nil {
		t.Fatalf("spans through trace_hours: %v", err)
	}
	return spans
}

// Migration 17 on a database with data: spans are copied into the new
// layout whole, a trace stored before it is found through trace_windows
// and one stored after through trace_hours, and the views on spans fire
// on the table that took its name.
func TestMigration17OnStoredData(t *testing.T) {
	dsn, _ := chtest.NewDatabase(t)
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	applyMigrationsBefore(t, s, 17)

	at := time.Date(2026, 5, 4, 9, 59, 59, 0, time.UTC)
	write := demoTraceWriter(t, s, 1)
	count := counter(t, s)
	before := write(at)
	if n := count("SELECT count() FROM DB.trace_windows"); n != 1 {
		t.Fatalf("trace_windows before migration 17 holds %d rows, want 1", n)
	}
	edgesBefore := count("SELECT count() FROM DB.service_map_minutes")

	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate to 17: %v", err)
	}
	if n := count("SELECT count() FROM DB.spans"); n != storagetest.SpansPerDemoTrace {
		t.Errorf("spans after the copy = %d, want %d", n, storagetest.SpansPerDemoTrace)
	}
	var create string
	if err := s.conn.QueryRow(ctx, "SHOW CREATE TABLE "+s.Database()+".spans").Scan(&create); err != nil {
		t.Fatalf("show create spans: %v", err)
	}
	if !strings.Contains(create, "ORDER BY (toStartOfHour(start_time), trace_id, service_name, start_unix_nano)") ||
		!strings.Contains(create, "index_granularity = 1024") {
		t.Errorf("spans after migration 17 = %s, want the new key and granularity", create)
	}

	after := write(at.Add(time.Hour))
	if n := count("SELECT count() FROM DB.trace_windows"); n != 1 {
		t.Errorf("trace_windows after migration 17 holds %d rows, want the 1 it had (its view is gone)", n)
	}
	if n := count("SELECT count() FROM DB.trace_hours"); n != 1 {
		t.Errorf("trace_hours holds %d rows, want 1 (the trace written after the migration)", n)
	}
	if n := count("SELECT count() FROM DB.service_map_minutes"); n <= edgesBefore {
		t.Errorf("service_map_minutes has %d rows after a write into the new spans, %d before: its view did not fire", n, edgesBefore)
	}
	if n := len(spansThroughTraceHours(t, s, after)); n != storagetest.SpansPerDemoTrace {
		t.Errorf("trace stored after migration 17: %d spans through trace_hours, want %d", n, storagetest.SpansPerDemoTrace)
	}
	for name, id := range map[string][16]byte{"before": before, "after": after} {
		spans, err := s.SpansByTraceID(ctx, id)
		if err != nil {
			t.Fatalf("SpansByTraceID(%s): %v", name, err)
		}
		if len(spans) != storagetest.SpansPerDemoTrace {
			t.Errorf("trace stored %s migration 17: %d spans, want %d", name, len(spans), storagetest.SpansPerDemoTrace)
		}
		if !slices.IsSortedFunc(spans, func(a, b SpanRecord) int { return a.Start.Compare(b.Start) }) {
			t.Errorf("trace stored %s migration 17: spans not in start order", name)
		}
		refs := []SpanRef{{TraceID: id, SpanID: spans[len(spans)-1].SpanID}}
		heads, err := s.SpansByRef(ctx, refs)
		if err != nil || len(heads) != 1 || heads[0].SpanID != refs[0].SpanID {
			t.Errorf("SpansByRef(trace stored %s migration 17) = %+v, %v; want its last span", name, heads, err)
		}
	}
	if got, err := s.SpansByTraceID(ctx, [16]byte{0xee}); err != nil || len(got) != 0 {
		t.Errorf("SpansByTraceID(unknown) = %d spans, %v; want none", len(got), err)
	}
}

// A partition of trace_hours goes only when the last of its days is due,
// never with its first: a month from migration 46 on, a week on a
// database before it (as clusters keep it).
func TestRetentionKeepsTraceHoursUntilTheirLastDay(t *testing.T) {
	monday := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	month := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name   string
		before uint32 // migrations applied: those before this one, 0 for all
		due    DroppedPartition
		cutoff []time.Time // the first is too early, the last just due
	}{
		{"by month", 0, DroppedPartition{Table: "trace_hours", Day: month, Month: true},
			[]time.Time{monday.AddDate(0, 0, 7), month.AddDate(0, 1, 0).Add(-time.Hour), month.AddDate(0, 1, 0)}},
		{"by week, before migration 46", traceHoursByMonthVersion, DroppedPartition{Table: "trace_hours", Day: monday},
			[]time.Time{monday.AddDate(0, 0, 1), monday.AddDate(0, 0, 6).Add(23 * time.Hour), monday.AddDate(0, 0, 7)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dsn, _ := chtest.NewDatabase(t)
			s, err := Open(t.Context(), dsn)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { _ = s.Close() })
			ctx := t.Context()
			if tt.before == 0 {
				err = s.Migrate(ctx)
			} else {
				applyMigrationsBefore(t, s, tt.before)
			}
			if err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			req := storagetest.DemoTrace(rand.New(rand.NewPCG(5, 6)), monday.Add(10*time.Hour))
			if _, err := s.WriteExports(ctx, req); err != nil {
				t.Fatalf("WriteExports: %v", err)
			}
			for i, cutoff := range tt.cutoff {
				victims, err := s.partitionsBefore(ctx, func(string) (time.Time, bool) { return cutoff, true })
				if err != nil {
					t.Fatalf("partitionsBefore: %v", err)
				}
				got, want := slices.Contains(victims, tt.due), i == len(tt.cutoff)-1
				if got != want {
					t.Errorf("cutoff %s: trace_hours partition %+v due = %v, want %v (victims %+v)", cutoff.Format(time.DateTime), tt.due, got, want, victims)
				}
				spansDue := slices.Contains(victims, DroppedPartition{Table: "spans", Day: monday})
				if want := cutoff.After(monday.AddDate(0, 0, 1).Add(-time.Second)); spansDue != want {
					t.Errorf("cutoff %s: spans day %s due = %v, want %v", cutoff.Format(time.DateTime), monday.Format(time.DateOnly), spansDue, want)
				}
			}
		})
	}
}

// Migration 17 stopped after spans_v17 took the name spans, with spans
// written into the new table before the old rows moved: the migration run
// again moves the old rows in, keeps the new ones, leaves no table of the
// move behind, and the views do not count the moved rows a second time.
func TestMigration17ResumesAndKeepsWritesDuringTheMove(t *testing.T) {
	dsn, _ := chtest.NewDatabase(t)
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	applyMigrationsBefore(t, s, spansLayoutVersion)

	write := demoTraceWriter(t, s, 2)
	count := counter(t, s)
	day := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	old := []([16]byte){write(day), write(day.AddDate(0, 0, 1))}

	ms, err := renderMigrations(s.Database(), s.Capabilities(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Version != spansLayoutVersion {
			continue
		}
		for _, stmt := range m.Statements {
			if err := s.conn.Exec(ctx, stmt); err != nil {
				t.Fatalf("migration 17: %v", err)
			}
		}
	}
	if err := s.conn.Exec(ctx, swapSpansSQL(s.database)); err != nil {
		t.Fatalf("swap: %v", err)
	}
	during := write(day.Add(2 * time.Hour))
	edges := count("SELECT count() FROM DB.service_map_minutes")
	hours := count("SELECT count() FROM DB.trace_hours")

	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate after a stop: %v", err)
	}
	if n, want := count("SELECT count() FROM DB.spans"), uint64(3*storagetest.SpansPerDemoTrace); n != want {
		t.Errorf("spans after the move = %d, want %d (two traces moved, one written during the move)", n, want)
	}
	if n := count("SELECT count() FROM system.tables WHERE database = '" + s.Database() + "' AND name IN ('spans_v1', 'spans_v17', 'spans_move')"); n != 0 {
		t.Errorf("%d tables of the move left behind", n)
	}
	if n := count("SELECT count() FROM DB.service_map_minutes"); n != edges {
		t.Errorf("service_map_minutes has %d rows after the move, %d before: the moved rows fed the views again", n, edges)
	}
	if n := count("SELECT count() FROM DB.trace_hours"); n != hours {
		t.Errorf("trace_hours has %d rows after the move, %d before", n, hours)
	}
	for i, id := range append(old, during) {
		spans, err := s.SpansByTraceID(ctx, id)
		if err != nil || len(spans) != storagetest.SpansPerDemoTrace {
			t.Errorf("trace %d: %d spans, %v; want %d", i, len(spans), err, storagetest.SpansPerDemoTrace)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate once more: %v", err)
	}
	if n, want := count("SELECT count() FROM DB.spans"), uint64(3*storagetest.SpansPerDemoTrace); n != want {
		t.Errorf("spans after migrating once more = %d, want %d", n, want)
	}
}

// demoTraceWriter returns a function that writes one demo trace starting
// at a time and returns its ID.
func demoTraceWriter(t *testing.T, s *Store, seed uint64) func(time.Time) [16]byte {
	rng := rand.New(rand.NewPCG(17, seed))
	return func(at time.Time) [16]byte {
		t.Helper()
		reqs := storagetest.DemoTrace(rng, at)
		if _, err := s.WriteExports(t.Context(), reqs); err != nil {
			t.Fatalf("WriteExports: %v", err)
		}
		var id [16]byte
		copy(id[:], reqs[0].ResourceSpans[0].ScopeSpans[0].Spans[0].TraceId)
		return id
	}
}

// counter returns a function that runs a count query, DB. naming the
// store's database.
func counter(t *testing.T, s *Store) func(sql string) uint64 {
	return func(sql string) uint64 {
		t.Helper()
		var n uint64
		if err := s.conn.QueryRow(t.Context(), strings.ReplaceAll(sql, "DB.", s.Database()+".")).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
}

// TestTraceHoursHorizon checks migration 31's horizon: 0 on a database
// made by one run of the migrations, an hour after migration 17 was
// recorded on one that reached migration 17 later.
func TestTraceHoursHorizon(t *testing.T) {
	s := openStore(t)
	horizon, ok, err := s.viewHorizon(t.Context(), "trace_hours")
	if err != nil || !ok || horizon != 0 {
		t.Fatalf("horizon of a new database = %d, %v, %v; want 0", horizon, ok, err)
	}
	// A database that reached migration 17 a day after migration 1.
	later := time.Now().UTC().Add(24 * time.Hour).Truncate(time.Second)
	batch, err := s.conn.PrepareBatch(t.Context(), insertMigrationSQL(s.database))
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	if err := batch.Append(uint32(17), "trace_hours", later); err != nil {
		t.Fatalf("append: %v", err)
	}
	if err := batch.Send(); err != nil {
		t.Fatalf("record migration 17 later: %v", err)
	}
	ms, err := renderMigrations(s.database, s.caps, "")
	if err != nil {
		t.Fatalf("render migrations: %v", err)
	}
	i := slices.IndexFunc(ms, func(m migration) bool { return m.Version == 31 })
	if i < 0 || len(ms[i].Statements) != 1 {
		t.Fatalf("migration 31 not found with one statement")
	}
	if err := s.conn.Exec(t.Context(), ms[i].Statements[0]); err != nil {
		t.Fatalf("apply migration 31 again: %v", err)
	}
	horizon, _, err = s.viewHorizon(t.Context(), "trace_hours")
	if want := uint64(later.Add(time.Hour).UnixNano()); err != nil || horizon != want {
		t.Errorf("horizon after a later migration 17 = %d, %v; want %d", horizon, err, want)
	}
}
