package query_test

import (
	"flag"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/query/querytest"
	"github.com/lambdascope/lambdascope/storage"
)

var (
	benchTraces   = flag.Int("query.traces", 2000, "traces the query benchmarks load (12 spans and 3 invocations each)")
	benchUntraced = flag.Int("query.untraced", 10000, "extra invocation reports without spans the query benchmarks load")
)

// BenchmarkQueries loads -query.traces traces and -query.untraced extra
// invocations spread over 30 days, then measures a trace by ID, the 30-day
// cost report and a trace search over one day. See docs/benchmarks.md.
func BenchmarkQueries(b *testing.B) {
	st, _ := querytest.OpenStore(b)
	cfg := querytest.DefaultLoadConfig()
	cfg.Traces, cfg.UntracedInvocations = *benchTraces, *benchUntraced
	cfg.BatchInvocations = 20000
	start := time.Now()
	res, err := querytest.Load(b.Context(), st, cfg)
	if err != nil {
		b.Fatalf("load: %v", err)
	}
	b.Logf("loaded %d spans and %d invocations in %s", res.Spans, res.Invocations, time.Since(start).Round(time.Millisecond))
	svc := query.NewService(st)
	prices := query.DefaultPrices()

	// Baselines, side by side: the storage reads alone, without assembly
	// or pricing.
	b.Run("baseline-spans-by-id", func(b *testing.B) {
		i := 0
		for b.Loop() {
			spans, err := st.SpansByTraceID(b.Context(), res.SampleTraces[i%len(res.SampleTraces)])
			if err != nil || len(spans) != 12 {
				b.Fatalf("spans: %v", err)
			}
			i++
		}
	})
	b.Run("baseline-usage-30d", func(b *testing.B) {
		for b.Loop() {
			if _, err := st.Usage(b.Context(), storage.UsageFilter{Since: cfg.End.AddDate(0, 0, -30), Until: cfg.End}); err != nil {
				b.Fatalf("usage: %v", err)
			}
		}
	})
	// What TraceByID spends on the spans of other traces linking to the
	// trace (span_links, migration 13), inside trace-by-id below.
	b.Run("links-in", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := svc.LinksIn(b.Context(), res.SampleTraces[i%len(res.SampleTraces)], query.MaxTraceLinksIn+1); err != nil {
				b.Fatalf("links in: %v", err)
			}
			i++
		}
	})
	b.Run("trace-by-id", func(b *testing.B) {
		i := 0
		for b.Loop() {
			tr, err := svc.TraceByID(b.Context(), res.SampleTraces[i%len(res.SampleTraces)])
			if err != nil || tr.SpanCount != 12 {
				b.Fatalf("trace: %v", err)
			}
			i++
		}
	})
	b.Run("cost-30d", func(b *testing.B) {
		r := query.TimeRange{Since: cfg.End.AddDate(0, 0, -30), Until: cfg.End}
		for b.Loop() {
			rep, err := svc.Cost(b.Context(), &prices, query.CostQuery{TimeRange: r})
			if err != nil || rep.Total.Invocations != uint64(res.Invocations) {
				b.Fatalf("cost: %v (%d invocations of %d)", err, rep.Total.Invocations, res.Invocations)
			}
		}
	})
	b.Run("search-day", func(b *testing.B) {
		f := query.TraceSearch{Since: cfg.End.Add(-24 * time.Hour), Until: cfg.End, Status: "error", MinDuration: 10 * time.Millisecond}
		for b.Loop() {
			if _, err := svc.SearchTraces(b.Context(), f); err != nil {
				b.Fatalf("search: %v", err)
			}
		}
	})
	b.Run("search-day-attribute", func(b *testing.B) {
		f := query.TraceSearch{Since: cfg.End.Add(-24 * time.Hour), Until: cfg.End, Attributes: map[string]string{"tenant": "t042"}}
		for b.Loop() {
			if _, err := svc.SearchTraces(b.Context(), f); err != nil {
				b.Fatalf("search: %v", err)
			}
		}
	})
}
