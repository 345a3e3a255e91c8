package storage

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lambdascope/lambdascope/storage/chtest"
)

// forgetMigrationsFrom leaves in the schema_migrations of st's server only
// the versions before from: what a Migrate cut short at from (an ALTER ...
// ON CLUSTER that timed out while the servers went on with it) leaves.
func forgetMigrationsFrom(t *testing.T, st *Store, from uint32) {
	t.Helper()
	ctx := t.Context()
	if err := st.conn.Exec(ctx, "DROP TABLE "+st.database+".schema_migrations"); err != nil {
		t.Fatalf("drop schema_migrations: %v", err)
	}
	if err := st.conn.Exec(ctx, createMigrationsTableSQL(st.database)); err != nil {
		t.Fatalf("create schema_migrations: %v", err)
	}
	ms, err := renderMigrations(st.database, st.caps, st.cluster)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Version < from {
			if err := st.recordMigration(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
	}
	if v, err := st.SchemaVersion(ctx); err != nil || v >= from {
		t.Fatalf("SchemaVersion after forgetting %d on = %d, %v", from, v, err)
	}
}

// addColumnsVersions are the migrations that add columns, which 18.x
// cannot do IF NOT EXISTS.
var addColumnsVersions = []uint32{11, 13, 16, 56, 57}

// checkAddColumnsRender fails unless the migrations that add columns are
// the ones execMigrationStatement recognises on st's server.
func checkAddColumnsRender(t *testing.T, st *Store) {
	t.Helper()
	ms, err := renderMigrations(st.database, st.caps, st.cluster)
	if err != nil {
		t.Fatal(err)
	}
	var got []uint32
	for _, m := range ms {
		for _, stmt := range m.Statements {
			if strings.Contains(stmt, "ADD COLUMN") {
				if addColumnsStatement.MatchString(stmt) {
					got = append(got, m.Version)
				} else {
					t.Errorf("migration %d adds columns in a statement execMigrationStatement does not recognise:\n%s", m.Version, stmt)
				}
			}
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(addColumnsVersions) {
		t.Errorf("migrations adding columns = %v, want %v", got, addColumnsVersions)
	}
}

// A Migrate cut short after migration 11 added its columns (on 18.x,
// without IF NOT EXISTS) runs again: the columns there already are not
// added again, and the rest of the migrations are applied.
func TestMigrateRunsAgainAfterItsColumnsWereAdded(t *testing.T) {
	st := openStore(t)
	checkAddColumnsRender(t, st)
	forgetMigrationsFrom(t, st, 11)
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate again from migration 11: %v", err)
	}
	if v, err := st.SchemaVersion(t.Context()); err != nil || v != LatestVersion() {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, LatestVersion())
	}
	if missing, err := st.missingColumns(t.Context(), st.database, "invocations", []string{"unknown_figures", "incomplete", "tenant_id"}); err != nil || missing != "" {
		t.Errorf("columns of migration 11 missing: %q, %v", missing, err)
	}
}

// On a cluster, a Migrate cut short after migration 11's ALTER ... ON
// CLUSTER runs again through the same server, with one shard lacking the
// column of migration 57 (its ALTER still queued there, say), and Migrate
// runs through the other server, whose schema_migrations is empty: the
// columns there already are not added again, those missing are.
func TestClusterMigrateRunsAgainAfterItsColumnsWereAdded(t *testing.T) {
	c := chtest.StartCluster(t, 2)
	ctx := t.Context()
	first := openClusterStore(t, c.Servers[0], c.Name)
	if err := first.Migrate(ctx); err != nil {
		t.Fatalf("Migrate on cluster: %v", err)
	}
	checkAddColumnsRender(t, first)
	if err := chtest.ConnTo(t, c.Servers[1].DSN()).Exec(ctx, "ALTER TABLE lambdascope.invocations_local DROP COLUMN function_error_type"); err != nil {
		t.Fatalf("drop function_error_type on shard 2: %v", err)
	}
	if missing, err := first.missingColumns(ctx, "lambdascope", "invocations_local", []string{"function_error_type"}); err != nil || missing != "function_error_type on 1 of 2 shards" {
		t.Fatalf("missingColumns after dropping on shard 2 = %q, %v", missing, err)
	}
	forgetMigrationsFrom(t, first, 11)
	if err := first.Migrate(ctx); err != nil {
		t.Fatalf("Migrate again from migration 11: %v", err)
	}
	second := openClusterStore(t, c.Servers[1], c.Name)
	if err := second.Migrate(ctx); err != nil {
		t.Fatalf("Migrate through the second server: %v", err)
	}
	for i, st := range []*Store{first, second} {
		if v, err := st.SchemaVersion(ctx); err != nil || v != LatestVersion() {
			t.Errorf("server %d: SchemaVersion = %d, %v; want %d", i+1, v, err, LatestVersion())
		}
	}
	if missing, err := first.missingColumns(ctx, "lambdascope", "invocations_local",
		[]string{"unknown_figures", "incomplete", "tenant_id", "function_error_type"}); err != nil || missing != "" {
		t.Errorf("columns missing on the shards: %q, %v", missing, err)
	}
}
