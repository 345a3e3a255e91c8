package querybench

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/query/querytest"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

var (
	coldSpans    = flag.Int("cold.spans", 1_000_000, "demo-shaped spans BenchmarkCold generates over 30 days (12 per trace, 2 invocation reports per trace)")
	coldDatabase = flag.String("cold.database", "", "database BenchmarkCold keeps its data in between runs (generated when empty); default a throwaway one")
	coldOSCache  = flag.Bool("cold.os-cache", true, "drop the operating system's page cache too before each read (needs root)")
	coldMerge    = flag.Bool("cold.merge-closed", false, "before the reads, merge each closed day of invocations and month of trace_hours into one part (storage.MergeClosed), as a store whose periodic maintenance runs it")
	coldIngest   = flag.Int("cold.ingest", 0, "while the reads run, write this many demo-shaped spans a second (whole traces of twelve spans; no invocation reports or logs) through the store's writer into the database <cold database>_ingest on the same server, a batch a second, as a live collector does (0: none)")
	coldSettings = flag.String("cold.settings", "", "settings given to every query of the store, as name=value,name=value (to compare settings of the reads)")
	coldQueryLog = flag.Bool("cold.query-log", false, "log the store's queries (log_queries = 1) and report what each kind of query of a cold trace read cost, from system.query_log (the server's configuration needs a query_log section)")
)

// dataEnd is where generated data ends: a fixed hour, so that a kept
// database answers the same questions run after run.
var dataEnd = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Add(-7 * time.Hour)

// BenchmarkCold generates -cold.spans demo-shaped spans and their
// invocation reports over 30 days inside ClickHouse (Generate, progress on
// stderr), waits for the background merges (with -cold.merge-closed, then
// merges each closed partition of invocations and trace_hours into one
// part), and measures the reads with targets, each after the caches are dropped (CacheDropper; the state
// reached is logged): a trace by ID never read before in the run, the
// 30-day cost report, and a search over one day (a different day each
// time). Every read runs twice over: with the page cache dropped too
// (page-cache-dropped/...), then with ClickHouse's caches alone dropped
// (page-cache-kept/...). ns/op is the mean of the cold reads alone; p50-ms
// and max-ms are theirs too. Baselines in the same run: the round trip
// after the same drops, and each trace read again at once with warm caches
// (warm-p50-ms). With -cold.query-log the store's queries are logged and
// the trace reads' cost per kind of query is logged from
// system.query_log (files opened, reads and their bytes and time, rows,
// CPU), with the files opened on the longest path (path-files); the warm
// reads are then left out. With -cold.ingest the reads run while demo
// traces are written into another database of the same server at that
// rate (Ingest), as a live system reads while it ingests.
func BenchmarkCold(b *testing.B) {
	st := coldStore(b)
	start := time.Now()
	d, err := Generate(b.Context(), connOf(b, st), st.Database(), Config{Spans: *coldSpans, End: dataEnd, Days: 30}, os.Stderr)
	if err != nil {
		b.Fatalf("generate: %v", err)
	}
	b.Logf("%d spans in %d traces, %d invocations, 30 days to %s: ready in %s", d.SpanRows(), d.Traces, d.Invocations,
		dataEnd.Format(time.RFC3339), time.Since(start).Round(time.Second))
	start = time.Now()
	if err := querytest.WaitForMerges(b.Context(), st); err != nil {
		b.Fatalf("wait for merges: %v", err)
	}
	b.Logf("merges settled in %s", time.Since(start).Round(time.Millisecond))
	if *coldMerge {
		start = time.Now()
		merged, err := st.MergeClosed(b.Context(), time.Now())
		if err != nil {
			b.Fatalf("merge closed partitions: %v", err)
		}
		b.Logf("closed partitions merged into one part each: %d merged in %s", len(merged), time.Since(start).Round(time.Millisecond))
	}
	logDiskUse(b, st)
	startIngest(b, st)

	svc := query.NewService(st)
	// Trace numbers are drawn at random, each at most once in the run: the
	// server has never read them in this run, and a kept database repeats
	// one from an earlier run with a chance of (reads / traces).
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 16))
	drawn := map[uint64]bool{}
	draw := func(n int) []uint64 {
		out := make([]uint64, 0, n)
		for len(out) < n && len(drawn) < d.Traces {
			t := rng.Uint64N(uint64(d.Traces))
			if !drawn[t] {
				drawn[t] = true
				out = append(out, t)
			}
		}
		return out
	}
	// Each read runs in two cache states, side by side: everything dropped
	// (the page cache too, where the machine lets it), then ClickHouse's
	// caches alone, the page cache as the run left it.
	for _, state := range []struct {
		name   string
		dropOS bool
	}{{"page-cache-dropped", *coldOSCache}, {"page-cache-kept", false}} {
		drops := NewCacheDropper(connOf(b, st), state.dropOS, serverElsewhere())
		b.Run(state.name, func(b *testing.B) {
			coldReads(b, st, svc, d, drops, draw)
		})
	}
}

// coldReads measures each read with targets on d, every read after drops
// has emptied the caches; draw gives trace numbers never read before.
func coldReads(b *testing.B, st *storage.Store, svc *query.Service, d Data, drops *CacheDropper, draw func(int) []uint64) {
	prices := query.DefaultPrices()
	month := query.TimeRange{Since: d.Begin(), Until: d.End}
	// cold runs read b.N times, each after the caches are dropped, with the
	// timer on only around the read.
	cold := func(b *testing.B, read func(i int) error, after func(i int)) {
		b.Helper()
		times := make([]time.Duration, 0, b.N)
		b.StopTimer()
		for i := range b.N {
			if err := drops.Drop(b.Context()); err != nil {
				b.Fatal(err)
			}
			t0 := time.Now()
			b.StartTimer()
			err := read(i)
			b.StopTimer()
			times = append(times, time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
			if after != nil {
				after(i)
			}
		}
		reportPercentiles(b, "", times)
		b.ReportMetric(drops.Cold(), "os-cache-dropped")
		b.Log(drops.State())
	}

	b.Run("baseline-round-trip", func(b *testing.B) {
		cold(b, func(int) error {
			if err := connOf(b, st).Exec(b.Context(), "SELECT 1"); err != nil {
				return fmt.Errorf("select 1: %w", err)
			}
			return nil
		}, nil)
	})
	b.Run("trace-by-id", func(b *testing.B) {
		b.StopTimer()
		ids, err := TraceIDs(b.Context(), connOf(b, st), d, draw(b.N))
		if err != nil {
			b.Fatal(err)
		}
		if len(ids) < b.N {
			b.Fatalf("only %d traces never read, need %d", len(ids), b.N)
		}
		warm := make([]time.Duration, 0, b.N)
		// With -cold.query-log the log is read for the queries of this
		// run from the next whole second on (the log's times are in
		// seconds), and the warm reads are left out: the log holds the
		// cold reads alone.
		var start time.Time
		if *coldQueryLog {
			start = time.Now().Truncate(time.Second).Add(time.Second)
			time.Sleep(time.Until(start))
		}
		check := func(tr *query.Trace, err error) error {
			if err != nil {
				return err
			}
			if tr.SpanCount < SpansPerTrace {
				return fmt.Errorf("trace %s: %d spans, want at least %d", tr.TraceID, tr.SpanCount, SpansPerTrace)
			}
			return nil
		}
		again := func(i int) {
			t0 := time.Now()
			if err := check(svc.TraceByID(b.Context(), ids[i])); err != nil {
				b.Fatal(err)
			}
			warm = append(warm, time.Since(t0))
		}
		if *coldQueryLog {
			again = nil
		}
		cold(b, func(i int) error {
			return check(svc.TraceByID(b.Context(), ids[i]))
		}, again)
		reportPercentiles(b, "warm-", warm)
		if *coldQueryLog {
			reportTraceReadCosts(b, st, start)
		}
	})
	b.Run("cost-30d", func(b *testing.B) {
		cold(b, func(int) error {
			rep, err := svc.Cost(b.Context(), &prices, query.CostQuery{TimeRange: month})
			if err != nil {
				return fmt.Errorf("cost: %w", err)
			}
			if rep.Total.Invocations != uint64(d.Invocations) {
				return fmt.Errorf("cost report of %d invocations, want %d", rep.Total.Invocations, d.Invocations)
			}
			return nil
		}, nil)
	})
	// day is the i-th day searched: the last one, then the one before, and
	// so on, so that each search reads a day the run has not searched.
	day := func(i int) (time.Time, time.Time) {
		until := d.End.Add(-time.Duration(i%(d.Days-1)) * 24 * time.Hour)
		return until.Add(-24 * time.Hour), until
	}
	b.Run("search-day-error-10ms", func(b *testing.B) {
		cold(b, func(i int) error {
			since, until := day(i)
			res, err := svc.SearchTraces(b.Context(), query.TraceSearch{Since: since, Until: until, Status: "error", MinDuration: 10 * time.Millisecond})
			if err != nil {
				return fmt.Errorf("search: %w", err)
			}
			if len(res) == 0 && d.Traces >= 100_000 {
				return fmt.Errorf("search of %s to %s found no failed trace", since, until)
			}
			return nil
		}, nil)
	})
	b.Run("search-day-attribute", func(b *testing.B) {
		cold(b, func(i int) error {
			since, until := day(i)
			res, err := svc.SearchTraces(b.Context(), query.TraceSearch{Since: since, Until: until, Attributes: map[string]string{"order.sku": "SKU-0042"}})
			if err != nil {
				return fmt.Errorf("search: %w", err)
			}
			if len(res) == 0 && d.Traces >= 100_000 {
				return fmt.Errorf("search of %s to %s found no trace of SKU-0042", since, until)
			}
			return nil
		}, nil)
	})
}

// startIngest starts the writes -cold.ingest asks for, into a database of
// their own beside st's on the same server (the data set read stays as it
// was generated), and stops them when the benchmark ends, logging what was
// written. The reads start after two batches, once the writes are under
// way.
func startIngest(b *testing.B, st *storage.Store) {
	b.Helper()
	if *coldIngest <= 0 {
		return
	}
	dsn := chtest.Server().DSNFor(st.Database() + "_ingest")
	ist, err := storage.Open(b.Context(), dsn)
	if err != nil {
		b.Fatalf("open ingest store: %v", err)
	}
	if err := ist.Migrate(b.Context()); err != nil {
		_ = ist.Close()
		b.Fatalf("migrate ingest store: %v", err)
	}
	in, err := StartIngest(context.Background(), ist, *coldIngest)
	if err != nil {
		_ = ist.Close()
		b.Fatal(err)
	}
	b.Cleanup(func() {
		s, err := in.Stop()
		_ = ist.Close()
		b.Logf("into %s_ingest, %s", st.Database(), s)
		if err != nil {
			b.Errorf("ingest beside the reads: %v", err)
		}
	})
	time.Sleep(2 * IngestInterval)
	b.Logf("ingest of %d spans a second into %s_ingest started: %s", *coldIngest, st.Database(), in.Stats())
}

// reportPercentiles reports the p50 and the slowest of times, in ms.
func reportPercentiles(b *testing.B, prefix string, times []time.Duration) {
	b.Helper()
	if len(times) == 0 {
		return
	}
	s := slices.Clone(times)
	slices.Sort(s)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(s[(len(s)-1)/2]), prefix+"p50-ms")
	b.ReportMetric(ms(s[len(s)-1]), prefix+"max-ms")
}

// logDiskUse logs the bytes on disk of the database, per span.
func logDiskUse(b *testing.B, st *storage.Store) {
	b.Helper()
	var bytes, spans uint64
	if err := connOf(b, st).QueryRow(b.Context(), "SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = ?", st.Database()).Scan(&bytes); err != nil {
		b.Fatalf("bytes on disk: %v", err)
	}
	if err := connOf(b, st).QueryRow(b.Context(), "SELECT count() FROM "+st.Database()+".spans").Scan(&spans); err != nil {
		b.Fatalf("count spans: %v", err)
	}
	var parts uint64
	if err := connOf(b, st).QueryRow(b.Context(), "SELECT count() FROM system.parts WHERE active AND database = ? AND table = 'spans'", st.Database()).Scan(&parts); err != nil {
		b.Fatalf("count parts: %v", err)
	}
	b.Logf("database %s: %.2f GiB on disk, %.1f B per span over every table; spans in %d parts", st.Database(),
		float64(bytes)/(1<<30), float64(bytes)/float64(max(spans, 1)), parts)
}

// coldStore is a migrated store on -cold.database, kept between runs, or
// on a throwaway database. On a throwaway server the database is not
// dropped at the end: the server and its directory go with it, and
// dropping 10 M spans outlasted the client's timeout on a busy machine,
// failing a run whose figures were all taken.
func coldStore(b *testing.B) *storage.Store {
	b.Helper()
	name := *coldDatabase
	switch {
	case name == "" && chtest.Server().External():
		if *coldQueryLog {
			b.Fatal("-cold.query-log on an external server needs -cold.database")
		}
		st, _ := querytest.OpenStore(b)
		return st
	case name == "":
		name = fmt.Sprintf("cold_%d", os.Getpid())
	}
	dsn := chtest.Server().DSNFor(name)
	if *coldQueryLog {
		dsn = withSetting(dsn, "log_queries", "1")
	}
	for kv := range strings.SplitSeq(*coldSettings, ",") {
		if name, value, ok := strings.Cut(kv, "="); ok {
			dsn = withSetting(dsn, name, value)
		} else if kv != "" {
			b.Fatalf("-cold.settings: %q is not name=value", kv)
		}
	}
	st, err := storage.Open(b.Context(), dsn)
	if err != nil {
		b.Fatalf("open store: %v", err)
	}
	b.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(b.Context()); err != nil {
		b.Fatalf("migrate: %v", err)
	}
	return st
}

// serverElsewhere is true when the benchmark's server runs on another
// machine, whose page cache this one cannot drop: a server given by
// LAMBDASCOPE_CLICKHOUSE_DSN on a loopback address runs here.
func serverElsewhere() bool {
	srv := chtest.Server()
	if !srv.External() {
		return false
	}
	host, _, err := net.SplitHostPort(srv.Addr())
	if err != nil {
		host = srv.Addr() // a DSN without a port
	}
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// reportTraceReadCosts logs what each kind of query of the cold trace
// reads since start cost, from the server's query log, and reports the
// files opened on the longest path: the narrow first read of the spans,
// then the longer of the spans' wide read and the invocations', which run
// side by side.
func reportTraceReadCosts(b *testing.B, st *storage.Store, start time.Time) {
	b.Helper()
	kinds, err := TraceReadCosts(b.Context(), connOf(b, st), st.Database(), start)
	if err != nil {
		b.Fatal(err)
	}
	files := map[string]uint64{}
	for _, k := range kinds {
		b.Log(k)
		files[k.Kind] = k.Mean.Files
	}
	b.ReportMetric(float64(files[kindLayout]+max(files[kindWide], files[kindInvocations])), "path-files")
}
