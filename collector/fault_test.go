package collector_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/lambdascope/lambdascope/collector"
	"github.com/lambdascope/lambdascope/internal/freeport"
	"github.com/lambdascope/lambdascope/internal/testload"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chserver"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

// load sends batches of spans over the Ingest API from several goroutines,
// retrying each batch with the same batch ID until it is acknowledged.
type load struct {
	trace   [16]byte
	perReq  int
	pace    time.Duration // pause between requests of one worker
	next    atomic.Int64
	acked   atomic.Int64
	retries atomic.Int64
}

func (l *load) request(n int64) *ingestv1.ExportRequest {
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	now := time.Now()
	ss := make([]*tracepb.Span, l.perReq)
	for i := range ss {
		k := n*int64(l.perReq) + int64(i)
		ss[i] = &tracepb.Span{
			TraceId: l.trace[:], SpanId: []byte{0xf, byte(k >> 48), byte(k >> 40), byte(k >> 32), byte(k >> 24), byte(k >> 16), byte(k >> 8), byte(k)},
			Name: "load", StartTimeUnixNano: uint64(now.UnixNano()), EndTimeUnixNano: uint64(now.UnixNano()) + 1000,
		}
	}
	return &ingestv1.ExportRequest{
		BatchId:       id,
		Function:      &ingestv1.FunctionIdentity{Name: "load", Region: "us-east-1", AccountId: "1"},
		ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: ss}}}},
	}
}

// run sends until total requests are acknowledged or ctx ends; addr is
// read before every attempt so that the collector may move.
func (l *load) run(ctx context.Context, workers int, total int64, addr func() string) error {
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			var conn *grpc.ClientConn
			var connAddr string
			defer func() {
				if conn != nil {
					_ = conn.Close()
				}
			}()
			for {
				n := l.next.Add(1) - 1
				if n >= total {
					return
				}
				req := l.request(n)
				time.Sleep(l.pace)
				for {
					if ctx.Err() != nil {
						errs <- fmt.Errorf("request %d not acknowledged before the deadline", n)
						return
					}
					if a := addr(); a != connAddr {
						if conn != nil {
							_ = conn.Close()
						}
						conn, _ = grpc.NewClient(a, grpc.WithTransportCredentials(insecure.NewCredentials()))
						connAddr = a
					}
					cctx, cancel := context.WithTimeout(withKey(ctx, apiKey), 10*time.Second)
					_, err := ingestv1.NewIngestServiceClient(conn).Export(cctx, req)
					cancel()
					if err == nil {
						l.acked.Add(1)
						break
					}
					l.retries.Add(1)
					time.Sleep(50 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// spanCounts returns the stored rows and distinct span IDs of a trace.
func spanCounts(t *testing.T, store *storage.Store, trace [16]byte) (rows, distinct uint64) {
	t.Helper()
	q := fmt.Sprintf("SELECT count(), uniqExact(span_id) FROM %s.spans WHERE trace_id = ?", store.Database())
	if err := chtest.ConnTo(t, store.Config().DSN).QueryRow(t.Context(), q, string(trace[:])).Scan(&rows, &distinct); err != nil {
		t.Fatalf("count spans: %v", err)
	}
	return rows, distinct
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestClickHouseOutageUnderLoadLosesAndDoublesNothing(t *testing.T) {
	o := outageUnderLoad(t, "outage", [16]byte{0x0a, 0x7a, 0x6e}, func(c *collector.Config) { c.AdminAddr = "" })
	rows, distinct := spanCounts(t, o.store, o.l.trace)
	if distinct != o.want || rows != o.want {
		t.Fatalf("stored %d rows of %d distinct spans, want exactly %d of each", rows, distinct, o.want)
	}
	if n := o.srv.QuarantinedBatches(); n != 0 {
		t.Errorf("an outage quarantined %d batches; it must only delay them", n)
	}
	t.Logf("acknowledged %d requests, %d while ClickHouse was down; %d retries", o.l.acked.Load(), o.l.acked.Load()-o.ackedWhileDown, o.l.retries.Load())
}

// outage is what outageUnderLoad leaves to check.
type outage struct {
	srv            *collector.Server
	store          *storage.Store
	l              *load
	want           uint64 // spans sent
	ackedWhileDown int64  // requests acknowledged before ClickHouse went down
}

// outageUnderLoad sends 1,200 requests of 20 spans of trace from 4 senders
// to a collector (its config changed by mutate) on a throwaway ClickHouse
// in database, stops ClickHouse once the load runs, starts it again once
// 100 more requests were acknowledged from the WAL, and returns when the
// load has ended and as many span rows as were sent are stored.
func outageUnderLoad(t *testing.T, database string, trace [16]byte, mutate func(*collector.Config)) outage {
	t.Helper()
	chDir := t.TempDir()
	ch, err := chserver.Start(t.Context(), chserver.Options{Dir: chDir, IgnoreEnv: true})
	if err != nil {
		t.Fatalf("start ClickHouse: %v", err)
	}
	t.Cleanup(func() { _ = ch.Stop() })
	px := chtest.NewProxy(t, ch.Addr())
	dsn := "clickhouse://" + px.Addr() + "/" + database
	store := migratedStore(t, dsn)
	cfg := testConfig(t, dsn)
	cfg.HTTPAddr = ""
	cfg.WriteTimeout = testload.Scale(5*time.Second, 30*time.Second)
	mutate(&cfg)
	srv := serve(t, cfg, store)
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })

	// The pace keeps the load running well past the outage's start: the
	// stop itself may take seconds while ClickHouse finishes its inserts.
	l := &load{trace: trace, perReq: 20, pace: 40 * time.Millisecond}
	const total = 1200
	ctx, cancel := context.WithTimeout(t.Context(), testload.Scale(3*time.Minute, 15*time.Minute))
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.run(ctx, 4, total, srv.Addr) }()

	waitFor(t, "load to start", time.Minute, func() bool { return l.acked.Load() > 50 })
	// Stop ClickHouse the way an operator would (SIGTERM; it answers the
	// inserts it is running), then keep its address dead while it is down.
	if err := ch.Stop(); err != nil {
		t.Fatalf("stop ClickHouse: %v", err)
	}
	px.Cut()
	ackedWhileDown := l.acked.Load()
	if ackedWhileDown >= total-100 {
		t.Fatalf("the load finished (%d of %d acknowledged) before ClickHouse was down; slow it down", ackedWhileDown, total)
	}
	waitFor(t, "batches to be acknowledged from the WAL while ClickHouse is down", time.Minute,
		func() bool { return l.acked.Load() > ackedWhileDown+100 })
	ch, err = chserver.Start(t.Context(), chserver.Options{Dir: chDir, IgnoreEnv: true})
	if err != nil {
		t.Fatalf("restart ClickHouse: %v", err)
	}
	t.Cleanup(func() { _ = ch.Stop() })
	px.Resume(ch.Addr())

	if err := <-done; err != nil {
		t.Fatalf("load: %v", err)
	}
	want := uint64(total * l.perReq)
	waitFor(t, "the WAL to drain into ClickHouse", 2*time.Minute, func() bool {
		rows, _ := spanCounts(t, store, l.trace)
		return rows >= want
	})
	return outage{srv: srv, store: store, l: l, want: want, ackedWhileDown: ackedWhileDown}
}

// TestKilledCollectorReplaysWAL runs the real binary, takes ClickHouse
// away so that batches pile up in the WAL, SIGKILLs the collector mid-load,
// restarts it and brings ClickHouse back.
func TestKilledCollectorReplaysWAL(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "lambdascope-collector")
	if out, err := execCommand(t.Context(), "go", "build", "-o", bin, "./cmd/lambdascope-collector").CombinedOutput(); err != nil {
		t.Fatalf("build collector: %v\n%s", err, out)
	}
	chDir := t.TempDir()
	ch, err := chserver.Start(t.Context(), chserver.Options{Dir: chDir, IgnoreEnv: true})
	if err != nil {
		t.Fatalf("start ClickHouse: %v", err)
	}
	t.Cleanup(func() { _ = ch.Stop() })
	px := chtest.NewProxy(t, ch.Addr())
	proxyDSN := "clickhouse://" + px.Addr() + "/killed"
	store := migratedStore(t, proxyDSN)
	grpcAddr, adminAddr := freeAddr(t), freeAddr(t)
	dataDir := t.TempDir()
	walDir := filepath.Join(dataDir, "wal")
	cfgPath := filepath.Join(t.TempDir(), "collector.yaml")
	cfgYAML := fmt.Sprintf("grpc_addr: %s\nhttp_addr: \"\"\nadmin_addr: %s\nclickhouse_dsn: %s\napi_key_sha256: [%s]\nwrite_timeout: %s\ndata_dir: %s\n",
		grpcAddr, adminAddr, proxyDSN, collector.HashAPIKey(apiKey), testload.Scale(5*time.Second, 30*time.Second), dataDir)
	if err := os.WriteFile(cfgPath, []byte(cfgYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	proc := startCollector(t, bin, cfgPath)
	waitFor(t, "collector to listen", 30*time.Second, func() bool { return dialable(grpcAddr) })

	l := &load{trace: [16]byte{0x0b, 0x6b, 0x11}, perReq: 20, pace: 10 * time.Millisecond}
	const total = 3000
	ctx, cancel := context.WithTimeout(t.Context(), testload.Scale(3*time.Minute, 15*time.Minute))
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.run(ctx, 4, total, func() string { return grpcAddr }) }()

	waitFor(t, "load to start", time.Minute, func() bool { return l.acked.Load() > 50 })
	if err := ch.Stop(); err != nil {
		t.Fatalf("stop ClickHouse: %v", err)
	}
	px.Cut()
	before := l.acked.Load()
	waitFor(t, "batches to go to the WAL", time.Minute, func() bool { return l.acked.Load() > before+100 })
	proc.kill(t)
	killedAt := l.acked.Load()
	if killedAt >= total {
		t.Fatalf("the load ended before the kill; make it longer")
	}
	if n := walRecords(t, walDir); n == 0 {
		t.Fatalf("the WAL holds no batch after the kill")
	}
	// The collector migrates the schema on start, so it needs ClickHouse
	// then; the WAL filled before the kill is replayed after the restart.
	ch, err = chserver.Start(t.Context(), chserver.Options{Dir: chDir, IgnoreEnv: true})
	if err != nil {
		t.Fatalf("restart ClickHouse: %v", err)
	}
	t.Cleanup(func() { _ = ch.Stop() })
	px.Resume(ch.Addr())
	proc = startCollector(t, bin, cfgPath)
	waitFor(t, "restarted collector to listen", 30*time.Second, func() bool { return dialable(grpcAddr) })

	if err := <-done; err != nil {
		t.Fatalf("load: %v", err)
	}
	want := uint64(total * l.perReq)
	waitFor(t, "the WAL to drain into ClickHouse", 2*time.Minute, func() bool {
		rows, _ := spanCounts(t, store, l.trace)
		return rows >= want
	})
	rows, distinct := spanCounts(t, store, l.trace)
	if distinct != want || rows != want {
		t.Fatalf("stored %d rows of %d distinct spans, want exactly %d of each", rows, distinct, want)
	}
	proc.stop(t)
	t.Logf("killed after %d acknowledged requests; %d retries", killedAt, l.retries.Load())
}

func dialable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// walRecords counts the whole records in a WAL directory's segments.
func walRecords(t *testing.T, dir string) int {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	n := 0
	for _, seg := range segs {
		b, err := os.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		for len(b) >= 24 {
			size := int(b[0]) | int(b[1])<<8 | int(b[2])<<16 | int(b[3])<<24
			if len(b) < 24+size {
				break
			}
			b = b[24+size:]
			n++
		}
	}
	return n
}
