package dbmodel_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage/dbmodel"
	"github.com/lambdascope/lambdascope/storage/storagetest"
)

// BenchmarkDecodeDemoRequest is the first stage of the collector's work on
// a request, before the columns: decoding one Ingest API request of 1,000
// demo-shaped spans (storagetest.DemoSpanRequest) from protobuf into
// messages, as the gRPC server does. With BenchmarkSpanColumnsDemo it
// splits the collector's CPU per span between the two stages; allocs/op
// over 1,000 is the allocations per span, a figure a busy machine does not
// move. Run:
//
//	go test -run '^$' -bench 'DecodeDemoRequest|SpanColumnsDemo' -benchmem -count 5 ./storage/dbmodel/
func BenchmarkDecodeDemoRequest(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	raw, _ := proto.Marshal(storagetest.DemoSpanRequest(rng, time.Now(), 1000, false))
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		var req ingestv1.ExportRequest
		if err := proto.Unmarshal(raw, &req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/span")
}

// BenchmarkSpanColumnsDemo is the second stage: the decoded request's
// spans appended to the insert's columns (see BenchmarkDecodeDemoRequest).
func BenchmarkSpanColumnsDemo(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	req := storagetest.DemoSpanRequest(rng, time.Now(), 1000, false)
	var c dbmodel.SpanColumns
	for b.Loop() {
		c.Reset()
		c.AppendExport(req)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/span")
}
