package collector_test

import (
	"bytes"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chtest"
	"github.com/lambdascope/lambdascope/storage/storagetest"
)

// TestNativeRowsTakeEachDistinctRowInTurn holds the end-to-end benchmarks'
// Native rows to the collector's: a table holding each of 10 rows five
// times, as the benchmark's table holds each of the load client's rows
// many times, gives 25 rows of which every distinct row is one, two or
// three, not the table's first 25 rows (five rows five times over).
func TestNativeRowsTakeEachDistinctRowInTurn(t *testing.T) {
	_, db := chtest.NewDatabase(t)
	conn := chtest.Conn(t)
	for _, q := range []string{
		"CREATE TABLE DB.repeated (k UInt32, v String) ENGINE = MergeTree ORDER BY k",
		"INSERT INTO DB.repeated SELECT number % 10, toString(number % 10) FROM numbers(50)",
		"CREATE TABLE DB.copied AS DB.repeated",
	} {
		if err := conn.Exec(t.Context(), strings.ReplaceAll(q, "DB", db)); err != nil {
			t.Fatal(err)
		}
	}
	rows := exportNative(t, db, "repeated", t.TempDir(), 25)
	native, err := os.ReadFile(rows.file)
	if err != nil {
		t.Fatal(err)
	}
	clickhouseClient(t, db, "INSERT INTO copied FORMAT Native", bytes.NewReader(native))

	got := map[uint32]uint64{}
	res, err := conn.Query(t.Context(), fmt.Sprintf("SELECT k, count() FROM %s.copied GROUP BY k", db))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	var total uint64
	for res.Next() {
		var k uint32
		var n uint64
		if err := res.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		got[k] = n
		total += n
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if total != 25 || len(got) != 10 {
		t.Fatalf("Native rows: %d rows of %d distinct (%v), want 25 of all 10", total, len(got), got)
	}
	for k, n := range got {
		if n < 2 || n > 3 {
			t.Errorf("row %d copied %d times, want 2 or 3 (each distinct row in turn)", k, n)
		}
	}
}

// TestEmptyTablesEmptiesWhatASpansInsertWrites holds the end-to-end
// benchmarks' reset between contenders to the schema: every table of the
// database that a spans insert adds rows to is among fedTables("spans"),
// and emptyTables leaves none of them a row.
func TestEmptyTablesEmptiesWhatASpansInsertWrites(t *testing.T) {
	dsn, db := chtest.NewDatabase(t)
	store, err := storage.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	if err := store.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	before := rowsByTable(t, db)
	req := storagetest.DemoSpanRequest(mrand.New(mrand.NewPCG(1, 2)), time.Now(), 1000, false)
	if _, err := store.WriteExports(t.Context(), []*ingestv1.ExportRequest{req}); err != nil {
		t.Fatal(err)
	}
	fed := fedTables(t, db, "spans")
	var written []string
	for table, n := range rowsByTable(t, db) {
		if n > before[table] {
			written = append(written, table)
		}
	}
	if !slices.Contains(written, "spans") {
		t.Fatalf("the spans insert wrote %v, not spans", written)
	}
	for _, table := range written {
		if !slices.Contains(fed, table) {
			t.Errorf("a spans insert writes %s, which fedTables leaves out (%v)", table, fed)
		}
	}
	emptyTables(t, db, fed)
	for table, n := range rowsByTable(t, db) {
		if slices.Contains(fed, table) && n > 0 {
			t.Errorf("%s holds %d rows after emptyTables", table, n)
		}
	}
}

// rowsByTable is the rows of each table of db, from its active parts.
func rowsByTable(t *testing.T, db string) map[string]uint64 {
	t.Helper()
	res, err := chtest.Conn(t).Query(t.Context(), "SELECT table, sum(rows) FROM system.parts WHERE database = ? AND active GROUP BY table", db)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	out := map[string]uint64{}
	for res.Next() {
		var table string
		var n uint64
		if err := res.Scan(&table, &n); err != nil {
			t.Fatal(err)
		}
		out[table] = n
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
