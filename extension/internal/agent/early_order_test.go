package agent

import (
	"bytes"
	"encoding/hex"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/extension/internal/collectortest"
	"github.com/lambdascope/lambdascope/extension/internal/extapi"
	"github.com/lambdascope/lambdascope/extension/internal/handoff"
)

// TestEarlyExportReadBeforeTelemetry: on Lambda Managed Instances the
// cold invocation's span is answered by the launcher and comes to the
// agent on the early pipe, while the invocation's report may wait for the
// agent in the telemetry listener. The report is read only once the early
// exports are: the invocation's lambda.invoke is a child of the
// function's span, in its trace, however late the pipe delivers.
func TestEarlyExportReadBeforeTelemetry(t *testing.T) {
	const id = "22222222-0000-4000-8000-000000000001"
	const traceID, spanID = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"
	collector := collectortest.Start(t)
	var telemetryDone atomic.Bool
	f := &fakeLambda{
		beforeFirstNext: []string{
			`{"time":"2025-03-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"` + id + `","version":"$LATEST","tracing":{"type":"X-Amzn-Trace-Id","value":"Root=1-5b8efff7-98038103d269b633813fc60c;Parent=53995c3f42cd8ad8;Sampled=1"}}}`,
			`{"time":"2025-03-01T10:00:00.050Z","type":"platform.runtimeDone","record":{"requestId":"` + id + `","status":"success","metrics":{"durationMs":50}}}`,
			`{"time":"2025-03-01T10:00:00.060Z","type":"platform.report","record":{"requestId":"` + id + `","status":"success","metrics":{"durationMs":50,"billedDurationMs":50,"memorySizeMB":2048,"maxMemoryUsedMB":90}}}`,
		},
		script: func(int) (extapi.Event, []string) {
			// The push before the first event was answered.
			telemetryDone.Store(true)
			return extapi.Event{EventType: extapi.Shutdown, ShutdownReason: "Spindown", DeadlineMs: time.Now().Add(2 * time.Second).UnixMilli()}, nil
		},
	}
	earlyR, earlyW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = earlyW.Close() })
	span := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"` + traceID + `","spanId":"` + spanID + `","kind":2,"name":"handle",` +
		`"attributes":[{"key":"faas.invocation_id","value":{"stringValue":"` + id + `"}}]}]}]}]}`
	x := handoff.EarlyExport{Path: "/v1/traces", ContentType: "application/json", Body: []byte(span)}
	var logs atomic.Pointer[syncBuffer]
	// The launcher passes the export on late: once the telemetry was
	// handled, or once it waits for the export.
	passed := make(chan struct{})
	go func() {
		defer close(passed)
		defer earlyW.Close()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			l := logs.Load()
			if telemetryDone.Load() || (l != nil && strings.Contains(l.String(), "telemetry waits for the exports the launcher answered")) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		if _, err := earlyW.Write(append(x.Header(), x.Body...)); err != nil {
			t.Errorf("pass the export: %v", err)
		}
	}()
	out, err := runAgent(t, f, func(o *Options) {
		o.Config.Endpoint = collector.Addr
		env := o.Env
		o.Env = func(k string) (string, bool) {
			if k == "AWS_LAMBDA_INITIALIZATION_TYPE" {
				return "lambda-managed-instances", true
			}
			return env(k)
		}
		launchFor(t, o)
		o.Inherited.Early = earlyR
		// The agent's log, which the launcher's stand-in reads too.
		sink := &syncBuffer{}
		o.Log = slog.New(slog.NewTextHandler(sink, &slog.HandlerOptions{Level: slog.LevelDebug}))
		logs.Store(sink)
	})
	if l := logs.Load(); l != nil {
		out = l
	}
	<-passed
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	var invoke, fn []*tracepb.Span
	for _, req := range collector.Accepted() {
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				for _, sp := range ss.GetSpans() {
					switch {
					case sp.GetName() == "lambda.invoke" && spanAttr(sp, "faas.invocation_id") == id:
						invoke = append(invoke, sp)
					case sp.GetName() == "handle":
						fn = append(fn, sp)
					}
				}
			}
		}
	}
	if len(invoke) != 1 || len(fn) != 1 {
		t.Fatalf("%d lambda.invoke and %d function spans shipped, want one each\n%s", len(invoke), len(fn), out)
	}
	if got := hex.EncodeToString(invoke[0].GetParentSpanId()); got != spanID || !bytes.Equal(invoke[0].GetTraceId(), fn[0].GetTraceId()) {
		t.Errorf("lambda.invoke in trace %x under %s, want under the function's span %s in %s\n%s",
			invoke[0].GetTraceId(), got, spanID, traceID, out)
	}
}
