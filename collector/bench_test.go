package collector_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/zstd"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/collector"
	"github.com/lambdascope/lambdascope/proto/grpczstd"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/chtest"
	"github.com/lambdascope/lambdascope/storage/storagetest"
)

const (
	// benchItemsPerRequest is the spans or log records of one request.
	benchItemsPerRequest = 1000
	// benchNativeRows is the block clickhouse-client inserts per run; the
	// collector benchmark must have written at least this many rows.
	benchNativeRows = 100_000
	// benchNativeBlocks bounds the blocks the Native baseline inserts,
	// whatever b.N: its rate is steady long before, and 300 blocks through
	// the spans table's views take minutes. Below it the baseline inserts
	// as many rows as the collector did, so that both leave the server the
	// same merges.
	benchNativeBlocks = 40
	// benchMergeWait bounds the wait for the database's merges before each
	// contender of a round.
	benchMergeWait = 2 * time.Minute
)

// The load client's process reads the collector's address, the number of
// requests to send and what they carry from these.
const (
	benchClientEnv         = "LAMBDASCOPE_BENCH_CLIENT_ADDR"
	benchClientRequestsEnv = "LAMBDASCOPE_BENCH_CLIENT_REQUESTS"
	benchClientSignalEnv   = "LAMBDASCOPE_BENCH_CLIENT_SIGNAL" // spans, minimal-spans, logs or mixed
	// benchSendersEnv sets how many senders the load client runs at once
	// (default 64): each waits for its acknowledgement before sending
	// again, as an extension does. Few senders measure the round trip of
	// one insert, not what the collector can take: with 4, every request
	// waits for the flush interval and an insert of at most 4,000 rows.
	benchSendersEnv = "LAMBDASCOPE_BENCH_SENDERS"
)

// benchSenders is the load client's concurrency, from benchSendersEnv.
func benchSenders() (int, error) {
	v := os.Getenv(benchSendersEnv)
	if v == "" {
		return 64, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1024 {
		return 0, fmt.Errorf("%s=%q: want a number of senders from 1 to 1024", benchSendersEnv, v)
	}
	return n, nil
}

// TestEndToEndClient is the end-to-end benchmarks' load client when a
// benchmark starts this binary with benchClientEnv set: benchSenders()
// goroutines (64 unless LAMBDASCOPE_BENCH_SENDERS says) send
// Ingest API requests of benchItemsPerRequest spans or log records (zstd;
// "mixed" alternates the two), each with a fresh batch ID, until the given
// number is acknowledged. Spans are shaped like the demo's (a resource of
// ten attributes, two to nine span attributes, parents, kinds, statuses, a
// new trace every few spans: storagetest.DemoSpanRequest), log records too
// (the demo's resource, text and structured lines with trace context and
// request ID: storagetest.DemoLogRequest); "minimal-spans"
// sends the bare spans of one trace (a name and times) that the figures
// were first taken on, as a reference. Run on its own it does nothing.
func TestEndToEndClient(t *testing.T) {
	addr := os.Getenv(benchClientEnv)
	if addr == "" {
		return
	}
	total, err := strconv.ParseInt(os.Getenv(benchClientRequestsEnv), 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", benchClientRequestsEnv, err)
	}
	// This process only: bodies are compressed once, before the load (see
	// preencoded), and gRPC's zstd passes them through as they are.
	encoding.RegisterCompressor(passthroughZstd{encoding.GetCompressor(grpczstd.Name)})
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.UseCompressor(grpczstd.Name), grpc.ForceCodecV2(rawBodyCodec{})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	l := &load{trace: [16]byte{0xbe, 0x4c}, perReq: benchItemsPerRequest}
	rng := mrand.New(mrand.NewPCG(5, 6))
	reqs := make([]*ingestv1.ExportRequest, 64)
	for i := range reqs {
		switch signal := os.Getenv(benchClientSignalEnv); {
		case signal == "logs", signal == "mixed" && i%2 == 1:
			// Demo-shaped log lines (storagetest.DemoLogRequest): five
			// per invocation, text and structured, under the demo's
			// resource; exactly benchItemsPerRequest.
			reqs[i] = storagetest.DemoLogRequest(rng, time.Now(), benchItemsPerRequest, i%4 == 3)
			if n := len(reqs[i].ResourceLogs[0].ScopeLogs[0].LogRecords); n != benchItemsPerRequest {
				t.Fatalf("demo request of %d log records, want %d", n, benchItemsPerRequest)
			}
		case signal == "spans", signal == "mixed":
			// Whole traces of four (orders) or two (inventory) spans:
			// exactly benchItemsPerRequest, which the figures divide by.
			reqs[i] = storagetest.DemoSpanRequest(rng, time.Now(), benchItemsPerRequest, i%4 == 3)
			if n := len(reqs[i].ResourceSpans[0].ScopeSpans[0].Spans); n != benchItemsPerRequest {
				t.Fatalf("demo request of %d spans, want %d", n, benchItemsPerRequest)
			}
		case signal == "minimal-spans":
			reqs[i] = l.request(int64(i))
		default:
			t.Fatalf("%s=%q: want spans, logs or mixed", benchClientSignalEnv, signal)
		}
	}
	workers, err := benchSenders()
	if err != nil {
		t.Fatal(err)
	}
	bodies := make([]preencoded, len(reqs))
	for i, r := range reqs {
		if bodies[i], err = preencode(r); err != nil {
			t.Fatal(err)
		}
	}
	// The benchmark times the load from this line on: building and
	// compressing the requests above is not the collector's time.
	fmt.Println(benchClientReady)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				n := next.Add(1) - 1
				if n >= total {
					return
				}
				// A fresh batch ID over shared, read-only items.
				body, err := bodies[n%int64(len(bodies))].withBatchID()
				if err != nil {
					t.Error(err)
					return
				}
				var reply []byte
				if err := conn.Invoke(t.Context(), ingestv1.IngestService_Export_FullMethodName, &body, &reply); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// benchClientReady is the line the load client prints once its requests
// are built, just before it sends the first.
const benchClientReady = "load client ready"

// preencoded is one of the load client's requests, marshalled and
// zstd-compressed once: the body the collector receives is one zstd frame,
// as the extension sends (its gRPC compressor writes each message as one
// frame), holding the request as proto.Marshal lays it out, the batch ID
// first: a raw block of the batch ID's field (18 bytes, fresh for each
// request), then the compressed blocks of the rest of the request
// (compressed once), then the checksum of the whole. The client then
// spends no CPU on compressing a request per send: it runs on the
// collector's and ClickHouse's cores, where clickhouse-client, the
// baseline, spends next to none, while real senders run elsewhere.
//
// (The body was two frames before, the batch ID's and the rest's: the
// decoder writes a frame after the first into its own buffer and copies
// it to the output, a copy of every request's body that the extension's
// requests do not cost the collector.)
type preencoded struct {
	plain  []byte // the rest of the request, marshalled
	blocks []byte // the zstd blocks of plain, without a frame's header and checksum
}

var benchEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
	return zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
})

func preencode(req *ingestv1.ExportRequest) (preencoded, error) {
	enc, err := benchEncoder()
	if err != nil {
		return preencoded{}, err
	}
	// With the batch ID left out, the request's fields follow in field
	// order; the batch ID (field 1) goes in front of them, as proto.Marshal
	// would put it.
	plain := &ingestv1.ExportRequest{Function: req.Function, ResourceSpans: req.ResourceSpans, ResourceLogs: req.ResourceLogs}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(plain)
	if err != nil {
		return preencoded{}, err
	}
	frame := enc.EncodeAll(b, nil)
	var h zstd.Header
	if err := h.Decode(frame); err != nil {
		return preencoded{}, fmt.Errorf("read the frame's header: %w", err)
	}
	if h.DictionaryID != 0 || h.Skippable {
		return preencoded{}, errors.New("the encoder wrote a frame with a dictionary or a skippable frame")
	}
	blocks := frame[h.HeaderSize:]
	if h.HasCheckSum {
		blocks = blocks[:len(blocks)-4]
	}
	return preencoded{plain: b, blocks: blocks}, nil
}

// withBatchID is the request's body with a fresh batch ID: one frame of a
// single segment (its content size in the header, 4 bytes), the batch ID's
// field in a raw block, the rest's compressed blocks as they are (a raw
// block changes neither the entropy tables nor the repeated offsets they
// refer to, and their matches reach no further back than the rest's
// start), and the content's checksum.
func (p preencoded) withBatchID() ([]byte, error) {
	const head = 18 // field 1, 16 bytes
	size := head + len(p.plain)
	body := make([]byte, 0, 4+1+4+3+head+len(p.blocks)+4)
	body = append(body, 0x28, 0xb5, 0x2f, 0xfd) // magic
	// Frame header descriptor: a 4-byte content size, a single segment, a
	// checksum, no dictionary.
	body = append(body, 2<<6|1<<5|1<<2)
	body = binary.LittleEndian.AppendUint32(body, uint32(size))
	body = append(body, byte(head<<3), 0, 0) // a raw block of 18 bytes, not the last
	start := len(body)
	body = append(body, 0x0a, 16)
	body = body[:start+head]
	if _, err := rand.Read(body[start+2:]); err != nil {
		return nil, err
	}
	d := xxhash.New()
	_, _ = d.Write(body[start:])
	_, _ = d.Write(p.plain)
	body = append(body, p.blocks...)
	return binary.LittleEndian.AppendUint32(body, uint32(d.Sum64())), nil
}

// passthroughZstd is the load client's zstd compressor: the bodies it is
// given are compressed already; the collector's answers are decompressed
// by the registered compressor.
type passthroughZstd struct{ encoding.Compressor }

func (passthroughZstd) Name() string { return grpczstd.Name }

func (passthroughZstd) Compress(w io.Writer) (io.WriteCloser, error) { return nopWriteCloser{w}, nil }

func (p passthroughZstd) Decompress(r io.Reader) (io.Reader, error) {
	return p.Compressor.Decompress(r)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// rawBodyCodec sends a body ([]byte) as it is and keeps the answer's bytes.
type rawBodyCodec struct{}

func (rawBodyCodec) Name() string { return "proto" }

func (rawBodyCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}

func (rawBodyCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

// gcCycles is the number of garbage collections the process has run,
// reported for each round beside the collector's CPU: most fall at the
// start of a load, while the heap and the pools grow. (The runtime's own
// estimate of the CPU they took, /cpu/classes/gc/total, counts the wall
// time of its workers, and on a loaded machine was nearly all of a
// round's CPU: CPU profiles of two rounds give its mark workers 3.2 and
// 3.9 % of the collector's CPU.)
func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startBenchCollector starts a collector with the default batching on a
// fresh database and returns it with the database's DSN and name.
func startBenchCollector(b *testing.B) (srv *collector.Server, db string) {
	b.Helper()
	return startBenchCollectorWith(b, func(c *collector.Config) { c.NoAuth = true })
}

// startBenchCollectorKeyed is startBenchCollector requiring apiKey.
func startBenchCollectorKeyed(b *testing.B) (srv *collector.Server, db string) {
	b.Helper()
	return startBenchCollectorWith(b, func(c *collector.Config) { c.APIKeySHA256 = []string{collector.HashAPIKey(apiKey)} })
}

func startBenchCollectorWith(b *testing.B, mutate func(*collector.Config)) (srv *collector.Server, db string) {
	b.Helper()
	dsn, db := chtest.NewDatabase(b)
	b.Cleanup(func() {
		// Millions of rows: drop them here, without the short deadline of
		// the test database's own cleanup.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := chtest.Conn(b).Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
			b.Errorf("drop %s: %v", db, err)
		}
	})
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
	cfg.ClickHouse.DSN = dsn
	cfg.DataDir = b.TempDir()
	// Acknowledged once in ClickHouse (wal.ack_after off): the figures are
	// the rate ClickHouse takes the rows at, counted after each round.
	cfg.WAL.AckAfter = 0
	mutate(&cfg)
	srv, err = collector.New(cfg, store, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return srv, db
}

// runLoadClient sends requests requests of signal to the collector from
// a process of its own (this test binary again, see TestEndToEndClient),
// so that this process's CPU time is the collector's alone: gRPC and zstd
// decoding, conversion and the ClickHouse driver. ClickHouse runs in its
// own process too. It reports items/s, the collector's CPU per item, the
// garbage collections in the round and the client's CPU per item.
func runLoadClient(b *testing.B, srv *collector.Server, signal string, requests int, unit string) {
	b.Helper()
	senders, err := benchSenders()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(senders), "senders")
	cmd := exec.CommandContext(b.Context(), os.Args[0], "-test.run=^TestEndToEndClient$", "-test.count=1")
	cmd.Env = append(os.Environ(), benchClientEnv+"="+srv.Addr(),
		benchClientRequestsEnv+"="+strconv.Itoa(requests), benchClientSignalEnv+"="+signal)
	var out bytes.Buffer
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		b.Fatalf("load client: %v", err)
	}
	// The load is timed from the client's ready line on: its start and
	// the building of its requests are not the collector's time.
	lines := bufio.NewScanner(stdout)
	for lines.Scan() && lines.Text() != benchClientReady {
		out.WriteString(lines.Text() + "\n")
	}
	gcs0 := gcCycles()
	cpu0, start := cpuTime(), time.Now()
	_, _ = io.Copy(&out, stdout)
	if err := cmd.Wait(); err != nil {
		b.Fatalf("load client: %v\n%s", err, out.String())
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	items := float64(requests * benchItemsPerRequest)
	b.ReportMetric(float64(gcCycles()-gcs0), "gc-cycles")

	b.ReportMetric(items/elapsed.Seconds(), unit+"/s")
	b.ReportMetric(float64(cpu)/items, "cpu-ns/"+unit)
	b.ReportMetric(float64(cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())/items, "client-cpu-ns/"+unit)
}

// nativeRows are benchNativeRows rows the collector wrote into a table, in
// Native format: the block each clickhouse-client run inserts.
type nativeRows struct {
	table string
	file  string
}

// clickhouseClient runs one query with clickhouse-client against db on the
// package's server, stdin (Native rows) as its input, and returns its
// output.
func clickhouseClient(b testing.TB, db, query string, stdin io.Reader) []byte {
	b.Helper()
	client, err := exec.LookPath("clickhouse-client")
	if err != nil {
		b.Skip("clickhouse-client not installed")
	}
	host, port, _ := strings.Cut(chtest.Server().Addr(), ":")
	cmd := exec.CommandContext(b.Context(), client, "--host", host, "--port", port, "--database", db, "--query", query)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		b.Fatalf("clickhouse-client %q: %v: %s", query, err, errb.String())
	}
	return out.Bytes()
}

// exportNative writes want of the rows the collector stored in table to a
// Native file in dir, once, for every Native run after it:
// the rows as the collector received them, every distinct row once and
// then again until there are want. The load client sends its 64 requests
// over and over, so the table holds each row many times; the first rows
// in the table's order would be a few requests' rows, each repeated
// (rows stored next to their copies compress about 3.5 times better, and
// the views sum them into a tenth of the rows), which is not the work the
// collector's inserts are.
func exportNative(b testing.TB, db, table, dir string, want uint64) nativeRows {
	b.Helper()
	if n := tableRows(b, db, table); n < want {
		b.Fatalf("only %d rows in %s to copy; run the collector benchmark first", n, table)
	}
	var distinct uint64
	if err := chtest.Conn(b).QueryRow(b.Context(), fmt.Sprintf("SELECT count() FROM (SELECT DISTINCT * FROM %s.%s)", db, table)).Scan(&distinct); err != nil {
		b.Fatalf("count distinct rows of %s: %v", table, err)
	}
	var rows []byte
	for left := want; left > 0; left -= min(left, distinct) {
		rows = append(rows, clickhouseClient(b, db, fmt.Sprintf("SELECT DISTINCT * FROM %s LIMIT %d FORMAT Native", table, min(left, distinct)), nil)...)
	}
	f, err := os.CreateTemp(dir, "lambdascope-bench-"+table+"-*.native")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.Write(rows); err != nil {
		b.Fatal(errors.Join(err, f.Close()))
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("Native rows of %s: %d distinct rows of %d, repeated to %d", table, distinct, tableRows(b, db, table), want)
	return nativeRows{table: table, file: f.Name()}
}

// benchNative has 2 concurrent clickhouse-client runs insert rows (blocks
// of benchNativeRows rows of table in Native format), as many rows as b.N
// requests of the collector (at most benchNativeBlocks blocks), and
// reports rows/s as unit/s and the time per block as ns/op. With views
// false the rows go into a bare copy of the table (CREATE TABLE ... AS,
// without the materialized views that hang off it); with views true into
// the table itself, so that every block also feeds its views, as the
// collector's inserts do. It fails unless the table holds every row after
// it.
func benchNative(b *testing.B, db string, rows nativeRows, unit string, views bool) {
	block, err := os.ReadFile(rows.file)
	if err != nil {
		b.Fatal(err)
	}
	target := rows.table
	if !views {
		target = rows.table + "_native_copy"
		clickhouseClient(b, db, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s AS %s", target, rows.table), nil)
	}
	before := tableRows(b, db, target)
	const workers = 2
	// As many rows as the collector's b.N requests, in whole blocks.
	blocks := min(max(1, (b.N*benchItemsPerRequest+benchNativeRows/2)/benchNativeRows), benchNativeBlocks)
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= int64(blocks) {
				clickhouseClient(b, db, "INSERT INTO "+target+" FORMAT Native", bytes.NewReader(block))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(blocks*benchNativeRows)/elapsed.Seconds(), unit+"/s")
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(blocks), "ns/op")
	if got, want := tableRows(b, db, target)-before, uint64(blocks*benchNativeRows); got != want {
		b.Fatalf("%s holds %d more rows after the Native inserts, want %d", target, got, want)
	}
	if !views {
		// Millions of rows: drop them here, without the short deadline of
		// the test database's own cleanup.
		clickhouseClient(b, db, "DROP TABLE "+target, nil)
	}
}

// tableRows is the number of rows in db.table.
func tableRows(b testing.TB, db, table string) uint64 {
	b.Helper()
	var n uint64
	if err := chtest.Conn(b).QueryRow(b.Context(), fmt.Sprintf("SELECT count() FROM %s.%s", db, table)).Scan(&n); err != nil {
		b.Fatalf("count rows of %s: %v", table, err)
	}
	return n
}

// fedTables are table and the tables its materialized views write into
// (each view's TO table): what an insert into table writes.
func fedTables(b testing.TB, db, table string) []string {
	b.Helper()
	ctx, conn := b.Context(), chtest.Conn(b)
	var views []string
	if err := conn.QueryRow(ctx, "SELECT dependencies_table FROM system.tables WHERE database = ? AND name = ?", db, table).Scan(&views); err != nil {
		b.Fatalf("views of %s: %v", table, err)
	}
	tables := []string{table}
	for _, v := range views {
		var create string
		if err := conn.QueryRow(ctx, "SELECT create_table_query FROM system.tables WHERE database = ? AND name = ?", db, v).Scan(&create); err != nil {
			b.Fatalf("definition of %s: %v", v, err)
		}
		m := viewTarget.FindStringSubmatch(create)
		if m == nil {
			b.Fatalf("view %s writes into no table of its own (TO): %s", v, create)
		}
		tables = append(tables, m[2])
	}
	return tables
}

// viewTarget finds the TO table of a materialized view's definition.
var viewTarget = regexp.MustCompile("(?s)^CREATE MATERIALIZED VIEW \\S+ TO `?([^.`\\s]+)`?\\.`?([^`\\s]+)`?\\s")

// benchRounds is how many times the end-to-end benchmarks alternate the
// collector and its baselines (LAMBDASCOPE_BENCH_ROUNDS, default 3), so
// that each ratio compares runs taken minutes apart at most, on a server
// in the same state, and the spread over rounds is seen.
func benchRounds(b *testing.B) int {
	v := os.Getenv("LAMBDASCOPE_BENCH_ROUNDS")
	if v == "" {
		return 3
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 20 {
		b.Fatalf("LAMBDASCOPE_BENCH_ROUNDS=%q: want a number of rounds from 1 to 20", v)
	}
	return n
}

// BenchmarkEndToEndSpans measures demo-shaped spans from an Ingest API
// request to the ClickHouse acknowledgement through the collector
// ("collector"), and clickhouse-client inserting the same rows in Native
// format against the same server: into a bare copy of the spans table
// ("clickhouse-client-native") and into the spans table itself, through
// the same materialized views as the collector's inserts
// ("clickhouse-client-native-views"). The three alternate, round after
// round (benchRounds), so that each round's ratio is taken side by side.
// cpu-ns/span is the collector's CPU time per span (this process; the
// load client and ClickHouse run in processes of their own),
// client-cpu-ns/span the client's. "collector-minimal-spans", once at the
// end, sends bare spans (a name and times) as a reference for how much the
// shape of a span costs.
func BenchmarkEndToEndSpans(b *testing.B) {
	srv, db := startBenchCollector(b)
	benchRoundsOf(b, db, "spans", "span", func(b *testing.B) { runLoadClient(b, srv, "spans", b.N, "span") })
	b.Run("collector-minimal-spans", func(b *testing.B) { runLoadClient(b, srv, "minimal-spans", b.N, "span") })
}

// benchRoundsOf runs benchRounds rounds of the collector (collector) and
// the Native baselines on table. Before each contender it waits for the
// merges of the database to end (at most benchMergeWait, reported as
// merge-wait-s) and empties table and the tables its views write into, so
// that every contender starts from the same state: none inherits the merges
// of the one before, nor a table grown by the contenders before it (whose
// parts its own would be merged with); the order turns every round
// (collector first in odd rounds, last in even ones). The first round
// starts with the collector: the baselines insert its rows. Each contender
// fails unless the table holds every row it was given.
func benchRoundsOf(b *testing.B, db, table, unit string, collector func(*testing.B)) {
	b.Helper()
	dir := b.TempDir() // the Native rows, for every round
	var rows nativeRows
	contenders := []struct {
		name string
		run  func(*testing.B)
	}{
		{"collector", func(b *testing.B) {
			collector(b)
			b.StopTimer()
			if got, want := tableRows(b, db, table), uint64(b.N*benchItemsPerRequest); got != want {
				b.Fatalf("%s holds %d rows after the collector's %d requests of %d, want %d", table, got, b.N, benchItemsPerRequest, want)
			}
		}},
		{"clickhouse-client-native", func(b *testing.B) { benchNative(b, db, rows, unit, false) }},
		{"clickhouse-client-native-views", func(b *testing.B) { benchNative(b, db, rows, unit, true) }},
	}
	for r := range benchRounds(b) {
		order := slices.Clone(contenders)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, c := range order {
			b.Run(fmt.Sprintf("round%d/%s", r+1, c.name), func(b *testing.B) {
				if rows.file == "" && c.name != "collector" {
					rows = exportNative(b, db, table, dir, benchNativeRows)
				}
				wait := waitForMerges(b, db)
				emptyTables(b, db, fedTables(b, db, table))
				b.ResetTimer() // which drops the metrics reported so far
				c.run(b)
				b.ReportMetric(wait.Seconds(), "merge-wait-s")
			})
		}
	}
}

// emptyTables truncates tables of db.
func emptyTables(b testing.TB, db string, tables []string) {
	b.Helper()
	for _, t := range tables {
		if err := chtest.Conn(b).Exec(b.Context(), fmt.Sprintf("TRUNCATE TABLE %s.%s", db, t)); err != nil {
			b.Fatalf("empty %s: %v", t, err)
		}
	}
}

// waitForMerges returns when ClickHouse runs no merge on db two checks in a
// row, a second apart, or after benchMergeWait, and says how long it
// waited.
func waitForMerges(b *testing.B, db string) time.Duration {
	b.Helper()
	start := time.Now()
	conn := chtest.Conn(b)
	for idle := 0; idle < 2 && time.Since(start) < benchMergeWait; {
		var n uint64
		if err := conn.QueryRow(b.Context(), "SELECT count() FROM system.merges WHERE database = ?", db).Scan(&n); err != nil {
			b.Fatalf("count merges: %v", err)
		}
		if idle++; n > 0 {
			idle = 0
		}
		if idle < 2 {
			time.Sleep(time.Second)
		}
	}
	return time.Since(start)
}

// BenchmarkEndToEndLogs is BenchmarkEndToEndSpans for log records: requests
// of 1,000 demo-shaped log lines through the collector, and clickhouse-client
// inserting the same rows of the logs table in Native format, into a bare
// copy and into the logs table itself.
func BenchmarkEndToEndLogs(b *testing.B) {
	srv, db := startBenchCollector(b)
	benchRoundsOf(b, db, "logs", "log", func(b *testing.B) { runLoadClient(b, srv, "logs", b.N, "log") })
}

// memSample is the collector process's memory at one moment.
type memSample struct {
	at        time.Duration
	rss       uint64 // resident set size
	heapLive  uint64 // Go heap marked live by the last GC
	goMemory  uint64 // all memory the Go runtime has mapped
	heapAlloc uint64 // Go heap objects, live and not yet swept
}

func sampleMemory(at time.Duration) memSample {
	s := memSample{at: at}
	if statm, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(statm)); len(f) > 1 {
			pages, _ := strconv.ParseUint(f[1], 10, 64)
			s.rss = pages * uint64(os.Getpagesize())
		}
	}
	ms := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/objects:bytes"},
	}
	metrics.Read(ms)
	s.heapLive, s.goMemory, s.heapAlloc = ms[0].Value.Uint64(), ms[1].Value.Uint64(), ms[2].Value.Uint64()
	return s
}

// BenchmarkCollectorMemory sends b.N requests of 1,000 demo-shaped items, spans and log
// records alternately, from a client process, and samples the collector
// process's memory once a second while it does: resident set size, the Go
// heap live after the last GC, all memory the Go runtime holds. It reports
// each before the load ("idle"), at the first sample ("start", 5 s in, once
// batching and the connections are warm), the highest ("peak") and the
// last ("end"), in MiB, and logs 8 samples spread over the run, so that
// one sees whether memory stays flat under sustained load.
func BenchmarkCollectorMemory(b *testing.B) {
	srv, _ := startBenchCollector(b)
	var samples []memSample // appended by the sampler, read after it ended
	idle := sampleMemory(0)
	done := make(chan struct{})
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	wg.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if at := time.Since(start); at >= 5*time.Second {
					samples = append(samples, sampleMemory(at))
				}
			}
		}
	})
	runLoadClient(b, srv, "mixed", b.N, "item")
	close(done)
	wg.Wait()
	if len(samples) < 2 {
		if b.N == 1 {
			return // the framework's first, probing run
		}
		b.Logf("load lasted %v: too short to sample memory (need > 6 s; raise -benchtime)", time.Since(start).Round(time.Second))
		return
	}
	const mib = 1 << 20
	first, last := samples[0], samples[len(samples)-1]
	peak := first
	step := max(1, (len(samples)+6)/7) // the test framework cuts a benchmark's log after 10 lines
	b.Logf("idle  rss=%6.1f MiB go-heap-live=%6.1f MiB go-heap-objects=%6.1f MiB go-total=%6.1f MiB",
		float64(idle.rss)/mib, float64(idle.heapLive)/mib, float64(idle.heapAlloc)/mib, float64(idle.goMemory)/mib)
	for i, s := range samples {
		peak.rss, peak.heapLive, peak.goMemory = max(peak.rss, s.rss), max(peak.heapLive, s.heapLive), max(peak.goMemory, s.goMemory)
		if i%step == 0 || i == len(samples)-1 {
			b.Logf("t=%3.0fs rss=%6.1f MiB go-heap-live=%6.1f MiB go-heap-objects=%6.1f MiB go-total=%6.1f MiB",
				s.at.Seconds(), float64(s.rss)/mib, float64(s.heapLive)/mib, float64(s.heapAlloc)/mib, float64(s.goMemory)/mib)
		}
	}
	for _, m := range []struct {
		name                    string
		idle, first, peak, last uint64
	}{
		{"rss", idle.rss, first.rss, peak.rss, last.rss},
		{"heap-live", idle.heapLive, first.heapLive, peak.heapLive, last.heapLive},
		{"go-total", idle.goMemory, first.goMemory, peak.goMemory, last.goMemory},
	} {
		b.ReportMetric(float64(m.idle)/mib, m.name+"-idle-MiB")
		b.ReportMetric(float64(m.first)/mib, m.name+"-start-MiB")
		b.ReportMetric(float64(m.peak)/mib, m.name+"-peak-MiB")
		b.ReportMetric(float64(m.last)/mib, m.name+"-end-MiB")
	}
	b.ReportMetric(last.at.Seconds(), "sampled-s")
}

// TestPreencodedBodyIsOneFrame holds the load client's bodies to what the
// extension sends: one zstd frame (its content size is the whole message),
// with a checksum, that decompresses to the request as proto.Marshal lays
// it out with a batch ID of its own, the ID different in every body.
func TestPreencodedBodyIsOneFrame(t *testing.T) {
	req := storagetest.DemoSpanRequest(mrand.New(mrand.NewPCG(3, 4)), time.Unix(1_780_000_000, 0), 200, false)
	p, err := preencode(req)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	ids := map[string]bool{}
	for range 3 {
		body, err := p.withBatchID()
		if err != nil {
			t.Fatal(err)
		}
		out, err := dec.DecodeAll(body, nil)
		if err != nil {
			t.Fatalf("decompress the body: %v", err)
		}
		var h zstd.Header
		if err := h.Decode(body); err != nil {
			t.Fatal(err)
		}
		if !h.HasFCS || h.FrameContentSize != uint64(len(out)) || !h.HasCheckSum {
			t.Fatalf("frame header: content size %d (set %v), checksum %v; the body decompresses to %d bytes",
				h.FrameContentSize, h.HasFCS, h.HasCheckSum, len(out))
		}
		var got ingestv1.ExportRequest
		if err := proto.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if len(got.BatchId) != 16 || ids[string(got.BatchId)] {
			t.Fatalf("batch ID %x: want 16 bytes, new in each body", got.BatchId)
		}
		ids[string(got.BatchId)] = true
		want := proto.CloneOf(req)
		want.BatchId = got.BatchId
		wantBytes, err := proto.MarshalOptions{Deterministic: true}.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, wantBytes) {
			t.Fatalf("the body decompresses to %d bytes, not the request as marshalled (%d bytes)", len(out), len(wantBytes))
		}
		// A damaged byte of the compressed rest is refused.
		bad := bytes.Clone(body)
		bad[len(bad)-5] ^= 0xff
		if _, err := dec.DecodeAll(bad, nil); err == nil {
			t.Fatal("a damaged body decompressed without an error")
		}
	}
}
