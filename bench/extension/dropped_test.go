package extbench

import (
	"context"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/emulator"
)

// BenchmarkDroppedRuntimeDone measures the bound on the extension's wait
// for platform.runtimeDone when the event is lost: the function with the
// extension is invoked in turn with runtimeDone delivered and with it
// dropped by the emulator, beside the same function without the extension,
// interleaved in one run. The tail is the time from the response to the
// end of the invocation (billed time after the response); with runtimeDone
// lost, the extension ends its wait once the telemetry stream has been
// quiet for its buffering window plus a margin, so the dropped side's
// tail is that bound plus the end-of-invocation work. The adaptive flush
// waits for runtimeDone only when data would otherwise wait too long; the
// end flush waits after every invocation, so flush=end shows the bound
// on every dropped invocation.
func BenchmarkDroppedRuntimeDone(b *testing.B) {
	for _, flush := range []string{"adaptive", "end"} {
		b.Run("flush="+flush, func(b *testing.B) { benchmarkDroppedRuntimeDone(b, flush) })
	}
}

func benchmarkDroppedRuntimeDone(b *testing.B, flush string) {
	bins := build(b)
	const rounds, spans = 30, 10
	const (
		noext   = "noext"
		ext     = "ext"
		dropped = "ext-dropped"
	)
	tails := map[string][]float64{}
	for b.Loop() {
		c := startCollector(b)
		em := startEmulator(b, bins, c, flush)
		invoke(b, em, withExtension, spans)
		invoke(b, em, withoutExtension, 0)
		resp := map[string]time.Duration{}
		sideOf := map[string]string{}
		for range rounds {
			for _, side := range []string{noext, ext, dropped} {
				fn, n := withExtension, spans
				if side == noext {
					fn, n = withoutExtension, 0
				}
				if side == dropped {
					if err := em.DropRuntimeDoneOfNextInvoke(fn); err != nil {
						b.Fatal(err)
					}
				}
				res := invoke(b, em, fn, n)
				if !res.ColdStart {
					resp[res.RequestID], sideOf[res.RequestID] = res.Duration, side
				}
			}
		}
		shutDownForTails(b, em, resp, sideOf, tails)
		if c.spans(b) == 0 {
			b.Fatal("the collector received no spans")
		}
	}
	b.ReportMetric(0, "ns/op")
	for _, side := range []string{noext, ext, dropped} {
		b.ReportMetric(percentile(tails[side], 0.5), side+"-tail-p50-ms")
		b.ReportMetric(percentile(tails[side], 0.99), side+"-tail-p99-ms")
		b.ReportMetric(percentile(tails[side], 1), side+"-tail-max-ms")
	}
	b.ReportMetric(percentile(tails[dropped], 1)-percentile(tails[noext], 1), "dropped-added-max-ms")
}

// shutDownForTails shuts the emulator down, which delivers the last
// reports, and appends each invocation's tail (the time from its response
// to the end the emulator bills) to tails under its side. resp holds the
// response time of each request ID, sideOf its side.
func shutDownForTails(b *testing.B, em *emulator.Emulator, resp map[string]time.Duration, sideOf map[string]string, tails map[string][]float64) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := em.Shutdown(ctx)
	cancel()
	if err != nil {
		b.Fatal(err)
	}
	reports := em.Reports()
	for id, d := range resp {
		r, ok := reports[id]
		if !ok {
			b.Fatalf("no report for invocation %s", id)
		}
		tails[sideOf[id]] = append(tails[sideOf[id]], r.DurationMs-ms(d))
	}
}
