package storage

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage/storagetest"
)

// BenchmarkBytesPerSpan stores a demo-shaped workload (storagetest.DemoTrace,
// one trace every 10 ms of simulated time, written 200 requests per
// WriteExports) and reports the compressed bytes per span on disk twice:
// live, as the parts are right after the writes (what a running system
// holds before ClickHouse merges), and merged, after OPTIMIZE ... FINAL of
// every table. Each is given for the spans table alone and for every table
// of the database, since a span also feeds the trace index, the trace
// windows, the service edges and the service map's tables through their
// views. Beside them: the same spans as OTLP protobuf (the bytes the
// extension sends before compression). Run:
//
//	go test ./storage -run '^$' -bench BytesPerSpan -benchtime 1x
func BenchmarkBytesPerSpan(b *testing.B) {
	const traces = 20_000
	for b.Loop() {
		s := openStore(b)
		ctx := b.Context()
		rng := rand.New(rand.NewPCG(1, 2))
		start := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
		var (
			pending   []*ingestv1.ExportRequest
			spans     int
			otlpBytes int
		)
		for i := range traces {
			for _, req := range storagetest.DemoTrace(rng, start.Add(time.Duration(i)*10*time.Millisecond)) {
				for _, rs := range req.ResourceSpans {
					otlpBytes += proto.Size(rs)
					for _, ss := range rs.ScopeSpans {
						spans += len(ss.Spans)
					}
				}
				pending = append(pending, req)
			}
			if len(pending) >= 200 || i == traces-1 {
				if _, err := s.WriteExports(ctx, pending); err != nil {
					b.Fatalf("WriteExports: %v", err)
				}
				pending = pending[:0]
			}
		}
		perSpan := func(n uint64) float64 { return float64(n) / float64(spans) }
		spansLive, allLive, _ := diskBytes(b, s)
		merged := optimizeAll(b, s)
		spansMerged, allMerged, byTable := diskBytes(b, s)
		b.ReportMetric(perSpan(spansLive), "live-spans-B/span")
		b.ReportMetric(perSpan(allLive), "live-all-B/span")
		b.ReportMetric(perSpan(spansMerged), "merged-spans-B/span")
		b.ReportMetric(perSpan(allMerged), "merged-all-B/span")
		b.ReportMetric(float64(otlpBytes)/float64(spans), "otlp-B/span")
		b.Logf("merged %d tables; bytes per span by table, merged:", merged)
		for _, t := range byTable {
			b.Logf("table %-28s %6.2f B/span", t.name, perSpan(t.bytes))
		}
		rows, err := s.conn.Query(ctx, "SELECT name, data_compressed_bytes FROM system.columns WHERE database = ? AND table = 'spans' ORDER BY data_compressed_bytes DESC LIMIT 40", s.Database())
		if err != nil {
			b.Fatalf("read column sizes: %v", err)
		}
		for rows.Next() {
			var name string
			var n uint64
			if err := rows.Scan(&name, &n); err != nil {
				b.Fatalf("scan column size: %v", err)
			}
			b.Logf("column %-28s %6.2f B/span", name, perSpan(n))
		}
		rows.Close()
		dropLargeTables(b, s)
	}
}

type tableBytes struct {
	name  string
	bytes uint64
}

// diskBytes reads the bytes on disk of the active parts of the spans table
// and of every table of the store's database (materialized views' inner
// tables included), and the latter table by table, largest first.
func diskBytes(b *testing.B, s *Store) (spans, all uint64, byTable []tableBytes) {
	b.Helper()
	rows, err := s.conn.Query(b.Context(), "SELECT table, sum(bytes_on_disk) AS n FROM system.parts WHERE database = ? AND active GROUP BY table ORDER BY n DESC",
		s.Database())
	if err != nil {
		b.Fatalf("read part sizes: %v", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t tableBytes
		if err := rows.Scan(&t.name, &t.bytes); err != nil {
			b.Fatalf("scan part size: %v", err)
		}
		all += t.bytes
		if t.name == "spans" {
			spans = t.bytes
		}
		byTable = append(byTable, t)
	}
	if err := rows.Err(); err != nil {
		b.Fatalf("read part sizes: %v", err)
	}
	return spans, all, byTable
}

// optimizeAll merges every table of the store's database that has parts
// to one part per partition and returns how many it merged.
func optimizeAll(b *testing.B, s *Store) int {
	b.Helper()
	_, _, tables := diskBytes(b, s)
	for _, t := range tables {
		if err := s.conn.Exec(b.Context(), "OPTIMIZE TABLE "+s.Database()+".`"+t.name+"` FINAL"); err != nil {
			b.Fatalf("optimize %s: %v", t.name, err)
		}
	}
	return len(tables)
}

// dropLargeTables drops the schema's tables with time to spare on a loaded
// machine, so that the test cleanup's DROP DATABASE is quick.
func dropLargeTables(b *testing.B, s *Store) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, table := range []string{"spans", "logs", "invocations", "metric_points", "trace_index", "trace_windows", "trace_hours"} {
		if err := s.conn.Exec(ctx, "DROP TABLE IF EXISTS "+s.Database()+"."+table); err != nil {
			b.Errorf("drop %s: %v", table, err)
		}
	}
}

// BenchmarkWriteExports compares, side by side, storing 50 demo requests
// (25 traces, 300 spans) with one WriteExports call and with one WriteExport
// call per request. Run:
//
//	go test ./storage -run '^$' -bench WriteExports -benchtime 20x
func BenchmarkWriteExports(b *testing.B) {
	s := openStore(b)
	b.Cleanup(func() { dropLargeTables(b, s) })
	ctx := b.Context()
	rng := rand.New(rand.NewPCG(3, 4))
	start := time.Date(2026, 6, 2, 9, 0, 0, 0, time.UTC)
	batch := func() []*ingestv1.ExportRequest {
		var reqs []*ingestv1.ExportRequest
		for i := range 25 {
			reqs = append(reqs, storagetest.DemoTrace(rng, start.Add(time.Duration(i)*time.Millisecond))...)
		}
		return reqs
	}
	b.Run("one call", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			reqs := batch()
			b.StartTimer()
			if _, err := s.WriteExports(ctx, reqs); err != nil {
				b.Fatalf("WriteExports: %v", err)
			}
		}
		b.ReportMetric(150*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
	})
	b.Run("call per request", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			reqs := batch()
			b.StartTimer()
			for _, r := range reqs {
				if _, err := s.WriteExport(ctx, r); err != nil {
					b.Fatalf("WriteExport: %v", err)
				}
			}
		}
		b.ReportMetric(150*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
	})
}
