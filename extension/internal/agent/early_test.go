package agent

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/lambdascope/lambdascope/extension/internal/collectortest"
	"github.com/lambdascope/lambdascope/extension/internal/config"
	"github.com/lambdascope/lambdascope/extension/internal/handoff"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// TestEarlyExportsReachTheReceiver: the exports the launcher answered
// while the agent started come on the early pipe; the agent reads them
// into its receiver (a span, and a body the receiver refuses, which is
// counted, not shipped) and ships what they hold, and tells the launcher
// that it serves (then, at SHUTDOWN, that it stops).
func TestEarlyExportsReachTheReceiver(t *testing.T) {
	collector := collectortest.Start(t)
	f := &fakeLambda{}
	f.script = invocationScript(2)
	earlyR, earlyW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	watchR, watchW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = watchR.Close() })
	span := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","kind":2,"name":"early-handler"}]}]}]}`
	for _, x := range []handoff.EarlyExport{
		{Path: "/v1/traces", ContentType: "application/json", Body: []byte(span)},
		{Path: "/v1/traces", ContentType: "application/json", Body: []byte(`{"resourceSpans":`)},
	} {
		if _, err := earlyW.Write(append(x.Header(), x.Body...)); err != nil {
			t.Fatal(err)
		}
	}
	_ = earlyW.Close()
	logs, err := runAgent(t, f, func(o *Options) {
		o.Config.Endpoint = collector.Addr
		o.Config.Flush = config.FlushEnd
		launchFor(t, o)
		o.Inherited.Early, o.Inherited.Watch = earlyR, watchW
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, logs)
	}
	_ = watchW.Close()
	notes, _ := io.ReadAll(watchR)
	if string(notes) != string([]byte{handoff.ServingNote, handoff.ShutdownNote}) {
		t.Errorf("notes to the launcher %q; want serving, then stopping", notes)
	}
	var names []string
	for _, req := range collector.Accepted() {
		for _, rs := range req.GetResourceSpans() {
			if ingestv1.SpansIn(rs) > 0 {
				for _, ss := range rs.GetScopeSpans() {
					for _, s := range ss.GetSpans() {
						names = append(names, s.GetName())
					}
				}
			}
		}
	}
	if !strings.Contains(strings.Join(names, ","), "early-handler") {
		t.Errorf("shipped spans %v; want the early export's early-handler\n%s", names, logs)
	}
	if out := logs.String(); !strings.Contains(out, "an export the launcher answered was refused") ||
		!strings.Contains(out, "exports answered by the launcher while the agent started") {
		t.Errorf("the refused early export or the count is not logged:\n%s", out)
	}
}
