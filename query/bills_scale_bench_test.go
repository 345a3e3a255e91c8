package query_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/query/querytest"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

// BenchmarkBillsScale times the 30-day cost report and the 30-day
// completeness report (per function and hour) over -scale.invocations
// invocation records and -scale.spans spans, warm and cold. The data is
// BenchmarkScale's (querytest.Generate, in the same -scale.database when
// given), and then every record is given the extension's telemetry counts
// (countTelemetry): 4 spans received per traced invocation, 2 log lines
// for one invocation in 5 (written to the logs table), and a few drops at
// each stage, so the completeness report has every hour of every function
// to compare. Cold runs drop ClickHouse's mark and uncompressed caches and
// evict the database's files from the page cache (when the server runs on
// this machine) before each query.
//
//	go test ./query/ -run '^$' -bench BenchmarkBillsScale -benchtime 5x -timeout 60m -v \
//	    -scale.spans 10000000 -scale.invocations 10000000 -scale.database scale_10000000
func BenchmarkBillsScale(b *testing.B) {
	st := scaleStore(b)
	var n uint64
	if err := chtest.ConnTo(b, st.Config().DSN).QueryRow(b.Context(), "SELECT count() FROM "+st.Database()+".invocations").Scan(&n); err != nil {
		b.Fatalf("count invocations: %v", err)
	}
	cfg := querytest.GenerateConfig{Spans: *scaleSpans, Invocations: *scaleInvocations, End: scaleEnd, Days: 30}
	start := time.Now()
	generate := querytest.Generate
	if n > 0 {
		generate = querytest.Generated
	}
	res, err := generate(b.Context(), st, cfg)
	if err != nil {
		b.Fatalf("generate: %v", err)
	}
	b.Logf("%d spans and %d invocations (generated now: %t) in %s", res.Spans, res.Invocations, n == 0, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	logLines := countTelemetry(b, st)
	b.Logf("telemetry counts on every record, %d log lines, in %s", logLines, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	if err := querytest.WaitForMerges(b.Context(), st); err != nil {
		b.Fatalf("wait for merges: %v", err)
	}
	b.Logf("merges settled in %s", time.Since(start).Round(time.Millisecond))

	svc := query.NewService(st)
	prices := query.DefaultPrices()
	month := query.TimeRange{Since: scaleEnd.AddDate(0, 0, -30), Until: scaleEnd}
	for _, cold := range []bool{false, true} {
		mode := "warm"
		if cold {
			mode = "cold"
		}
		b.Run("cost-30d-"+mode, func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				if cold {
					b.StopTimer()
					dropCaches(b, st)
					b.StartTimer()
				}
				start := time.Now()
				rep, err := svc.Cost(b.Context(), &prices, query.CostQuery{TimeRange: month})
				took = append(took, time.Since(start))
				if err != nil || rep.Total.Invocations != uint64(res.Invocations) {
					b.Fatalf("cost: %v (%d invocations of %d)", err, rep.Total.Invocations, res.Invocations)
				}
			}
			reportSpread(b, took)
		})
		b.Run("completeness-30d-"+mode, func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				if cold {
					b.StopTimer()
					dropCaches(b, st)
					b.StartTimer()
				}
				start := time.Now()
				cs, err := svc.Completeness(b.Context(), month, "")
				took = append(took, time.Since(start))
				if err != nil || len(cs) == 0 {
					b.Fatalf("completeness: %d rows, %v", len(cs), err)
				}
			}
			reportSpread(b, took)
		})
	}
}

// reportSpread reports the fastest, median and slowest read, beside the
// mean that ns/op gives: on a shared machine the mean follows its
// slowest reads.
func reportSpread(b *testing.B, took []time.Duration) {
	b.Helper()
	if len(took) == 0 {
		return
	}
	slices.Sort(took)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(took[0]), "min-ms")
	b.ReportMetric(ms(took[len(took)/2]), "p50-ms")
	b.ReportMetric(ms(took[len(took)-1]), "max-ms")
}

// countTelemetry gives every generated invocation record the counts a
// counting extension attaches, writes the log lines they claim and a few
// collector losses, once per database; it returns the log lines stored.
// The counts are set with one mutation, which ClickHouse applies part by
// part; the wait for it is bounded by the benchmark's timeout.
func countTelemetry(b *testing.B, st *storage.Store) uint64 {
	b.Helper()
	ctx := b.Context()
	db := st.Database()
	var counted, logs uint64
	if err := chtest.ConnTo(b, st.Config().DSN).QueryRow(ctx, "SELECT count() FROM "+db+".invocations WHERE tel_counted = 1").Scan(&counted); err != nil {
		b.Fatalf("count counted records: %v", err)
	}
	if counted == 0 {
		// Traced invocations had 4 spans each; one in 5 printed 2 log lines;
		// one in 1,000 lost a span in the extension's buffer, one in 5,000 a
		// log line, one in 10,000 had a span spooled, and Lambda dropped a
		// line of one in 20,000.
		const withLogs = "cityHash64(request_id, 21) % 5 = 0"
		stmts := []string{
			`ALTER TABLE ` + db + `.invocations UPDATE tel_counted = 1,
    tel_spans_received = if(trace_id != toFixedString(unhex('00000000000000000000000000000000'), 16), 4, 0),
    tel_log_lines_received = if(` + withLogs + `, 2, 0),
    tel_bytes_received = if(trace_id != toFixedString(unhex('00000000000000000000000000000000'), 16), 1800, 0) + if(` + withLogs + `, 240, 0),
    tel_bytes_shipped = if(trace_id != toFixedString(unhex('00000000000000000000000000000000'), 16), 1800, 0) + if(` + withLogs + `, 240, 0),
    tel_spans_dropped = if(trace_id != toFixedString(unhex('00000000000000000000000000000000'), 16) AND cityHash64(request_id, 22) % 1000 = 0, 1, 0),
    tel_log_lines_dropped = if(` + withLogs + ` AND cityHash64(request_id, 23) % 1000 = 0, 1, 0),
    tel_spans_spooled = if(trace_id != toFixedString(unhex('00000000000000000000000000000000'), 16) AND cityHash64(request_id, 24) % 10000 = 0, 4, 0),
    tel_platform_logs_dropped = if(cityHash64(request_id, 25) % 20000 = 0, 1, 0)
WHERE 1`,
			`INSERT INTO ` + db + `.logs (timestamp, time_unix_nano, observed_time_unix_nano, trace_id, span_id, severity_number,
    severity_text, body, service_name, function_name, function_version, account_id, region, request_id, log_type)
SELECT toDateTime(intDiv(ts, 1000000000)), ts, ts, trace_id, span_id, 9, 'INFO',
    if(line = 1, concat('order ', request_id, ' received'), concat('order ', request_id, ' done')),
    service_name, function_name, function_version, account_id, region, request_id, 'function'
FROM (SELECT start_unix_nano + line * 1000000 AS ts, line, trace_id, span_id, service_name, function_name, function_version,
        account_id, region, request_id
    FROM ` + db + `.invocations ARRAY JOIN [1, 2] AS line
    WHERE ` + withLogs + `)`,
			// A batch the collector refused per function and day.
			`INSERT INTO ` + db + `.ingest_losses (hour, function_name, signal, stage, reason, items)
SELECT toStartOfHour(start_time), function_name, 'spans', 'collector', 'item_limit', 3
FROM ` + db + `.invocations
WHERE cityHash64(request_id, 26) % 200000 = 0`,
		}
		for _, q := range stmts {
			if err := chtest.ConnTo(b, st.Config().DSN).Exec(ctx, q); err != nil {
				b.Fatalf("count telemetry: %v", err)
			}
		}
		if err := waitForMutations(ctx, b, st); err != nil {
			b.Fatalf("wait for the counts: %v", err)
		}
	}
	if err := chtest.ConnTo(b, st.Config().DSN).QueryRow(ctx, "SELECT count() FROM "+db+".logs").Scan(&logs); err != nil {
		b.Fatalf("count logs: %v", err)
	}
	return logs
}

// waitForMutations waits until the database has no mutation left to
// apply, checking every second; ctx bounds the wait.
func waitForMutations(ctx context.Context, b *testing.B, st *storage.Store) error {
	for {
		var n uint64
		if err := chtest.ConnTo(b, st.Config().DSN).QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = ? AND is_done = 0", st.Database()).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// dropCaches empties ClickHouse's mark and uncompressed caches and evicts
// the database's active parts from the page cache (when the server runs
// on this machine: a part path that is not here is skipped), so that the
// next query reads from disk as a first query after a restart does.
func dropCaches(b *testing.B, st *storage.Store) {
	b.Helper()
	for _, q := range []string{"SYSTEM DROP MARK CACHE", "SYSTEM DROP UNCOMPRESSED CACHE"} {
		if err := chtest.ConnTo(b, st.Config().DSN).Exec(b.Context(), q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	rows, err := chtest.ConnTo(b, st.Config().DSN).Query(b.Context(), "SELECT path FROM system.parts WHERE database = ? AND active", st.Database())
	if err != nil {
		b.Fatalf("list the database's parts: %v", err)
	}
	var parts []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			b.Fatalf("list the database's parts: %v", err)
		}
		parts = append(parts, p)
	}
	if err := rows.Close(); err != nil {
		b.Fatalf("list the database's parts: %v", err)
	}
	for _, part := range parts {
		err = filepath.WalkDir(part, func(path string, d os.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // merged away since it was listed
			}
			if err != nil || d.IsDir() {
				return err
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		})
		if err != nil {
			break
		}
	}
	if err != nil {
		b.Fatalf("evict the database's files from the page cache: %v", err)
	}
}
