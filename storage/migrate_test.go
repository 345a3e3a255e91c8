package storage

import (
	"slices"
	"testing"

	"github.com/lambdascope/lambdascope/storage/chtest"
)

func TestMigrateFreshDatabase(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()

	rows, err := s.conn.Query(ctx, "SELECT name FROM system.tables WHERE database = ? ORDER BY name", s.Database())
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatalf("scan table name: %v", err)
		}
		tables = append(tables, name)
	}
	for _, want := range []string{
		"invocations", "logs", "schema_migrations", "spans", "metric_points",
		"trace_index", "trace_windows", "trace_hours", "trace_hours_mv", "function_figures", "service_map_minutes",
	} {
		if !slices.Contains(tables, want) {
			t.Errorf("table %s missing; have %v", want, tables)
		}
	}
	// Migrations 15 and 17 dropped the views that later ones replaced, and
	// 17 the spans table it copied.
	for _, gone := range []string{"trace_index_mv", "function_minutes", "function_minutes_mv", "service_edges", "service_edges_mv", "trace_windows_mv", "spans_v17", "spans_v1"} {
		if slices.Contains(tables, gone) {
			t.Errorf("table %s still there after migrations 15 and 17; have %v", gone, tables)
		}
	}

	got, err := s.SchemaVersion(ctx)
	if err != nil {
		t.Fatalf("SchemaVersion: %v", err)
	}
	if want := LatestVersion(); got != want || want == 0 {
		t.Errorf("SchemaVersion = %d, want LatestVersion %d (non-zero)", got, want)
	}
}

func TestMigrateTwiceIsNoOp(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	countRows := func() uint64 {
		t.Helper()
		var n uint64
		if err := s.conn.QueryRow(ctx, "SELECT count() FROM "+s.Database()+".schema_migrations").Scan(&n); err != nil {
			t.Fatalf("count schema_migrations: %v", err)
		}
		return n
	}
	before := countRows()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if after := countRows(); after != before {
		t.Errorf("schema_migrations rows: %d after second Migrate, %d before", after, before)
	}
	ms, err := renderMigrations(s.Database(), s.Capabilities(), "")
	if err != nil {
		t.Fatalf("renderMigrations: %v", err)
	}
	if before != uint64(len(ms)) {
		t.Errorf("schema_migrations holds %d rows, want one per migration (%d)", before, len(ms))
	}
}

func TestSchemaVersionBeforeMigrate(t *testing.T) {
	dsn, _ := chtest.NewDatabase(t)
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	v, err := s.SchemaVersion(t.Context())
	if err != nil {
		t.Fatalf("SchemaVersion: %v", err)
	}
	if v != 0 {
		t.Errorf("SchemaVersion before Migrate = %d, want 0", v)
	}
}
