package extbench

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/emulator"
)

var (
	quietRounds = flag.Int("quiet.rounds", 500,
		"rounds of one BenchmarkQuietInvocation run: each side is invoked once per round, so a side's p99 is over this many invocations")
	quietInterval = flag.Duration("quiet.interval", 200*time.Millisecond,
		"LAMBDASCOPE_FLUSH_INTERVAL of the functions with the extension in BenchmarkQuietInvocation; rounds start 1.5 times that apart, so each function is invoked less often than its flush interval")
	quietTails = flag.String("quiet.tails", "",
		"file BenchmarkQuietInvocation appends every invocation's figures to (run, round, side, request ID, start, response and tail in ms), to look at the slow ones")
)

// BenchmarkQuietInvocation invokes the function less often than the flush
// interval, the case where the adaptive strategy flushes before
// /event/next so data does not wait for an invocation that may never come,
// three ways in turn: without the extension; with it, the runtime talking
// to Lambda directly, so the extension learns that the invocation ended
// from platform.runtimeDone (up to the subscription's 25 ms buffering
// window after the response); and with it and the runtime started through
// the layer's exec wrapper, so it talks to the Runtime API proxy and its
// answer ends the wait at once. Each tail (billed time after the response)
// is the billed cost of the wait and the flush; added-* is a side's tail
// minus the function's without the extension, percentile by percentile;
// paired-* are percentiles of the difference within each round (the
// invocations ran a few milliseconds apart), which a slow moment of the
// machine moves less. Each proxied invocation's spans must have reached
// the stand-in collector by the time it ended, before the environment
// could be frozen.
//
// Quiet means invoked less often than the flush interval, so that the
// adaptive strategy flushes at each invocation's end. The functions run
// with a flush interval of -quiet.interval (200 ms) and a round starts
// every 1.5 intervals (300 ms), so that one run of -quiet.rounds (500)
// rounds takes about three minutes and each p99 is taken over 500
// invocations of a side (its fifth largest), not two or three slow
// moments of the machine. Each b.Loop iteration is one run on new
// environments: run with -benchtime 1x and -count 3 and read the spread
// over the runs. *-n is the count each figure is over;
// proxied-paired-over-5ms-n counts the proxied invocations whose tail
// exceeded that of the function without the extension in the same round
// by more than 5 ms.
func BenchmarkQuietInvocation(b *testing.B) {
	bins := build(b)
	const spans = 100
	const proxied = "bench-proxied"
	rounds, interval := *quietRounds, *quietInterval
	if rounds < 1 || interval <= 0 {
		b.Fatalf("-quiet.rounds must be positive (got %d), -quiet.interval too (got %s)", rounds, interval)
	}
	gap := interval * 3 / 2
	env := map[string]string{"LAMBDASCOPE_FLUSH_INTERVAL": interval.String()}
	var out *os.File
	if *quietTails != "" {
		f, err := os.OpenFile(*quietTails, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = f.Close() })
		out = f
	}
	tails := map[string][]float64{}
	paired := map[string][]float64{}
	run := 0
	for b.Loop() {
		run++
		c := startCollector(b)
		em := startEmulatorEnv(b, bins, c, "adaptive", env, emulator.FunctionConfig{
			Name: proxied, Handler: bins.wrapped, Extensions: []string{bins.extension}, Timeout: 10 * time.Second,
			Env: map[string]string{
				"LAMBDASCOPE_ENDPOINT": c.addr, "LAMBDASCOPE_API_KEY": "bench-key", "LAMBDASCOPE_FLUSH": "adaptive",
				"LAMBDASCOPE_FLUSH_INTERVAL": interval.String(),
			},
		})
		before := c.spans(b)
		invoke(b, em, withExtension, spans)
		invoke(b, em, proxied, spans)
		invoke(b, em, withoutExtension, 0)
		resp := map[string]time.Duration{}
		fnOf := map[string]string{}
		started := map[string]time.Time{}
		ids := make([]map[string]string, rounds) // request ID by function
		for i := range rounds {
			time.Sleep(gap)
			ids[i] = map[string]string{}
			// The proxied side goes first, when nothing else is in
			// flight: the spans the collector has by the end of its
			// invocation (before the environment is frozen) are its own.
			for _, fn := range []string{proxied, withoutExtension, withExtension} {
				n := spans
				if fn == withoutExtension {
					n = 0
				}
				before := c.spans(b)
				start := time.Now()
				res := invoke(b, em, fn, n)
				if !res.ColdStart {
					resp[res.RequestID], fnOf[res.RequestID] = res.Duration, fn
					started[res.RequestID] = start
					ids[i][fn] = res.RequestID
				}
				if fn == proxied {
					waitEnded(b, em, res.RequestID)
					if got := c.spans(b) - before; got < spans {
						b.Fatalf("round %d: the collector had %d of the proxied invocation's %d spans when it ended", i, got, spans)
					}
				}
			}
		}
		shutDownForTails(b, em, resp, fnOf, tails)
		reports := em.Reports()
		tail := func(id string) float64 { return reports[id].DurationMs - ms(resp[id]) }
		var lines strings.Builder
		for i, r := range ids {
			base, ok := r[withoutExtension]
			for _, fn := range []string{withoutExtension, withExtension, proxied} {
				id, ok2 := r[fn]
				if !ok2 {
					continue
				}
				fmt.Fprintf(&lines, "%d,%d,%s,%s,%d,%.3f,%.3f\n", run, i, fn, id, started[id].UnixMicro(), ms(resp[id]), tail(id))
				if ok && fn != withoutExtension {
					paired[fn] = append(paired[fn], tail(id)-tail(base))
				}
			}
		}
		if out != nil {
			if _, err := out.WriteString(lines.String()); err != nil {
				b.Fatal(err)
			}
		}
		// Both sides with the extension shipped every span.
		if got, want := c.spans(b)-before, int64(2*(rounds+1)*spans); got < want {
			b.Fatalf("the collector received %d spans, want at least %d", got, want)
		}
	}
	b.ReportMetric(0, "ns/op")
	for _, side := range []struct{ name, fn string }{{"noext", withoutExtension}, {"ext", withExtension}, {"proxied", proxied}} {
		b.ReportMetric(percentile(tails[side.fn], 0.5), side.name+"-tail-p50-ms")
		b.ReportMetric(percentile(tails[side.fn], 0.99), side.name+"-tail-p99-ms")
		b.ReportMetric(percentile(tails[side.fn], 1), side.name+"-tail-max-ms")
		b.ReportMetric(float64(len(tails[side.fn])), side.name+"-n")
		if side.fn != withoutExtension {
			b.ReportMetric(percentile(tails[side.fn], 0.5)-percentile(tails[withoutExtension], 0.5), side.name+"-added-p50-ms")
			b.ReportMetric(percentile(tails[side.fn], 0.99)-percentile(tails[withoutExtension], 0.99), side.name+"-added-p99-ms")
			b.ReportMetric(percentile(paired[side.fn], 0.5), side.name+"-paired-p50-ms")
			b.ReportMetric(percentile(paired[side.fn], 0.99), side.name+"-paired-p99-ms")
		}
	}
	over := 0
	for _, d := range paired[proxied] {
		if d > 5 {
			over++
		}
	}
	b.ReportMetric(float64(over), "proxied-paired-over-5ms-n")
}
