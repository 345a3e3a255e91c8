package agent

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/extension/internal/collectortest"
	"github.com/lambdascope/lambdascope/extension/internal/config"
	"github.com/lambdascope/lambdascope/extension/internal/extapi"
)

// TestFirstInvocationNotKicked checks that an invocation flushed at its
// end does not send what the buffer held at its INVOKE (the extension's
// own counters, the function's span) in a call of its own while the
// function runs: that call's answer would be waited for by the flush
// after runtimeDone before it sends its own batch, two of the collector's
// answers in a row in the invocation's billed time. Nothing reaches the
// collector before the invocation's telemetry is pushed, and then
// everything does.
func TestFirstInvocationNotKicked(t *testing.T) {
	for _, mode := range []config.FlushMode{config.FlushAdaptive, config.FlushEnd} {
		t.Run(string(mode), func(t *testing.T) {
			collector := collectortest.Start(t)
			f := &fakeLambda{}
			var otlpAddr string
			var during []string
			var callsWhileRunning atomic.Int64
			callsWhileRunning.Store(-1)
			script := invocationScript(2)
			f.script = func(n int) (extapi.Event, []string) {
				ev, after := script(n)
				if n == 0 {
					sendSpan(t, otlpAddr)
					// Pushed by the function's run below.
					during, after = after, nil
				}
				return ev, after
			}
			f.runtime = func(n int) {
				if n != 0 {
					return
				}
				// The function runs; the agent has handled the INVOKE
				// long before this.
				time.Sleep(100 * time.Millisecond)
				callsWhileRunning.Store(int64(len(collector.Calls())))
				f.push(during...)
			}
			logs, err := runAgent(t, f, func(o *Options) {
				o.Config.Endpoint = collector.Addr
				o.Config.APIKey = "k"
				o.Config.Flush = mode
				// No background round on the interval's timer while
				// the function runs on a slow machine.
				o.Config.FlushInterval = time.Hour
				otlpAddr = o.Config.OTLPHTTPAddr
			})
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, logs)
			}
			if n := callsWhileRunning.Load(); n != 0 {
				t.Errorf("collector called %d times while the function ran, want 0: the INVOKE kicked a flush\n%s", n, logs)
			}
			var spans, logRecords, metrics int
			for _, c := range collector.Calls() {
				spans += len(c.Request.GetResourceSpans())
				logRecords += len(c.Request.GetResourceLogs())
				metrics += len(c.Request.GetResourceMetrics())
			}
			if spans == 0 || logRecords == 0 || metrics == 0 {
				t.Errorf("shipped %d resource spans, %d resource logs, %d resource metrics; want all three", spans, logRecords, metrics)
			}
		})
	}
}
