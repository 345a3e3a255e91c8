package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage/chserver"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

// clusterViewCounts are, for every materialized view of the cluster schema,
// what it counts of the rows inserted into its source table: read from the
// shard's own tables, so that what one server's views hold is what is read.
var clusterViewCounts = map[string]string{
	"function_figures_mv":               "SELECT countMerge(invocations) FROM lambdascope.function_figures_local",
	"usage_daily_mv":                    "SELECT countMerge(invocations) FROM lambdascope.usage_daily_local",
	"usage_hourly_mv":                   "SELECT countMerge(invocations) FROM lambdascope.usage_hourly_local",
	"cost_hours_mv":                     "SELECT countMerge(invocations) FROM lambdascope.cost_hours_local",
	"streaming_hours_mv":                "SELECT countMerge(streamed) FROM lambdascope.streaming_hours_local",
	"completeness_hours_invocations_mv": "SELECT sum(invocations) FROM lambdascope.completeness_hours_local",
	"service_map_minutes_mv":            "SELECT countMerge(calls) FROM lambdascope.service_map_minutes_local",
	"service_map_hours_mv":              "SELECT countMerge(calls) FROM lambdascope.service_map_hours_local",
	"span_links_mv":                     "SELECT count() FROM lambdascope.span_links_local",
	"trace_hours_mv":                    "SELECT count() FROM lambdascope.trace_hours_local",
	"completeness_hours_spans_mv":       "SELECT sum(spans_stored) FROM lambdascope.completeness_hours_local",
	"completeness_hours_logs_mv":        "SELECT sum(log_lines_stored) FROM lambdascope.completeness_hours_local",
}

// TestClusterViewsCountEqualRowsOfTwoInsertsAndARetryOnce inserts, on a
// shard of a real cluster, two different invocations, spans and log
// records in separate inserts whose rows every view turns into equal
// rows (same function, minute, figures and edge), then the second insert
// again. ReplicatedMergeTree drops an inserted block equal to one it has;
// were the views' blocks deduplicated too, the second insert's equal
// view rows would be dropped and the views would count one. ClickHouse
// 18.16 writes into the views without deduplication and skips the views
// of a deduplicated block: each view counts two, also after the retry.
func TestClusterViewsCountEqualRowsOfTwoInsertsAndARetryOnce(t *testing.T) {
	c := chtest.StartCluster(t, 1)
	ctx := t.Context()
	st := openClusterStore(t, c.Servers[0], c.Name)
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("Migrate on cluster: %v", err)
	}
	conn := chtest.ConnTo(t, c.Servers[0].DSN())

	rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = 'lambdascope' AND engine = 'MaterializedView'")
	if err != nil {
		t.Fatalf("list views: %v", err)
	}
	var views []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatalf("scan view name: %v", err)
		}
		views = append(views, name)
	}
	if err := rows.Close(); err != nil {
		t.Fatalf("list views: %v", err)
	}
	for _, v := range views {
		if _, ok := clusterViewCounts[v]; !ok {
			t.Errorf("view %s has no count in clusterViewCounts", v)
		}
	}
	for v := range clusterViewCounts {
		if !slices.Contains(views, v) {
			t.Errorf("clusterViewCounts names %s, which the cluster schema does not have (views: %v)", v, views)
		}
	}

	// The tables views read are those whose failed inserts are counted
	// in ViewsAtRisk.
	rows, err = conn.Query(ctx, "SELECT name FROM system.tables WHERE database = 'lambdascope' AND notEmpty(dependencies_table)")
	if err != nil {
		t.Fatalf("list the tables views read: %v", err)
	}
	var sources []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatalf("scan table name: %v", err)
		}
		sources = append(sources, strings.TrimSuffix(name, localSuffix))
	}
	if err := rows.Close(); err != nil {
		t.Fatalf("list the tables views read: %v", err)
	}
	slices.Sort(sources)
	if want := slices.Sorted(slices.Values(viewSourceTables)); !slices.Equal(sources, want) {
		t.Errorf("views read %v, want viewSourceTables %v", sources, want)
	}

	// The n-th insert of each source table: one row, different from the
	// other insert's only in its IDs. The invocation streams more than
	// 6 MiB (streaming_hours) and carries telemetry counts
	// (completeness_hours); the span is a client call with a peer and a
	// link (service_map_*, span_links).
	inserts := func(n string) []string {
		return []string{
			`INSERT INTO lambdascope.invocations_local (request_id, start_time, start_unix_nano, function_name, account_id,
    region, status, duration_ms, billed_duration_ms, memory_size_mb, max_memory_used_mb, produced_bytes, tel_counted,
    tel_spans_received)
SELECT 'req-` + n + `', toDateTime('2026-06-01 12:00:07', 'UTC'), toUInt64(1780315207000000000), 'orders', '123456789012',
    'us-east-1', 'success', 3, 3, 256, 100, toUInt64(7000000), toUInt8(1), toUInt64(2)`,
			`INSERT INTO lambdascope.spans_local (start_time, start_unix_nano, duration_ns, trace_id, span_id, name, kind,
    function_name, attributes.key, attributes.value, links.trace_id, links.span_id, links.attributes)
SELECT toDateTime('2026-06-01 12:00:07', 'UTC'), toUInt64(1780315207000000000), toUInt64(5000000),
    toFixedString('trace-` + n + `-0000000', 16), toFixedString('span-` + n + `-0', 8), 'GetItem', toUInt8(3), 'orders',
    ['peer.service'], ['dynamodb'], [toFixedString('linked-trace-000', 16)], [toFixedString('linkspan', 8)], ['']`,
			`INSERT INTO lambdascope.logs_local (timestamp, function_name, request_id, body)
SELECT toDateTime('2026-06-01 12:00:07', 'UTC'), 'orders', 'req-` + n + `', 'the same line'`,
		}
	}
	insert := func(n string) {
		t.Helper()
		for _, q := range inserts(n) {
			if err := conn.Exec(ctx, q); err != nil {
				t.Fatalf("insert %s: %v", n, err)
			}
		}
	}
	count := func(q string) uint64 {
		t.Helper()
		var n uint64
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	sourceCounts := map[string]string{
		"invocations": "SELECT count() FROM lambdascope.invocations_local",
		"spans":       "SELECT count() FROM lambdascope.spans_local",
		"logs":        "SELECT count() FROM lambdascope.logs_local",
	}
	check := func(step string) {
		t.Helper()
		for table, q := range sourceCounts {
			if n := count(q); n != 2 {
				t.Errorf("%s: %s holds %d rows, want 2", step, table, n)
			}
		}
		for view, q := range clusterViewCounts {
			if n := count(q); n != 2 {
				t.Errorf("%s: %s counts %d rows, want 2 (%s)", step, view, n, q)
			}
		}
	}

	insert("1")
	insert("2")
	check("two inserts of equal view rows")
	// The retry of the second insert: every block equal to one stored.
	insert("2")
	check("the second insert again")
}

// TestClusterViewsMissRowsOnlyWhereCounted makes a view on invocations
// fail after the shard committed a batch's invocations, then retries the
// batch as the collector does. The source holds the invocations once;
// the views after the failing one never get them on 18.16, whose retry is
// deduplicated and skips the views: every invocation a view misses must
// be counted in ViewsAtRisk and logged.
func TestClusterViewsMissRowsOnlyWhereCounted(t *testing.T) {
	c := chtest.StartCluster(t, 1)
	ctx := t.Context()
	st := openClusterStore(t, c.Servers[0], c.Name)
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("Migrate on cluster: %v", err)
	}
	conn := chtest.ConnTo(t, c.Servers[0].DSN())
	// Views are written in the order of their names: this one comes
	// before function_figures_mv and the others.
	if err := conn.Exec(ctx, `CREATE MATERIALIZED VIEW lambdascope.a_failing_mv ENGINE = MergeTree() ORDER BY tuple()
AS SELECT throwIf(function_name = 'fails') AS failed FROM lambdascope.invocations_local`); err != nil {
		t.Fatalf("create failing view: %v", err)
	}
	at := uint64(time.Date(2026, 6, 1, 12, 0, 7, 0, time.UTC).UnixNano())
	req := &ingestv1.ExportRequest{
		Function: &ingestv1.FunctionIdentity{Name: "fails", MemoryMb: 256},
		Invocations: []*ingestv1.Invocation{
			{RequestId: "req-1", StartTimeUnixNano: at, Status: "success", DurationMs: 3, BilledDurationMs: 3},
			{RequestId: "req-2", StartTimeUnixNano: at + 1e6, Status: "success", DurationMs: 3, BilledDurationMs: 3},
		},
	}
	if _, err := st.WriteExports(ctx, []*ingestv1.ExportRequest{req}); err == nil {
		t.Fatal("WriteExports succeeded with a failing view")
	}
	if _, err := st.WriteExports(ctx, []*ingestv1.ExportRequest{req}); err != nil {
		t.Fatalf("retry of WriteExports: %v", err)
	}
	count := func(q string) uint64 {
		t.Helper()
		var n uint64
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	stored := count("SELECT count() FROM lambdascope.invocations_local WHERE function_name = 'fails'")
	if stored != 2 {
		t.Errorf("invocations holds %d rows of the batch after its retry, want 2", stored)
	}
	for _, table := range []string{"function_figures", "usage_daily", "usage_hourly", "cost_hours"} {
		q := "SELECT countMerge(invocations) FROM lambdascope." + table + "_local WHERE function_name = 'fails'"
		n := count(q)
		t.Logf("%s counts %d of the %d invocations stored", table, n, stored)
		if n > stored {
			t.Errorf("%s counts %d invocations, more than the %d stored", table, n, stored)
		}
		if missed := stored - min(n, stored); missed > st.ViewsAtRisk() {
			t.Errorf("%s misses %d invocations; ViewsAtRisk counts %d", table, missed, st.ViewsAtRisk())
		}
	}
	if st.ViewsAtRisk() != 2 {
		t.Errorf("ViewsAtRisk = %d, want 2 (the invocations of the failed insert)", st.ViewsAtRisk())
	}
}

// TestClusterViewsMissAfterAZooKeeperFreezeOnlyCountedRows writes
// invocations one batch at a time on a one-shard cluster while its
// ZooKeeper is frozen twice for longer than ClickHouse's ZooKeeper
// operation timeout, retrying each failed write until it is stored, as
// the collector's WAL does. The source table ends with every invocation
// once; a write cut between the source part and a view's part ("Connection
// loss ... while pushing to view") leaves that view short for good on
// 18.16, and every invocation a view misses must be counted in
// ViewsAtRisk.
func TestClusterViewsMissAfterAZooKeeperFreezeOnlyCountedRows(t *testing.T) {
	ctx := t.Context()
	zk, err := chserver.StartZooKeeper(ctx, time.Minute)
	if err != nil {
		t.Fatalf("StartZooKeeper: %v", err)
	}
	t.Cleanup(func() { _ = zk.Stop() })
	c, err := chserver.StartCluster(ctx, chserver.ClusterOptions{Name: chtest.ClusterName, Shards: 1, ZooKeeper: zk.Addr()})
	if err != nil {
		t.Fatalf("StartCluster: %v", err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	st := openClusterStore(t, c.Servers[0], c.Name)
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("Migrate on cluster: %v", err)
	}

	frozen := make(chan error, 1)
	go func() {
		var errs []error
		for range 2 {
			time.Sleep(3 * time.Second)
			errs = append(errs, zk.Freeze(ctx, 14*time.Second))
		}
		frozen <- errors.Join(errs...)
	}()
	start := time.Date(2026, 6, 1, 12, 0, 7, 0, time.UTC)
	var writes, failures int
	for done := false; !done; writes++ {
		select {
		case err := <-frozen:
			if err != nil {
				t.Fatal(err)
			}
			done = true
		default:
		}
		req := &ingestv1.ExportRequest{
			Function: &ingestv1.FunctionIdentity{Name: "orders", MemoryMb: 256},
			Invocations: []*ingestv1.Invocation{{RequestId: fmt.Sprintf("req-%d", writes), Status: "success",
				StartTimeUnixNano: uint64(start.Add(time.Duration(writes) * time.Millisecond).UnixNano()),
				DurationMs:        3, BilledDurationMs: 3}},
		}
		for attempt := 0; ; attempt++ {
			if attempt == 200 {
				t.Fatalf("write %d still fails after %d attempts", writes, attempt)
			}
			wctx, cancel := context.WithTimeout(ctx, time.Minute)
			_, err := st.WriteExports(wctx, []*ingestv1.ExportRequest{req})
			cancel()
			if err == nil {
				break
			}
			failures++
			time.Sleep(200 * time.Millisecond)
		}
	}

	conn := chtest.ConnTo(t, c.Servers[0].DSN())
	count := func(q string) uint64 {
		t.Helper()
		var n uint64
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	stored := count("SELECT count() FROM lambdascope.invocations_local")
	t.Logf("%d writes, %d failed attempts, %d invocations stored, ViewsAtRisk %d", writes, failures, stored, st.ViewsAtRisk())
	if stored != uint64(writes) {
		t.Errorf("invocations holds %d rows, want one for each of the %d writes", stored, writes)
	}
	if failures == 0 {
		t.Error("no write failed while ZooKeeper was frozen")
	}
	for _, table := range []string{"function_figures", "usage_daily", "usage_hourly", "cost_hours"} {
		n := count("SELECT countMerge(invocations) FROM lambdascope." + table + "_local")
		t.Logf("%s counts %d invocations", table, n)
		if n > stored {
			t.Errorf("%s counts %d invocations, more than the %d stored", table, n, stored)
		}
		if missed := stored - min(n, stored); missed > st.ViewsAtRisk() {
			t.Errorf("%s misses %d invocations; ViewsAtRisk counts %d", table, missed, st.ViewsAtRisk())
		}
	}
}
