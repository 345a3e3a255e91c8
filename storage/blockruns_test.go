package storage

import (
	"bytes"
	"cmp"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"

	chproto "github.com/ClickHouse/ch-go/proto"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage/dbmodel"
	"github.com/lambdascope/lambdascope/storage/storagetest"
)

// TestSpanBlockResourceRunsSendEveryRow holds a whole spans block, its
// resource attributes held once a run of rows, to the same block with
// those two columns holding every row (nativeArrays of a StringArrays a
// row at a time, as the columns held them before): byte for byte, encoded
// into the send buffer (a compressed connection) and written through
// ch-go's Writer (an uncompressed one). The block joins columns of demo
// requests read from the wire (the same resource request after request,
// one run), of every shape of resource spans read as messages, and none.
func TestSpanBlockResourceRunsSendEveryRow(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	lim := dbmodel.WireLimits{MaxAttributeKeyBytes: 256, MaxAttributeValueBytes: 16 << 10, NameBytes: 1024, StatusMessageBytes: 4096, OtherBytes: 1024}
	var demo, shapes, none dbmodel.SpanColumns
	for i := range 3 {
		req := storagetest.DemoSpanRequest(rng, time.Unix(1_780_000_000+int64(i), 0), 40, i == 2)
		for _, rs := range req.ResourceSpans {
			raw, err := proto.Marshal(rs)
			if err != nil {
				t.Fatal(err)
			}
			if !demo.AppendWire(req.Function, raw, lim) {
				t.Fatal("AppendWire left the demo's spans to the message path")
			}
		}
	}
	if runs, rows := len(demo.ResourceAttrKeys.Ends), demo.Len(); runs >= rows || runs == 0 {
		t.Fatalf("%d runs of resource rows for %d demo spans: want fewer runs than spans", runs, rows)
	}
	shapes.AppendExport(&ingestv1.ExportRequest{
		Function:      &ingestv1.FunctionIdentity{Name: "f", Region: "r"},
		ResourceSpans: storagetest.SpanShapes(rand.New(rand.NewPCG(13, 14))),
	})
	chunks := []*dbmodel.SpanColumns{&demo, &none, &shapes, &demo}

	sb := spanBlockPool.Get().(*spanBlock)
	t.Cleanup(func() { sb.cols = spanBlockColumns{}; spanBlockPool.Put(sb) })
	sb.set(chunks...)
	// The reference: the same block, the resource attributes a row at a
	// time.
	var keys, values nativeArrays
	for _, c := range chunks {
		k, v := new(dbmodel.StringArrays), new(dbmodel.StringArrays)
		for _, r := range c.ResourceAttrKeys.Rows() {
			k.AppendRow(r)
		}
		for _, r := range c.ResourceAttrValues.Rows() {
			v.AppendRow(r)
		}
		keys, values = append(keys, k), append(values, v)
	}
	rows := 2*demo.Len() + shapes.Len()
	if keys.Rows() != rows {
		t.Fatalf("resource keys of %d rows; want %d", keys.Rows(), rows)
	}
	sameBlockEveryRow(t, sb.input, rows, &keys, &values)
}

// sameBlockEveryRow holds a block of rows rows, its resource attributes
// held in runs, to the same block with those two columns replaced by keys
// and values (every row): byte for byte, encoded into the send buffer (a
// compressed connection) and written through ch-go's Writer (an
// uncompressed one), and in blockSize.
func sameBlockEveryRow(t *testing.T, input chproto.Input, rows int, keys, values *nativeArrays) {
	t.Helper()
	every := make(chproto.Input, len(input))
	copy(every, input)
	replaced := 0
	for i, c := range every {
		switch c.Name {
		case "resource_attributes.key":
			every[i].Data, replaced = keys, replaced+1
		case "resource_attributes.value":
			every[i].Data, replaced = values, replaced+1
		}
	}
	if replaced != 2 {
		t.Fatalf("replaced %d resource columns, want 2", replaced)
	}
	if got := input[0].Data.Rows(); got != rows {
		t.Fatalf("block of %d rows, want %d", got, rows)
	}
	encode := func(in chproto.Input) []byte {
		var b chproto.Buffer
		for _, c := range in {
			c.Data.EncodeColumn(&b)
		}
		return b.Buf
	}
	write := func(in chproto.Input) []byte {
		var sent strings.Builder
		w := chproto.NewWriter(&sent, new(chproto.Buffer))
		block := chproto.Block{Columns: len(in), Rows: rows}
		if err := block.WriteBlock(w, oldClientRevision, in); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		return []byte(sent.String())
	}
	if got, want := encode(input), encode(every); !bytes.Equal(got, want) {
		t.Errorf("encoded block: %d bytes, every row's %d, not the same", len(got), len(want))
	}
	if got, want := write(input), write(every); !bytes.Equal(got, want) {
		t.Errorf("written block: %d bytes, every row's %d, not the same", len(got), len(want))
	}
	if got, want := blockSize(input), blockSize(every); got != want {
		t.Errorf("blockSize %d, every row's %d", got, want)
	}
}

// logResourceRows is the resource attributes of the log records of reqs
// the writer keeps (a time, else the observed time, else the sent time,
// not after MaxDateTimeUnixNano), a row a record, read from the messages
// themselves: the reference the columns held in runs are held to.
func logResourceRows(reqs ...*ingestv1.ExportRequest) (keys, values *dbmodel.StringArrays) {
	keys, values = new(dbmodel.StringArrays), new(dbmodel.StringArrays)
	for _, req := range reqs {
		for _, rl := range req.GetResourceLogs() {
			var k, v []string
			for _, a := range rl.GetResource().GetAttributes() {
				k, v = append(k, a.GetKey()), append(v, dbmodel.AttributeValue(a.GetValue()))
			}
			for _, sl := range rl.GetScopeLogs() {
				for _, lr := range sl.GetLogRecords() {
					ts := lr.GetTimeUnixNano()
					if ts == 0 {
						ts = lr.GetObservedTimeUnixNano()
					}
					if ts == 0 {
						ts = req.GetSentTimeUnixNano()
					}
					if ts > dbmodel.MaxDateTimeUnixNano {
						continue
					}
					keys.AppendRow(k)
					values.AppendRow(v)
				}
			}
		}
	}
	return keys, values
}

// alternatingLogRequests is n demo log requests of size records each
// whose resources alternate, orders and inventory, a resource's records
// split in two ResourceLogs side by side every third request (the same
// resource twice running).
func alternatingLogRequests(seed uint64, n, size int) []*ingestv1.ExportRequest {
	rng := rand.New(rand.NewPCG(seed, 1))
	reqs := make([]*ingestv1.ExportRequest, n)
	for i := range reqs {
		req := storagetest.DemoLogRequest(rng, time.Unix(1_780_000_000+int64(i), 0), size, i%2 == 1)
		if i%3 == 2 {
			rl := req.ResourceLogs[0]
			half := proto.CloneOf(rl)
			recs := rl.ScopeLogs[0].LogRecords
			rl.ScopeLogs[0].LogRecords, half.ScopeLogs[0].LogRecords = recs[:len(recs)/2], recs[len(recs)/2:]
			req.ResourceLogs = append(req.ResourceLogs, half)
		}
		reqs[i] = req
	}
	return reqs
}

// TestLogBlockResourceRunsSendEveryRow is
// TestSpanBlockResourceRunsSendEveryRow for the logs block: its resource
// attributes, held once a run of records, are held to the same block with
// those two columns holding every row as the messages give them. The block
// joins columns of demo requests read from the wire (two resources
// alternating, the same one in two messages running), of every shape of
// resource logs read as messages, and none.
func TestLogBlockResourceRunsSendEveryRow(t *testing.T) {
	lim := dbmodel.WireLimits{MaxAttributeKeyBytes: 256, MaxAttributeValueBytes: 16 << 10, NameBytes: 1024, StatusMessageBytes: 4096, OtherBytes: 1024, LogBodyBytes: 64 << 10}
	demoReqs := alternatingLogRequests(31, 6, 40)
	var demo, shapes, none dbmodel.LogColumns
	for _, req := range demoReqs {
		for _, rl := range req.ResourceLogs {
			raw, err := proto.Marshal(rl)
			if err != nil {
				t.Fatal(err)
			}
			if !demo.AppendWire(req.Function, req.SentTimeUnixNano, raw, lim) {
				t.Fatal("AppendWire left the demo's log records to the message path")
			}
		}
	}
	if runs, want := len(demo.ResourceAttrValues.Ends), len(demoReqs); runs != want {
		t.Fatalf("%d runs of resource values for %d requests of alternating resources, want %d", runs, len(demoReqs), want)
	}
	shapeReqs := variedRequests(33, 8, 30)
	for _, req := range shapeReqs {
		shapes.AppendExport(req)
	}
	if shapes.Rejected == 0 {
		t.Fatal("the shapes hold no record the writer rejects")
	}
	chunks := []*dbmodel.LogColumns{&demo, &none, &shapes, &demo}

	lb := logBlockPool.Get().(*logBlock)
	t.Cleanup(func() { lb.cols = logBlockColumns{}; logBlockPool.Put(lb) })
	lb.set(chunks...)
	// The reference: the same block, the resource attributes of each
	// record as its message gives them.
	var keys, values nativeArrays
	for _, reqs := range [][]*ingestv1.ExportRequest{demoReqs, nil, shapeReqs, demoReqs} {
		k, v := logResourceRows(reqs...)
		keys, values = append(keys, k), append(values, v)
	}
	rows := 2*demo.Len() + shapes.Len()
	if keys.Rows() != rows {
		t.Fatalf("the messages hold %d records the writer keeps; the columns %d", keys.Rows(), rows)
	}
	sameBlockEveryRow(t, lb.input, rows, &keys, &values)
}

// TestLogResourceRunsReadBack writes log records of two resources
// alternating, request after request and within requests, read from the
// wire into one set of columns per request (the resource attributes held
// in runs, joined at the seams of the requests), on the block writer's
// connections and through clickhouse-go, and reads every record back from
// the server: each with its own resource's attributes.
func TestLogResourceRunsReadBack(t *testing.T) {
	lim := dbmodel.WireLimits{MaxAttributeKeyBytes: 256, MaxAttributeValueBytes: 16 << 10, NameBytes: 1024, StatusMessageBytes: 4096, OtherBytes: 1024, LogBodyBytes: 64 << 10}
	reqs := alternatingLogRequests(35, 9, 25)
	// Each request's resource too as a second ResourceLogs of its own:
	// orders, inventory, orders, ... in one request.
	for i, req := range reqs {
		other := storagetest.DemoLogRequest(rand.New(rand.NewPCG(uint64(i), 2)), time.Unix(1_780_001_000+int64(i), 0), 3, i%2 == 0)
		req.ResourceLogs = append(req.ResourceLogs, other.ResourceLogs[0], proto.CloneOf(req.ResourceLogs[0]))
		// The clone's records are told apart by their observed time.
		for _, lr := range req.ResourceLogs[len(req.ResourceLogs)-1].ScopeLogs[0].LogRecords {
			lr.ObservedTimeUnixNano++
		}
	}
	type record struct {
		body               string
		time, observed     uint64
		resKeys, resValues []string
	}
	var want []record
	for _, req := range reqs {
		for _, rl := range req.ResourceLogs {
			k, v := logResourceRows(&ingestv1.ExportRequest{SentTimeUnixNano: req.SentTimeUnixNano, ResourceLogs: []*logspb.ResourceLogs{rl}})
			for _, lr := range rl.ScopeLogs[0].LogRecords {
				want = append(want, record{dbmodel.AttributeValue(lr.Body), lr.TimeUnixNano, lr.ObservedTimeUnixNano, k.Row(0), v.Row(0)})
			}
		}
	}
	slices.SortFunc(want, func(a, b record) int {
		return cmp.Or(cmp.Compare(a.time, b.time), cmp.Compare(a.body, b.body), cmp.Compare(a.observed, b.observed))
	})

	for _, writer := range []string{"block writer", "clickhouse-go"} {
		t.Run(writer, func(t *testing.T) {
			s := openStore(t)
			if writer == "clickhouse-go" {
				s = openDriverStore(t)
			}
			var logs []*dbmodel.LogColumns
			rest := make([]*ingestv1.ExportRequest, len(reqs))
			for i, req := range reqs {
				c := new(dbmodel.LogColumns)
				for _, rl := range req.ResourceLogs {
					raw, err := proto.Marshal(rl)
					if err != nil {
						t.Fatal(err)
					}
					if !c.AppendWire(req.Function, req.SentTimeUnixNano, raw, lim) {
						t.Fatal("AppendWire left the demo's log records to the message path")
					}
				}
				logs = append(logs, c)
				rest[i] = &ingestv1.ExportRequest{Function: req.Function, SentTimeUnixNano: req.SentTimeUnixNano}
			}
			got, err := s.WriteExportsWithColumns(t.Context(), rest, nil, logs)
			if err != nil {
				t.Fatalf("WriteExportsWithColumns: %v", err)
			}
			if got.Logs != len(want) {
				t.Fatalf("wrote %d log records, want %d", got.Logs, len(want))
			}
			rows, err := s.conn.Query(t.Context(), fmt.Sprintf(
				"SELECT body, time_unix_nano, observed_time_unix_nano, resource_attributes.key, resource_attributes.value FROM %s.logs "+
					"ORDER BY time_unix_nano, body, observed_time_unix_nano", s.Database()))
			if err != nil {
				t.Fatalf("select logs: %v", err)
			}
			defer rows.Close()
			i := 0
			for ; rows.Next(); i++ {
				var r record
				if err := rows.Scan(&r.body, &r.time, &r.observed, &r.resKeys, &r.resValues); err != nil {
					t.Fatalf("scan logs: %v", err)
				}
				if i >= len(want) {
					continue
				}
				if w := want[i]; !reflect.DeepEqual(r, w) {
					t.Fatalf("record %d read back:\n got %+v\nwant %+v", i, r, w)
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("read logs: %v", err)
			}
			if i != len(want) {
				t.Errorf("read back %d log records, want %d", i, len(want))
			}
		})
	}
}
