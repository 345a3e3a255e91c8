package launch

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/extension/internal/handoff"
)

// agentModeEnv makes the test binary a stand-in agent (see fakeAgent).
const agentModeEnv = "LAUNCH_TEST_AGENT"

func TestMain(m *testing.M) {
	if mode := os.Getenv(agentModeEnv); mode == "report" {
		os.Exit(fakeReport())
	} else if mode != "" {
		os.Exit(fakeAgent(mode))
	}
	os.Exit(m.Run())
}

// fakeAgent is the agent the tests start as the launcher's child, a real
// process: it reads its first event from the handed-over connection, as
// the agent does, then "stop" says it stops and exits 0; "crash" is killed
// (SIGKILL), as by the OOM killer.
func fakeAgent(mode string) int {
	st, err := handoff.Decode(os.Getenv(handoff.Env))
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake agent:", err)
		return 2
	}
	next := os.NewFile(uintptr(st.NextFD), "next")
	resp, err := http.ReadResponse(bufio.NewReader(io.MultiReader(bytes.NewReader(st.NextRead), next)), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake agent: read the first event:", err)
		return 2
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "INVOKE") {
		fmt.Fprintf(os.Stderr, "fake agent: first event %s\n", body)
		return 2
	}
	switch mode {
	case "early":
		return fakeEarlyAgent(st)
	case "stop":
		if st.WatchFD == handoff.NoFD {
			fmt.Fprintln(os.Stderr, "fake agent: no watch pipe")
			return 2
		}
		_, _ = os.NewFile(uintptr(st.WatchFD), "watch").Write([]byte{handoff.ShutdownNote})
		return 0
	default:
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
}

// fakeEarlyAgent waits (at most 10 s) for the file LAUNCH_TEST_GO, then
// says it serves, writes the exports the launcher passed on to the file
// LAUNCH_TEST_OUT (path, content type, body, one per line) and stops.
func fakeEarlyAgent(st handoff.State) int {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(os.Getenv("LAUNCH_TEST_GO")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return 2
		}
	}
	watch := os.NewFile(uintptr(st.WatchFD), "watch")
	_, _ = watch.Write([]byte{handoff.ServingNote})
	var out strings.Builder
	early := os.NewFile(uintptr(st.EarlyFD), "early")
	for {
		x, err := handoff.ReadEarly(early)
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "fake agent:", err)
			return 2
		}
		fmt.Fprintf(&out, "%s %s %s %q\n", x.Path, x.ContentType, x.ContentEncoding, x.Body)
	}
	if err := os.WriteFile(os.Getenv("LAUNCH_TEST_OUT"), []byte(out.String()), 0o644); err != nil {
		return 2
	}
	_, _ = watch.Write([]byte{handoff.ShutdownNote})
	return 0
}

// fakeReport is the agent started again after a takeover: it writes the
// takeover it was given to the file LAUNCH_TEST_OUT, as Go syntax.
func fakeReport() int {
	if _, ok := os.LookupEnv(handoff.Env); ok {
		fmt.Fprintln(os.Stderr, "fake report: a handoff too")
		return 2
	}
	tk, err := handoff.DecodeTakeover(os.Getenv(handoff.ReportEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake report:", err)
		return 2
	}
	tk.Started, tk.Deadline = time.Time{}, time.Time{}
	if err := os.WriteFile(os.Getenv("LAUNCH_TEST_OUT"), fmt.Appendf(nil, "%+v", tk), 0o644); err != nil {
		return 2
	}
	return 0
}

// spawnFake starts the test binary as the launcher's agent in mode.
func spawnFake(t *testing.T, l *Launch, mode string, env ...string) *Child {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	child, err := l.Spawn(exe, nil, append(append(os.Environ(), agentModeEnv+"="+mode), env...))
	if err != nil {
		t.Fatalf("Spawn: %v", err)
	}
	return child
}

// waitChild waits, bounded, for the child to end.
func waitChild(t *testing.T, c *Child) Outcome {
	t.Helper()
	done := make(chan Outcome, 1)
	go func() { done <- c.Wait() }()
	select {
	case o := <-done:
		return o
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(c.Pid, syscall.SIGKILL)
		t.Fatal("the agent did not end within 10 s")
		return Outcome{}
	}
}

// TestAgentThatStopsIsNotTakenOver: an agent that says it stops (SHUTDOWN)
// ends the launcher with its exit code, and the launcher does not call
// /event/next again.
func TestAgentThatStopsIsNotTakenOver(t *testing.T) {
	f := &fakeAPI{events: []string{`{"eventType":"INVOKE","requestId":"r-1"}`}}
	l, err := Start(Options{RuntimeAPI: startAPI(t, f), Name: "lambdascope", ListenHost: "127.0.0.1"})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer l.Close()
	o := waitChild(t, spawnFake(t, l, "stop"))
	if !o.Stopping || o.ExitCode() != 0 {
		t.Errorf("outcome %s, stopping %v; want a stop on purpose, exit code 0", o, o.Stopping)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.nexts != 1 {
		t.Errorf("%d calls to /event/next; want only the launcher's first", f.nexts)
	}
}

// TestTakeoverWhenTheAgentIsKilled: the agent, a real process, is killed
// after its first event. The launcher, which kept the ports, takes over:
// the runtime's calls through the proxy's port reach the Runtime API, OTLP
// exports over HTTP (protobuf and JSON) and gRPC and telemetry pushes are
// answered with success and counted as dropped, and the launcher follows
// the events until SHUTDOWN, asking again while the API refuses (as it
// does while the dead agent's call is parked).
func TestTakeoverWhenTheAgentIsKilled(t *testing.T) {
	announce := filepath.Join(t.TempDir(), "lambdascope-runtime-api")
	f := &fakeAPI{
		events:         []string{`{"eventType":"INVOKE","requestId":"r-1"}`, `{"eventType":"INVOKE","requestId":"r-2"}`},
		refuseNext:     2,
		beforeShutdown: make(chan struct{}),
		// Time for the report, however slow the machine.
		shutdown: fmt.Sprintf(`{"eventType":"SHUTDOWN","shutdownReason":"spindown","deadlineMs":%d}`, time.Now().Add(time.Minute).UnixMilli()),
	}
	httpAddr, grpcAddr := freeAddr(t), freeAddr(t)
	l, err := Start(Options{RuntimeAPI: startAPI(t, f), Name: "lambdascope", ListenHost: "127.0.0.1",
		OTLPHTTPAddr: httpAddr, OTLPGRPCAddr: grpcAddr, RuntimeProxy: true, AnnounceFile: announce})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer l.Close()
	proxyAddr, _, ok := announcement(t, announce)
	if !ok {
		t.Fatal("proxy not announced")
	}
	telemetryAddr := listenerAddr(t, l.State.TelemetryFD)

	child := spawnFake(t, l, "crash")
	o := waitChild(t, child)
	if o.Stopping || !o.Status.Signaled() || o.Status.Signal() != syscall.SIGKILL {
		t.Fatalf("outcome %s, stopping %v; want killed by SIGKILL, not stopping", o, o.Stopping)
	}
	tk, err := l.TakeOver(child)
	if err != nil {
		t.Fatalf("TakeOver: %v", err)
	}
	events := make(chan error, 1)
	go func() { events <- tk.Events() }()

	client := &http.Client{Timeout: 10 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	post := func(url, contentType string, body []byte) (int, string) {
		t.Helper()
		resp, err := client.Post(url, contentType, bytes.NewReader(body))
		if err != nil {
			t.Fatalf("POST %s: %v", url, err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(got)
	}
	// The runtime's answer, through the proxy's port.
	if code, got := post("http://"+proxyAddr+"/2018-06-01/runtime/invocation/r-2/response", "application/json", []byte(`{"ok":1}`)); code != 200 ||
		got != `POST /2018-06-01/runtime/invocation/r-2/response 8:{"ok":1}` {
		t.Errorf("runtime call through the relay: %d %q; want the API's echo", code, got)
	}
	// OTLP/HTTP, protobuf and JSON, twice on one connection, one large.
	big := bytes.Repeat([]byte{1}, 300<<10)
	if code, got := post("http://"+httpAddr+"/v1/traces", "application/x-protobuf", big); code != 200 || got != "" {
		t.Errorf("OTLP/HTTP protobuf export: %d %q; want 200 and an empty response", code, got)
	}
	if code, got := post("http://"+httpAddr+"/v1/logs", "application/json", []byte(`{"resourceLogs":[]}`)); code != 200 || got != "{}" {
		t.Errorf("OTLP/HTTP JSON export: %d %q; want 200 and {}", code, got)
	}
	// OTLP/gRPC with the real gRPC client: a small export and one larger
	// than HTTP/2's initial flow control window.
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, n := range []int{1, 2000} {
		if _, err := coltracepb.NewTraceServiceClient(conn).Export(ctx, spansRequest(n)); err != nil {
			t.Errorf("OTLP/gRPC export of %d spans: %v", n, err)
		}
	}
	if code, _ := post("http://"+telemetryAddr+"/", "application/json", []byte(`[{"type":"platform.report"}]`)); code != 200 {
		t.Errorf("telemetry push: %d; want 200", code)
	}

	close(f.beforeShutdown)
	select {
	case err := <-events:
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Events did not return at SHUTDOWN")
	}
	counts := tk.Counts()
	for _, want := range []string{"invocations_without_agent=1 ", "invocations_to_dead_agent=1 ", "otlp_requests_dropped=4 ", "telemetry_pushes_dropped=1 "} {
		if !strings.Contains(counts+" ", want) {
			t.Errorf("counts %q; want %q", counts, want)
		}
	}
	if n := dropped(counts, "otlp_bytes_dropped"); n < len(big)+2000*20 {
		t.Errorf("otlp_bytes_dropped=%d; want at least the %d bytes sent", n, len(big)+2000*20)
	}
	// The counts go to the agent, started once more to ship them.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "report")
	if err := tk.Report(exe, append(os.Environ(), agentModeEnv+"=report", "LAUNCH_TEST_OUT="+out), o.String()); err != nil {
		t.Fatalf("Report: %v", err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("{Registration:%v Started:0001-01-01 00:00:00 +0000 UTC Deadline:0001-01-01 00:00:00 +0000 UTC AgentEnd:killed by signal killed "+
		"Invocations:1 EarlyLost:0 EarlyLostBytes:0 OTLPRequests:4 OTLPBytes:%d TelemetryPushes:1 TelemetryBytes:%d}",
		l.State.Registration, dropped(counts, "otlp_bytes_dropped"), dropped(counts, "telemetry_bytes_dropped"))
	if string(got) != want {
		t.Errorf("the agent was given the takeover\n%s\nwant\n%s", got, want)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// The launcher's first (r-1, read by the agent), then the launcher's
	// own after the takeover: refused twice, then r-2 and SHUTDOWN.
	if f.nexts != 3 || f.refused != 2 {
		t.Errorf("%d calls to /event/next answered, %d refused; want 3 and 2", f.nexts, f.refused)
	}
}

// dropped reads one count of Takeover.Counts.
func dropped(counts, key string) int {
	for kv := range strings.FieldsSeq(counts) {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return -1
}

// spansRequest is an export of n spans with an attribute each.
func spansRequest(n int) *coltracepb.ExportTraceServiceRequest {
	spans := make([]*tracepb.Span, n)
	for i := range spans {
		spans[i] = &tracepb.Span{
			TraceId: bytes.Repeat([]byte{1}, 16), SpanId: []byte{0, 0, 0, 0, 0, 0, byte(i >> 8), byte(i)}, Name: "work",
			Attributes: []*commonpb.KeyValue{{Key: "k", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "value"}}}},
		}
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}}}}}
}

// TestEarlyExportsAnsweredAndPassedOn: from registration on, before the
// agent is started and while it starts, the launcher answers the
// function's OTLP/HTTP exports at once (protobuf, JSON with gzip, chunked)
// and passes them on to the agent, which reads them once it says it
// serves; a request that is no export is refused.
func TestEarlyExportsAnsweredAndPassedOn(t *testing.T) {
	f := &fakeAPI{events: []string{`{"eventType":"INVOKE","requestId":"r-1"}`}}
	httpAddr := freeAddr(t)
	l, err := Start(Options{RuntimeAPI: startAPI(t, f), Name: "lambdascope", ListenHost: "127.0.0.1", OTLPHTTPAddr: httpAddr})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer l.Close()
	dir := t.TempDir()
	goFile, outFile := filepath.Join(dir, "go"), filepath.Join(dir, "out")

	client := &http.Client{Timeout: 10 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	send := func(path, contentType, encoding string, body io.Reader) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+httpAddr+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", contentType)
		if encoding != "" {
			req.Header.Set("Content-Encoding", encoding)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(got)
	}
	// Answered from registration on, before the agent is even started:
	// the function runs once the extension is registered.
	if code, got := send("/v1/traces", "application/x-protobuf", "", bytes.NewReader([]byte{0x0a, 0x00})); code != 200 || got != "" {
		t.Errorf("protobuf export: %d %q; want 200 and an empty response", code, got)
	}
	child := spawnFake(t, l, "early", "LAUNCH_TEST_GO="+goFile, "LAUNCH_TEST_OUT="+outFile)
	// No length: sent chunked.
	if code, got := send("/v1/logs", "application/json", "gzip", io.MultiReader(strings.NewReader("gz"))); code != 200 || got != "{}" {
		t.Errorf("JSON export: %d %q; want 200 and {}", code, got)
	}
	if code, _ := send("/v1/other", "application/json", "", strings.NewReader("{}")); code != 404 {
		t.Errorf("a request that is no export: %d; want 404", code)
	}
	if err := os.WriteFile(goFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if o := waitChild(t, child); !o.Stopping || o.ExitCode() != 0 {
		t.Fatalf("outcome %s, stopping %v; want a stop on purpose", o, o.Stopping)
	}
	got, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	// Each export is answered before it is passed on, so that a full pipe
	// never holds the function up: two exports may reach the agent in
	// another order than they were sent.
	want := []string{"/v1/logs application/json gzip \"gz\"", "/v1/traces application/x-protobuf  \"\\n\\x00\""}
	lines := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
	slices.Sort(lines)
	if !slices.Equal(lines, want) {
		t.Errorf("the agent read\n%s\nwant, in any order\n%s", got, strings.Join(want, "\n"))
	}
}

// sendDuringRegister sends one OTLP/HTTP export to addr as register
// arrives at f, as a function would whose runtime Lambda started early,
// and returns the connection to read the answer from. The launcher must
// not answer it before it is registered: it waits for an answer for
// 100 ms, and one that comes fails the test.
func sendDuringRegister(t *testing.T, f *fakeAPI, addr string) <-chan net.Conn {
	t.Helper()
	conns := make(chan net.Conn, 1)
	f.onRegister = func() {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Errorf("connect to the OTLP/HTTP port during register: %v", err)
			close(conns)
			return
		}
		t.Cleanup(func() { _ = c.Close() })
		if _, err := io.WriteString(c, "POST /v1/traces HTTP/1.1\r\nHost: "+addr+
			"\r\nContent-Type: application/x-protobuf\r\nContent-Length: 2\r\n\r\n\x0a\x00"); err != nil {
			t.Errorf("send an export during register: %v", err)
		}
		_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if n, _ := c.Read(make([]byte, 64)); n > 0 {
			t.Errorf("an export sent before the extension was registered was answered before it was")
		}
		conns <- c
	}
	return conns
}

// TestExportDuringRegisterIsAnsweredAndPassedOn: an export that comes
// while the extension registers (the OTLP port is bound before) is not
// answered before the extension is registered; it waits in the port's
// queue, is answered by the launcher once it answers exports, and reaches
// the agent.
func TestExportDuringRegisterIsAnsweredAndPassedOn(t *testing.T) {
	f := &fakeAPI{events: []string{`{"eventType":"INVOKE","requestId":"r-1"}`}}
	httpAddr := freeAddr(t)
	conns := sendDuringRegister(t, f, httpAddr)
	l, err := Start(Options{RuntimeAPI: startAPI(t, f), Name: "lambdascope", ListenHost: "127.0.0.1", OTLPHTTPAddr: httpAddr})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer l.Close()
	c, ok := <-conns
	if !ok {
		t.FailNow()
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read the answer to the export: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("export sent during register: %d; want 200", resp.StatusCode)
	}
	dir := t.TempDir()
	goFile, outFile := filepath.Join(dir, "go"), filepath.Join(dir, "out")
	child := spawnFake(t, l, "early", "LAUNCH_TEST_GO="+goFile, "LAUNCH_TEST_OUT="+outFile)
	if err := os.WriteFile(goFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if o := waitChild(t, child); !o.Stopping || o.ExitCode() != 0 {
		t.Fatalf("outcome %s, stopping %v; want a stop on purpose", o, o.Stopping)
	}
	got, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	if want := "/v1/traces application/x-protobuf  \"\\n\\x00\"\n"; string(got) != want {
		t.Errorf("the agent read %q; want %q", got, want)
	}
}

// TestExportDuringRefusedRegisterIsNotAnswered: when the extension cannot
// register, the launcher gives way to the agent (which registers again)
// and closes its ports: an export that came meanwhile is refused by the
// closing port, which an exporter retries, never answered and lost.
func TestExportDuringRefusedRegisterIsNotAnswered(t *testing.T) {
	f := &fakeAPI{registerStatus: http.StatusInternalServerError}
	httpAddr := freeAddr(t)
	conns := sendDuringRegister(t, f, httpAddr)
	l, err := Start(Options{RuntimeAPI: startAPI(t, f), Name: "lambdascope", ListenHost: "127.0.0.1", OTLPHTTPAddr: httpAddr})
	if !errors.Is(err, ErrNotRegistered) {
		if l != nil {
			l.Close()
		}
		t.Fatalf("Start: %v; want ErrNotRegistered", err)
	}
	c, ok := <-conns
	if !ok {
		t.FailNow()
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if len(got) > 0 || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("export sent during a refused register: read %q, %v; want the connection closed unanswered", got, err)
	}
}

// TestEarlyGRPCExportsAnsweredAndPassedOn: the OpenTelemetry SDK's
// OTLP/gRPC exporter, exporting before the agent is started, has its
// exports answered by the launcher (plain and gzip-compressed, several on
// one exporter, each on its own connection after GOAWAY), and the agent
// reads each as the OTLP/HTTP export of the same message.
func TestEarlyGRPCExportsAnsweredAndPassedOn(t *testing.T) {
	f := &fakeAPI{events: []string{`{"eventType":"INVOKE","requestId":"r-1"}`}}
	grpcAddr := freeAddr(t)
	l, err := Start(Options{RuntimeAPI: startAPI(t, f), Name: "lambdascope", ListenHost: "127.0.0.1", OTLPGRPCAddr: grpcAddr})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer l.Close()
	dir := t.TempDir()
	goFile, outFile := filepath.Join(dir, "go"), filepath.Join(dir, "out")

	const bulk = 3000
	export := func(name string, opts ...otlptracegrpc.Option) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		exp, err := otlptracegrpc.New(ctx, append([]otlptracegrpc.Option{
			otlptracegrpc.WithEndpoint(grpcAddr), otlptracegrpc.WithInsecure(),
			otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}),
		}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		defer exp.Shutdown(context.Background())
		for i := range 2 {
			stubs := tracetest.SpanStubs{{Name: name + "-" + strconv.Itoa(i)}}
			if i == 1 {
				// Larger than HTTP/2's initial flow control window.
				for range bulk {
					stubs = append(stubs, tracetest.SpanStub{Name: "bulk", Attributes: []attribute.KeyValue{attribute.String("k", strings.Repeat("v", 20))}})
				}
			}
			spans := stubs.Snapshots()
			if err := exp.ExportSpans(ctx, spans); err != nil {
				t.Fatalf("export %s-%d: %v", name, i, err)
			}
		}
	}
	export("plain")
	export("gzip", otlptracegrpc.WithCompressor("gzip"))

	child := spawnFake(t, l, "early", "LAUNCH_TEST_GO="+goFile, "LAUNCH_TEST_OUT="+outFile)
	if err := os.WriteFile(goFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if o := waitChild(t, child); !o.Stopping || o.ExitCode() != 0 {
		t.Fatalf("outcome %s, stopping %v; want a stop on purpose", o, o.Stopping)
	}
	got, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	bulks := 0
	for line := range strings.SplitSeq(strings.TrimSuffix(string(got), "\n"), "\n") {
		f := strings.SplitN(line, " ", 4)
		if len(f) != 4 || f[0] != "/v1/traces" || f[1] != "application/x-protobuf" {
			t.Fatalf("the agent read %q; want a /v1/traces protobuf export", line)
		}
		body, err := strconv.Unquote(f[3])
		if err != nil {
			t.Fatal(err)
		}
		msg := []byte(body)
		if f[2] == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(msg))
			if err != nil {
				t.Fatal(err)
			}
			if msg, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(msg, &req); err != nil {
			t.Fatalf("the agent read a message that is no ExportTraceServiceRequest: %v", err)
		}
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					if s.Name == "bulk" {
						bulks++
						continue
					}
					names = append(names, f[2]+":"+s.Name)
				}
			}
		}
	}
	slices.Sort(names)
	if want := []string{":plain-0", ":plain-1", "gzip:gzip-0", "gzip:gzip-1"}; !slices.Equal(names, want) {
		t.Errorf("the agent read spans %q; want %q", names, want)
	}
	if bulks != 2*bulk {
		t.Errorf("the agent read %d bulk spans; want %d", bulks, 2*bulk)
	}
}
