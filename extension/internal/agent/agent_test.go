package agent

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/extension"
	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/collectortest"
	"github.com/lambdascope/lambdascope/extension/internal/config"
	"github.com/lambdascope/lambdascope/extension/internal/extapi"
	"github.com/lambdascope/lambdascope/extension/internal/handoff"
	"github.com/lambdascope/lambdascope/extension/internal/invocation"
	"github.com/lambdascope/lambdascope/extension/internal/launch"
	"github.com/lambdascope/lambdascope/extension/internal/otlpreceiver"
	"github.com/lambdascope/lambdascope/extension/internal/selfmetrics"
	"github.com/lambdascope/lambdascope/internal/freeport"
	"github.com/lambdascope/lambdascope/internal/testload"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeLambda plays the Extensions API and pushes telemetry like Lambda
// does: platform.start, logs and runtimeDone during an invocation, the
// report after the extension asked for the next event.
type fakeLambda struct {
	t      *testing.T
	client *http.Client
	// script returns the n-th event (0-based) and the telemetry to push
	// before and after answering.
	script func(n int) (ev extapi.Event, after []string)

	// runtime, when set, plays the function's run after the n-th event is
	// answered, pushing telemetry itself; the next event is answered once
	// it returns.
	runtime func(n int)

	// runtimeEvents are served, in order, on the Runtime API's /next.
	runtimeEvents []runtimeEvent

	// beforeFirstNext is pushed, once subscribed, before the first
	// /event/next is answered.
	beforeFirstNext []string
	// beforeNext, when set, runs before the n-th /event/next is answered
	// (after the telemetry of the previous event went out): what Lambda
	// pushes when it wakes the environment for the event.
	beforeNext func(n int)
	// refuseTelemetry answers the subscription with an error.
	refuseTelemetry bool
	// subscribeStatus and subscribeBody, when set, answer the
	// subscription (AWS's emulator: 202 and Telemetry.NotSupported).
	subscribeStatus int
	subscribeBody   string

	// agent is the agent under test, once made.
	agent atomic.Pointer[Agent]

	mu         sync.Mutex
	uri        string
	registered []string
	schema     string
	timeoutMs  int // the subscription's buffering timeoutMs
	initErrors []string
	nexts      int
	nextAt     []time.Time // when each /event/next arrived
	log        []string    // ordered record of what happened
	pushErrs   []error
	pushGroup  sync.WaitGroup
}

// runtimeEvent is an event of the fake Runtime API.
type runtimeEvent struct{ id, body string }

func (f *fakeLambda) note(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, s)
}

func (f *fakeLambda) push(events ...string) {
	f.mu.Lock()
	uri := f.uri
	f.mu.Unlock()
	if uri == "" {
		return
	}
	body := "[" + strings.Join(events, ",") + "]"
	resp, err := f.client.Post(uri, "application/json", strings.NewReader(body))
	if err == nil {
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("push status %d", resp.StatusCode)
		}
	}
	if err != nil {
		f.mu.Lock()
		f.pushErrs = append(f.pushErrs, err)
		f.mu.Unlock()
	}
}

func (f *fakeLambda) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	switch r.Method + " " + r.URL.Path {
	case "POST /2020-01-01/extension/register":
		if r.Header.Get("Lambda-Extension-Name") != ExtensionName {
			http.Error(w, "bad name", http.StatusForbidden)
			return
		}
		var reg struct{ Events []string }
		_ = json.Unmarshal(body, &reg)
		f.mu.Lock()
		f.registered = reg.Events
		f.mu.Unlock()
		w.Header().Set("Lambda-Extension-Identifier", "ext-1")
		_, _ = io.WriteString(w, `{"functionName":"checkout","functionVersion":"$LATEST","handler":"h","accountId":"123456789012"}`)
	case "PUT /2022-07-01/telemetry":
		if f.subscribeBody != "" {
			w.WriteHeader(f.subscribeStatus)
			_, _ = io.WriteString(w, f.subscribeBody)
			return
		}
		if f.refuseTelemetry {
			http.Error(w, `{"errorType":"Telemetry.Unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		var sub struct {
			SchemaVersion string
			Buffering     struct{ TimeoutMs int }
			Destination   struct{ URI string }
		}
		_ = json.Unmarshal(body, &sub)
		f.mu.Lock()
		f.uri = sub.Destination.URI
		f.schema = sub.SchemaVersion
		f.timeoutMs = sub.Buffering.TimeoutMs
		f.mu.Unlock()
	case "POST /2020-01-01/extension/init/error":
		f.mu.Lock()
		f.initErrors = append(f.initErrors, r.Header.Get("Lambda-Extension-Function-Error-Type")+": "+string(body))
		f.mu.Unlock()
		_, _ = io.WriteString(w, `{"status":"OK"}`)
		_, _ = io.WriteString(w, "OK")
	case "GET /2018-06-01/runtime/invocation/next":
		f.mu.Lock()
		ev := f.runtimeEvents[0]
		f.runtimeEvents = f.runtimeEvents[1:]
		f.mu.Unlock()
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", ev.id)
		w.Header().Set("Lambda-Runtime-Trace-Id", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1")
		_, _ = io.WriteString(w, ev.body)
	case "POST /2018-06-01/runtime/invocation/r1/response":
		f.note("runtime response " + string(body))
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"status":"OK"}`)
	case "POST /2018-06-01/runtime/invocation/" + strings.TrimPrefix(strings.TrimSuffix(r.URL.Path, "/response"), "/2018-06-01/runtime/invocation/") + "/response":
		f.note("runtime response " + string(body))
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"status":"OK"}`)
	case "GET /2020-01-01/extension/event/next":
		f.mu.Lock()
		n := f.nexts
		f.nexts++
		f.nextAt = append(f.nextAt, time.Now())
		f.mu.Unlock()
		f.note(fmt.Sprintf("next %d", n))
		if n == 0 && len(f.beforeFirstNext) > 0 {
			f.push(f.beforeFirstNext...)
		}
		// Like Lambda, the next event comes only after the invocation's
		// runtime finished and its telemetry went out.
		f.pushGroup.Wait()
		if f.beforeNext != nil {
			f.beforeNext(n)
		}
		ev, after := f.script(n)
		out, _ := json.Marshal(ev)
		_, _ = w.Write(out)
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		if f.runtime != nil {
			f.pushGroup.Add(1)
			go func() {
				defer f.pushGroup.Done()
				f.runtime(n)
			}()
		}
		if len(after) > 0 {
			f.pushGroup.Add(1)
			go func() {
				defer f.pushGroup.Done()
				// Lambda pushes while the function runs.
				time.Sleep(30 * time.Millisecond)
				f.note(fmt.Sprintf("pushing after next %d", n))
				f.push(after...)
			}()
		}
	default:
		http.NotFound(w, r)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const reqID = "8476a536-e9f4-11e8-9739-2dfe598c3fcd"

func invocationScript(shutdownAfter int) func(n int) (extapi.Event, []string) {
	return func(n int) (extapi.Event, []string) {
		deadline := time.Now().Add(3 * time.Second).UnixMilli()
		switch {
		case n == 0:
			return extapi.Event{EventType: extapi.Invoke, RequestID: reqID, DeadlineMs: deadline,
					Tracing: &extapi.Tracing{Type: "X-Amzn-Trace-Id", Value: "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}},
				[]string{
					`{"time":"2024-05-01T10:00:00.000Z","type":"platform.initReport","record":{"initializationType":"on-demand","phase":"init","metrics":{"durationMs":180.5}}}`,
					`{"time":"2024-05-01T10:00:00.200Z","type":"platform.start","record":{"requestId":"` + reqID + `","version":"$LATEST"}}`,
					`{"time":"2024-05-01T10:00:00.210Z","type":"function","record":"2024-05-01T10:00:00.210Z\t` + reqID + `\tINFO\tcharging card"}`,
					`{"time":"2024-05-01T10:00:00.300Z","type":"platform.runtimeDone","record":{"requestId":"` + reqID + `","status":"success","metrics":{"durationMs":100.2,"producedBytes":42}}}`,
				}
		case n == 1 && shutdownAfter > 1:
			// Next after the invocation: the report arrives now.
			return extapi.Event{EventType: extapi.Shutdown, ShutdownReason: "SPINDOWN", DeadlineMs: time.Now().Add(2 * time.Second).UnixMilli()},
				[]string{`{"time":"2024-05-01T10:00:00.310Z","type":"platform.report","record":{"requestId":"` + reqID + `","status":"success","metrics":{"durationMs":100.2,"billedDurationMs":101,"memorySizeMB":512,"maxMemoryUsedMB":77,"initDurationMs":180.5}}}`}
		default:
			return extapi.Event{EventType: extapi.Shutdown, ShutdownReason: "spindown", DeadlineMs: time.Now().Add(time.Second).UnixMilli()}, nil
		}
	}
}

func runAgent(t *testing.T, f *fakeLambda, mutate func(*Options)) (*syncBuffer, error) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.client = &http.Client{Transport: &http.Transport{}}
	t.Cleanup(f.client.CloseIdleConnections)
	f.t = t

	logs := &syncBuffer{}
	opts := DefaultOptions()
	opts.RuntimeAPI = strings.TrimPrefix(srv.URL, "http://")
	opts.ListenHost = "127.0.0.1"
	opts.Config.OTLPHTTPAddr = freeAddr(t)
	opts.Config.OTLPGRPCAddr = freeAddr(t)
	opts.Config.SpoolDir = filepath.Join(t.TempDir(), "spool")
	// The fake pushes an invocation's telemetry 30 ms after its event; a
	// busy test machine must not turn that into a late runtimeDone.
	// TestRuntimeDoneLostIsBounded sets the margin it tests.
	opts.RuntimeDoneMargin = 2 * time.Second
	opts.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tmp := t.TempDir()
	opts.Env = func(k string) (string, bool) {
		v, ok := map[string]string{
			"TMPDIR":                          tmp,
			"AWS_LAMBDA_FUNCTION_NAME":        "checkout",
			"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
			"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
			"AWS_REGION":                      "eu-west-1",
			"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
			"OTEL_SERVICE_NAME":               "ignored-here",
		}[k]
		return v, ok
	}
	if mutate != nil {
		mutate(&opts)
	}
	a, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.agent.Store(a)
	done := make(chan error, 1)
	go func() { done <- a.Run(t.Context()) }()
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("agent did not finish")
	}
	f.pushGroup.Wait()
	return logs, err
}

// launchFor does what the launcher does before it becomes the agent —
// bind, register, subscribe, send the first /event/next — and hands the
// result to o as the agent process would inherit it.
func launchFor(t *testing.T, o *Options) {
	t.Helper()
	tmp, _ := o.Env("TMPDIR")
	l, err := launch.Start(launch.Options{RuntimeAPI: o.RuntimeAPI, Name: ExtensionName, ListenHost: "127.0.0.1",
		OTLPHTTPAddr: o.Config.OTLPHTTPAddr, OTLPGRPCAddr: o.Config.OTLPGRPCAddr, Started: time.Now(),
		RuntimeProxy: o.Config.RuntimeProxy, AnnounceFile: filepath.Join(cmp.Or(tmp, os.TempDir()), extension.RuntimeAPIFile)})
	if err != nil {
		t.Fatalf("launch: %v", err)
	}
	// exec keeps the descriptors; in one process the launcher's files
	// close theirs, so the agent gets duplicates.
	st := l.State
	for _, fd := range []*int{&st.NextFD, &st.TelemetryFD, &st.OTLPHTTPFD, &st.OTLPGRPCFD} {
		if *fd == handoff.NoFD {
			t.Fatalf("launcher handed over no descriptor: %+v", l.State)
		}
		if *fd, err = syscall.Dup(*fd); err != nil {
			t.Fatal(err)
		}
	}
	// The pipe of the exports the launcher answered early, too.
	for _, fd := range []*int{&st.ProxyFD, &st.EarlyFD} {
		if *fd == handoff.NoFD {
			continue
		}
		if *fd, err = syscall.Dup(*fd); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	if o.Inherited, err = Inherit(st); err != nil {
		t.Fatalf("inherit: %v", err)
	}
}

func sendSpan(t *testing.T, addr string) { sendSpanAs(t, addr, "application/json") }

// sendSpanAs sends the function's SERVER span of reqID as OTLP/HTTP JSON
// or protobuf.
func sendSpanAs(t *testing.T, addr, contentType string) {
	t.Helper()
	body := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","kind":2,"name":"handler",
	  "attributes":[{"key":"faas.invocation_id","value":{"stringValue":"` + reqID + `"}}]}]}]}]}`
	if contentType == "application/x-protobuf" {
		msg := &coltracepb.ExportTraceServiceRequest{}
		if err := otlpreceiver.Decode([]byte(body), otlpreceiver.EncodingJSON, msg); err != nil {
			t.Errorf("decode span: %v", err)
			return
		}
		data, err := proto.Marshal(msg)
		if err != nil {
			t.Errorf("encode span: %v", err)
			return
		}
		body = string(data)
	}
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Post("http://"+addr+"/v1/traces", contentType, strings.NewReader(body))
	if err != nil {
		t.Errorf("send span: %v", err)
		return
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("send span: status %d", resp.StatusCode)
	}
}

func TestInvocationShippedEndToEnd(t *testing.T) {
	type run struct {
		mode        config.FlushMode
		contentType string
		// launched runs the agent as the launcher starts it: registered,
		// subscribed and on its first /event/next already.
		launched bool
	}
	runs := []run{
		{config.FlushAdaptive, "application/json", false}, {config.FlushEnd, "application/json", false}, {config.FlushPeriodic, "application/json", false},
		// Protobuf spans reach the collector still encoded.
		{config.FlushAdaptive, "application/x-protobuf", false}, {config.FlushEnd, "application/x-protobuf", false},
		{config.FlushAdaptive, "application/x-protobuf", true}, {config.FlushEnd, "application/json", true},
	}
	for _, r := range runs {
		mode := r.mode
		name := string(mode) + "/" + r.contentType
		if r.launched {
			name += "/launched"
		}
		t.Run(name, func(t *testing.T) {
			collector := collectortest.Start(t)
			f := &fakeLambda{}
			var otlpAddr string
			script := invocationScript(2)
			f.script = func(n int) (extapi.Event, []string) {
				if n == 0 {
					sendSpanAs(t, otlpAddr, r.contentType)
				}
				return script(n)
			}
			logs, err := runAgent(t, f, func(o *Options) {
				o.Config.Endpoint = collector.Addr
				o.Config.APIKey = "k"
				o.Config.Flush = mode
				otlpAddr = o.Config.OTLPHTTPAddr
				if r.launched {
					launchFor(t, o)
				}
			})
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, logs)
			}
			f.mu.Lock()
			order := strings.Join(f.log, ", ")
			pushErrs := f.pushErrs
			f.mu.Unlock()
			if len(pushErrs) > 0 {
				t.Errorf("telemetry pushes failed: %v", pushErrs)
			}
			// On the first invocation adaptive and end modes call
			// /event/next again only after runtimeDone; periodic never waits.
			wantOrder := "next 0, pushing after next 0, next 1"
			if mode == config.FlushPeriodic {
				wantOrder = "next 0, next 1"
			}
			if !strings.HasPrefix(order, wantOrder) {
				t.Errorf("order of events = %s, want it to start with %s", order, wantOrder)
			}

			var spans, logRecords int
			var inv, platform []string
			for _, req := range collector.Accepted() {
				if req.GetFunction().GetName() != "checkout" || req.GetFunction().GetAccountId() != "123456789012" || req.GetFunction().GetMemoryMb() != 512 {
					t.Errorf("identity = %v", req.GetFunction())
				}
				for _, rs := range req.GetResourceSpans() {
					for _, ss := range rs.GetScopeSpans() {
						if ss.GetScope().GetName() != invocation.ScopeName {
							spans += len(ss.GetSpans())
							continue
						}
						for _, sp := range ss.GetSpans() {
							platform = append(platform, sp.GetName())
							// The function's span is the root: platform
							// spans are its children in its trace.
							if sp.GetName() != invocation.SpanRuntimeOverhead &&
								(hex.EncodeToString(sp.GetTraceId()) != "0af7651916cd43dd8448eb211c80319c" ||
									hex.EncodeToString(sp.GetParentSpanId()) != "b7ad6b7169203331") {
								t.Errorf("platform span %s in trace %x under %x, want under the function's span", sp.GetName(), sp.GetTraceId(), sp.GetParentSpanId())
							}
						}
					}
				}
				for _, rl := range req.GetResourceLogs() {
					for _, sl := range rl.GetScopeLogs() {
						logRecords += len(sl.GetLogRecords())
					}
				}
				for _, i := range req.GetInvocations() {
					inv = append(inv, fmt.Sprintf("%s cold=%v init=%v billed=%d trace=%s produced=%d", i.GetRequestId(), i.GetColdStart(),
						i.GetInitDurationMs(), i.GetBilledDurationMs(), hex.EncodeToString(i.GetTraceId()), i.GetProducedBytes()))
				}
			}
			want := reqID + " cold=true init=180.5 billed=101 trace=0af7651916cd43dd8448eb211c80319c produced=42"
			if len(inv) != 1 || inv[0] != want {
				t.Errorf("invocations = %q, want [%q]", inv, want)
			}
			slices.Sort(platform)
			if want := []string{invocation.SpanInit, invocation.SpanInvoke}; !slices.Equal(platform, want) {
				t.Errorf("platform spans %v, want %v", platform, want)
			}
			if spans != 1 || logRecords != 1 {
				t.Errorf("shipped %d spans and %d log records, want 1 and 1", spans, logRecords)
			}
			if !strings.Contains(logs.String(), "extension shut down") || strings.Contains(logs.String(), "could not send") {
				t.Errorf("shutdown log:\n%s", logs)
			}
			if took := strings.Contains(logs.String(), "the launcher called /event/next"); took != r.launched {
				t.Errorf("took over from the launcher: %v, want %v:\n%s", took, r.launched, logs)
			}
			for _, c := range collector.Calls() {
				if c.Compression != "zstd" || strings.Join(c.Metadata.Get("authorization"), "") != "Bearer k" {
					t.Errorf("call compression %q authorization %q", c.Compression, c.Metadata.Get("authorization"))
				}
			}
		})
	}
}

func TestUnreachableCollectorReportedAtShutdown(t *testing.T) {
	collector := collectortest.Start(t)
	fails := make([]codes.Code, 10000)
	for i := range fails {
		fails[i] = codes.Unavailable
	}
	collector.Script(fails...)
	f := &fakeLambda{script: invocationScript(2)}
	logs, err := runAgent(t, f, func(o *Options) {
		o.Config.Endpoint = collector.Addr
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	out := logs.String()
	if !strings.Contains(out, "could not send to the collector before shutdown: spooled invocations=1 spans=2 logs=1") {
		t.Errorf("shutdown did not say what was not sent:\n%s", out)
	}
}

func TestNoEndpointStillServesLambda(t *testing.T) {
	f := &fakeLambda{script: invocationScript(2)}
	logs, err := runAgent(t, f, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	out := logs.String()
	if strings.Count(out, "LAMBDASCOPE_ENDPOINT is not set") != 1 {
		t.Errorf("want one line about the missing endpoint:\n%s", out)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.nexts != 2 {
		t.Errorf("%d calls to /event/next, want 2", f.nexts)
	}
}

// TestRuntimeProxyAnnounced: while the agent runs, its Runtime API proxy is
// announced in $TMPDIR for the exec wrapper and relays the runtime's calls
// to Lambda; the announcement is gone once the agent has stopped, and with
// LAMBDASCOPE_RUNTIME_PROXY=false there is none. Started by the launcher,
// the agent serves the port the launcher bound and announced.
func TestRuntimeProxyAnnounced(t *testing.T) {
	for _, tc := range []struct{ on, launched bool }{{true, false}, {false, false}, {true, true}, {false, true}} {
		on := tc.on
		t.Run(fmt.Sprintf("on=%v/launched=%v", on, tc.launched), func(t *testing.T) {
			f := &fakeLambda{script: invocationScript(2)}
			var file, launcherAddr string
			var announced []string
			f.runtime = func(n int) {
				if n != 0 {
					return
				}
				b, err := os.ReadFile(file)
				if err != nil {
					announced = []string{err.Error()}
					return
				}
				announced = strings.Fields(string(b))
				if len(announced) != 2 {
					return
				}
				resp, err := f.client.Post("http://"+announced[0]+"/2018-06-01/runtime/invocation/r1/response", "application/json", strings.NewReader(`{"ok":1}`))
				if err != nil {
					t.Errorf("response through the proxy: %v", err)
					return
				}
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					t.Errorf("response through the proxy: status %d", resp.StatusCode)
				}
			}
			logs, err := runAgent(t, f, func(o *Options) {
				o.Config.RuntimeProxy = on
				dir, _ := o.Env("TMPDIR")
				file = filepath.Join(dir, "lambdascope-runtime-api")
				if tc.launched {
					launchFor(t, o)
					b, err := os.ReadFile(file)
					if on != (err == nil) {
						t.Fatalf("launcher's announcement: %q %v; want one: %v", b, err, on)
					}
					launcherAddr, _, _ = strings.Cut(string(b), " ")
				}
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !on {
				if len(announced) == 0 || !strings.Contains(announced[0], "no such file") {
					t.Errorf("proxy off, but announced %q", announced)
				}
				return
			}
			if len(announced) != 2 || announced[1] != strconv.Itoa(os.Getpid()) || !strings.HasPrefix(announced[0], "127.0.0.1:") {
				t.Fatalf("announced %q, want 127.0.0.1:<port> %d", announced, os.Getpid())
			}
			if tc.launched && announced[0] != launcherAddr {
				t.Errorf("the runtime found the proxy at %s; want the port the launcher bound, %s", announced[0], launcherAddr)
			}
			if _, err := os.Stat(file); !os.IsNotExist(err) {
				t.Errorf("announcement left behind after the agent stopped: %v", err)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if !slices.Contains(f.log, `runtime response {"ok":1}`) {
				t.Errorf("Lambda did not get the runtime's response through the proxy: %q", f.log)
			}
			if !strings.Contains(logs.String(), "runtime_api_calls=1") {
				t.Errorf("shutdown line does not count the call:\n%s", logs.String())
			}
		})
	}
}

func TestIdentityAndResource(t *testing.T) {
	env := map[string]string{
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
		"AWS_REGION":                      "us-east-1",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/checkout",
		"AWS_LAMBDA_LOG_STREAM_NAME":      "2024/05/01/[$LATEST]abc",
		"AWS_EXECUTION_ENV":               "AWS_Lambda_provided.al2023",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		name        string
		cfg         config.Config
		wantService string
	}{
		{"service from function name", config.DefaultConfig(), "checkout"},
		{"service from OTEL_SERVICE_NAME", config.Config{ServiceName: "payments", ResourceAttributes: []config.Attribute{{Key: "team", Value: "core"}}}, "payments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := Identity(lookup, extapi.Registration{FunctionName: "checkout", FunctionVersion: "3", AccountID: "111122223333"}, tt.cfg, "1.2.3")
			if id.GetName() != "checkout" || id.GetVersion() != "3" || id.GetMemoryMb() != 1024 || id.GetAccountId() != "111122223333" ||
				id.GetServiceName() != tt.wantService || id.GetRuntime() != "AWS_Lambda_provided.al2023" || id.GetExtensionVersion() != "1.2.3" {
				t.Errorf("identity = %v", id)
			}
			attrs := map[string]string{}
			for _, kv := range Resource(id, tt.cfg).GetAttributes() {
				attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
			}
			if attrs["service.name"] != tt.wantService || attrs["cloud.platform"] != "aws_lambda" || attrs["faas.name"] != "checkout" {
				t.Errorf("resource = %v", attrs)
			}
		})
	}
	for goarch, want := range map[string]string{"amd64": "x86_64", "arm64": "arm64"} {
		if got := Architecture(goarch); got != want {
			t.Errorf("Architecture(%s) = %s, want %s", goarch, got, want)
		}
	}
}

func TestFlushAtEnd(t *testing.T) {
	tests := []struct {
		name    string
		mode    config.FlushMode
		invokes int
		avgGap  time.Duration
		fill    bool
		want    bool
	}{
		{"end always", config.FlushEnd, 50, time.Millisecond, false, true},
		{"periodic never", config.FlushPeriodic, 1, time.Hour, true, false},
		{"adaptive first invocation", config.FlushAdaptive, 1, 0, false, true},
		{"adaptive rare invocations", config.FlushAdaptive, 5, 10 * time.Second, false, true},
		{"adaptive busy, empty buffer", config.FlushAdaptive, 5, 10 * time.Millisecond, false, false},
		{"adaptive busy, buffer filling up", config.FlushAdaptive, 5, 10 * time.Millisecond, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.DefaultConfig()
			cfg.Flush = tt.mode
			cfg.BufferBytes = 64 << 10
			a := &Agent{opts: Options{Config: cfg}, invokes: tt.invokes, avgGap: tt.avgGap, buf: buffer.New(cfg.BufferBytes, cfg.BufferBytes, nil)}
			if tt.fill {
				for a.buf.Bytes() <= cfg.BufferBytes/2 {
					a.buf.AddInvocation(&ingestv1.Invocation{RequestId: reqID, ErrorType: strings.Repeat("x", 1000)})
				}
			}
			if got := a.flushAtEnd(); got != tt.want {
				t.Errorf("flushAtEnd = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStrictConfigFailsInit(t *testing.T) {
	tests := []struct {
		name       string
		strict     bool
		wantErr    bool
		wantReport bool
	}{
		{"strict", true, true, true},
		{"degraded", false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeLambda{script: invocationScript(1)}
			_, err := runAgent(t, f, func(o *Options) {
				o.Config.Strict = tt.strict
				o.ConfigError = errors.New(`LAMBDASCOPE_FLUSH="sometimes": unknown mode`)
			})
			if (err != nil) != tt.wantErr {
				t.Fatalf("Run = %v, want error %v", err, tt.wantErr)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if got := len(f.initErrors) == 1; got != tt.wantReport {
				t.Fatalf("init errors %q, want reported %v", f.initErrors, tt.wantReport)
			}
			if tt.wantReport {
				if !strings.Contains(f.initErrors[0], "Extension.ConfigInvalid") || !strings.Contains(f.initErrors[0], "LAMBDASCOPE_FLUSH") {
					t.Errorf("init error %q does not name the type and the variable", f.initErrors[0])
				}
				if f.nexts != 0 {
					t.Errorf("%d calls to /event/next after a strict config failure", f.nexts)
				}
			}
		})
	}
}

func TestManagedInstancesFromTelemetryAlone(t *testing.T) {
	collector := collectortest.Start(t)
	ids := []string{"11111111-0000-4000-8000-000000000001", "11111111-0000-4000-8000-000000000002"}
	var pushed []string
	for _, id := range ids { // two invocations overlapping in one environment
		pushed = append(pushed, `{"time":"2025-03-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"`+id+`","version":"$LATEST"}}`)
	}
	for _, id := range ids {
		pushed = append(pushed,
			`{"time":"2025-03-01T10:00:00.050Z","type":"platform.runtimeDone","record":{"requestId":"`+id+`","status":"success","metrics":{"durationMs":50}}}`,
			`{"time":"2025-03-01T10:00:00.060Z","type":"platform.report","record":{"requestId":"`+id+`","status":"success","metrics":{"durationMs":50,"billedDurationMs":50,"memorySizeMB":2048,"maxMemoryUsedMB":90}}}`)
	}
	shutdown := func(int) (extapi.Event, []string) {
		return extapi.Event{EventType: extapi.Shutdown, ShutdownReason: "Spindown", DeadlineMs: time.Now().Add(2 * time.Second).UnixMilli()}, nil
	}
	f := &fakeLambda{script: shutdown, beforeFirstNext: pushed}
	_, err := runAgent(t, f, func(o *Options) {
		o.Config.Endpoint = collector.Addr
		env := o.Env
		o.Env = func(k string) (string, bool) {
			if k == "AWS_LAMBDA_INITIALIZATION_TYPE" {
				return "lambda-managed-instances", true
			}
			return env(k)
		}
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	f.mu.Lock()
	registered, schema := f.registered, f.schema
	f.mu.Unlock()
	if strings.Join(registered, ",") != "SHUTDOWN" || schema != extapi.SchemaV2 {
		t.Errorf("registered %v with schema %q, want only SHUTDOWN and %s", registered, schema, extapi.SchemaV2)
	}
	var got []string
	selfMetrics := false
	for _, req := range collector.Accepted() {
		for _, inv := range req.GetInvocations() {
			got = append(got, inv.GetRequestId())
		}
		for _, rm := range req.GetResourceMetrics() {
			for _, sm := range rm.GetScopeMetrics() {
				selfMetrics = selfMetrics || sm.GetScope().GetName() == "lambdascope.extension"
			}
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, ids) {
		t.Errorf("invocations shipped %v, want %v", got, ids)
	}
	if !selfMetrics {
		t.Error("the extension's own metrics were not shipped at shutdown")
	}
}

// TestSubscriptionBufferingWindow: on Managed Instances, where nothing
// waits on telemetry per invocation, the subscription asks for batches
// within 1000 ms (a batch falling due before the last one is answered
// hangs AWS's emulator); otherwise within 25 ms, which bounds the wait for
// runtimeDone.
func TestSubscriptionBufferingWindow(t *testing.T) {
	for _, tc := range []struct {
		name    string
		managed bool
		want    int
	}{{"classic", false, 25}, {"managed instances", true, 1000}} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeLambda{script: func(int) (extapi.Event, []string) {
				return extapi.Event{EventType: extapi.Shutdown, ShutdownReason: "spindown", DeadlineMs: time.Now().Add(2 * time.Second).UnixMilli()}, nil
			}}
			_, err := runAgent(t, f, func(o *Options) {
				env := o.Env
				o.Env = func(k string) (string, bool) {
					if k == "AWS_LAMBDA_INITIALIZATION_TYPE" && tc.managed {
						return "lambda-managed-instances", true
					}
					return env(k)
				}
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.timeoutMs != tc.want {
				t.Errorf("subscribed with timeoutMs %d, want %d", f.timeoutMs, tc.want)
			}
		})
	}
}

func TestTelemetryRefusedStillShipsOTLP(t *testing.T) {
	for _, launched := range []bool{false, true} {
		t.Run(map[bool]string{false: "direct", true: "launched"}[launched], func(t *testing.T) {
			collector := collectortest.Start(t)
			f := &fakeLambda{refuseTelemetry: true}
			var otlpAddr string
			script := invocationScript(1)
			f.script = func(n int) (extapi.Event, []string) {
				if n == 0 {
					sendSpan(t, otlpAddr)
				}
				ev, _ := script(n)
				return ev, nil
			}
			logs, err := runAgent(t, f, func(o *Options) {
				o.Config.Endpoint = collector.Addr
				otlpAddr = o.Config.OTLPHTTPAddr
				if launched {
					launchFor(t, o)
				}
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if n := strings.Count(logs.String(), "telemetry subscription failed"); n != 1 || !strings.Contains(logs.String(), "Telemetry.Unavailable") {
				t.Errorf("%d log lines about the refused subscription, want 1 with the API's answer:\n%s", n, logs)
			}
			var spans, selfPoints int
			for _, req := range collector.Accepted() {
				for _, rs := range req.GetResourceSpans() {
					spans += ingestv1.SpansIn(rs)
				}
				for _, rm := range req.GetResourceMetrics() {
					selfPoints += ingestv1.PointsIn(rm)
				}
			}
			if spans != 1 || selfPoints == 0 {
				t.Errorf("shipped %d spans and %d metric points, want the function span and the extension's counters", spans, selfPoints)
			}
		})
	}
}

func TestSpooledAtShutdownReplayedOnNextStart(t *testing.T) {
	spoolDir := filepath.Join(t.TempDir(), "spool")
	down := collectortest.Start(t)
	fails := make([]codes.Code, 10000)
	for i := range fails {
		fails[i] = codes.Unavailable
	}
	down.Script(fails...)
	// The function's span arrives as protobuf and is spooled still encoded.
	var otlpAddr string
	script := invocationScript(2)
	f := &fakeLambda{script: func(n int) (extapi.Event, []string) {
		if n == 0 {
			sendSpanAs(t, otlpAddr, "application/x-protobuf")
		}
		return script(n)
	}}
	if _, err := runAgent(t, f, func(o *Options) {
		o.Config.Endpoint = down.Addr
		o.Config.SpoolDir = spoolDir
		otlpAddr = o.Config.OTLPHTTPAddr
	}); err != nil {
		t.Fatalf("first run: %v", err)
	}
	spooledIDs := map[string]bool{}
	for _, c := range down.Calls() {
		spooledIDs[hex.EncodeToString(c.Request.GetBatchId())] = true
	}

	// The next environment start finds the collector back.
	up := collectortest.Start(t)
	next := &fakeLambda{script: func(int) (extapi.Event, []string) {
		time.Sleep(200 * time.Millisecond) // let the background replay run
		return extapi.Event{EventType: extapi.Shutdown, ShutdownReason: "spindown", DeadlineMs: time.Now().Add(2 * time.Second).UnixMilli()}, nil
	}}
	logs, err := runAgent(t, next, func(o *Options) {
		o.Config.Endpoint = up.Addr
		o.Config.SpoolDir = spoolDir
	})
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	var invocations []string
	var fnSpans []string
	replayedKnownID := false
	for _, req := range up.Accepted() {
		for _, inv := range req.GetInvocations() {
			invocations = append(invocations, inv.GetRequestId())
		}
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				for _, sp := range ss.GetSpans() {
					if ss.GetScope().GetName() != invocation.ScopeName {
						fnSpans = append(fnSpans, sp.GetName()+" "+hex.EncodeToString(sp.GetTraceId()))
					}
				}
			}
		}
		replayedKnownID = replayedKnownID || spooledIDs[hex.EncodeToString(req.GetBatchId())]
	}
	if !slices.Equal(invocations, []string{reqID}) {
		t.Errorf("invocations replayed %v, want [%s]", invocations, reqID)
	}
	if want := []string{"handler 0af7651916cd43dd8448eb211c80319c"}; !slices.Equal(fnSpans, want) {
		t.Errorf("function spans replayed %v, want %v", fnSpans, want)
	}
	if !replayedKnownID {
		t.Error("no replayed batch kept the batch ID it was first sent with")
	}
	if strings.Contains(logs.String(), "could not send") {
		t.Errorf("second run reports unsent data:\n%s", logs)
	}
}

// TestManagedInstancesShipSelfMetricsPeriodically: a Managed Instances
// environment gets no INVOKE events and lives long, so the extension's own
// counters go out on a timer, not only at SHUTDOWN.
func TestManagedInstancesShipSelfMetricsPeriodically(t *testing.T) {
	collector := collectortest.Start(t)
	selfBatches := func() int {
		n := 0
		for _, req := range collector.Accepted() {
			for _, rm := range req.GetResourceMetrics() {
				for _, sm := range rm.GetScopeMetrics() {
					if sm.GetScope().GetName() == "lambdascope.extension" {
						n++
					}
				}
			}
		}
		return n
	}
	var beforeShutdown int
	f := &fakeLambda{script: func(int) (extapi.Event, []string) {
		// The environment is busy for a while before SHUTDOWN; the
		// extension sits on /event/next all that time.
		deadline := time.Now().Add(10 * time.Second)
		for selfBatches() < 2 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		beforeShutdown = selfBatches()
		return extapi.Event{EventType: extapi.Shutdown, ShutdownReason: "spindown", DeadlineMs: time.Now().Add(2 * time.Second).UnixMilli()}, nil
	}}
	_, err := runAgent(t, f, func(o *Options) {
		o.Config.Endpoint = collector.Addr
		o.SelfMetricsInterval = 50 * time.Millisecond
		env := o.Env
		o.Env = func(k string) (string, bool) {
			if k == "AWS_LAMBDA_INITIALIZATION_TYPE" {
				return "lambda-managed-instances", true
			}
			return env(k)
		}
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if beforeShutdown < 2 {
		t.Errorf("%d batches of the extension's metrics shipped before SHUTDOWN, want at least 2", beforeShutdown)
	}
	if after := selfBatches(); after <= beforeShutdown {
		t.Errorf("no metrics shipped at SHUTDOWN (%d before, %d after)", beforeShutdown, after)
	}
}

// TestSampleRate ships or leaves out the invocation's trace — the
// function's span and the platform spans, which join it — by its trace
// ID: 0af7651916cd43dd8448eb211c80319c falls between 0.5 and 0.6. The
// invocation record and the function's log line are shipped either way,
// and what was left out is counted.
func TestSampleRate(t *testing.T) {
	for _, tt := range []struct {
		rate           float64
		spans, sampled int
	}{{0.5, 0, 3}, {0.6, 3, 0}} {
		t.Run(strconv.FormatFloat(tt.rate, 'f', -1, 64), func(t *testing.T) {
			collector := collectortest.Start(t)
			f := &fakeLambda{}
			var otlpAddr string
			script := invocationScript(2)
			f.script = func(n int) (extapi.Event, []string) {
				if n == 0 {
					sendSpan(t, otlpAddr)
				}
				return script(n)
			}
			logs, err := runAgent(t, f, func(o *Options) {
				o.Config.Endpoint = collector.Addr
				o.Config.SampleRate = tt.rate
				otlpAddr = o.Config.OTLPHTTPAddr
			})
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, logs)
			}
			var spans, records, invocations int
			var sampledOut int64 = -1
			for _, req := range collector.Accepted() {
				for _, rs := range req.GetResourceSpans() {
					spans += ingestv1.SpansIn(rs)
				}
				for _, rl := range req.GetResourceLogs() {
					records += ingestv1.LogsIn(rl)
				}
				invocations += len(req.GetInvocations())
				for _, rm := range req.GetResourceMetrics() {
					for _, sm := range rm.GetScopeMetrics() {
						for _, m := range sm.GetMetrics() {
							if m.GetName() != selfmetrics.SampledOut {
								continue
							}
							for _, p := range m.GetSum().GetDataPoints() {
								if p.GetAttributes()[0].GetValue().GetStringValue() == "spans" {
									sampledOut = max(sampledOut, p.GetAsInt())
								}
							}
						}
					}
				}
			}
			if spans != tt.spans || invocations != 1 || records != 1 {
				t.Errorf("shipped %d spans, %d invocation records, %d log records; want %d, 1, 1", spans, invocations, records, tt.spans)
			}
			if sampledOut != int64(tt.sampled) {
				t.Errorf("self-metric %s{spans} = %d, want %d", selfmetrics.SampledOut, sampledOut, tt.sampled)
			}
			if tt.sampled > 0 && !strings.Contains(logs.String(), "sampled_out.spans=3") {
				t.Errorf("shutdown log does not count the sampled-out spans:\n%s", logs)
			}
		})
	}
}

// TestInheritReadsAheadFirst: the bytes of the first event the launcher
// read with the subscription's answer come before the rest on the
// inherited connection.
func TestInheritReadsAheadFirst(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	api := os.NewFile(uintptr(fds[1]), "api side")
	defer api.Close()
	answer := "HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n" + `{"eventType":"INVOKE","requestId":"r-9"}`
	split := len(answer) / 2
	if _, err := api.WriteString(answer[split:]); err != nil {
		t.Fatal(err)
	}
	h, err := Inherit(handoff.State{ExtensionID: "ext-7", NextFD: fds[0], NextRead: []byte(answer[:split]),
		TelemetryFD: handoff.NoFD, OTLPHTTPFD: handoff.NoFD, OTLPGRPCFD: handoff.NoFD, ProxyFD: handoff.NoFD})
	if err != nil {
		t.Fatalf("inherit: %v", err)
	}
	defer h.Close()
	_ = h.Next.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(h.Next), nil)
	if err != nil {
		t.Fatalf("read the first event: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != `{"eventType":"INVOKE","requestId":"r-9"}` {
		t.Errorf("first event = %q (%v)", body, err)
	}
}

// TestTelemetryNotSupported: AWS's emulator answers the subscription 202
// with Telemetry.NotSupported. The extension says so once, at warning
// level, and runs without telemetry: it waits neither for the
// invocation's runtimeDone (which would hold the invocation until its
// deadline) nor, at SHUTDOWN, for reports.
func TestTelemetryNotSupported(t *testing.T) {
	const notSupported = `{"errorMessage":"Telemetry API is not supported","errorType":"Telemetry.NotSupported"}`
	for _, launched := range []bool{false, true} {
		t.Run(map[bool]string{false: "direct", true: "launched"}[launched], func(t *testing.T) {
			collector := collectortest.Start(t)
			f := &fakeLambda{subscribeStatus: http.StatusAccepted, subscribeBody: notSupported}
			var otlpAddr string
			f.script = func(n int) (extapi.Event, []string) {
				if n == 0 {
					sendSpan(t, otlpAddr)
					// A deadline far away: waiting for it would show.
					return extapi.Event{EventType: extapi.Invoke, RequestID: reqID, DeadlineMs: time.Now().Add(10 * time.Second).UnixMilli()}, nil
				}
				return extapi.Event{EventType: extapi.Shutdown, ShutdownReason: "spindown", DeadlineMs: time.Now().Add(2 * time.Second).UnixMilli()}, nil
			}
			logs, err := runAgent(t, f, func(o *Options) {
				o.Config.Endpoint = collector.Addr
				o.Config.Flush = config.FlushEnd
				otlpAddr = o.Config.OTLPHTTPAddr
				if launched {
					launchFor(t, o)
				}
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			out := logs.String()
			if n := strings.Count(out, "level=WARN msg=\"the Telemetry API is not supported here"); n != 1 || !strings.Contains(out, "Telemetry.NotSupported") {
				t.Errorf("%d warnings about the unsupported Telemetry API, want 1 with the answer:\n%s", n, out)
			}
			for _, bad := range []string{"telemetry subscription failed", "without the platform report", "runtimeDone"} {
				if strings.Contains(out, bad) {
					t.Errorf("log mentions %q: the extension waited for telemetry that cannot come:\n%s", bad, out)
				}
			}
			f.mu.Lock()
			nextAt := f.nextAt
			f.mu.Unlock()
			if len(nextAt) != 2 {
				t.Fatalf("%d calls to /event/next, want 2", len(nextAt))
			}
			// Without the wait the second call follows the first at once;
			// with it, it would come near the 10 s deadline.
			if held := nextAt[1].Sub(nextAt[0]); held > 2*time.Second {
				t.Errorf("the invocation was held %v before the next /event/next", held)
			}
			var spans int
			for _, req := range collector.Accepted() {
				for _, rs := range req.GetResourceSpans() {
					spans += ingestv1.SpansIn(rs)
				}
			}
			if spans != 1 {
				t.Errorf("shipped %d spans, want the function's span", spans)
			}
		})
	}
}

// TestRuntimeDoneLostIsBounded is the fault test of the wait before
// /event/next: the telemetry stream drops platform.runtimeDone of some
// invocations. For every invocation the time the extension adds after
// the function's end, before it calls /event/next again, stays within
// the bound (the stream quiet for the buffering window plus the margin,
// then a flush within its budget), not the invocation's deadline; the
// late ones are counted and logged.
func TestRuntimeDoneLostIsBounded(t *testing.T) {
	const (
		invocations = 6
		// deadline is how far each invocation's deadline is: the old
		// wait ran into it, far beyond the bound however loaded the
		// machine.
		deadline = 30 * time.Second
	)
	var (
		// margin is wider than the extension's default, and wider still
		// on a loaded machine: the function's lines come 10 ms apart, and
		// on a busy test machine a gap of 100 ms between two of them was
		// taken for the end of the telemetry (a late runtimeDone counted
		// for an invocation that had one).
		margin = testload.Scale(300*time.Millisecond, deadline/8)
		// slack absorbs a busy test machine.
		slack = testload.Scale(250*time.Millisecond, deadline/4)
	)
	for _, launched := range []bool{false, true} {
		t.Run(map[bool]string{false: "direct", true: "launched"}[launched], func(t *testing.T) {
			dropped := map[int]bool{1: true, 3: true, 4: true}
			collector := collectortest.Start(t)
			f := &fakeLambda{}
			var mu sync.Mutex
			runtimeEnd := map[int]time.Time{}
			id := func(n int) string { return fmt.Sprintf("5e1d0b7a-0000-4000-8000-%012d", n) }
			report := func(n int) string {
				return `{"time":"2024-05-01T10:00:01.000Z","type":"platform.report","record":{"requestId":"` + id(n) +
					`","status":"success","metrics":{"durationMs":40,"billedDurationMs":40,"memorySizeMB":512,"maxMemoryUsedMB":60}}}`
			}
			f.script = func(n int) (extapi.Event, []string) {
				if n < invocations {
					return extapi.Event{EventType: extapi.Invoke, RequestID: id(n), DeadlineMs: time.Now().Add(deadline).UnixMilli()}, nil
				}
				return extapi.Event{EventType: extapi.Shutdown, ShutdownReason: "spindown", DeadlineMs: time.Now().Add(testload.Scale(2*time.Second, deadline)).UnixMilli()},
					[]string{report(n - 1)}
			}
			f.runtime = func(n int) {
				if n >= invocations {
					return
				}
				// The previous invocation's report, then this one's start.
				if n > 0 {
					f.push(report(n - 1))
				}
				f.push(`{"time":"2024-05-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"` + id(n) + `"}}`)
				// The function runs 0, 40 or 80 ms, logging every 10 ms.
				for i := 0; i < n%3*4; i++ {
					time.Sleep(10 * time.Millisecond)
					f.push(`{"time":"2024-05-01T10:00:00.010Z","type":"function","record":"working on ` + id(n) + `\n"}`)
				}
				mu.Lock()
				runtimeEnd[n] = time.Now()
				mu.Unlock()
				if !dropped[n] {
					f.push(`{"time":"2024-05-01T10:00:00.100Z","type":"platform.runtimeDone","record":{"requestId":"` + id(n) + `","status":"success"}}`)
				}
			}
			logs, err := runAgent(t, f, func(o *Options) {
				o.Config.Endpoint = collector.Addr
				o.Config.Flush = config.FlushEnd
				o.RuntimeDoneMargin = margin
				if launched {
					launchFor(t, o)
				}
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			quiet := time.Duration(extapi.DefaultBuffering.TimeoutMs)*time.Millisecond + margin
			// The slack is taken again now, for the load the run met.
			bound := quiet + DefaultOptions().FlushBudget + max(slack, testload.Scale(250*time.Millisecond, deadline/4))
			f.mu.Lock()
			nextAt := f.nextAt
			f.mu.Unlock()
			if len(nextAt) != invocations+1 {
				t.Fatalf("%d calls to /event/next, want %d", len(nextAt), invocations+1)
			}
			mu.Lock()
			defer mu.Unlock()
			for n := range invocations {
				added := nextAt[n+1].Sub(runtimeEnd[n])
				t.Logf("invocation %d (runtimeDone dropped: %v): %v added before /event/next", n, dropped[n], added.Round(time.Millisecond))
				if added > bound {
					t.Errorf("invocation %d (runtimeDone dropped: %v): %v added before /event/next, want at most %v", n, dropped[n], added, bound)
				}
			}
			out := logs.String()
			if n := strings.Count(out, "level=INFO msg=\"platform.runtimeDone did not come within"); n != 1 {
				t.Errorf("%d lines about a late runtimeDone, want 1 (at most one a minute):\n%s", n, out)
			}
			if !strings.Contains(out, fmt.Sprintf("runtime_done_late=%d", len(dropped))) {
				t.Errorf("shutdown log does not count %d late runtimeDone events:\n%s", len(dropped), out)
			}
			var late int64 = -1
			for _, req := range collector.Accepted() {
				for _, rm := range req.GetResourceMetrics() {
					for _, sm := range rm.GetScopeMetrics() {
						for _, m := range sm.GetMetrics() {
							if m.GetName() == selfmetrics.RuntimeDoneLate {
								late = max(late, m.GetSum().GetDataPoints()[0].GetAsInt())
							}
						}
					}
				}
			}
			if late != int64(len(dropped)) {
				t.Errorf("self-metric %s = %d, want %d", selfmetrics.RuntimeDoneLate, late, len(dropped))
			}
		})
	}
}

// TestManagedInstancesLinesOfConcurrentInvocations: a line without a
// request ID is shipped without one, and counted, whether two invocations
// are in flight or one (a line handed over after its invocation is done);
// a line that names its invocation keeps it.
func TestManagedInstancesLinesOfConcurrentInvocations(t *testing.T) {
	collector := collectortest.Start(t)
	ids := []string{"22222222-0000-4000-8000-000000000001", "22222222-0000-4000-8000-000000000002"}
	var pushed []string
	for _, id := range ids {
		pushed = append(pushed, `{"time":"2025-03-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"`+id+`"}}`)
	}
	pushed = append(pushed,
		`{"time":"2025-03-01T10:00:00.010Z","type":"function","record":"whose line is this?\n"}`,
		`{"time":"2025-03-01T10:00:00.020Z","type":"function","record":{"level":"INFO","requestId":"`+ids[0]+`","message":"mine"}}`)
	for i, id := range ids {
		pushed = append(pushed,
			`{"time":"2025-03-01T10:00:00.050Z","type":"platform.runtimeDone","record":{"requestId":"`+id+`","status":"success"}}`,
			`{"time":"2025-03-01T10:00:00.060Z","type":"platform.report","record":{"requestId":"`+id+`","status":"success","metrics":{"durationMs":50}}}`)
		if i == 0 {
			// Handed over late: the first is done, the second alone runs.
			pushed = append(pushed,
				`{"time":"2025-03-01T10:00:00.040Z","type":"function","record":"late line of the first\n"}`,
				`{"time":"2025-03-01T10:00:00.045Z","type":"function","record":"{\"level\":\"INFO\",\"requestId\":\"`+ids[0]+`\",\"message\":\"late json\"}\n"}`)
		}
	}
	f := &fakeLambda{beforeFirstNext: pushed, script: func(int) (extapi.Event, []string) {
		return extapi.Event{EventType: extapi.Shutdown, ShutdownReason: "spindown", DeadlineMs: time.Now().Add(2 * time.Second).UnixMilli()}, nil
	}}
	logs, err := runAgent(t, f, func(o *Options) {
		o.Config.Endpoint = collector.Addr
		env := o.Env
		o.Env = func(k string) (string, bool) {
			if k == "AWS_LAMBDA_INITIALIZATION_TYPE" {
				return "lambda-managed-instances", true
			}
			return env(k)
		}
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := map[string]string{}
	var unattributed int64 = -1
	for _, req := range collector.Accepted() {
		for _, rl := range req.GetResourceLogs() {
			for _, sl := range rl.GetScopeLogs() {
				for _, rec := range sl.GetLogRecords() {
					id := "none"
					for _, kv := range rec.GetAttributes() {
						if kv.GetKey() == invocation.AttrInvocationID {
							id = kv.GetValue().GetStringValue()
						}
					}
					got[rec.GetBody().GetStringValue()] = id
				}
			}
		}
		for _, rm := range req.GetResourceMetrics() {
			for _, sm := range rm.GetScopeMetrics() {
				for _, m := range sm.GetMetrics() {
					if m.GetName() == selfmetrics.LogsUnattributed {
						unattributed = max(unattributed, m.GetSum().GetDataPoints()[0].GetAsInt())
					}
				}
			}
		}
	}
	want := map[string]string{"whose line is this?": "none", "mine": ids[0], "late line of the first": "none",
		`{"level":"INFO","requestId":"` + ids[0] + `","message":"late json"}`: ids[0]}
	if !maps.Equal(got, want) {
		t.Errorf("log lines and their invocations = %v, want %v", got, want)
	}
	if unattributed != 2 {
		t.Errorf("self-metric %s = %d, want 2", selfmetrics.LogsUnattributed, unattributed)
	}
	if !strings.Contains(logs.String(), "logs_unattributed=2") {
		t.Errorf("shutdown log does not count the unattributed line:\n%s", logs)
	}
}
