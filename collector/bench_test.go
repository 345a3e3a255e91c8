package collector_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/lambdascope/lambdascope/collector"
	"github.com/lambdascope/lambdascope/proto/grpczstd"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

const (
	benchSpansPerRequest = 1000
	// benchNativeRows is the block clickhouse-client inserts per run; the
	// collector benchmark must have written at least this many spans.
	benchNativeRows = 100_000
)

// The load client's process reads the collector's address and the number
// of requests to send from these.
const (
	benchClientEnv         = "LAMBDASCOPE_BENCH_CLIENT_ADDR"
	benchClientRequestsEnv = "LAMBDASCOPE_BENCH_CLIENT_REQUESTS"
)

// TestEndToEndSpansClient is BenchmarkEndToEndSpans's load client when the
// benchmark starts this binary with benchClientEnv set: 4 goroutines send
// Ingest API requests of benchSpansPerRequest spans (zstd), each with a
// fresh batch ID, until the given number is acknowledged. Run on its own it
// does nothing.
func TestEndToEndSpansClient(t *testing.T) {
	addr := os.Getenv(benchClientEnv)
	if addr == "" {
		return
	}
	total, err := strconv.ParseInt(os.Getenv(benchClientRequestsEnv), 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", benchClientRequestsEnv, err)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.UseCompressor(grpczstd.Name)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	client := ingestv1.NewIngestServiceClient(conn)
	l := &load{trace: [16]byte{0xbe, 0x4c}, perReq: benchSpansPerRequest}
	reqs := make([]*ingestv1.ExportRequest, 64)
	for i := range reqs {
		reqs[i] = l.request(int64(i))
	}
	const workers = 4
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				n := next.Add(1) - 1
				if n >= total {
					return
				}
				// A fresh batch ID over shared, read-only spans.
				base := reqs[n%int64(len(reqs))]
				req := &ingestv1.ExportRequest{BatchId: make([]byte, 16), Function: base.Function, ResourceSpans: base.ResourceSpans}
				_, _ = rand.Read(req.BatchId)
				if _, err := client.Export(t.Context(), req); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEndToEndSpans measures spans from an Ingest API request to the
// ClickHouse acknowledgement through the collector ("collector"), and
// clickhouse-client inserting the same rows in Native format
// ("clickhouse-client-native"), side by side against the same server.
// cpu-ns/span is the collector's CPU time per span (this process; the load
// client and ClickHouse run in processes of their own), client-cpu-ns/span
// the client's.
func BenchmarkEndToEndSpans(b *testing.B) {
	dsn, db := chtest.NewDatabase(b)
	store, err := storage.Open(b.Context(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	if err := store.Migrate(b.Context()); err != nil {
		b.Fatal(err)
	}
	cfg := collector.DefaultConfig()
	cfg.GRPCAddr, cfg.HTTPAddr, cfg.AdminAddr = "127.0.0.1:0", "", ""
	cfg.ClickHouseDSN = dsn
	cfg.NoAuth = true
	srv, err := collector.New(cfg, store, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Shutdown(context.Background()) })

	b.Run("collector", func(b *testing.B) {
		// The client runs in its own process (this test binary again, see
		// TestEndToEndSpansClient) so that this process's CPU time is the
		// collector's alone: gRPC and zstd decoding, conversion and the
		// ClickHouse driver. ClickHouse runs in its own process too.
		cmd := exec.CommandContext(b.Context(), os.Args[0], "-test.run=^TestEndToEndSpansClient$", "-test.count=1")
		cmd.Env = append(os.Environ(), benchClientEnv+"="+srv.Addr(), benchClientRequestsEnv+"="+strconv.Itoa(b.N))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cpu0, start := cpuTime(), time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("load client: %v\n%s", err, out.String())
		}
		elapsed, cpu := time.Since(start), cpuTime()-cpu0
		spans := float64(b.N * benchSpansPerRequest)
		b.ReportMetric(spans/elapsed.Seconds(), "spans/s")
		b.ReportMetric(float64(cpu)/spans, "cpu-ns/span")
		b.ReportMetric(float64(cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())/spans, "client-cpu-ns/span")
	})

	b.Run("clickhouse-client-native", func(b *testing.B) {
		client, err := exec.LookPath("clickhouse-client")
		if err != nil {
			b.Skip("clickhouse-client not installed")
		}
		host, port, _ := strings.Cut(chtest.Server().Addr(), ":")
		native := filepath.Join(b.TempDir(), "spans.native")
		ch := func(query string, stdin []byte) []byte {
			cmd := exec.CommandContext(b.Context(), client, "--host", host, "--port", port, "--database", db, "--query", query)
			cmd.Stdin = bytes.NewReader(stdin)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Run(); err != nil {
				b.Fatalf("clickhouse-client %q: %v: %s", query, err, errb.String())
			}
			return out.Bytes()
		}
		// The same rows the collector wrote, in Native, as one large block
		// per clickhouse-client run so that its start-up does not dominate.
		rows := ch(fmt.Sprintf("SELECT * FROM spans LIMIT %d FORMAT Native", benchNativeRows), nil)
		if err := os.WriteFile(native, rows, 0o600); err != nil {
			b.Fatal(err)
		}
		if n, _ := strconv.Atoi(strings.TrimSpace(string(ch("SELECT count() FROM spans", nil)))); n < benchNativeRows {
			b.Fatalf("only %d spans to copy; run the collector benchmark first", n)
		}
		ch("CREATE TABLE IF NOT EXISTS spans_native_copy AS spans", nil)
		const workers = 2
		start := time.Now()
		var next int64
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for {
					mu.Lock()
					n := next
					next++
					mu.Unlock()
					if n >= int64(b.N) {
						return
					}
					ch("INSERT INTO spans_native_copy FORMAT Native", rows)
				}
			})
		}
		wg.Wait()
		b.ReportMetric(float64(b.N*benchNativeRows)/time.Since(start).Seconds(), "spans/s")
		b.StopTimer()
		// Millions of rows: drop them here, without the short deadline of
		// the test database's own cleanup.
		ch("DROP TABLE spans_native_copy", nil)
	})
}
