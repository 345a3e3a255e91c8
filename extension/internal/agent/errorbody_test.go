package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/collectortest"
	"github.com/lambdascope/lambdascope/extension/internal/config"
	"github.com/lambdascope/lambdascope/extension/internal/extapi"
	"github.com/lambdascope/lambdascope/extension/internal/invocation"
	"github.com/lambdascope/lambdascope/extension/internal/rtproxy"
	"github.com/lambdascope/lambdascope/extension/internal/selfmetrics"
	"github.com/lambdascope/lambdascope/extension/internal/telemetry"
	"github.com/lambdascope/lambdascope/extension/internal/trigger"
	"github.com/lambdascope/lambdascope/internal/tcptest"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// rawRuntimeAPI is a Runtime API on a raw socket that serves events on
// /next, in order, and records every other call's bytes as they came,
// each call on a connection of its own (Connection: close).
type rawRuntimeAPI struct {
	ln     net.Listener
	events []runtimeEvent
	mu     sync.Mutex
	calls  []string
}

func startRawRuntimeAPI(t *testing.T, events []runtimeEvent) *rawRuntimeAPI {
	t.Helper()
	a := &rawRuntimeAPI{events: events}
	a.ln = tcptest.Serve(t, func(nc net.Conn) { a.serve(t, nc) })
	return a
}

func (a *rawRuntimeAPI) serve(t *testing.T, nc net.Conn) {
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	var raw bytes.Buffer
	// Room for a trailer section of any size the proxy passes on
	// (net/http's default reader refuses one over 4 KiB).
	req, err := http.ReadRequest(bufio.NewReaderSize(io.TeeReader(nc, &raw), 2<<20))
	if err != nil {
		t.Errorf("the platform could not read a call: %v", err)
		return
	}
	if _, err := io.Copy(io.Discard, req.Body); err != nil {
		t.Errorf("the platform could not read the body of %s: %v", req.URL.Path, err)
	}
	if req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/invocation/next") {
		a.mu.Lock()
		ev := a.events[0]
		a.events = a.events[1:]
		a.mu.Unlock()
		_, _ = fmt.Fprintf(nc, "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: %s\r\nLambda-Runtime-Deadline-Ms: %d\r\n"+
			"Content-Length: %d\r\nConnection: close\r\n\r\n%s", ev.id, time.Now().Add(time.Minute).UnixMilli(), len(ev.body), ev.body)
		return
	}
	a.mu.Lock()
	a.calls = append(a.calls, raw.String())
	a.mu.Unlock()
	_, _ = io.WriteString(nc, "HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\nConnection: close\r\n\r\n{\"status\":\"OK\"}\n")
}

// TestErrorBodiesTooLargeThroughTheProxy: streamed responses that failed
// with error-body trailers of 500 KiB, and an /error whose body is over
// 1 MiB, pass through the Runtime API proxy to the platform byte for
// byte. Of the trailers only the beginning is read: the record of the one
// whose message comes before its stack trace has its type and message;
// that of the one whose message is longer than what is read has no
// message, nor has the /error's, which takes the header's type; both are
// counted and logged, never left out silently.
func TestErrorBodiesTooLargeThroughTheProxy(t *testing.T) {
	const streamedID, errorID, longID = "0f3c2a10-0000-4000-8000-000000000001", "0f3c2a10-0000-4000-8000-000000000002",
		"0f3c2a10-0000-4000-8000-000000000004"
	event := sample(t, "sqs-event.json")
	api := startRawRuntimeAPI(t, []runtimeEvent{{streamedID, event}, {errorID, event}, {longID, event}})

	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	buf := buffer.New(8<<20, 8<<20, log)
	tracker := invocation.New(buf, &resourcepb.Resource{}, log)
	ready := make(chan struct{})
	close(ready)
	o := newEventObserver(ready, trigger.DefaultPrecedence, func() (*buffer.Buffer, *invocation.Tracker, *resourcepb.Resource) {
		return buf, tracker, &resourcepb.Resource{}
	}, log)
	px, err := rtproxy.New(api.ln.Addr().String(), o, log)
	if err != nil {
		t.Fatal(err)
	}
	// As the agent sets it up (startProxy).
	px.SetCaptureLimit(trigger.MaxDecode + 1)
	px.SetSniffLimit(trigger.SniffLen)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	px.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = px.Shutdown(ctx)
	})
	addr := ln.Addr().String()

	stack := strings.Repeat("at handler (/var/task/index.mjs:3:25)\\n", 10000)
	errorBody := base64.StdEncoding.EncodeToString([]byte(`{"errorMessage":"stream broke","errorType":"StreamError","stackTrace":"` + stack + `"}`))
	longBody := base64.StdEncoding.EncodeToString([]byte(`{"errorType":"StreamError","errorMessage":"` + stack + `"}`))
	if len(errorBody) <= rtproxy.MaxErrorBodyKept || len(longBody) <= rtproxy.MaxErrorBodyKept {
		t.Fatalf("error-body trailers of %d and %d bytes, want them over %d", len(errorBody), len(longBody), rtproxy.MaxErrorBodyKept)
	}
	streamed := func(id, body string) string {
		return "POST /2018-06-01/runtime/invocation/" + id + "/response HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n" +
			"Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n" +
			"Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\nConnection: close\r\n\r\n" +
			"b\r\n{\"partial\":\r\n0\r\nLambda-Runtime-Function-Error-Type: Function.StreamFailed\r\n" +
			"Lambda-Runtime-Function-Error-Body: " + body + "\r\n\r\n"
	}
	bigBody := `{"errorMessage":"boom","errorType":"Big","stackTrace":"` + strings.Repeat("x", trigger.MaxDecode/2*3) + `"}`
	answers := map[string]string{
		streamedID: streamed(streamedID, errorBody),
		longID:     streamed(longID, longBody),
		errorID: "POST /2018-06-01/runtime/invocation/" + errorID + "/error HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n" +
			"Lambda-Runtime-Function-Error-Type: Runtime.HandlerError\r\nContent-Type: application/json\r\n" +
			fmt.Sprintf("Content-Length: %d\r\nConnection: close\r\n\r\n", len(bigBody)) + bigBody,
	}
	ids := []string{streamedID, errorID, longID}
	for _, id := range ids {
		if got := tcptest.Call(t, addr, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nConnection: close\r\n\r\n"); !strings.Contains(got, id) {
			t.Fatalf("next: %.200q, want the event of %s", got, id)
		}
		if got := tcptest.Call(t, addr, answers[id]); !strings.HasPrefix(got, "HTTP/1.1 202 ") {
			t.Fatalf("answer of %s: %.200q, want 202", id, got)
		}
		select {
		case <-o.endedChan(id):
		case <-time.After(20 * time.Second):
			t.Fatalf("the answer of %s was not observed", id)
		}
	}

	// The platform got each answer as the runtime sent it.
	api.mu.Lock()
	calls := api.calls
	api.mu.Unlock()
	if len(calls) != len(ids) {
		t.Fatalf("the platform got %d answers, want %d", len(calls), len(ids))
	}
	for i, id := range ids {
		if calls[i] != answers[id] {
			t.Errorf("the platform got %d bytes of the answer of %s, want the %d sent, unchanged", len(calls[i]), id, len(answers[id]))
		}
	}

	if n := o.errorBodiesTooLarge.Load(); n != 2 {
		t.Errorf("error bodies too large = %d, want 2", n)
	}
	out := logs.String()
	for _, what := range []string{`what="/error body"`, `what="Lambda-Runtime-Function-Error-Body trailer"`} {
		if !strings.Contains(out, "body too large to read") || !strings.Contains(out, what) {
			t.Errorf("no log line of an error body too large to read, %s:\n%s", what, out)
		}
	}

	var evs []telemetry.Event
	for _, id := range ids {
		evs = append(evs, telemetry.Event{Time: time.Now(), Type: telemetry.TypeReport, Kind: telemetry.KindPlatform,
			Platform: &telemetry.PlatformRecord{RequestID: id, Status: "error", ErrorType: "Runtime.Unknown"}})
	}
	tracker.HandleTelemetry(evs)
	recs := map[string]string{}
	for batch := buf.Take(8 << 20); batch != nil; batch = buf.Take(8 << 20) {
		for _, inv := range batch.Message().GetInvocations() {
			recs[inv.GetRequestId()] = fmt.Sprintf("type %q, message %q", inv.GetFunctionErrorType(), inv.GetErrorMessage())
		}
	}
	want := map[string]string{
		streamedID: `type "StreamError", message "stream broke"`,
		errorID:    `type "Runtime.HandlerError", message ""`,
		longID:     `type "StreamError", message ""`,
	}
	for id, w := range want {
		if recs[id] != w {
			t.Errorf("record of %s: %s, want %s", id, recs[id], w)
		}
	}
}

// TestErrorBodiesTooLargeAreReported: the errors whose body was too large
// to read are counted in the shutdown line and shipped with the
// extension's metrics, beside error_texts_cut; the record still has the
// header's type.
func TestErrorBodiesTooLargeAreReported(t *testing.T) {
	collector := collectortest.Start(t)
	f := &fakeLambda{refuseTelemetry: true}
	const id = "0f3c2a10-0000-4000-8000-000000000003"
	f.runtimeEvents = []runtimeEvent{{id, sample(t, "sqs-event.json")}}
	f.script = func(n int) (extapi.Event, []string) {
		if n == 0 {
			return extapi.Event{EventType: extapi.Invoke, RequestID: id, DeadlineMs: time.Now().Add(10 * time.Second).UnixMilli()}, nil
		}
		return extapi.Event{EventType: extapi.Shutdown, ShutdownReason: "spindown", DeadlineMs: time.Now().Add(2 * time.Second).UnixMilli()}, nil
	}
	var announced string
	f.runtime = func(n int) {
		if n != 0 {
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
		body := `{"errorMessage":"boom","errorType":"Big","stackTrace":"` + strings.Repeat("x", trigger.MaxDecode) + `"}`
		req, _ := http.NewRequest(http.MethodPost, proxy+id+"/error", strings.NewReader(body))
		req.Header.Set("Lambda-Runtime-Function-Error-Type", "Runtime.HandlerError")
		if resp, err = f.client.Do(req); err != nil {
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
	var rec *ingestv1.Invocation
	for _, req := range collector.Accepted() {
		for _, inv := range req.GetInvocations() {
			if inv.GetRequestId() == id {
				rec = inv
			}
		}
	}
	if rec.GetFunctionErrorType() != "Runtime.HandlerError" || rec.GetErrorMessage() != "" || rec.GetStatus() != "error" {
		t.Errorf("record = %v, want status error, the header's type and no message\n%s", rec, out)
	}
	if !strings.Contains(out, "error_bodies_too_large=1") {
		t.Errorf("the shutdown log does not count the error body too large to read:\n%s", out)
	}
	want := map[string]int64{selfmetrics.ErrorBodiesTooLarge: 1, selfmetrics.ErrorTextsCut: 0}
	if got := lastSelfMetrics(collector.Accepted()); !maps.Equal(filterKeys(got, want), want) {
		t.Errorf("the extension's metrics shipped %v, want %v", filterKeys(got, want), want)
	}
}
