package collector_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/lambdascope/lambdascope/collector"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chtest"
	"github.com/lambdascope/lambdascope/storage/storagetest"
)

// BenchmarkTimeToAck measures what a Lambda extension's flush waits for:
// the time from an Ingest API request of one demo trace's spans (the
// orders function's, storagetest.DemoTrace) to its acknowledgement, with
// wal.ack_after on (25ms) and off, round after round against the same
// ClickHouse, the order turning every round. Requests go one at a time,
// each once the collector is idle again (the previous insert ended and
// the WAL is empty), as the first flushes of cold starts do. It reports
// the acknowledgement's p50, p90 and largest time, how many took the
// extension's flush budget (150 ms) or longer, the insert's p50 (until the
// spans were stored), and the 1-minute load before the round.
//
//	LAMBDASCOPE_BENCH_ROUNDS (default 5), LAMBDASCOPE_BENCH_ACK_REQUESTS
//	(per round and setting, default 30)
func BenchmarkTimeToAck(b *testing.B) {
	rounds := benchEnvInt(b, "LAMBDASCOPE_BENCH_ROUNDS", 5)
	requests := benchEnvInt(b, "LAMBDASCOPE_BENCH_ACK_REQUESTS", 30)
	settings := startAckCollectors(b)
	rng := mrand.New(mrand.NewPCG(16, 7))
	// idle waits until s's collector stored want spans in all and its
	// WAL is empty, and returns when the spans were seen stored.
	idle := func(s *ackSetting, want uint64) time.Time {
		var stored time.Time
		deadline := time.Now().Add(2 * time.Minute)
		for {
			if stored.IsZero() && s.srv.Stats().Spans >= want {
				stored = time.Now()
			}
			if !stored.IsZero() && walDepthMetric(b, s.srv) == 0 {
				return stored
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s: the collector is not idle after 2 minutes", s.name)
			}
			time.Sleep(time.Millisecond)
		}
	}
	for _, s := range settings {
		// The connection is dialled by its first call, not measured.
		warm := storagetest.DemoTrace(rng, time.Now())[0]
		warm.BatchId = make([]byte, 16)
		_, _ = rand.Read(warm.BatchId)
		if _, err := s.client.Export(b.Context(), warm); err != nil {
			b.Fatal(err)
		}
		idle(s, uint64(countSpans(warm)))
	}
	for round := 1; round <= rounds; round++ {
		order := slices.Clone(settings)
		if round%2 == 0 {
			slices.Reverse(order)
		}
		for _, s := range order {
			b.Run(fmt.Sprintf("round%d/%s", round, s.name), func(b *testing.B) {
				load := loadAvg(b)
				var acks, inserts []time.Duration
				for b.Loop() {
					for range requests {
						req := storagetest.DemoTrace(rng, time.Now())[0]
						req.BatchId = make([]byte, 16)
						_, _ = rand.Read(req.BatchId)
						want := s.srv.Stats().Spans + uint64(countSpans(req))
						start := time.Now()
						resp, err := s.client.Export(b.Context(), req)
						acked := time.Now()
						if err != nil || resp.GetDuplicate() {
							b.Fatalf("%s: export: %v %v", s.name, resp, err)
						}
						stored := idle(s, want)
						acks = append(acks, acked.Sub(start))
						inserts = append(inserts, max(stored.Sub(start), acked.Sub(start)))
					}
				}
				slices.Sort(acks)
				slices.Sort(inserts)
				b.ReportMetric(ms(quantile(acks, 0.5)), "ack-p50-ms")
				b.ReportMetric(ms(quantile(acks, 0.9)), "ack-p90-ms")
				b.ReportMetric(ms(acks[len(acks)-1]), "ack-max-ms")
				b.ReportMetric(ms(quantile(inserts, 0.5)), "stored-p50-ms")
				over := len(acks) - sort.Search(len(acks), func(i int) bool { return acks[i] >= flushBudget })
				b.ReportMetric(float64(over), "over-budget")
				b.ReportMetric(load, "load1")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// flushBudget is the extension's bound on a flush at the end of an
// invocation (extension/internal/agent's FlushBudget).
const flushBudget = 150 * time.Millisecond

// BenchmarkAckAfterUnderLoad measures what wal.ack_after costs under a
// steady load: concurrent senders (LAMBDASCOPE_BENCH_ACK_SENDERS, default
// 16) send requests of 1,000 demo-shaped spans
// (LAMBDASCOPE_BENCH_ACK_LOAD_REQUESTS per round and setting, default 120)
// to the collectors of BenchmarkTimeToAck, alternating as there. It
// reports spans/s until the last acknowledgement and until the last span
// was stored (and the WAL empty), this process's CPU per span (the
// collector's, and the senders', the same for both settings), the
// acknowledgements' p50 and p99, and how many batches were acknowledged
// from the WAL (wal-acked) or found the bound reached (wal-busy).
func BenchmarkAckAfterUnderLoad(b *testing.B) {
	rounds := benchEnvInt(b, "LAMBDASCOPE_BENCH_ROUNDS", 3)
	requests := benchEnvInt(b, "LAMBDASCOPE_BENCH_ACK_LOAD_REQUESTS", 120)
	senders := benchEnvInt(b, "LAMBDASCOPE_BENCH_ACK_SENDERS", 16)
	settings := startAckCollectors(b)
	rng := mrand.New(mrand.NewPCG(16, 8))
	for round := 1; round <= rounds; round++ {
		order := slices.Clone(settings)
		if round%2 == 0 {
			slices.Reverse(order)
		}
		for _, s := range order {
			b.Run(fmt.Sprintf("round%d/%s", round, s.name), func(b *testing.B) {
				reqs := make([]*ingestv1.ExportRequest, requests)
				spans := 0
				for i := range reqs {
					reqs[i] = storagetest.DemoSpanRequest(rng, time.Now(), 1000, i%4 == 3)
					reqs[i].BatchId = make([]byte, 16)
					_, _ = rand.Read(reqs[i].BatchId)
					spans += countSpans(reqs[i])
				}
				load := loadAvg(b)
				want := s.srv.Stats().Spans + uint64(spans)
				ackedBefore, busyBefore := walAcksMetric(b, s.srv, "acked"), walAcksMetric(b, s.srv, "busy")
				acks := make([]time.Duration, requests)
				var next atomic.Int64
				cpu0, start := cpuTime(), time.Now()
				var wg sync.WaitGroup
				for range senders {
					wg.Go(func() {
						for {
							i := int(next.Add(1) - 1)
							if i >= requests {
								return
							}
							t0 := time.Now()
							if _, err := s.client.Export(b.Context(), reqs[i]); err != nil {
								b.Errorf("%s: export: %v", s.name, err)
								return
							}
							acks[i] = time.Since(t0)
						}
					})
				}
				wg.Wait()
				acked := time.Since(start)
				deadline := time.Now().Add(5 * time.Minute)
				for s.srv.Stats().Spans < want || walDepthMetric(b, s.srv) != 0 {
					if time.Now().After(deadline) {
						b.Fatalf("%s: not every span stored after 5 minutes", s.name)
					}
					time.Sleep(time.Millisecond)
				}
				stored, cpu := time.Since(start), cpuTime()-cpu0
				slices.Sort(acks)
				b.ReportMetric(float64(spans)/acked.Seconds(), "acked-spans/s")
				b.ReportMetric(float64(spans)/stored.Seconds(), "stored-spans/s")
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(spans), "cpu-ns/span")
				b.ReportMetric(ms(quantile(acks, 0.5)), "ack-p50-ms")
				b.ReportMetric(ms(quantile(acks, 0.99)), "ack-p99-ms")
				b.ReportMetric(walAcksMetric(b, s.srv, "acked")-ackedBefore, "wal-acked")
				b.ReportMetric(walAcksMetric(b, s.srv, "busy")-busyBefore, "wal-busy")
				b.ReportMetric(load, "load1")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// ackSetting is a collector with one wal.ack_after, and a client of it.
type ackSetting struct {
	name     string
	ackAfter time.Duration
	srv      *collector.Server
	client   ingestv1.IngestServiceClient
}

// startAckCollectors starts two collectors on one fresh database, with
// wal.ack_after 25ms and 0.
func startAckCollectors(b *testing.B) []*ackSetting {
	dsn, _ := chtest.NewDatabase(b)
	store, err := storage.Open(b.Context(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	if err := store.Migrate(b.Context()); err != nil {
		b.Fatal(err)
	}
	settings := []*ackSetting{{name: "ack_after=25ms", ackAfter: 25 * time.Millisecond}, {name: "ack_after=0", ackAfter: 0}}
	for _, s := range settings {
		cfg := collector.DefaultConfig()
		cfg.GRPCAddr, cfg.HTTPAddr, cfg.AdminAddr = "127.0.0.1:0", "", "127.0.0.1:0"
		cfg.ClickHouse.DSN = dsn
		cfg.DataDir = b.TempDir()
		cfg.NoAuth = true
		cfg.WAL.AckAfter = s.ackAfter
		s.srv, err = collector.New(cfg, store, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.srv.Start(b.Context()); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.srv.Shutdown(context.Background()) })
		conn, err := grpc.NewClient(s.srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = conn.Close() })
		s.client = ingestv1.NewIngestServiceClient(conn)
	}
	return settings
}

func benchEnvInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

func loadAvg(b *testing.B) float64 {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		b.Fatal(err)
	}
	f, err := strconv.ParseFloat(strings.Fields(string(raw))[0], 64)
	if err != nil {
		b.Fatal(err)
	}
	return f
}

func countSpans(req *ingestv1.ExportRequest) int {
	n := 0
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			n += len(ss.GetSpans())
		}
	}
	return n
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// walAcksMetric reads lambdascope_collector_wal_acks_total{outcome}.
func walAcksMetric(b *testing.B, srv *collector.Server, outcome string) float64 {
	return metricOf(b, srv, `lambdascope_collector_wal_acks_total{outcome="`+outcome+`"}`, true)
}

// walDepthMetric reads the collector's lambdascope_collector_wal_records.
func walDepthMetric(b *testing.B, srv *collector.Server) float64 {
	return metricOf(b, srv, "lambdascope_collector_wal_records", false)
}

// metricOf reads a series of srv's /metrics; absent is 0 when optional.
func metricOf(b *testing.B, srv *collector.Server, series string, optional bool) float64 {
	_, body := getB(b, "http://"+srv.AdminAddr()+"/metrics")
	for l := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatalf("%s: %v", l, err)
			}
			return f
		}
	}
	if !optional {
		b.Fatalf("no %s in /metrics", series)
	}
	return 0
}

func getB(b *testing.B, url string) (int, string) {
	req, _ := http.NewRequestWithContext(b.Context(), http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
