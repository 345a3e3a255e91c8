package storage

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/ClickHouse/ch-go"
	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage/chtest"
	"github.com/lambdascope/lambdascope/storage/dbmodel"
	"github.com/lambdascope/lambdascope/storage/storagetest"
)

// openDriverStore opens a migrated store whose spans and logs go through
// clickhouse-go, as on servers with LowCardinality columns: the reference
// the block writer is held to.
func openDriverStore(t *testing.T) *Store {
	t.Helper()
	s := openStore(t)
	if s.blocks == nil {
		t.Fatal("store has no block writer on this server")
	}
	if err := s.blocks.close(); err != nil {
		t.Fatalf("close block writer: %v", err)
	}
	s.blocks = nil
	return s
}

// tableRows reads every row of table, the columns in the given order, one
// string per row, rendered from the driver's own Go types.
func tableRows(t *testing.T, s *Store, table string, columns []string, order string) []string {
	t.Helper()
	rows, err := s.conn.Query(t.Context(), fmt.Sprintf("SELECT %s FROM %s.%s ORDER BY %s",
		strings.Join(columns, ", "), s.Database(), table, order))
	if err != nil {
		t.Fatalf("select %s: %v", table, err)
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	var out []string
	for rows.Next() {
		ptrs := make([]any, len(types))
		for i, ct := range types {
			ptrs[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("scan %s: %v", table, err)
		}
		var b strings.Builder
		for i, p := range ptrs {
			fmt.Fprintf(&b, "%s=%#v ", columns[i], reflect.ValueOf(p).Elem().Interface())
		}
		out = append(out, b.String())
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	return out
}

// sameRows fails the test unless both stores hold the same spans and logs.
func sameRows(t *testing.T, got, want *Store) {
	t.Helper()
	for _, tc := range []struct {
		table   string
		columns []string
		order   string
	}{
		{"spans", spanInsertColumns, "trace_id, span_id, start_unix_nano"},
		{"logs", logInsertColumns, "time_unix_nano, body, observed_time_unix_nano"},
	} {
		g, w := tableRows(t, got, tc.table, tc.columns, tc.order), tableRows(t, want, tc.table, tc.columns, tc.order)
		if len(g) != len(w) {
			t.Errorf("%s: block writer stored %d rows, driver %d", tc.table, len(g), len(w))
			continue
		}
		for i := range g {
			if g[i] != w[i] {
				t.Errorf("%s row %d:\nblock writer %s\ndriver       %s", tc.table, i, g[i], w[i])
				break
			}
		}
	}
}

// variedRequests builds n requests of up to size spans and log records
// each, with every shape the columns take: attributes or none, events and
// links or none, malformed link and log IDs, empty strings, non-ASCII
// text, bodies of every kind, times of zero and beyond 2106, and a span
// the writer rejects.
func variedRequests(seed uint64, n, size int) []*ingestv1.ExportRequest {
	r := rand.New(rand.NewPCG(seed, 1))
	pick := func(s ...string) string { return s[r.IntN(len(s))] }
	id := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		b[0] |= 1 // never all zeros
		return b
	}
	attrs := func(max int) []*commonpb.KeyValue {
		var out []*commonpb.KeyValue
		for range r.IntN(max + 1) {
			switch r.IntN(4) {
			case 0:
				out = append(out, strAttr(pick("http.route", "db.system", "peer.service", ""), pick("", "/orders/{id}", "postgresql", "ü'\\\x00")))
			case 1:
				out = append(out, intAttr("retries", r.Int64N(10)-5))
			case 2:
				out = append(out, strAttr(pick("faas.invocation_id", "faas.execution", "requestId"), fmt.Sprintf("req-%d", r.IntN(5))))
			default:
				out = append(out, &commonpb.KeyValue{Key: "tags", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{
					ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}}}},
				}}})
			}
		}
		return out
	}
	base := uint64(time.Date(2026, 3, 14, 23, 59, 0, 0, time.UTC).UnixNano())
	ts := func() uint64 {
		switch r.IntN(20) {
		case 0:
			return 0
		case 1:
			return math.MaxUint64 - uint64(r.IntN(3))
		default:
			return base + uint64(r.Int64N(int64(2*time.Minute)))
		}
	}
	var out []*ingestv1.ExportRequest
	for i := range n {
		req := &ingestv1.ExportRequest{
			Function: &ingestv1.FunctionIdentity{
				AccountId: "123456789012", Region: pick("eu-west-1", ""), Name: fmt.Sprintf("fn-%d", i%3),
				Version: pick("$LATEST", "7"), ServiceName: pick("", "orders-svc"),
			},
			SentTimeUnixNano: base + uint64(i),
		}
		var res *resourcepb.Resource
		if r.IntN(2) == 0 {
			res = &resourcepb.Resource{Attributes: append(attrs(3), strAttr("service.name", pick("checkout", "")))}
		}
		var spans []*tracepb.Span
		for range 1 + r.IntN(size) {
			sp := &tracepb.Span{
				TraceId: id(16), SpanId: id(8), Name: pick("", "handler", "SELECT orders", "naïve ☃"),
				Kind: tracepb.Span_SpanKind(r.IntN(6)), TraceState: pick("", "vendor=1"),
				StartTimeUnixNano: ts(), Attributes: attrs(4),
				Status: &tracepb.Status{Code: tracepb.Status_StatusCode(r.IntN(3)), Message: pick("", "deadlock")},
			}
			sp.EndTimeUnixNano = sp.StartTimeUnixNano + uint64(r.IntN(1e9))
			if r.IntN(3) > 0 {
				sp.ParentSpanId = id(8)
			}
			for range r.IntN(3) {
				sp.Events = append(sp.Events, &tracepb.Span_Event{TimeUnixNano: ts(), Name: pick("", "exception"), Attributes: attrs(2)})
			}
			for range r.IntN(3) {
				l := &tracepb.Span_Link{TraceId: id(16), SpanId: id(8), Attributes: attrs(1)}
				if r.IntN(4) == 0 {
					l.TraceId, l.SpanId = id(3), nil
				}
				sp.Links = append(sp.Links, l)
			}
			if r.IntN(50) == 0 {
				sp.TraceId = id(15)
			}
			spans = append(spans, sp)
		}
		var logs []*logspb.LogRecord
		for j := range 1 + r.IntN(size) {
			lr := &logspb.LogRecord{
				TimeUnixNano: ts(), ObservedTimeUnixNano: ts(),
				SeverityNumber: logspb.SeverityNumber(r.IntN(25)), SeverityText: pick("", "ERROR"),
				Attributes: attrs(3),
			}
			switch r.IntN(4) {
			case 0:
				lr.Body = &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: fmt.Sprintf("line %d %d é", i, j)}}
			case 1:
				lr.Body = &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: int64(j)}}
			case 2:
				lr.Body = &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{
					Values: []*commonpb.KeyValue{strAttr("msg", fmt.Sprintf("kv %d %d", i, j))}}}}
			}
			switch r.IntN(3) {
			case 0:
				lr.TraceId, lr.SpanId = id(16), id(8)
			case 1:
				lr.TraceId, lr.SpanId = id(5), id(9)
			}
			logs = append(logs, lr)
		}
		req.ResourceSpans = []*tracepb.ResourceSpans{{Resource: res, ScopeSpans: []*tracepb.ScopeSpans{
			{Scope: &commonpb.InstrumentationScope{Name: pick("", "lambda-handler"), Version: pick("", "1.2.3")}, Spans: spans},
		}}}
		req.ResourceLogs = []*logspb.ResourceLogs{{Resource: res, ScopeLogs: []*logspb.ScopeLogs{{LogRecords: logs}}}}
		out = append(out, req)
	}
	return out
}

// writeAll writes the requests in groups of per, as the collector does,
// and returns the summed counts.
func writeAll(t *testing.T, s *Store, reqs []*ingestv1.ExportRequest, per int) WriteCounts {
	t.Helper()
	var sum WriteCounts
	for i := 0; i < len(reqs); i += per {
		c, err := s.WriteExports(t.Context(), reqs[i:min(i+per, len(reqs))])
		if err != nil {
			t.Fatalf("WriteExports: %v", err)
		}
		sum = sum.Add(c)
	}
	return sum
}

func TestBlockWriterStoresWhatTheDriverStored(t *testing.T) {
	blocks, driver := openStore(t), openDriverStore(t)
	for _, tc := range []struct {
		name         string
		seed         uint64
		n, size, per int
	}{
		{"one small request", 1, 1, 3, 1},
		{"many batches reusing the buffers", 2, 60, 40, 7},
		{"large and small blocks alternating", 3, 6, 900, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reqs := variedRequests(tc.seed, tc.n, tc.size)
			got, want := writeAll(t, blocks, reqs, tc.per), writeAll(t, driver, reqs, tc.per)
			if got != want {
				t.Errorf("counts: block writer %+v, driver %+v", got, want)
			}
			if got.Spans == 0 || got.Logs == 0 {
				t.Errorf("counts %+v: the requests should hold spans and logs", got)
			}
			sameRows(t, blocks, driver)
		})
	}
}

// TestBlockWriterSpansReadInChunks holds WriteExportsWithSpans, whose
// spans come read into one set of columns per request and are written one
// set after the other in a block, to the rows the driver stores from the
// same requests as messages: the requests' other items and the spans left
// to them as messages included.
func TestBlockWriterSpansReadInChunks(t *testing.T) {
	blocks, driver := openStore(t), openDriverStore(t)
	reqs := variedRequests(21, 12, 60)
	var chunks []*dbmodel.SpanColumns
	rest := make([]*ingestv1.ExportRequest, len(reqs))
	for i, req := range reqs {
		c := new(dbmodel.SpanColumns)
		if i%3 != 2 { // every third request keeps its spans as messages
			c.AppendExport(&ingestv1.ExportRequest{Function: req.Function, ResourceSpans: req.ResourceSpans})
			chunks = append(chunks, c)
			if i%4 == 0 {
				chunks = append(chunks, new(dbmodel.SpanColumns)) // an empty set between
			}
			r := proto.CloneOf(req)
			r.ResourceSpans = nil
			rest[i] = r
			continue
		}
		rest[i] = req
	}
	got, err := blocks.WriteExportsWithSpans(t.Context(), rest, chunks)
	if err != nil {
		t.Fatalf("WriteExportsWithSpans: %v", err)
	}
	want, err := driver.WriteExports(t.Context(), reqs)
	if err != nil {
		t.Fatalf("WriteExports: %v", err)
	}
	if got != want || got.Spans == 0 || got.Rejected == 0 {
		t.Errorf("counts: in chunks %+v, driver %+v (want spans and a rejected one)", got, want)
	}
	sameRows(t, blocks, driver)
}

// TestLogsReadInChunks holds WriteExportsWithColumns, whose spans and log
// records come read into one set of columns per request, to the rows
// stored from the same requests as messages, on the block writer's
// connections and through clickhouse-go (which joins the sets first).
func TestLogsReadInChunks(t *testing.T) {
	for _, chunked := range []string{"block writer", "clickhouse-go"} {
		t.Run(chunked, func(t *testing.T) {
			blocks, driver := openStore(t), openDriverStore(t)
			inChunks, asMessages := blocks, driver
			if chunked == "clickhouse-go" {
				inChunks, asMessages = driver, blocks
			}
			reqs := variedRequests(17, 9, 40)
			var spans []*dbmodel.SpanColumns
			var logs []*dbmodel.LogColumns
			rest := make([]*ingestv1.ExportRequest, len(reqs))
			for i, req := range reqs {
				if i%3 == 2 { // every third request keeps its items as messages
					rest[i] = req
					continue
				}
				s, l := new(dbmodel.SpanColumns), new(dbmodel.LogColumns)
				s.AppendExport(&ingestv1.ExportRequest{Function: req.Function, ResourceSpans: req.ResourceSpans})
				l.AppendExport(&ingestv1.ExportRequest{Function: req.Function, SentTimeUnixNano: req.SentTimeUnixNano, ResourceLogs: req.ResourceLogs})
				spans, logs = append(spans, s), append(logs, l)
				if i%4 == 0 {
					logs = append(logs, new(dbmodel.LogColumns)) // an empty set between
				}
				r := proto.CloneOf(req)
				r.ResourceSpans, r.ResourceLogs = nil, nil
				rest[i] = r
			}
			got, err := inChunks.WriteExportsWithColumns(t.Context(), rest, spans, logs)
			if err != nil {
				t.Fatalf("WriteExportsWithColumns: %v", err)
			}
			want, err := asMessages.WriteExports(t.Context(), reqs)
			if err != nil {
				t.Fatalf("WriteExports: %v", err)
			}
			if got != want || got.Logs == 0 || got.Spans == 0 {
				t.Errorf("counts: in chunks %+v, as messages %+v (want spans and logs)", got, want)
			}
			sameRows(t, blocks, driver)
		})
	}
}

func TestBlockWriterRefusedInsertThenStored(t *testing.T) {
	blocks, driver := openStore(t), openDriverStore(t)
	ctx := t.Context()
	// Without a logs table the logs insert is refused by ClickHouse (not an
	// unknown outcome); with it back, the same pooled buffers and a new
	// connection store the next write whole.
	db := blocks.Database()
	for _, q := range []string{"CREATE TABLE " + db + ".logs_kept AS " + db + ".logs", "DROP TABLE " + db + ".logs"} {
		if err := blocks.conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	failed := variedRequests(4, 3, 200)
	counts, err := blocks.WriteExports(ctx, failed)
	if err == nil || errors.Is(err, ErrOutcomeUnknown) || !strings.Contains(err.Error(), "insert into logs") {
		t.Fatalf("WriteExports without a logs table: %v, want ClickHouse's refusal of the logs insert", err)
	}
	if counts.Spans == 0 || counts.Logs != 0 || counts.Uncertain != 0 {
		t.Errorf("counts after the refusal = %+v, want the spans and no logs, none uncertain", counts)
	}
	if err := blocks.conn.Exec(ctx, "RENAME TABLE "+db+".logs_kept TO "+db+".logs"); err != nil {
		t.Fatalf("restore logs: %v", err)
	}
	// The driver store gets the spans the failed write stored, then both
	// get the same write.
	var failedSpans []*ingestv1.ExportRequest
	for _, r := range failed {
		failedSpans = append(failedSpans, &ingestv1.ExportRequest{Function: r.Function, ResourceSpans: r.ResourceSpans})
	}
	writeAll(t, driver, failedSpans, len(failedSpans))
	next := variedRequests(5, 10, 300)
	if got, want := writeAll(t, blocks, next, 5), writeAll(t, driver, next, 5); got != want {
		t.Errorf("counts: block writer %+v, driver %+v", got, want)
	}
	sameRows(t, blocks, driver)
}

func TestBlockWriterConnectionLost(t *testing.T) {
	s, px := openBehindProxy(t)
	var err error
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	spansOnly := func(seed uint64) []*ingestv1.ExportRequest {
		reqs := variedRequests(seed, 4, 300)
		for _, r := range reqs {
			r.ResourceLogs = nil
		}
		return reqs
	}
	// Cut inside the block: the rows may or may not be stored.
	px.CutAfter(4000)
	reqs := spansOnly(6)
	counts, err := s.WriteExports(t.Context(), reqs)
	if !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("WriteExports cut inside the block: %v, want ErrOutcomeUnknown", err)
	}
	if counts.Uncertain == 0 || counts.Spans != 0 {
		t.Errorf("counts = %+v, want every span uncertain and none counted stored", counts)
	}
	// Cut before the block (inside the query, on the retry's new
	// connection too): nothing was sent, so the outcome is known.
	px.CutAfter(20)
	counts, err = s.WriteExports(t.Context(), reqs)
	if err == nil || errors.Is(err, ErrOutcomeUnknown) || counts.Uncertain != 0 {
		t.Fatalf("WriteExports cut before the block: %+v, %v; want a known failure", counts, err)
	}
	// Whole again: new connections store the next write.
	px.CutAfter(0)
	if counts, err = s.WriteExports(t.Context(), spansOnly(7)); err != nil || counts.Spans == 0 {
		t.Fatalf("WriteExports after the cuts: %+v, %v", counts, err)
	}
	// An idle connection closed under the pool fails before its block is
	// sent; the insert is retried on a new one.
	px.DropAll()
	time.Sleep(50 * time.Millisecond)
	if counts, err = s.WriteExports(t.Context(), spansOnly(8)); err != nil || counts.Spans == 0 {
		t.Fatalf("WriteExports after the idle connection was closed: %+v, %v", counts, err)
	}
}

func TestBlockWriterClosedStore(t *testing.T) {
	s := openStore(t)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	req := newFixture(t, "closed").req
	req.Invocations = nil
	if _, err := s.WriteExports(t.Context(), []*ingestv1.ExportRequest{req}); err == nil {
		t.Fatal("WriteExports on a closed store succeeded")
	}
}

func TestSettingStatements(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings clickhouse.Settings
		want     []string
		err      string
	}{
		{"none", nil, nil, ""},
		{"numbers and text, sorted", clickhouse.Settings{"max_threads": 4, "log_comment": `it's a \ test`},
			[]string{`SET log_comment = 'it\'s a \\ test'`, "SET max_threads = 4"}, ""},
		{"custom", clickhouse.Settings{"custom_x": clickhouse.CustomSetting{Value: "1"}}, []string{"SET custom_x = '1'"}, ""},
		{"bad name", clickhouse.Settings{"x; DROP TABLE spans": 1}, nil, "not a setting name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := settingStatements(tc.settings)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("settingStatements: %v, want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("settingStatements = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestBlockWriterConcurrentWrites(t *testing.T) {
	dsn, _ := chtest.NewDatabase(t)
	cfg := DefaultConfig()
	cfg.DSN, cfg.MaxOpenConns = dsn, 2
	s, err := OpenConfig(t.Context(), cfg)
	if err != nil {
		t.Fatalf("OpenConfig: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	// More writers than connections: they wait for one and share the
	// pooled blocks.
	var (
		mu  sync.Mutex
		sum WriteCounts
		wg  sync.WaitGroup
	)
	for i := range 6 {
		wg.Go(func() {
			c, err := s.WriteExports(t.Context(), variedRequests(uint64(10+i), 3, 100))
			if err != nil {
				t.Errorf("WriteExports: %v", err)
			}
			mu.Lock()
			sum = sum.Add(c)
			mu.Unlock()
		})
	}
	wg.Wait()
	for table, want := range map[string]int{"spans": sum.Spans, "logs": sum.Logs} {
		var n uint64
		if err := s.conn.QueryRow(t.Context(), "SELECT count() FROM "+s.Database()+"."+table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		if int(n) != want || want == 0 {
			t.Errorf("%s holds %d rows, the writes counted %d", table, n, want)
		}
	}
}

// TestBlockWriterCompressedBlocks writes through the block writer with the
// native protocol's block compression a DSN asks for and reads the same
// rows back as the driver stores them uncompressed.
func TestBlockWriterCompressedBlocks(t *testing.T) {
	for _, method := range []string{"lz4", "zstd"} {
		t.Run(method, func(t *testing.T) {
			dsn, _ := chtest.NewDatabase(t)
			blocks, err := Open(t.Context(), dsn+"?compress="+method)
			if err != nil {
				t.Fatalf("Open with compress=%s: %v", method, err)
			}
			t.Cleanup(func() { _ = blocks.Close() })
			if err := blocks.Migrate(t.Context()); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			if blocks.blocks == nil || blocks.blocks.opts.Compression == ch.CompressionDisabled {
				t.Fatalf("compress=%s did not reach the block writer", method)
			}
			driver := openDriverStore(t)
			reqs := variedRequests(11, 8, 400)
			got, want := writeAll(t, blocks, reqs, 3), writeAll(t, driver, reqs, 3)
			if got != want || got.Spans == 0 {
				t.Errorf("counts: block writer %+v, driver %+v", got, want)
			}
			sameRows(t, blocks, driver)
		})
	}
}

// TestBlockSizeIsTheEncodedSize holds blockSize, which the send buffer is
// grown to before a block, to the bytes the columns encode: demo-shaped
// spans with events and links, and log records.
func TestBlockSizeIsTheEncodedSize(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var spans dbmodel.SpanColumns
	for i := range 20 {
		for _, req := range storagetest.DemoTrace(rng, time.Unix(1_780_000_000+int64(i), 0)) {
			spans.AppendExport(req)
		}
	}
	spans.AppendExport(&ingestv1.ExportRequest{
		Function: &ingestv1.FunctionIdentity{Name: "f"},
		ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{
			TraceId: make16(1), SpanId: make8(2), Name: strings.Repeat("n", 300), StartTimeUnixNano: 1, EndTimeUnixNano: 2,
			Events: []*tracepb.Span_Event{{Name: "e", TimeUnixNano: 1}},
			Links:  []*tracepb.Span_Link{{TraceId: make16(3), SpanId: make8(4)}},
		}}}}}},
	})
	if spans.Len() == 0 {
		t.Fatal("no spans to encode")
	}
	sb := spanBlockPool.Get().(*spanBlock)
	t.Cleanup(func() { sb.cols = spanBlockColumns{}; spanBlockPool.Put(sb) })
	var none dbmodel.SpanColumns
	sb.set(&spans, &none, &spans) // a block of several sets of columns

	var logs dbmodel.LogColumns
	logs.AppendExport(&ingestv1.ExportRequest{
		Function: &ingestv1.FunctionIdentity{Name: "f"},
		ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{
			{TimeUnixNano: 1, Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: strings.Repeat("b", 200)}}},
			{TimeUnixNano: 2, Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "short"}}},
		}}}}},
	})
	lb := logBlockPool.Get().(*logBlock)
	t.Cleanup(func() { lb.cols = logBlockColumns{}; logBlockPool.Put(lb) })
	lb.set(&logs)

	for name, input := range map[string]ch.Query{"spans": {Input: sb.input}, "logs": {Input: lb.input}} {
		var b chproto.Buffer
		for _, c := range input.Input {
			c.Data.EncodeColumn(&b)
		}
		if got, want := blockSize(input.Input), len(b.Buf); got != want {
			t.Errorf("%s: blockSize = %d, the columns encode %d bytes", name, got, want)
		}
	}
}

// TestRowBytesSizeTheNextBlock holds the estimate insertBlock sizes the
// send buffer with instead of blockSize once a block was sent: what the
// block took of the buffer, noted as ch-go's writer encodes it, is the
// bytes it buffered (all but the FixedString columns, which are chained
// as they are, as are the UInt64, UInt8 and String ones and the elements
// of the array columns but the resource attributes': the arrays' offsets
// and the resource attributes), and the next block of as many rows, reserved
// from it, is encoded into the same buffer without growing it.
func TestRowBytesSizeTheNextBlock(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	var spans dbmodel.SpanColumns
	for i := range 20 {
		for _, req := range storagetest.DemoTrace(rng, time.Unix(1_780_000_000+int64(i), 0)) {
			spans.AppendExport(req)
		}
	}
	rows := spans.Len()
	sb := spanBlockPool.Get().(*spanBlock)
	t.Cleanup(func() { sb.cols = spanBlockColumns{}; spanBlockPool.Put(sb) })
	sb.set(&spans)
	var (
		last blockBytes
		sent countingWriter
		buf  chproto.Buffer
	)
	w := chproto.NewWriter(&sent, &buf)
	block := chproto.Block{Columns: len(sb.input), Rows: rows}

	sb.mark.reserve = last.reserve(sb.input, rows)
	if want := blockSize(sb.input); sb.mark.reserve != want {
		t.Fatalf("first block reserved %d bytes, want blockSize's %d", sb.mark.reserve, want)
	}
	if err := block.WriteBlock(w, oldClientRevision, sb.input); err != nil {
		t.Fatal(err)
	}
	if sb.mark.end != len(buf.Buf) {
		t.Errorf("end mark at %d, the buffer holds %d bytes after the block", sb.mark.end, len(buf.Buf))
	}
	// Chained as they are: trace, span and parent IDs, start and duration
	// nanoseconds, kind and status, the String columns and the elements of
	// the array columns but the resource's, whose runs are repeated into
	// the buffer.
	fixed := (16+8+8+8+8+1+1)*rows + 8*len(spans.EventTimes.Data) + len(spans.LinkTraceIDs.Data) + len(spans.LinkSpanIDs.Data)
	for _, a := range []*dbmodel.StringArrays{
		&spans.AttributeKeys, &spans.AttributeValues, &spans.EventNames, &spans.EventAttrs, &spans.LinkAttrs,
	} {
		fixed += len(a.Data)
	}
	for _, s := range []*dbmodel.Strings{
		&spans.TraceState, &spans.Name, &spans.StatusMessage, &spans.ServiceName, &spans.FunctionName, &spans.FunctionVersion,
		&spans.AccountID, &spans.Region, &spans.RequestID, &spans.ScopeName, &spans.ScopeVersion,
	} {
		fixed += len(s.Data)
	}
	if got, size := sb.mark.encoded(), blockSize(sb.input); got < size-fixed || got > size-fixed+2048 {
		t.Errorf("the block took %d bytes of the buffer; its columns encode %d, %d of them chained", got, size, fixed)
	}
	last.learn(&sb.mark, rows)
	if n := last.perRow.Load(); n <= 0 || int(n)*rows < sb.mark.encoded() {
		t.Fatalf("learned %d bytes a row, under the %d bytes of %d rows", n, sb.mark.encoded(), rows)
	}
	if _, err := w.Flush(); err != nil {
		t.Fatal(err)
	}

	sb.mark.reserve = last.reserve(sb.input, rows)
	if want := rows * int(last.perRow.Load()); sb.mark.reserve != want {
		t.Fatalf("second block reserved %d bytes, want %d rows of %d", sb.mark.reserve, rows, last.perRow.Load())
	}
	before := unsafe.SliceData(buf.Buf[:cap(buf.Buf)])
	if err := block.WriteBlock(w, oldClientRevision, sb.input); err != nil {
		t.Fatal(err)
	}
	if unsafe.SliceData(buf.Buf) != before {
		t.Errorf("the second block of the same rows grew the send buffer (cap %d)", cap(buf.Buf))
	}
}

// A block of one large row, then one of many small rows: the second
// reserves at most twice the first's bytes, not its rows times the large
// row.
func TestBlockBytesReserveAtMostTwiceTheLastBlock(t *testing.T) {
	var last blockBytes
	last.learn(&sendMark{start: 100, end: 100 + 1<<20}, 1) // one row of 1 MiB
	if got := last.reserve(nil, 20_000); got != 2<<20 {
		t.Errorf("20,000 rows after a block of one 1 MiB row reserve %d bytes, want %d", got, 2<<20)
	}
	if got := last.reserve(nil, 1); got != 1<<20 {
		t.Errorf("one row reserves %d bytes, want the last row's %d", got, 1<<20)
	}
	last.learn(&sendMark{start: 0, end: 0}, 5) // not encoded: nothing learned
	if got := last.reserve(nil, 1); got != 1<<20 {
		t.Errorf("a block not encoded changed the estimate: one row reserves %d bytes", got)
	}
}

func make16(b byte) []byte { return append(make([]byte, 15), b) }

func make8(b byte) []byte { return append(make([]byte, 7), b) }

// TestNativeArraysSharedRows holds the Array(String) columns of the
// resource attributes of spans and log records, held once a run of rows
// (dbmodel.StringArrayRuns) and repeated as they are encoded, of rows
// repeated in one buffer (dbmodel.StringArrays.AppendRowRepeat), and of
// the events and links, mostly empty rows (AppendEmpty), to ch-go's own
// column fed the same rows
// one by one: runs of 1 to 33 rows, empty runs between, the same row in
// runs side by side, lengths of one- and two-byte varints, in one chunk
// and split in chunks.
func TestNativeArraysSharedRows(t *testing.T) {
	res := []string{"service.name", "orders-svc", strings.Repeat("v", 200), ""}
	huge := []string{strings.Repeat("h", chainedRunBytes+100), "x"}
	type run struct {
		row []string
		n   int
	}
	for _, tc := range []struct {
		name string
		runs []run
	}{
		{"one run", []run{{res, 3}}},
		{"empty runs between", []run{{res, 2}, {nil, 5}, {res[:2], 1}, {nil, 1}, {res, 7}}},
		{"runs of 1 to 33", []run{{res, 1}, {res[:1], 2}, {res, 3}, {nil, 4}, {res[2:], 16}, {res, 33}, {nil, 2}}},
		{"empty rows only", []run{{nil, 40}}},
		{"the same row in runs side by side", []run{{res, 5}, {res, 1}, {nil, 3}, {nil, 2}, {res, 4}, {res, 4}, {res[:3], 2}, {res[:3], 9}}},
		// Runs of more than chainedRunBytes, written once in part and
		// chained for the rest on an uncompressed connection: a few rows
		// over, many times over, a row larger than chainedRunBytes alone.
		{"long runs", []run{{res, 150}, {nil, 2}, {res[:2], 3000}, {huge, 3}, {res, 1}, {huge, 1}, {res[1:], 160}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want chproto.ColArr[string] = *chproto.NewArray[string](new(chproto.ColStr))
			rows := 0
			for _, r := range tc.runs {
				for range r.n {
					want.Append(r.row)
				}
				rows += r.n
			}
			var wb chproto.Buffer
			want.EncodeColumn(&wb)
			for chunks := 1; chunks <= 3; chunks++ {
				var col nativeArrays
				for i := range chunks {
					a := new(dbmodel.StringArrays)
					for _, r := range tc.runs[len(tc.runs)*i/chunks : len(tc.runs)*(i+1)/chunks] {
						if len(r.row) == 0 {
							a.AppendEmpty(r.n)
						} else {
							for range r.n {
								a.AppendRow(r.row)
							}
						}
					}
					col = append(col, a)
				}
				if col.Rows() != rows {
					t.Errorf("%d chunks: %d rows, want %d", chunks, col.Rows(), rows)
				}
				checkNativeColumn(t, fmt.Sprintf("%d chunks", chunks), &col, wb.Buf)

				// The resource attributes' columns, each run's row held
				// once (dbmodel.StringArrayRuns), appended a run at a
				// time and a row at a time, and chunks joined into one
				// (AppendColumns), the runs at the seams joined.
				var runs, byRow nativeArrayRuns
				joined := new(dbmodel.StringArrayRuns)
				for i := range chunks {
					a, r := new(dbmodel.StringArrayRuns), new(dbmodel.StringArrayRuns)
					for _, run := range tc.runs[len(tc.runs)*i/chunks : len(tc.runs)*(i+1)/chunks] {
						a.AppendRowRepeat(run.row, run.n)
						for range run.n {
							r.AppendRow(run.row)
						}
					}
					runs, byRow = append(runs, a), append(byRow, r)
					joined.Append(a)
				}
				for name, col := range map[string]*nativeArrayRuns{"runs": &runs, "row by row": &byRow, "joined": {joined}} {
					if col.Rows() != rows {
						t.Errorf("%s, %d chunks: %d rows, want %d", name, chunks, col.Rows(), rows)
					}
					if err := col.Infer(want.Type()); err != nil {
						t.Errorf("type %s: %v", want.Type(), err)
					}
					checkNativeColumn(t, fmt.Sprintf("%s, %d chunks", name, chunks), col, wb.Buf)
				}
			}
		})
	}
}

// TestNativeUint64ArraysEncoding holds the Array(UInt64) column of the
// events' times (dbmodel.Uint64Arrays) to ch-go's own column fed the same
// rows one by one, in one chunk and split in chunks, encoded and written.
func TestNativeUint64ArraysEncoding(t *testing.T) {
	for _, rows := range [][][]uint64{
		nil,
		{{}, {}, {}},
		{{1}, {}, {2, 3, 1 << 63}, {}, {}, {4}},
		slices.Repeat([][]uint64{{1_780_000_000_000_000_000}, {}, {5, 6}}, 30),
	} {
		want := chproto.NewArray[uint64](new(chproto.ColUInt64))
		for _, r := range rows {
			want.Append(r)
		}
		var wb chproto.Buffer
		want.EncodeColumn(&wb)
		for chunks := 1; chunks <= 3; chunks++ {
			var col nativeUint64Arrays
			for i := range chunks {
				a := new(dbmodel.Uint64Arrays)
				for _, r := range rows[len(rows)*i/chunks : len(rows)*(i+1)/chunks] {
					if len(r) == 0 {
						a.AppendEmpty(1)
					} else {
						a.AppendRow(r)
					}
				}
				col = append(col, a)
			}
			if col.Rows() != len(rows) {
				t.Errorf("%d rows in %d chunks: Rows = %d", len(rows), chunks, col.Rows())
			}
			if err := col.Infer(want.Type()); err != nil {
				t.Errorf("type %s: %v", want.Type(), err)
			}
			checkNativeColumn(t, fmt.Sprintf("%d rows in %d chunks", len(rows), chunks), &col, wb.Buf)
		}
	}
}

// TestNativeFixedArraysEncoding holds the Array(FixedString(16)) and
// Array(FixedString(8)) columns of the links' IDs (dbmodel.FixedArrays)
// to ch-go's own column fed the same rows one by one, in one chunk and
// split in chunks, encoded and written.
func TestNativeFixedArraysEncoding(t *testing.T) {
	for _, size := range []int{16, 8} {
		id := func(b byte) string { return string(append(make([]byte, size-1), b)) }
		for _, rows := range [][][]string{
			nil,
			{{}, {}},
			{{id(1)}, {}, {id(2), id(3)}, {}, {}, {id(4)}},
			slices.Repeat([][]string{{}, {id(9), id(8), id(7)}}, 20),
		} {
			want := (&chproto.ColFixedStr{Size: size}).Array()
			for _, r := range rows {
				elems := make([][]byte, 0, len(r))
				for _, e := range r {
					elems = append(elems, []byte(e))
				}
				want.Append(elems)
			}
			var wb chproto.Buffer
			want.EncodeColumn(&wb)
			for chunks := 1; chunks <= 3; chunks++ {
				col := nativeFixedArrays{size: size}
				for i := range chunks {
					a := new(dbmodel.FixedArrays)
					for _, r := range rows[len(rows)*i/chunks : len(rows)*(i+1)/chunks] {
						if len(r) == 0 {
							a.AppendEmpty(1)
						} else {
							a.AppendRow(r, size)
						}
					}
					col.arrays = append(col.arrays, a)
				}
				if col.Rows() != len(rows) {
					t.Errorf("size %d, %d rows in %d chunks: Rows = %d", size, len(rows), chunks, col.Rows())
				}
				if err := col.Infer(want.Type()); err != nil {
					t.Errorf("type %s: %v", want.Type(), err)
				}
				checkNativeColumn(t, fmt.Sprintf("size %d, %d rows in %d chunks", size, len(rows), chunks), &col, wb.Buf)
			}
		}
	}
}

// Defect: the send buffer grew to exactly each block's size, so a block a
// little larger than the largest before took a new buffer of the whole
// size (13 MB for 20,000 demo-shaped spans), cleared and copied, every few
// inserts.
func TestReserveBlockLeavesRoomForALargerBlock(t *testing.T) {
	const block = 10 << 20
	b := &chproto.Buffer{Buf: []byte("head")}
	reserveBlock(b, block)
	if string(b.Buf) != "head" {
		t.Fatalf("reserving lost the buffer's bytes: %q", b.Buf)
	}
	if room := cap(b.Buf) - len(b.Buf); room < block {
		t.Fatalf("room for %d bytes, want at least %d", room, block)
	}
	first := unsafe.SliceData(b.Buf)
	for _, next := range []int{block + 64<<10, block + block/8, block} {
		b.Buf = b.Buf[:0]
		reserveBlock(b, next)
		if unsafe.SliceData(b.Buf) != first {
			t.Fatalf("a block of %d bytes after one of %d took a new buffer", next, block)
		}
	}
	b.Buf = b.Buf[:0]
	reserveBlock(b, 2*block)
	if room := cap(b.Buf); room < 2*block {
		t.Fatalf("room for %d bytes, want at least %d", room, 2*block)
	}
}

// TestNativeArraysEncoding holds the Array(String) column of the spans'
// attributes, held in the Native format as they are read
// (dbmodel.StringArrays), to ch-go's own column fed the same rows one by
// one: empty rows, strings of lengths with one- and two-byte varints, in
// one chunk and split in chunks (the requests of a batch), encoded into
// the send buffer and written through ch-go's Writer as the uncompressed
// connection sends it.
func TestNativeArraysEncoding(t *testing.T) {
	long, longer := strings.Repeat("v", 127), strings.Repeat("w", 300)
	for _, tc := range []struct {
		name string
		rows [][]string
	}{
		{"no rows", nil},
		{"empty rows", [][]string{{}, nil, {}}},
		{"one row", [][]string{{"k", "v", ""}}},
		{"empty rows between", [][]string{{"a"}, {}, {"b", "c"}, {}, {}, {"d"}}},
		{"varint lengths", [][]string{{long, longer}, {strings.Repeat("x", 128), strings.Repeat("y", 16384)}, {""}}},
		{"many rows", slices.Repeat([][]string{{"service.name", "orders"}, {}, {"http.route", "/orders/{id}", "peer"}}, 50)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want chproto.ColArr[string] = *chproto.NewArray[string](new(chproto.ColStr))
			for _, r := range tc.rows {
				want.Append(r)
			}
			var wb chproto.Buffer
			want.EncodeColumn(&wb)
			for chunks := 1; chunks <= 3; chunks++ {
				var col nativeArrays
				for i := range chunks {
					a := new(dbmodel.StringArrays)
					for _, r := range tc.rows[len(tc.rows)*i/chunks : len(tc.rows)*(i+1)/chunks] {
						a.AppendRow(r)
					}
					col = append(col, a)
				}
				if col.Rows() != len(tc.rows) {
					t.Errorf("%d chunks: %d rows, want %d", chunks, col.Rows(), len(tc.rows))
				}
				checkNativeColumn(t, fmt.Sprintf("%d chunks", chunks), &col, wb.Buf)
			}
		})
	}
}

// nativeColumn is a column the spans' Native-format buffers are sent by.
type nativeColumn interface {
	EncodeColumn(*chproto.Buffer)
	WriteColumn(*chproto.Writer)
	encodedSize() int
}

// checkNativeColumn holds col to want, the bytes ch-go's own column
// encodes for the same rows: encoded into the send buffer, its size
// foretold, and written through ch-go's Writer between other buffers as
// the uncompressed connection sends it.
func checkNativeColumn(t *testing.T, label string, col nativeColumn, want []byte) {
	t.Helper()
	var got chproto.Buffer
	col.EncodeColumn(&got)
	if string(got.Buf) != string(want) {
		t.Errorf("%s: encoded %x, want %x", label, got.Buf, want)
	}
	if n := col.encodedSize(); n != len(want) {
		t.Errorf("%s: encodedSize = %d, the column encodes %d bytes", label, n, len(want))
	}
	var around chproto.Buffer
	around.PutString("before")
	around.Buf = append(around.Buf, want...)
	around.PutString("after")
	// Written through a send buffer grown as it is written and through
	// one with room for all of it (what is chained from the buffer stays
	// as it was when the buffer grows or is written after it).
	for _, buf := range []*chproto.Buffer{new(chproto.Buffer), {Buf: make([]byte, 0, 2*len(around.Buf))}} {
		var sent strings.Builder
		w := chproto.NewWriter(&sent, buf)
		w.ChainBuffer(func(b *chproto.Buffer) { b.PutString("before") })
		col.WriteColumn(w)
		w.ChainBuffer(func(b *chproto.Buffer) { b.PutString("after") })
		if _, err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if sent.String() != string(around.Buf) {
			t.Errorf("%s: written %d bytes (buffer of capacity %d), want %d, not the same", label, sent.Len(), cap(buf.Buf), len(around.Buf))
		}
	}
}

// TestNativeStringsEncoding holds the String columns of spans and logs, held in
// the Native format as they are read (dbmodel.Strings), to ch-go's own
// column fed the same rows one by one, in one chunk and split in chunks,
// encoded into the send buffer and written through ch-go's Writer.
func TestNativeStringsEncoding(t *testing.T) {
	var rows []string
	for n := range 20 {
		rows = append(rows, slices.Repeat([]string{"orders", "", strings.Repeat("v", 127+n)}, n)...)
	}
	for _, rows := range [][]string{nil, {""}, rows} {
		var want chproto.ColStr
		for _, r := range rows {
			want.Append(r)
		}
		var wb chproto.Buffer
		want.EncodeColumn(&wb)
		for chunks := 1; chunks <= 3; chunks++ {
			var col nativeStrings
			for i := range chunks {
				s := new(dbmodel.Strings)
				for _, r := range rows[len(rows)*i/chunks : len(rows)*(i+1)/chunks] {
					s.Append(r)
				}
				col = append(col, s)
			}
			if col.Rows() != len(rows) {
				t.Errorf("%d rows in %d chunks: Rows = %d", len(rows), chunks, col.Rows())
			}
			checkNativeColumn(t, fmt.Sprintf("%d rows in %d chunks", len(rows), chunks), &col, wb.Buf)
		}
	}
}
