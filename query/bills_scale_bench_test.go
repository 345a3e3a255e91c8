package query_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
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
// invocation records and -scale.spans spans, warm and cold; the
// completeness report alternately with its read before migration 50
// (before-p50-ms, and the ratio of each round's two reads), after checking
// that both answer the same. The data is
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
	// The two reads the completeness figures compare answer the same on
	// this data.
	f := storage.UsageFilter{Since: month.Since, Until: month.Until}
	now, err := st.Completeness(b.Context(), f)
	if err != nil {
		b.Fatalf("completeness: %v", err)
	}
	before, err := st.CompletenessBefore(b.Context(), f)
	if err != nil {
		b.Fatalf("completeness before: %v", err)
	}
	if len(now) == 0 || !reflect.DeepEqual(now, before) {
		b.Fatalf("completeness from the view: %d function hours, from the raw tables: %d, not the same", len(now), len(before))
	}
	b.Logf("completeness: %d function hours, the same from the view and the raw tables", len(now))
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
		// The report from completeness_hours (migration 50) and as it was
		// read before, from the raw tables (storage's CompletenessBefore),
		// alternately, each after its own drop when cold: the one read
		// first changes each round.
		b.Run("completeness-30d-"+mode, func(b *testing.B) {
			var now, before []time.Duration
			var ratios []float64
			f := storage.UsageFilter{Since: month.Since, Until: month.Until}
			i := 0
			for b.Loop() {
				var took [2]time.Duration
				for k := range 2 {
					old := (i+k)%2 == 1
					b.StopTimer()
					if cold {
						dropCaches(b, st)
					}
					b.StartTimer()
					start := time.Now()
					var n int
					var err error
					if old {
						var recs []storage.CompletenessRecord
						recs, err = st.CompletenessBefore(b.Context(), f)
						n = len(recs)
					} else {
						var cs []query.Completeness
						cs, err = svc.Completeness(b.Context(), month, "")
						n = len(cs)
					}
					d := time.Since(start)
					if err != nil || n == 0 {
						b.Fatalf("completeness (before: %t): %d rows, %v", old, n, err)
					}
					if old {
						took[1] = d
					} else {
						took[0] = d
					}
				}
				now = append(now, took[0])
				before = append(before, took[1])
				ratios = append(ratios, float64(took[0])/float64(took[1]))
				i++
			}
			reportSpread(b, now)
			slices.Sort(before)
			slices.Sort(ratios)
			b.ReportMetric(float64(before[len(before)/2].Microseconds())/1000, "before-p50-ms")
			b.ReportMetric(ratios[0], "min-ratio")
			b.ReportMetric(ratios[len(ratios)/2], "p50-ratio")
			b.ReportMetric(ratios[len(ratios)-1], "max-ratio")
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
