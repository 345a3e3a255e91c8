package storage

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	chproto "github.com/ClickHouse/ch-go/proto"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/storage/dbmodel"
	"github.com/lambdascope/lambdascope/storage/storagetest"
)

// BenchmarkSpanBlockEncode is the block writer's CPU on one insert of
// 20,000 demo-shaped spans (20 requests of 1,000, as the collector groups
// them, read with AppendWire): the spans block encoded in the Native
// format into a send buffer kept between blocks, without the network.
// Run:
//
//	go test -run '^$' -bench SpanBlockEncode -benchmem -count 5 ./storage/
func BenchmarkSpanBlockEncode(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	lim := dbmodel.WireLimits{MaxAttributeKeyBytes: 256, MaxAttributeValueBytes: 16 << 10, NameBytes: 1024, StatusMessageBytes: 4096, OtherBytes: 1024}
	var cols dbmodel.SpanColumns
	for i := range 20 {
		req := storagetest.DemoSpanRequest(rng, time.Now(), 1000, i%4 == 3)
		for _, rs := range req.ResourceSpans {
			raw, err := proto.Marshal(rs)
			if err != nil {
				b.Fatal(err)
			}
			if !cols.AppendWire(req.Function, raw, lim) {
				b.Fatal("AppendWire left the demo's spans to the message path")
			}
		}
	}
	sb := spanBlockPool.Get().(*spanBlock)
	b.Cleanup(func() { sb.cols = spanBlockColumns{}; spanBlockPool.Put(sb) })
	sb.set(&cols)
	var sent countingWriter
	w := chproto.NewWriter(&sent, new(chproto.Buffer))
	block := chproto.Block{Columns: len(sb.input), Rows: cols.Len()}
	var last blockBytes // as insertBlock sizes the send buffer
	cpu0 := processCPU()
	for b.Loop() {
		sb.mark.reserve = last.reserve(sb.input, cols.Len())
		if err := block.WriteBlock(w, oldClientRevision, sb.input); err != nil {
			b.Fatal(err)
		}
		last.learn(&sb.mark, cols.Len())
		if _, err := w.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(sent.n / int64(b.N))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*cols.Len()), "ns/span")
	// The process's CPU time: steadier than the elapsed time on a busy
	// machine, where other processes take the cores.
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N*cols.Len()), "cpu-ns/span")
}

// BenchmarkLogBlockEncode is BenchmarkSpanBlockEncode for one insert of
// 20,000 demo-shaped log records (20 requests of 1,000, read with
// AppendWire): the logs block encoded into a send buffer kept between
// blocks, without the network. Run:
//
//	go test -run '^$' -bench LogBlockEncode -benchmem -count 5 ./storage/
func BenchmarkLogBlockEncode(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	lim := dbmodel.WireLimits{MaxAttributeKeyBytes: 256, MaxAttributeValueBytes: 16 << 10, NameBytes: 1024, StatusMessageBytes: 4096, OtherBytes: 1024, LogBodyBytes: 64 << 10}
	var cols dbmodel.LogColumns
	for i := range 20 {
		req := storagetest.DemoLogRequest(rng, time.Now(), 1000, i%4 == 3)
		for _, rl := range req.ResourceLogs {
			raw, err := proto.Marshal(rl)
			if err != nil {
				b.Fatal(err)
			}
			if !cols.AppendWire(req.Function, req.SentTimeUnixNano, raw, lim) {
				b.Fatal("AppendWire left the demo's log records to the message path")
			}
		}
	}
	lb := logBlockPool.Get().(*logBlock)
	b.Cleanup(func() { lb.cols = logBlockColumns{}; logBlockPool.Put(lb) })
	lb.set(&cols)
	var sent countingWriter
	w := chproto.NewWriter(&sent, new(chproto.Buffer))
	block := chproto.Block{Columns: len(lb.input), Rows: cols.Len()}
	var last blockBytes
	cpu0 := processCPU()
	for b.Loop() {
		lb.mark.reserve = last.reserve(lb.input, cols.Len())
		if err := block.WriteBlock(w, oldClientRevision, lb.input); err != nil {
			b.Fatal(err)
		}
		last.learn(&lb.mark, cols.Len())
		if _, err := w.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(sent.n / int64(b.N))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*cols.Len()), "ns/log")
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N*cols.Len()), "cpu-ns/log")
}

// countingWriter counts the bytes written to it and drops them.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
