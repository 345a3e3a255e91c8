package query_test

import (
	"flag"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/query/querytest"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

var (
	scaleSpans       = flag.Int("scale.spans", 120_000, "spans BenchmarkScale generates (12 per trace, the demo's placed order)")
	scaleInvocations = flag.Int("scale.invocations", 120_000, "invocation reports BenchmarkScale generates (2 per trace, the rest without spans)")
	scaleDatabase    = flag.String("scale.database", "", "database BenchmarkScale keeps its data in between runs (generated when empty); default a throwaway one")
)

// scaleEnd is where generated data ends: a fixed hour, so a kept database
// answers the same questions run after run.
var scaleEnd = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Add(-7 * time.Hour)

// BenchmarkScale generates -scale.spans spans and -scale.invocations
// invocation reports over 30 days straight into ClickHouse
// (querytest.Generate), waits for the background merges, and measures the
// three reads with targets: a trace by ID, the 30-day cost report and a
// trace search over one day. See docs/benchmarks.md and bench/query/.
func BenchmarkScale(b *testing.B) {
	st := scaleStore(b)
	// SQL storage does not offer (the baselines) goes through a connection
	// of the benchmark's own.
	conn := chtest.ConnTo(b, st.Config().DSN)
	var n uint64
	if err := conn.QueryRow(b.Context(), "SELECT count() FROM "+st.Database()+".spans").Scan(&n); err != nil {
		b.Fatalf("count spans: %v", err)
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
	if err := querytest.WaitForMerges(b.Context(), st); err != nil {
		b.Fatalf("wait for merges: %v", err)
	}
	b.Logf("merges settled in %s", time.Since(start).Round(time.Millisecond))

	svc := query.NewService(st)
	prices := query.DefaultPrices()
	month := query.TimeRange{Since: scaleEnd.AddDate(0, 0, -30), Until: scaleEnd}
	day := query.TimeRange{Since: scaleEnd.Add(-24 * time.Hour), Until: scaleEnd}

	// Baselines, side by side in the same run: the server's round trip, a
	// trace read without any index (every partition), and the 30-day usage
	// summed from the raw invocations as the cost report did before the
	// views.
	b.Run("baseline-round-trip", func(b *testing.B) {
		for b.Loop() {
			if err := conn.Exec(b.Context(), "SELECT 1"); err != nil {
				b.Fatalf("select 1: %v", err)
			}
		}
	})
	b.Run("baseline-trace-without-index", func(b *testing.B) {
		i := 0
		for b.Loop() {
			id := res.SampleTraces[i%len(res.SampleTraces)]
			rows, err := conn.Query(b.Context(), "SELECT * FROM "+st.Database()+".spans PREWHERE trace_id = unhex(?)", id.String())
			if err != nil {
				b.Fatalf("spans without index: %v", err)
			}
			n := 0
			for rows.Next() {
				n++
			}
			if err := rows.Close(); err != nil || n != querytest.GeneratedSpansPerTrace {
				b.Fatalf("spans without index: %d, %v", n, err)
			}
			i++
		}
	})
	b.Run("baseline-usage-raw-30d", func(b *testing.B) {
		for b.Loop() {
			rows, err := conn.Query(b.Context(), `SELECT toDate(start_time) AS day, account_id, region, function_name,
    function_version, architecture, memory_size_mb, ephemeral_storage_mb, initialization_type,
    count(), sum(billed_duration_ms), sum(billed_init_duration_ms), sum(duration_ms), max(max_memory_used_mb)
FROM `+st.Database()+`.invocations
WHERE start_time >= toDateTime(?) AND start_time < toDateTime(?)
GROUP BY day, account_id, region, function_name, function_version, architecture, memory_size_mb,
    ephemeral_storage_mb, initialization_type`, month.Since.Unix(), month.Until.Unix())
			if err != nil {
				b.Fatalf("raw usage: %v", err)
			}
			for rows.Next() {
			}
			rows.Close()
		}
	})
	b.Run("spans-by-id", func(b *testing.B) {
		i := 0
		for b.Loop() {
			spans, err := st.SpansByTraceID(b.Context(), res.SampleTraces[i%len(res.SampleTraces)])
			if err != nil || len(spans) != querytest.GeneratedSpansPerTrace {
				b.Fatalf("spans: %d, %v", len(spans), err)
			}
			i++
		}
	})
	b.Run("trace-by-id", func(b *testing.B) {
		i := 0
		for b.Loop() {
			tr, err := svc.TraceByID(b.Context(), res.SampleTraces[i%len(res.SampleTraces)])
			if err != nil || tr.SpanCount != querytest.GeneratedSpansPerTrace {
				b.Fatalf("trace: %v", err)
			}
			i++
		}
	})
	// The same traces again: the server has now read their parts' marks, as
	// a running server has for the parts it serves.
	b.Run("trace-by-id-again", func(b *testing.B) {
		i := 0
		for b.Loop() {
			tr, err := svc.TraceByID(b.Context(), res.SampleTraces[i%len(res.SampleTraces)])
			if err != nil || tr.SpanCount != querytest.GeneratedSpansPerTrace {
				b.Fatalf("trace: %v", err)
			}
			i++
		}
	})
	b.Run("cost-30d", func(b *testing.B) {
		for b.Loop() {
			rep, err := svc.Cost(b.Context(), &prices, query.CostQuery{TimeRange: month})
			if err != nil || rep.Total.Invocations != uint64(res.Invocations) {
				b.Fatalf("cost: %v (%d invocations of %d)", err, rep.Total.Invocations, res.Invocations)
			}
		}
	})
	b.Run("search-day", func(b *testing.B) {
		f := query.TraceSearch{Since: day.Since, Until: day.Until, Status: "error", MinDuration: 10 * time.Millisecond}
		for b.Loop() {
			if _, err := svc.SearchTraces(b.Context(), f); err != nil {
				b.Fatalf("search: %v", err)
			}
		}
	})
	b.Run("search-day-attribute", func(b *testing.B) {
		f := query.TraceSearch{Since: day.Since, Until: day.Until, Attributes: map[string]string{"order.sku": "SKU-0042"}}
		for b.Loop() {
			if _, err := svc.SearchTraces(b.Context(), f); err != nil {
				b.Fatalf("search: %v", err)
			}
		}
	})
	b.Run("function-figures-day", func(b *testing.B) {
		q := query.FunctionQuery{TimeRange: day}
		for b.Loop() {
			if _, err := svc.FunctionFigures(b.Context(), q); err != nil {
				b.Fatalf("function figures: %v", err)
			}
		}
	})
	b.Run("function-figures-30d", func(b *testing.B) {
		q := query.FunctionQuery{TimeRange: month}
		for b.Loop() {
			if _, err := svc.FunctionFigures(b.Context(), q); err != nil {
				b.Fatalf("function figures: %v", err)
			}
		}
	})
	b.Run("baseline-service-map-day-raw-join", func(b *testing.B) {
		for b.Loop() {
			if _, err := st.SpanEdges(b.Context(), storage.SpanEdgeFilter{Since: day.Since, Until: day.Until}); err != nil {
				b.Fatalf("span edges: %v", err)
			}
		}
	})
	b.Run("service-map-day", func(b *testing.B) {
		for b.Loop() {
			if _, err := svc.ServiceMap(b.Context(), day); err != nil {
				b.Fatalf("service map: %v", err)
			}
		}
	})
	// The function list of pickers and name lookups reads the invocation
	// records only; the catalog with calls adds the raw join above.
	for _, r := range []struct {
		name string
		r    query.TimeRange
	}{{"day", day}, {"30d", month}} {
		b.Run("function-list-"+r.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := svc.FunctionList(b.Context(), r.r); err != nil {
					b.Fatalf("function list: %v", err)
				}
			}
		})
		b.Run("functions-with-calls-"+r.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := svc.Functions(b.Context(), r.r); err != nil {
					b.Fatalf("functions: %v", err)
				}
			}
		})
	}
}

// scaleStore is a migrated store on -scale.database, kept between runs, or
// on a throwaway database.
func scaleStore(b *testing.B) *storage.Store {
	b.Helper()
	if *scaleDatabase == "" {
		st, _ := querytest.OpenStore(b)
		return st
	}
	st, err := storage.Open(b.Context(), chtest.Server().DSNFor(*scaleDatabase))
	if err != nil {
		b.Fatalf("open store: %v", err)
	}
	b.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(b.Context()); err != nil {
		b.Fatalf("migrate: %v", err)
	}
	return st
}
