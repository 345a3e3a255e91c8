package storage

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

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
	every := make(chproto.Input, len(sb.input))
	copy(every, sb.input)
	replaced := 0
	for i, c := range every {
		switch c.Name {
		case "resource_attributes.key":
			every[i].Data, replaced = &keys, replaced+1
		case "resource_attributes.value":
			every[i].Data, replaced = &values, replaced+1
		}
	}
	if replaced != 2 {
		t.Fatalf("replaced %d resource columns, want 2", replaced)
	}
	rows := sb.input[0].Data.Rows()
	if rows != 2*demo.Len()+shapes.Len() || keys.Rows() != rows {
		t.Fatalf("block of %d rows, resource keys %d; want %d", rows, keys.Rows(), 2*demo.Len()+shapes.Len())
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
	if got, want := encode(sb.input), encode(every); !bytes.Equal(got, want) {
		t.Errorf("encoded block: %d bytes, every row's %d, not the same", len(got), len(want))
	}
	if got, want := write(sb.input), write(every); !bytes.Equal(got, want) {
		t.Errorf("written block: %d bytes, every row's %d, not the same", len(got), len(want))
	}
	if got, want := blockSize(sb.input), blockSize(every); got != want {
		t.Errorf("blockSize %d, every row's %d", got, want)
	}
}
