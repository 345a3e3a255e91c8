package collector_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/lambdascope/lambdascope/collector"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

// balancer is a TCP load balancer on loopback: each new connection goes to
// the next backend in turn, and the bytes pass both ways untouched, as
// through a layer-4 load balancer in front of several collectors.
type balancer struct {
	lis      net.Listener
	backends []string

	mu     sync.Mutex
	routed []int // backend index of each accepted connection
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newBalancer(t *testing.T, backends ...string) *balancer {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{lis: lis, backends: backends}
	b.wg.Add(1)
	go b.accept()
	t.Cleanup(func() {
		_ = lis.Close()
		b.mu.Lock()
		for _, c := range b.conns {
			_ = c.Close()
		}
		b.mu.Unlock()
		b.wg.Wait()
	})
	return b
}

func (b *balancer) Addr() string { return b.lis.Addr().String() }

// Routed returns the backend index of each connection so far, in order.
func (b *balancer) Routed() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int(nil), b.routed...)
}

func (b *balancer) accept() {
	defer b.wg.Done()
	for {
		client, err := b.lis.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		i := len(b.routed) % len(b.backends)
		b.routed = append(b.routed, i)
		b.mu.Unlock()
		server, err := net.DialTimeout("tcp", b.backends[i], 5*time.Second)
		if err != nil {
			_ = client.Close()
			continue
		}
		b.mu.Lock()
		b.conns = append(b.conns, client, server)
		b.mu.Unlock()
		b.wg.Add(2)
		pipe := func(dst, src net.Conn) {
			defer b.wg.Done()
			_, _ = io.Copy(dst, src)
			_ = dst.Close()
			_ = src.Close()
		}
		go pipe(server, client)
		go pipe(client, server)
	}
}

// fullBatch is an Ingest API batch of function fn with every kind of item:
// two invocations, spans of traces spread over the shards, log records and
// metric points.
func fullBatch(fn string, seed byte) *ingestv1.ExportRequest {
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	at := uint64(time.Now().Add(-time.Minute).UnixNano())
	req := &ingestv1.ExportRequest{
		BatchId:          id,
		SentTimeUnixNano: at + 1e9,
		Function:         &ingestv1.FunctionIdentity{Name: fn, Region: "us-east-1", AccountId: "123456789012", MemoryMb: 256},
	}
	var spans []*tracepb.Span
	var logs []*logspb.LogRecord
	for i := range byte(6) {
		trace := []byte{seed, i*41 + 3, 0x5e, 0x7e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, i}
		spans = append(spans, &tracepb.Span{TraceId: trace, SpanId: []byte{seed, i, 1, 1, 1, 1, 1, 1}, Name: "handler",
			StartTimeUnixNano: at + uint64(i)*1e6, EndTimeUnixNano: at + uint64(i)*1e6 + 5e5})
		logs = append(logs, &logspb.LogRecord{TimeUnixNano: at + uint64(i)*1e6, TraceId: trace, SpanId: []byte{seed, i, 1, 1, 1, 1, 1, 1},
			SeverityNumber: logspb.SeverityNumber_SEVERITY_NUMBER_INFO, SeverityText: "INFO"})
	}
	for i := range 2 {
		req.Invocations = append(req.Invocations, &ingestv1.Invocation{
			RequestId: fmt.Sprintf("%s-req-%d", fn, i), StartTimeUnixNano: at + uint64(i)*1e6, Status: "success",
			DurationMs: 3, BilledDurationMs: 3, TraceId: spans[i].TraceId,
		})
	}
	req.ResourceSpans = []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}}}}
	req.ResourceLogs = []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: logs}}}}
	req.ResourceMetrics = []*metricspb.ResourceMetrics{{ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: []*metricspb.Metric{
		{Name: "queue.depth", Data: &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{
			{TimeUnixNano: at, Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: 4}},
			{TimeUnixNano: at + 1e6, Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: 5}},
			{TimeUnixNano: at + 2e6, Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: 6}},
		}}}},
	}}}}}
	return req
}

// sendStored exports req and fails unless the collector stored it (rather
// than answering duplicate).
func sendStored(ctx context.Context, client ingestv1.IngestServiceClient, req *ingestv1.ExportRequest) error {
	ctx, cancel := context.WithTimeout(withKey(ctx, apiKey), 30*time.Second)
	defer cancel()
	resp, err := client.Export(ctx, req)
	if err != nil {
		return fmt.Errorf("export %s: %w", req.Function.Name, err)
	}
	if resp.GetDuplicate() {
		return errors.New("export " + req.Function.Name + ": answered duplicate; want it stored by this collector")
	}
	return nil
}

// batchRows counts the rows of function fn in each table, through the
// Distributed tables.
func batchRows(t *testing.T, st *storage.Store, fn string) map[string]uint64 {
	t.Helper()
	got := map[string]uint64{}
	for _, table := range []string{"invocations", "spans", "logs", "metric_points"} {
		var n uint64
		// table is one of the constants above, never input.
		q := "SELECT count() FROM " + st.Database() + "." + table + " WHERE function_name = ?"
		if err := chtest.ConnTo(t, st.Config().DSN).QueryRow(t.Context(), q, fn).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		got[table] = n
	}
	return got
}

// TestBatchRetriedThroughAnotherCollectorIsStoredOnce runs two collectors
// behind one address (a TCP balancer), each talking to another server of a
// two-shard ClickHouse cluster. A batch is stored through the first; its
// sender, whose acknowledgement was lost, retries it with the same batch ID
// on a new connection, which reaches the second collector, while other
// batches arrive there too. The second collector does not know the batch;
// ClickHouse's block deduplication of the ReplicatedMergeTree shards drops
// the retried blocks, so every row is stored once. It holds because on a
// cluster each batch is inserted on its own: grouped with the other
// batches, its rows would form other blocks and be stored twice. The same
// holds for the WAL replay: a third collector whose server is unreachable
// takes the retry and a new batch into its WAL and replays them one by
// one.
func TestBatchRetriedThroughAnotherCollectorIsStoredOnce(t *testing.T) {
	c := chtest.StartCluster(t, 2)
	var (
		stores     []*storage.Store
		collectors []*collector.Server
	)
	for i, srv := range c.Servers {
		cfg := storage.DefaultConfig()
		cfg.DSN, cfg.Database, cfg.Cluster = srv.DSNFor("lambdascope"), "lambdascope", c.Name
		st, err := storage.OpenConfig(t.Context(), cfg)
		if err != nil {
			t.Fatalf("open shard %d: %v", i+1, err)
		}
		t.Cleanup(func() { _ = st.Close() })
		// Each collector's store migrates through its own server, whose
		// schema_migrations is its own: the second runs every migration
		// again, ADD COLUMN ones too (which 18.x cannot do IF NOT EXISTS).
		if err := st.Migrate(t.Context()); err != nil {
			t.Fatalf("migrate through shard %d: %v", i+1, err)
		}
		ccfg := testConfig(t, srv.DSNFor("lambdascope"))
		ccfg.ClickHouse.Cluster = c.Name
		// Requests that arrive within this long of one another would be
		// inserted together, were batches grouped on a cluster.
		ccfg.Batch.FlushInterval = 500 * time.Millisecond
		col := serve(t, ccfg, st)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := col.Shutdown(ctx); err != nil {
				t.Errorf("shutdown collector %d: %v", i+1, err)
			}
		})
		stores, collectors = append(stores, st), append(collectors, col)
	}
	lb := newBalancer(t, collectors[0].Addr(), collectors[1].Addr())

	// export sends reqs at once on a new connection through the balancer.
	export := func(reqs ...*ingestv1.ExportRequest) {
		t.Helper()
		conn, err := grpc.NewClient(lb.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatalf("dial balancer: %v", err)
		}
		defer conn.Close()
		client := ingestv1.NewIngestServiceClient(conn)
		errs := make(chan error, len(reqs))
		var wg sync.WaitGroup
		for _, req := range reqs {
			wg.Go(func() { errs <- sendStored(t.Context(), client, req) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}

	retried := fullBatch("retried", 1)
	export(retried)
	// The acknowledgement was lost: the same batch again, on a new
	// connection, beside three new batches.
	others := []*ingestv1.ExportRequest{fullBatch("other-a", 2), fullBatch("other-b", 3), fullBatch("other-c", 4)}
	export(append([]*ingestv1.ExportRequest{retried}, others...)...)

	if got := lb.Routed(); len(got) != 2 || got[0] == got[1] {
		t.Fatalf("balancer routed the connections to backends %v, want one to each collector", got)
	}
	want := map[string]uint64{"invocations": 2, "spans": 6, "logs": 6, "metric_points": 3}
	for _, fn := range []string{"retried", "other-a", "other-b", "other-c"} {
		for i, st := range stores {
			got := batchRows(t, st, fn)
			for table, n := range want {
				if got[table] != n {
					t.Errorf("through shard %d, %s holds %d rows of batch %q, want %d", i+1, table, got[table], fn, n)
				}
			}
		}
	}
	// The views on the shards' tables count each invocation once too.
	var invocations uint64
	q := "SELECT countMerge(invocations) FROM " + stores[1].Database() + ".function_figures WHERE function_name = ?"
	if err := chtest.ConnTo(t, stores[1].Config().DSN).QueryRow(t.Context(), q, "retried").Scan(&invocations); err != nil {
		t.Fatalf("read function_figures: %v", err)
	}
	// Separate inserts of equal view rows are all counted and a retry
	// once (storage's TestClusterViewsCountEqualRowsOfTwoInsertsAndARetryOnce).
	// What can leave a view short on 18.16 is an insert cut between a
	// shard's invocations part and a view's (a ZooKeeper timeout under
	// load): its retry (from the WAL, or the sender's) is deduplicated,
	// and the server skips the views of a deduplicated block. The stores
	// count the rows of such inserts, and every invocation missed must be
	// among them.
	// Each collector reports its store's count.
	var atRisk uint64
	for i, st := range stores {
		n := st.ViewsAtRisk()
		atRisk += n
		_, body := get(t, "http://"+collectors[i].AdminAddr()+"/metrics")
		if want := fmt.Sprintf("lambdascope_collector_view_rows_at_risk_total %d", n); !strings.Contains(body, want) {
			t.Errorf("collector %d's /metrics has no line %q: %q", i+1, want, grep(body, "view_rows_at_risk"))
		}
		if got := collectors[i].Stats().ViewRowsAtRisk; got != n {
			t.Errorf("collector %d: Stats().ViewRowsAtRisk = %d, its store counts %d", i+1, got, n)
		}
	}
	switch short := want["invocations"] - min(invocations, want["invocations"]); {
	case invocations > want["invocations"]:
		t.Errorf("function_figures counts %d invocations of batch %q, want %d", invocations, "retried", want["invocations"])
	case short > atRisk:
		var failed []string
		for i, col := range collectors {
			_, body := get(t, "http://"+col.AdminAddr()+"/metrics")
			for l := range strings.SplitSeq(grep(body, "lambdascope_collector_insert_duration_seconds_count"), "\n") {
				if strings.Contains(l, `result="error"`) && !strings.HasSuffix(l, " 0") {
					failed = append(failed, fmt.Sprintf("collector %d: %s", i+1, l))
				}
			}
		}
		t.Errorf("function_figures counts %d invocations of batch %q, want %d; the stores count %d rows the views may miss; failed inserts: %v",
			invocations, "retried", want["invocations"], atRisk, failed)
	case short > 0:
		t.Logf("function_figures counts %d invocations of batch %q of %d: an insert was cut after a shard stored them "+
			"and the stores count %d rows the views may miss (ClickHouse 18.16 does not mend the views on retry)",
			invocations, "retried", want["invocations"], atRisk)
	}

	// A third collector, whose server is unreachable, takes the retry again
	// and a new batch into its WAL; once the server is back its replay
	// writes each batch on its own, so the retry is dropped again.
	px := chtest.NewProxy(t, c.Servers[1].Addr())
	walCfg := storage.DefaultConfig()
	walCfg.DSN, walCfg.Database, walCfg.Cluster = "clickhouse://"+px.Addr()+"/lambdascope", "lambdascope", c.Name
	walStore, err := storage.OpenConfig(t.Context(), walCfg)
	if err != nil {
		t.Fatalf("open shard 2 through a proxy: %v", err)
	}
	t.Cleanup(func() { _ = walStore.Close() })
	ccfg := testConfig(t, walCfg.DSN)
	ccfg.ClickHouse.Cluster = c.Name
	ccfg.Batch.FlushInterval = 500 * time.Millisecond
	ccfg.WriteTimeout = 5 * time.Second
	third := serve(t, ccfg, walStore)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = third.Shutdown(ctx)
	})
	px.Cut()
	conn, err := grpc.NewClient(third.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	walled := fullBatch("walled", 5)
	for _, req := range []*ingestv1.ExportRequest{retried, walled} {
		if err := sendStored(t.Context(), ingestv1.NewIngestServiceClient(conn), req); err != nil {
			t.Fatalf("while ClickHouse is unreachable: %v", err)
		}
	}
	px.Resume("")
	waitFor(t, "the WAL replay to store the new batch", 2*time.Minute, func() bool {
		got := batchRows(t, stores[0], "walled")
		return got["metric_points"] >= want["metric_points"]
	})
	for _, fn := range []string{"retried", "walled"} {
		got := batchRows(t, stores[0], fn)
		for table, n := range want {
			if got[table] != n {
				t.Errorf("after the WAL replay, %s holds %d rows of batch %q, want %d", table, got[table], fn, n)
			}
		}
	}
	if s := third.Stats(); s.Batches != 2 {
		t.Errorf("third collector stats %+v: want 2 batches taken", s)
	}
	for i, col := range collectors {
		t.Logf("collector %d stats: %+v", i+1, col.Stats())
	}
}
