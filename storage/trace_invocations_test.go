package storage

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/lambdascope/lambdascope/storage/dbmodel"
)

// insertInvocations stores rows in invocations, as the writer does.
func insertInvocations(t *testing.T, s *Store, rows []dbmodel.Invocation) {
	t.Helper()
	batch, err := s.conn.PrepareBatch(t.Context(), insertSQL(s.database, "invocations", invocationInsertColumns))
	if err != nil {
		t.Fatalf("prepare insert: %v", err)
	}
	for i := range rows {
		if err := batch.Append(invocationValues(&rows[i])...); err != nil {
			t.Fatalf("append: %v", err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatalf("insert: %v", err)
	}
}

// invocationsDirect reads f from invocations itself, as a trace view read
// them before migration 55.
func invocationsDirect(t *testing.T, s *Store, f InvocationFilter) []InvocationRecord {
	t.Helper()
	query, args := selectInvocationsSQL(s.database, f)
	var out []InvocationRecord
	err := s.scanAll(t.Context(), "invocations", query, args, func(rows driver.Rows) error {
		var rec InvocationRecord
		if err := scanInvocationTraceView(rows, &rec.Invocation); err != nil {
			return err
		}
		rec.Start = unixTime(rec.StartUnixNano)
		out = append(out, rec)
		return nil
	})
	if err != nil {
		t.Fatalf("read invocations directly: %v", err)
	}
	return out
}

// TestTraceInvocationsSameAsInvocations checks that a trace view's read
// of invocations through trace_invocations (migration 55) returns what
// the same read of invocations returns, field for field and in the same
// order, on values its packing could alter: floats of every magnitude,
// the largest integers, strings with zero bytes, separators and quotes,
// IDs ending in zero bytes, empty fields; and that it reads
// trace_invocations (a row missing there is missing from the read).
func TestTraceInvocationsSameAsInvocations(t *testing.T) {
	s := openStore(t)
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var rows []dbmodel.Invocation
	var n int
	for i, d := range []float64{0, 0.1 + 0.2, 1e-300, 5e-324, 1.7976931348623157e308, math.Copysign(0, -1), 123456.789012345678, 1.0 / 3, -2.5, 1e21, math.Inf(1)} {
		var r dbmodel.Invocation
		fillDistinct(t, reflectOf(&r), &n)
		r.StartUnixNano = uint64(start.Add(time.Duration(i)*time.Second + time.Duration(i*7)).UnixNano())
		r.RequestID = "req-" + string(rune('a'+i))
		r.FunctionName = []string{"orders", "inventory"}[i%2]
		r.DurationMs, r.InitDurationMs = d, -d
		r.BilledInitDurationMs, r.RestoreDurationMs = d/7, d*3
		switch i {
		case 1:
			r.MemorySizeMB, r.MaxMemoryUsedMB, r.EphemeralStorageMB = math.MaxUint32, 0, math.MaxUint32
			r.BilledDurationMs, r.ResponseSize = math.MaxUint64, math.MaxUint64
			r.HTTPStatusCode, r.UnknownFigures = math.MaxUint16, math.MaxUint8
		case 2:
			r.AccountID, r.LogStream, r.ErrorType = "a\x00b", "2026/05/01/[$LATEST]\tx\ny", `quote " ' \ , [ ] `
			r.XRayTraceHeader, r.TenantID, r.Trigger = "Root=1-x;Parent=y;Sampled=1", "tenant\x00", "ünïcödé ✓"
			r.TraceID, r.SpanID = [16]byte{1, 2, 3}, [8]byte{0xff}
		case 3:
			r = dbmodel.Invocation{StartUnixNano: r.StartUnixNano, RequestID: r.RequestID, FunctionName: r.FunctionName}
		case 4:
			r.ColdStart, r.Incomplete = false, false
			r.TraceID, r.SpanID = [16]byte{15: 1}, [8]byte{7: 1}
		}
		rows = append(rows, r)
	}
	// A second report of one request, as a retried batch stores it.
	rows = append(rows, rows[5])
	insertInvocations(t, s, rows)

	ids := make([]string, 0, len(rows))
	for _, r := range rows {
		ids = append(ids, r.RequestID)
	}
	filters := map[string]InvocationFilter{
		"by request": {RequestIDs: ids, Since: start.Add(-time.Minute), Until: start.Add(time.Minute), Limit: 100, TraceView: true},
		"by request and function": {RequestIDs: ids, FunctionNames: []string{"orders"},
			Since: start.Add(-time.Minute), Until: start.Add(time.Minute), Limit: 100, TraceView: true},
		"narrow range, limited": {RequestIDs: ids, Since: start.Add(2*time.Second + 14), Until: start.Add(6 * time.Second), Limit: 3, TraceView: true},
	}
	for name, f := range filters {
		t.Run(name, func(t *testing.T) {
			if !traceInvocationsFilter(f, 0) {
				t.Fatalf("traceInvocationsFilter(%+v) = false, want the read to go to trace_invocations", f)
			}
			got, err := s.Invocations(t.Context(), f)
			if err != nil {
				t.Fatalf("Invocations: %v", err)
			}
			want := invocationsDirect(t, s, f)
			if len(want) == 0 {
				t.Fatal("the direct read found nothing: the filter tests nothing")
			}
			if !slices.EqualFunc(got, want, func(a, b InvocationRecord) bool {
				return a.Start.Equal(b.Start) && sameBits(a.Invocation, b.Invocation)
			}) {
				t.Errorf("through trace_invocations:\n%s\nfrom invocations:\n%s", recordsText(got), recordsText(want))
			}
		})
	}

	// The read goes to trace_invocations: a day dropped there alone is
	// missing from it.
	if err := s.conn.Exec(t.Context(), "ALTER TABLE "+s.database+".trace_invocations DROP PARTITION '2026-05-01'"); err != nil {
		t.Fatalf("drop a day of trace_invocations: %v", err)
	}
	got, err := s.Invocations(t.Context(), filters["by request"])
	if err != nil {
		t.Fatalf("Invocations: %v", err)
	}
	if len(got) != 0 {
		t.Errorf("after its day was dropped from trace_invocations alone, the trace view read %d invocations, want 0", len(got))
	}
}

// TestTraceInvocationsHorizon checks that a range starting before
// trace_invocations' horizon (the invocations stored before migration 55)
// is read from invocations, and one after it from trace_invocations; the
// horizon of a database migrated from empty is 0.
func TestTraceInvocationsHorizon(t *testing.T) {
	s := openStore(t)
	horizon, ok, err := s.viewHorizon(t.Context(), "trace_invocations")
	if err != nil || !ok || horizon != 0 {
		t.Fatalf("horizon of a database migrated from empty = %d, %v, %v; want 0, true, nil", horizon, ok, err)
	}
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var r dbmodel.Invocation
	fillDistinct(t, reflectOf(&r), new(int))
	r.StartUnixNano = uint64(start.UnixNano())
	insertInvocations(t, s, []dbmodel.Invocation{r})
	// As if the row had been stored before the view existed: gone from
	// trace_invocations, the horizon after it.
	if err := s.conn.Exec(t.Context(), "ALTER TABLE "+s.database+".trace_invocations DROP PARTITION '2026-05-01'"); err != nil {
		t.Fatalf("drop a day of trace_invocations: %v", err)
	}
	h := uint64(start.Add(30*time.Second).UnixNano()) - 1
	batch, err := s.conn.PrepareBatch(t.Context(), "INSERT INTO "+s.database+".view_horizons (view, horizon_unix_nano)")
	if err != nil {
		t.Fatalf("prepare horizon: %v", err)
	}
	if err := batch.Append("trace_invocations", h); err != nil {
		t.Fatalf("append horizon: %v", err)
	}
	if err := batch.Send(); err != nil {
		t.Fatalf("insert horizon: %v", err)
	}
	fresh, err := Open(t.Context(), s.cfg.DSN)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = fresh.Close() })
	for _, tt := range []struct {
		name  string
		since time.Time
		want  int
	}{
		{"range from before the horizon: invocations", start.Add(-time.Minute), 1},
		{"range from after the horizon: trace_invocations", start.Add(30 * time.Second), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// The row starts in both ranges: only the table read differs.
			f := InvocationFilter{RequestIDs: []string{r.RequestID}, Since: tt.since, Until: start.Add(time.Hour), TraceView: true}
			got, err := fresh.Invocations(t.Context(), f)
			if err != nil {
				t.Fatalf("Invocations: %v", err)
			}
			if len(got) != tt.want {
				t.Errorf("read %d invocations, want %d", len(got), tt.want)
			}
		})
	}
}

// TestTraceInvocationsFollowInvocations checks that retention drops
// trace_invocations' days with those of invocations, by invocations'
// retention and without naming it, and that MergeClosed merges them
// with theirs.
func TestTraceInvocationsFollowInvocations(t *testing.T) {
	s := openStore(t)
	day := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var r dbmodel.Invocation
	fillDistinct(t, reflectOf(&r), new(int))
	for i := range 2 { // two inserts: two parts of the day
		r.StartUnixNano, r.RequestID = uint64(day.Add(time.Duration(i)*time.Hour).UnixNano()), fmt.Sprint("req-", i)
		insertInvocations(t, s, []dbmodel.Invocation{r})
	}
	parts := func(table string) uint64 {
		t.Helper()
		var n uint64
		if err := s.conn.QueryRow(t.Context(), "SELECT count() FROM system.parts WHERE database = ? AND table = ? AND active",
			s.database, table).Scan(&n); err != nil {
			t.Fatalf("count parts of %s: %v", table, err)
		}
		return n
	}
	if n := parts("trace_invocations"); n != 2 {
		t.Fatalf("trace_invocations in %d parts after two inserts, want 2", n)
	}
	merged, err := s.MergeClosed(t.Context(), day.AddDate(0, 0, 2))
	if err != nil {
		t.Fatalf("MergeClosed: %v", err)
	}
	for _, m := range merged {
		if m.Table == "trace_invocations" {
			t.Errorf("MergeClosed names trace_invocations: %+v", m)
		}
	}
	if inv, ti := parts("invocations"), parts("trace_invocations"); inv != 1 || ti != 1 {
		t.Errorf("after MergeClosed: invocations in %d parts, trace_invocations in %d; want 1 and 1", inv, ti)
	}

	now := day.AddDate(0, 0, 10)
	kept := Retention{RetentionDefault: 3, "invocations": 1000}
	if dropped, err := s.DropExpired(t.Context(), kept, now); err != nil {
		t.Fatalf("DropExpired: %v", err)
	} else if n := parts("trace_invocations"); n != 1 {
		t.Errorf("with invocations kept 1000 days, trace_invocations lost its day (%d parts left; dropped %+v)", n, dropped)
	}
	due := Retention{RetentionDefault: 1000, "invocations": 3}
	expired, err := s.Expired(t.Context(), due, now)
	if err != nil {
		t.Fatalf("Expired: %v", err)
	}
	if len(expired) != 1 || expired[0].Table != "invocations" {
		t.Errorf("Expired = %+v, want the day of invocations alone", expired)
	}
	if _, err := s.DropExpired(t.Context(), due, now); err != nil {
		t.Fatalf("DropExpired: %v", err)
	}
	if inv, ti := parts("invocations"), parts("trace_invocations"); inv != 0 || ti != 0 {
		t.Errorf("after invocations' day expired: invocations in %d parts, trace_invocations in %d; want 0 and 0", inv, ti)
	}
}

// reflectOf is the settable value *p points to.
func reflectOf(p *dbmodel.Invocation) reflect.Value { return reflect.ValueOf(p).Elem() }

// sameBits reports whether a and b are equal, their floats bit for bit
// (-0 is not 0).
func sameBits(a, b dbmodel.Invocation) bool {
	for _, f := range [][2]float64{{a.DurationMs, b.DurationMs}, {a.BilledInitDurationMs, b.BilledInitDurationMs},
		{a.InitDurationMs, b.InitDurationMs}, {a.RestoreDurationMs, b.RestoreDurationMs}} {
		if math.Float64bits(f[0]) != math.Float64bits(f[1]) {
			return false
		}
	}
	return a == b
}

// recordsText lists records one a line.
func recordsText(recs []InvocationRecord) string {
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "%s %+v\n", r.Start.Format(time.RFC3339Nano), r.Invocation)
	}
	return b.String()
}
