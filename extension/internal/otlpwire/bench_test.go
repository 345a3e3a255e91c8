package otlpwire

import (
	"testing"

	"github.com/lambdascope/lambdascope/extension/internal/otlpwire/otlpwiretest"
)

// BenchmarkScanTraces reads a request of 1,000 spans with a few attributes
// each, as bench/extension's function sends; its root span names the
// invocation.
func BenchmarkScanTraces(b *testing.B) {
	data, err := otlpwiretest.TraceRequest(1000, "req-1")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		t, err := ScanTraces(data)
		if err != nil {
			b.Fatal(err)
		}
		if t.SpanCount() != 1000 || len(t.Invocations) != 1 {
			b.Fatalf("%d spans, %d invocation spans", t.SpanCount(), len(t.Invocations))
		}
	}
}
