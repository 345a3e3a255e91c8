package agent

import (
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/extension/internal/collectortest"
	"github.com/lambdascope/lambdascope/extension/internal/config"
	"github.com/lambdascope/lambdascope/extension/internal/extapi"
	"github.com/lambdascope/lambdascope/extension/internal/selfmetrics"
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
					// A message over its bound: cut, and counted.
					req, _ = http.NewRequest(http.MethodPost, proxy+ids[n]+"/error",
						strings.NewReader(`{"errorMessage":"card declined`+strings.Repeat(".", maxErrorMessage)+`","errorType":"CallFailed"}`))
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
				// The trigger and the trace context come with the event,
				// so the invocation that never answered has them too.
				if !r.GetIncomplete() || r.GetColdStart() != (i == 0) || r.GetXrayTraceHeader() != xray || len(r.GetTraceId()) != 16 {
					t.Errorf("record %d = %v", i, r)
				}
				if r.GetTrigger() != "sqs" || r.GetTriggerSource() != "SQSQueue" || r.GetTraceContextSource() != "lambda" {
					t.Errorf("record %d: trigger %q, source %q, trace context %q; want sqs, SQSQueue, lambda",
						i, r.GetTrigger(), r.GetTriggerSource(), r.GetTraceContextSource())
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
			if r := recs[ids[1]]; r != nil && (r.GetErrorType() != "CallFailed" || !strings.HasPrefix(r.GetErrorMessage(), "card declined") ||
				len(r.GetErrorMessage()) != maxErrorMessage) {
				t.Errorf("failed record: error %q, message of %d bytes; want CallFailed and the message cut to %d",
					r.GetErrorType(), len(r.GetErrorMessage()), maxErrorMessage)
			}
			if !strings.Contains(out, "records_from_own_view=3") || !strings.Contains(out, "error_texts_cut=1") {
				t.Errorf("the shutdown log does not count the records and the error cut:\n%s", out)
			}
			// The same counters go out as the extension's metrics.
			want := map[string]int64{selfmetrics.RecordsFromOwnView: 3, selfmetrics.ErrorTextsCut: 1,
				selfmetrics.ReportsAfterOwnRecords: 0, selfmetrics.InvocationsUnrecorded: 0}
			if got := lastSelfMetrics(collector.Accepted()); !maps.Equal(filterKeys(got, want), want) {
				t.Errorf("the extension's metrics shipped %v, want %v", filterKeys(got, want), want)
			}
		})
	}
}

// lastSelfMetrics returns the last value shipped of each of the
// extension's metrics without attributes (the single counters).
func lastSelfMetrics(reqs []*ingestv1.ExportRequest) map[string]int64 {
	out := map[string]int64{}
	for _, req := range reqs {
		for _, rm := range req.GetResourceMetrics() {
			for _, sm := range rm.GetScopeMetrics() {
				if sm.GetScope().GetName() != selfmetrics.ScopeName {
					continue
				}
				for _, m := range sm.GetMetrics() {
					for _, p := range m.GetSum().GetDataPoints() {
						if len(p.GetAttributes()) == 0 {
							out[m.GetName()] = p.GetAsInt()
						}
					}
				}
			}
		}
	}
	return out
}

// filterKeys returns the entries of m whose keys are in keys.
func filterKeys(m, keys map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k := range keys {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

// TestOwnRecordsAtTheAnswerOnManagedInstances: on Managed Instances with
// the subscription refused there are no INVOKE events and no platform
// reports, and an environment lives for hours: each invocation's record
// is built from the proxy's view as soon as its answer is seen, and
// shipped while the environment still runs, not at SHUTDOWN. The
// invocation left without an answer gets its record at SHUTDOWN, with its
// trigger. The counters go out as the extension's metrics.
func TestOwnRecordsAtTheAnswerOnManagedInstances(t *testing.T) {
	collector := collectortest.Start(t)
	f := &fakeLambda{refuseTelemetry: true}
	ids := []string{"7a2e0c1b-0000-4000-8000-00000000000a", "7a2e0c1b-0000-4000-8000-00000000000b", "7a2e0c1b-0000-4000-8000-00000000000c"}
	for _, id := range ids {
		f.runtimeEvents = append(f.runtimeEvents, runtimeEvent{id, sample(t, "sqs-event.json")})
	}
	records := func() map[string]*ingestv1.Invocation {
		out := map[string]*ingestv1.Invocation{}
		for _, req := range collector.Accepted() {
			for _, inv := range req.GetInvocations() {
				if out[inv.GetRequestId()] != nil {
					t.Errorf("request %s has two records", inv.GetRequestId())
				}
				out[inv.GetRequestId()] = inv
			}
		}
		return out
	}
	var announced string
	var beforeShutdown map[string]*ingestv1.Invocation
	var answered []time.Time
	f.beforeNext = func(n int) {
		if n != 0 {
			return
		}
		// The runtime serves three invocations through the proxy while
		// the extension waits for SHUTDOWN.
		b, err := os.ReadFile(announced)
		if err != nil || len(strings.Fields(string(b))) != 2 {
			t.Errorf("proxy announcement: %q, %v", b, err)
			return
		}
		proxy := "http://" + strings.Fields(string(b))[0] + "/2018-06-01/runtime/invocation/"
		for i, id := range ids {
			resp, err := f.client.Get(proxy + "next")
			if err != nil {
				t.Errorf("next: %v", err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			var req *http.Request
			switch i {
			case 0:
				req, _ = http.NewRequest(http.MethodPost, proxy+id+"/response", strings.NewReader(`"done"`))
			case 1:
				req, _ = http.NewRequest(http.MethodPost, proxy+id+"/error", strings.NewReader(`{"errorMessage":"card declined","errorType":"CallFailed"}`))
			default:
				continue // no answer before SHUTDOWN
			}
			time.Sleep(5 * time.Millisecond) // the function works
			answered = append(answered, time.Now())
			resp, err = f.client.Do(req)
			if err != nil {
				t.Errorf("answer: %v", err)
				return
			}
			_ = resp.Body.Close()
		}
		// The answered invocations' records reach the collector while the
		// environment runs (bounded: a record that never comes fails
		// below).
		for deadline := time.Now().Add(10 * time.Second); len(records()) < 2 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		beforeShutdown = records()
	}
	f.script = func(int) (extapi.Event, []string) {
		return extapi.Event{EventType: extapi.Shutdown, ShutdownReason: "spindown", DeadlineMs: time.Now().Add(2 * time.Second).UnixMilli()}, nil
	}
	logs, err := runAgent(t, f, func(o *Options) {
		o.Config.Endpoint = collector.Addr
		o.Config.FlushInterval = 50 * time.Millisecond
		managedEnv(o)
		dir, _ := o.Env("TMPDIR")
		announced = filepath.Join(dir, "lambdascope-runtime-api")
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	out := logs.String()
	if len(beforeShutdown) != 2 || beforeShutdown[ids[0]] == nil || beforeShutdown[ids[1]] == nil {
		t.Errorf("records shipped before SHUTDOWN: %d, want the two answered invocations'\n%s", len(beforeShutdown), out)
	}
	recs := records()
	if len(recs) != len(ids) {
		t.Fatalf("collector got %d records, want %d:\n%s", len(recs), len(ids), out)
	}
	for i, id := range ids {
		r := recs[id]
		if !r.GetIncomplete() || r.GetTrigger() != "sqs" || r.GetTriggerSource() != "SQSQueue" || r.GetColdStart() != (i == 0) {
			t.Errorf("record %d = %v", i, r)
		}
		want := map[int]string{0: "success", 1: "error", 2: ""}[i]
		if r.GetStatus() != want {
			t.Errorf("record %d: status %q, want %q", i, r.GetStatus(), want)
		}
		if i < 2 {
			// From the hand-over of the event to the answer.
			end := time.Unix(0, int64(r.GetStartTimeUnixNano())).Add(time.Duration(r.GetDurationMs() * float64(time.Millisecond)))
			if r.GetUnknownFigures()&uint32(ingestv1.Figure_FIGURE_DURATION) != 0 || r.GetDurationMs() <= 0 || end.Before(answered[i]) {
				t.Errorf("record %d: duration %v ms ending at %v, the answer was posted at %v", i, r.GetDurationMs(), end, answered[i])
			}
		} else if r.GetUnknownFigures()&uint32(ingestv1.Figure_FIGURE_DURATION) == 0 {
			t.Errorf("record %d: duration %v ms, want it unknown (no answer)", i, r.GetDurationMs())
		}
	}
	want := map[string]int64{selfmetrics.RecordsFromOwnView: 3, selfmetrics.InvocationsUnrecorded: 0}
	if got := lastSelfMetrics(collector.Accepted()); !maps.Equal(filterKeys(got, want), want) {
		t.Errorf("the extension's metrics shipped %v, want %v", filterKeys(got, want), want)
	}
}
