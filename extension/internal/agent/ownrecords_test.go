package agent

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/extension/internal/collectortest"
	"github.com/lambdascope/lambdascope/extension/internal/config"
	"github.com/lambdascope/lambdascope/extension/internal/extapi"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// TestOwnRecordsWithoutTelemetry: the Telemetry API does not deliver (the
// subscription refused, or not supported as under AWS's emulator), and
// the runtime talks to the proxy. Every invocation still has exactly one
// record, from what the extension saw: its start at the INVOKE event, its
// duration, status and error type from the answer, the trigger, the cold
// start on the first; the figures only the platform gives are marked
// unknown and the record incomplete. The invocation left without an
// answer when the environment shuts down for a timeout takes the reason
// as its status. The shutdown log counts the records.
func TestOwnRecordsWithoutTelemetry(t *testing.T) {
	const notSupported = `{"errorMessage":"Telemetry API is not supported","errorType":"Telemetry.NotSupported"}`
	for _, tt := range []struct {
		name string
		set  func(*fakeLambda)
	}{
		{"subscription refused", func(f *fakeLambda) { f.refuseTelemetry = true }},
		{"not supported", func(f *fakeLambda) { f.subscribeStatus, f.subscribeBody = http.StatusAccepted, notSupported }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			collector := collectortest.Start(t)
			f := &fakeLambda{}
			tt.set(f)
			ids := []string{"6f1d0b7a-0000-4000-8000-00000000000a", "6f1d0b7a-0000-4000-8000-00000000000b", "6f1d0b7a-0000-4000-8000-00000000000c"}
			for _, id := range ids {
				f.runtimeEvents = append(f.runtimeEvents, runtimeEvent{id, sample(t, "sqs-event.json")})
			}
			const xray = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
			// When each INVOKE was sent, each answer posted, and SHUTDOWN
			// sent.
			invoked, answered := make([]time.Time, len(ids)), make([]time.Time, len(ids))
			var shutdownAt time.Time
			f.script = func(n int) (extapi.Event, []string) {
				if n < len(ids) {
					f.mu.Lock()
					invoked[n] = time.Now()
					f.mu.Unlock()
					return extapi.Event{EventType: extapi.Invoke, RequestID: ids[n], DeadlineMs: time.Now().Add(10 * time.Second).UnixMilli(),
						Tracing: &extapi.Tracing{Type: "X-Amzn-Trace-Id", Value: xray}}, nil
				}
				f.mu.Lock()
				shutdownAt = time.Now()
				f.mu.Unlock()
				return extapi.Event{EventType: extapi.Shutdown, ShutdownReason: "timeout", DeadlineMs: time.Now().Add(2 * time.Second).UnixMilli()}, nil
			}
			var announced string
			f.runtime = func(n int) {
				if n >= len(ids) {
					return
				}
				b, err := os.ReadFile(announced)
				if err != nil || len(strings.Fields(string(b))) != 2 {
					t.Errorf("proxy announcement: %q, %v", b, err)
					return
				}
				proxy := "http://" + strings.Fields(string(b))[0] + "/2018-06-01/runtime/invocation/"
				resp, err := f.client.Get(proxy + "next")
				if err != nil {
					t.Errorf("next: %v", err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				var req *http.Request
				switch n {
				case 0:
					req, _ = http.NewRequest(http.MethodPost, proxy+ids[n]+"/response", strings.NewReader(`"done"`))
				case 1:
					req, _ = http.NewRequest(http.MethodPost, proxy+ids[n]+"/error",
						strings.NewReader(`{"errorMessage":"card declined","errorType":"CallFailed"}`))
					req.Header.Set("Lambda-Runtime-Function-Error-Type", "CallFailed")
				default:
					return // no answer: the function runs into its timeout
				}
				time.Sleep(20 * time.Millisecond) // the function works
				f.mu.Lock()
				answered[n] = time.Now()
				f.mu.Unlock()
				resp, err = f.client.Do(req)
				if err != nil {
					t.Errorf("answer: %v", err)
					return
				}
				_ = resp.Body.Close()
			}
			logs, err := runAgent(t, f, func(o *Options) {
				o.Config.Endpoint = collector.Addr
				o.Config.Flush = config.FlushEnd
				dir, _ := o.Env("TMPDIR")
				announced = filepath.Join(dir, "lambdascope-runtime-api")
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			out := logs.String()
			f.mu.Lock()
			defer f.mu.Unlock()
			recs := map[string]*ingestv1.Invocation{}
			for _, req := range collector.Accepted() {
				for _, inv := range req.GetInvocations() {
					if recs[inv.GetRequestId()] != nil {
						t.Errorf("request %s has two records", inv.GetRequestId())
					}
					recs[inv.GetRequestId()] = inv
				}
			}
			if len(recs) != len(ids) {
				t.Fatalf("collector got %d records, want %d:\n%s", len(recs), len(ids), out)
			}
			const unknown = uint32(ingestv1.Figure_FIGURE_BILLED_DURATION | ingestv1.Figure_FIGURE_MEMORY_SIZE | ingestv1.Figure_FIGURE_MAX_MEMORY_USED)
			for i, id := range ids {
				r := recs[id]
				if r == nil {
					t.Errorf("no record for %s", id)
					continue
				}
				// The trigger comes with the answer, as on every record.
				if !r.GetIncomplete() || r.GetColdStart() != (i == 0) || (i < 2) != (r.GetTrigger() == "sqs") || r.GetXrayTraceHeader() != xray || len(r.GetTraceId()) != 16 {
					t.Errorf("record %d = %v", i, r)
				}
				// The start is when the extension received the INVOKE.
				if start := time.Unix(0, int64(r.GetStartTimeUnixNano())); start.Before(invoked[i]) || start.Sub(invoked[i]) > 5*time.Second {
					t.Errorf("record %d starts at %v, the INVOKE was sent at %v", i, start, invoked[i])
				}
				want := map[int]string{0: "success", 1: "error", 2: "timeout"}[i]
				if r.GetStatus() != want {
					t.Errorf("record %d: status %q, want %q", i, r.GetStatus(), want)
				}
				switch i {
				case 0, 1:
					// It ends when the proxy saw the answer: after the
					// function began to post it, before SHUTDOWN.
					end := time.Unix(0, int64(r.GetStartTimeUnixNano())).Add(time.Duration(r.GetDurationMs() * float64(time.Millisecond)))
					if end.Before(answered[i]) || end.After(shutdownAt) || r.GetUnknownFigures() != unknown {
						t.Errorf("record %d: ends at %v (duration %v ms), answer posted at %v, SHUTDOWN at %v; unknown figures %04b, want %04b",
							i, end, r.GetDurationMs(), answered[i], shutdownAt, r.GetUnknownFigures(), unknown)
					}
				default:
					if r.GetDurationMs() != 0 || r.GetUnknownFigures() != unknown|uint32(ingestv1.Figure_FIGURE_DURATION) {
						t.Errorf("record %d: duration %v ms, unknown figures %04b; want the duration unknown too", i, r.GetDurationMs(), r.GetUnknownFigures())
					}
				}
			}
			if r := recs[ids[1]]; r != nil && (r.GetErrorType() != "CallFailed" || r.GetErrorMessage() != "card declined") {
				t.Errorf("failed record: error %q %q", r.GetErrorType(), r.GetErrorMessage())
			}
			if !strings.Contains(out, "records_from_own_view=3") {
				t.Errorf("the shutdown log does not count the records:\n%s", out)
			}
		})
	}
}
