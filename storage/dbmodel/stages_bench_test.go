package dbmodel_test

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
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

// BenchmarkSpansDemo is the collector's work on one request of 1,000
// demo-shaped spans from its wire bytes to the insert's columns, both
// ways side by side: "message" decodes the request into messages and
// converts those (the two stages above); "wire" reads the resource spans
// from the wire bytes straight into the columns (AppendWire), the rest of
// the request (here: the function's identity) as a message.
//
//	go test -run '^$' -bench 'SpansDemo' -benchmem -count 5 ./storage/dbmodel/
func BenchmarkSpansDemo(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	raw, _ := proto.Marshal(storagetest.DemoSpanRequest(rng, time.Now(), 1000, false))
	lim := dbmodel.WireLimits{MaxAttributeKeyBytes: 256, MaxAttributeValueBytes: 16 << 10, NameBytes: 1024, StatusMessageBytes: 4096, OtherBytes: 1024}
	b.Run("message", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		var c dbmodel.SpanColumns
		for b.Loop() {
			var req ingestv1.ExportRequest
			if err := proto.Unmarshal(raw, &req); err != nil {
				b.Fatal(err)
			}
			c.Reset()
			c.AppendExport(&req)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/span")
	})
	b.Run("wire", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		var c dbmodel.SpanColumns
		cpu0 := processCPU()
		for b.Loop() {
			c.Reset()
			var rest []byte
			var spans [][]byte
			for in := raw; len(in) > 0; {
				num, typ, n := protowire.ConsumeTag(in)
				m := protowire.ConsumeFieldValue(num, typ, in[n:])
				if num == 4 && typ == protowire.BytesType {
					v, _ := protowire.ConsumeBytes(in[n:])
					spans = append(spans, v)
				} else {
					rest = append(rest, in[:n+m]...)
				}
				in = in[n+m:]
			}
			var req ingestv1.ExportRequest
			if err := proto.Unmarshal(rest, &req); err != nil {
				b.Fatal(err)
			}
			for _, rs := range spans {
				if !c.AppendWire(req.GetFunction(), rs, lim) {
					b.Fatal("AppendWire left the demo's spans to the message path")
				}
			}
		}
		if c.Len() != 1000 && c.Len() < 1000 {
			b.Fatalf("%d spans", c.Len())
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/span")
		b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N*1000), "cpu-ns/span")
	})
}

// BenchmarkLogsDemo is BenchmarkSpansDemo for one request of 1,000
// demo-shaped log records (storagetest.DemoLogRequest): "message" decodes
// the request into messages and converts those; "wire" reads the resource
// logs from the wire bytes straight into the columns (AppendWire).
//
//	go test -run '^$' -bench 'LogsDemo' -benchmem -count 5 ./storage/dbmodel/
func BenchmarkLogsDemo(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	req := storagetest.DemoLogRequest(rng, time.Now(), 1000, false)
	raw, _ := proto.Marshal(req)
	lim := dbmodel.WireLimits{MaxAttributeKeyBytes: 256, MaxAttributeValueBytes: 16 << 10, NameBytes: 1024, StatusMessageBytes: 4096, OtherBytes: 1024, LogBodyBytes: 64 << 10}
	b.Run("message", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		var c dbmodel.LogColumns
		for b.Loop() {
			var req ingestv1.ExportRequest
			if err := proto.Unmarshal(raw, &req); err != nil {
				b.Fatal(err)
			}
			c.Reset()
			c.AppendExport(&req)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/log")
	})
	b.Run("wire", func(b *testing.B) {
		rl, err := proto.Marshal(req.ResourceLogs[0])
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(raw)))
		var c dbmodel.LogColumns
		cpu0 := processCPU()
		for b.Loop() {
			c.Reset()
			if !c.AppendWire(req.Function, req.SentTimeUnixNano, rl, lim) {
				b.Fatal("AppendWire left the demo's log records to the message path")
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/log")
		b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N*1000), "cpu-ns/log")
	})
}

// processCPU is the CPU time the process has used, user and system:
// steadier than the elapsed time on a busy machine, where other processes
// take the cores.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
