package query_test

import (
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
// given): every record carries the extension's telemetry counts, the
// spans of its invocation received, 2 log lines for one invocation in 5
// (written to the logs table), and a few drops at each stage, so the
// completeness report has every hour of every function to compare. Cold
// runs drop ClickHouse's mark and uncompressed caches and
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
	var logLines uint64
	if err := chtest.ConnTo(b, st.Config().DSN).QueryRow(b.Context(), "SELECT count() FROM "+st.Database()+".logs").Scan(&logLines); err != nil {
		b.Fatalf("count log lines: %v", err)
	}
	b.Logf("%d log lines", logLines)
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
