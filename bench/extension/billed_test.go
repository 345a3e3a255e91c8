package extbench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/emulator"
)

// BenchmarkColdStartBilled invokes the same function on a new execution
// environment with the layer and without it, alternating which goes
// first, and compares what Lambda bills for each cold invocation: the
// REPORT's Billed Duration, which for an on-demand function is the INIT
// phase plus the invocation's duration, each up to the moment every
// extension is back on /event/next. That is what a user pays for a cold
// start, beside what a caller waits for (BenchmarkColdStart, to the
// response): the extension's work after the function's response (its
// wait for runtimeDone, its first connection to the collector and first
// flush) is billed but not waited for.
//
// With the layer the function sends its 10 spans to the extension; without
// it, the same 10 spans to a stand-in outside the environment, so the
// function's own building, encoding and sending of spans is on both
// sides. billed-added-ms is the median of the per-environment differences
// in Billed Duration (each pair run one after the other on the same
// machine); it is split into init-added-ms (Init Duration) and
// duration-added-ms (Duration), and after-response-ms is how much of the
// layer's Duration came after the function's response.
//
// With answer=50ms (100ms) the stand-in collector answers each export 50
// (100) ms after it arrived, as a collector that answers once the batch
// is in ClickHouse (or fsynced in its WAL) does: the flush that ends a
// cold invocation waits for that answer, up to the agent's FlushBudget
// (150 ms); the stand-in's immediate answer (answer=0ms) leaves that wait
// out. With wait=30ms the handler waits 30 ms after its export and logs
// a line before it answers, as one waiting on a downstream call does: the
// agent, started with the INVOKE, then runs before the function is done,
// as in the demo's orders function, which calls inventory. With
// init=50ms the function spends 50 ms of CPU before its runtime loop
// starts.
//
// EXTBENCH_BILLED_LOG, when set, is a file that receives every line the
// runtimes and extensions wrote (run with LAMBDASCOPE_LOG_LEVEL set to
// debug in the environment to see the extension's timings).
func BenchmarkColdStartBilled(b *testing.B) {
	for _, c := range []struct{ initMS, waitMS, answerMS int }{{0, 0, 0}, {0, 0, 50}, {0, 30, 50}, {0, 30, 100}, {50, 30, 100}} {
		name := fmt.Sprintf("init=%dms/wait=%dms/answer=%dms", c.initMS, c.waitMS, c.answerMS)
		b.Run(name, func(b *testing.B) {
			benchmarkColdStartBilled(b, c.initMS, c.waitMS, time.Duration(c.answerMS)*time.Millisecond)
		})
	}
}

func benchmarkColdStartBilled(b *testing.B, initMS, waitMS int, answer time.Duration) {
	bins := build(b)
	c := startCollectorDelay(b, answer)
	sink := startSink(b)
	const layered, bare = "with-layer", "without-layer"
	init := strconv.Itoa(initMS)
	env := map[string]string{"LAMBDASCOPE_ENDPOINT": c.addr, "LAMBDASCOPE_API_KEY": "bench-key", "BENCHFN_INIT_MS": init}
	if lvl := os.Getenv("LAMBDASCOPE_LOG_LEVEL"); lvl != "" {
		env["LAMBDASCOPE_LOG_LEVEL"] = lvl
	}
	var out *os.File
	if p := os.Getenv("EXTBENCH_BILLED_LOG"); p != "" {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		out = f
	}
	type cold struct{ billed, init, dur, resp float64 }
	got := map[string][]cold{}
	order := []string{layered, bare}
	for b.Loop() {
		cfg := emulator.Config{Functions: []emulator.FunctionConfig{
			{Name: layered, Handler: bins.function, Extensions: []string{bins.extension}, Timeout: 10 * time.Second, Env: env},
			{Name: bare, Handler: bins.function, Timeout: 10 * time.Second,
				Env: map[string]string{"BENCHFN_INIT_MS": init, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + sink.addr}},
		}}
		if out != nil {
			cfg.Output = out
		}
		em, err := emulator.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := em.Start(b.Context()); err != nil {
			b.Fatal(err)
		}
		for _, fn := range order {
			res, err := em.Invoke(b.Context(), fn, []byte(`{"spans":10,"waitMs":`+strconv.Itoa(waitMS)+`}`))
			if err != nil {
				b.Fatal(err)
			}
			if res.FunctionError != "" {
				b.Fatalf("%s: function error: %s", fn, res.Payload)
			}
			if !res.ColdStart {
				b.Fatalf("%s: invocation was not a cold start", fn)
			}
			waitEnded(b, em, res.RequestID)
			r := em.Reports()[res.RequestID]
			if r.InitDurationMs <= 0 {
				b.Fatalf("%s: the cold invocation's report has no Init Duration", fn)
			}
			got[fn] = append(got[fn], cold{billed: float64(r.BilledDurationMs), init: r.InitDurationMs, dur: r.DurationMs, resp: ms(res.Duration)})
		}
		order[0], order[1] = order[1], order[0]
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = em.Shutdown(ctx)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
	pick := func(fn string, f func(cold) float64) []float64 {
		xs := make([]float64, len(got[fn]))
		for i, c := range got[fn] {
			xs[i] = f(c)
		}
		return xs
	}
	added := func(f func(cold) float64) float64 {
		return percentile(diffs(pick(layered, f), pick(bare, f)), 0.5)
	}
	billed := func(c cold) float64 { return c.billed }
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(percentile(pick(layered, billed), 0.5), "with-layer-billed-p50-ms")
	b.ReportMetric(percentile(pick(bare, billed), 0.5), "without-layer-billed-p50-ms")
	b.ReportMetric(added(billed), "billed-added-ms")
	b.ReportMetric(added(func(c cold) float64 { return c.init }), "init-added-ms")
	b.ReportMetric(added(func(c cold) float64 { return c.dur }), "duration-added-ms")
	b.ReportMetric(percentile(pick(layered, func(c cold) float64 { return c.dur - c.resp }), 0.5), "after-response-ms")
	b.ReportMetric(percentile(pick(bare, func(c cold) float64 { return c.dur - c.resp }), 0.5), "without-layer-after-response-ms")
	if n := sink.exports.Load(); n < int64(len(got[bare])) {
		b.Fatalf("the stand-in outside the environment took %d exports; want one per cold invocation (%d)", n, len(got[bare]))
	}
}
