package agent

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lambdascope/lambdascope/extension/internal/collectortest"
	"github.com/lambdascope/lambdascope/extension/internal/config"
	"github.com/lambdascope/lambdascope/extension/internal/extapi"
)

// TestFirstInvocationOneExport checks that an invocation flushed at its
// end sends what the buffer held at its INVOKE (the extension's own
// counters, the function's span) with its own data in one call, not one
// call at the INVOKE and another after runtimeDone that waits for the
// first: before the extension's second /event/next, which ends the
// invocation's billed time, the collector has been called exactly once.
func TestFirstInvocationOneExport(t *testing.T) {
	for _, mode := range []config.FlushMode{config.FlushAdaptive, config.FlushEnd} {
		t.Run(string(mode), func(t *testing.T) {
			collector := collectortest.Start(t)
			f := &fakeLambda{}
			var otlpAddr string
			callsAtNext := map[int]int{}
			script := invocationScript(2)
			f.script = func(n int) (extapi.Event, []string) {
				callsAtNext[n] = len(collector.Calls())
				if n == 0 {
					sendSpan(t, otlpAddr)
				}
				return script(n)
			}
			logs, err := runAgent(t, f, func(o *Options) {
				o.Config.Endpoint = collector.Addr
				o.Config.APIKey = "k"
				o.Config.Flush = mode
				otlpAddr = o.Config.OTLPHTTPAddr
			})
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, logs)
			}
			if callsAtNext[1] != 1 {
				var got []string
				for _, c := range collector.Calls() {
					got = append(got, fmt.Sprintf("%d spans/%d logs/%d metrics", len(c.Request.GetResourceSpans()),
						len(c.Request.GetResourceLogs()), len(c.Request.GetResourceMetrics())))
				}
				t.Errorf("collector called %d times before the second /event/next, want 1; calls: %s\n%s",
					callsAtNext[1], strings.Join(got, ", "), logs)
			}
			// That one call holds the span, the log line and the counters.
			calls := collector.Calls()
			if len(calls) == 0 {
				t.Fatal("nothing shipped")
			}
			first := calls[0].Request
			if len(first.GetResourceSpans()) == 0 || len(first.GetResourceLogs()) == 0 || len(first.GetResourceMetrics()) == 0 {
				t.Errorf("first call holds %d resource spans, %d resource logs, %d resource metrics; want all three",
					len(first.GetResourceSpans()), len(first.GetResourceLogs()), len(first.GetResourceMetrics()))
			}
		})
	}
}
