package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return data
}

func TestParseDocumentedEvents(t *testing.T) {
	events, err := Parse(readTestdata(t, "documented.json"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	byType := map[string]Event{}
	for _, ev := range events {
		byType[ev.Type] = ev
	}
	tests := []struct {
		typ   string
		kind  Kind
		check func(t *testing.T, ev Event)
	}{
		{TypeInitStart, KindPlatform, func(t *testing.T, ev Event) {
			if ev.Platform.InitializationType != "on-demand" || ev.Platform.Phase != "init" || ev.Platform.RuntimeVersion != "nodejs-14.v3" {
				t.Errorf("record = %+v", ev.Platform)
			}
			if want := time.Date(2022, 10, 12, 0, 0, 15, 64e6, time.UTC); !ev.Time.Equal(want) {
				t.Errorf("time = %v, want %v", ev.Time, want)
			}
		}},
		{TypeInitRuntimeDone, KindPlatform, func(t *testing.T, ev Event) {
			if ev.Platform.Status != "success" || len(ev.Platform.Spans) != 1 || ev.Platform.Spans[0].DurationMs != 70.5 {
				t.Errorf("record = %+v", ev.Platform)
			}
		}},
		{TypeInitReport, KindPlatform, func(t *testing.T, ev Event) {
			if ev.Platform.Metrics.DurationMs != 125.33 {
				t.Errorf("init duration = %v", ev.Platform.Metrics.DurationMs)
			}
		}},
		{TypeStart, KindPlatform, func(t *testing.T, ev Event) {
			p := ev.Platform
			if p.RequestID != "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa" || p.Version != "$LATEST" || p.Tracing == nil ||
				p.Tracing.SpanID != "54565fb41ac79632" || p.Tracing.Type != "X-Amzn-Trace-Id" {
				t.Errorf("record = %+v", p)
			}
		}},
		{TypeRuntimeDone, KindPlatform, func(t *testing.T, ev Event) {
			p := ev.Platform
			lat, ok1 := p.SpanDuration("responseLatency")
			dur, ok2 := p.SpanDuration("responseDuration")
			if !ok1 || !ok2 || lat != 23.02 || dur != 1.5 || p.Metrics.ProducedBytes != 16 || p.Metrics.DurationMs != 140 {
				t.Errorf("record = %+v", p)
			}
			if _, ok := p.SpanDuration("runtimeOverhead"); ok {
				t.Error("found a span that is not there")
			}
		}},
		{TypeReport, KindPlatform, func(t *testing.T, ev Event) {
			m := ev.Platform.Metrics
			if m.BilledDurationMs != 694 || m.DurationMs != 693.92 || m.InitDurationMs != 397.68 || m.MaxMemoryUsedMB != 84 || m.MemorySizeMB != 128 {
				t.Errorf("metrics = %+v", m)
			}
		}},
		{TypeExtension, KindPlatform, func(t *testing.T, ev Event) {
			if ev.Platform.Name != "my-telemetry-extension" || ev.Platform.State != "Ready" || len(ev.Platform.Events) != 2 {
				t.Errorf("record = %+v", ev.Platform)
			}
		}},
		{TypeTelemetrySubscription, KindPlatform, func(t *testing.T, ev Event) {
			if ev.Platform.State != "Subscribed" || len(ev.Platform.Types) != 2 {
				t.Errorf("record = %+v", ev.Platform)
			}
		}},
		{TypeLogsDropped, KindPlatform, func(t *testing.T, ev Event) {
			if ev.Platform.DroppedBytes != 12345 || ev.Platform.DroppedRecords != 123 || ev.Platform.Reason == "" {
				t.Errorf("record = %+v", ev.Platform)
			}
		}},
		{TypeExtensionLog, KindLog, func(t *testing.T, ev Event) {
			if ev.Log.IsJSON() || ev.Log.Text != "[INFO] Hello world, I am an extension!" {
				t.Errorf("record = %+v", ev.Log)
			}
		}},
		{TypeRestoreReport, KindPlatform, func(t *testing.T, ev Event) {
			if ev.Platform.Metrics.DurationMs != 31.2 {
				t.Errorf("record = %+v", ev.Platform)
			}
		}},
		{"platform.somethingNew", KindUnknown, func(t *testing.T, ev Event) {
			var back map[string]any
			if err := json.Unmarshal(ev.Raw, &back); err != nil || back["type"] != "platform.somethingNew" {
				t.Errorf("raw = %s (%v)", ev.Raw, err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			ev, ok := byType[tt.typ]
			if !ok {
				t.Fatalf("no %s event parsed", tt.typ)
			}
			if ev.Kind != tt.kind {
				t.Fatalf("kind = %d, want %d", ev.Kind, tt.kind)
			}
			tt.check(t, ev)
		})
	}

	var text, structured int
	for _, ev := range events {
		if ev.Type != TypeFunction {
			continue
		}
		if ev.Log.IsJSON() {
			structured++
			if ev.Log.Fields["level"] != "ERROR" || ev.Log.Fields["orderId"] != json.Number("42") {
				t.Errorf("JSON log fields = %v", ev.Log.Fields)
			}
		} else {
			text++
		}
	}
	if text != 1 || structured != 1 {
		t.Errorf("function logs: %d text, %d JSON; want 1 and 1", text, structured)
	}
}

func TestParseOddInput(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantErr   bool
		wantKinds []Kind
	}{
		{"empty array", `[]`, false, nil},
		{"not an array", `{"type":"function"}`, true, nil},
		{"truncated", `[{"type":"function","record":"x"`, true, nil},
		{"not JSON", `hello`, true, nil},
		{"record of the wrong shape", `[{"type":"platform.report","record":"oops"}]`, false, []Kind{KindUnknown}},
		{"log record is a number", `[{"type":"function","record":12}]`, false, []Kind{KindUnknown}},
		{"event is not an object", `[1, "two", null]`, false, []Kind{KindUnknown, KindUnknown, KindUnknown}},
		{"missing record", `[{"type":"platform.start","time":"bad time"}]`, false, []Kind{KindPlatform}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events, err := Parse([]byte(tt.body))
			if tt.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("Parse error = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(events) != len(tt.wantKinds) {
				t.Fatalf("%d events, want %d", len(events), len(tt.wantKinds))
			}
			for i, k := range tt.wantKinds {
				if events[i].Kind != k {
					t.Errorf("event %d kind = %d, want %d", i, events[i].Kind, k)
				}
			}
		})
	}
}

func FuzzParseTelemetry(f *testing.F) {
	for _, name := range []string{"documented.json", "error-timeout.json", "managed-instances-2025-01-29.json",
		"aws-2022-12-13-text.json", "aws-2025-01-29-json.json", "snapstart-restore.json"} {
		f.Add(readTestdata(f, name))
	}
	f.Add([]byte(`[{"type":"function","record":{"message":{"nested":[1,2,3]}}}]`))
	f.Add([]byte(`[{"type":"platform.report","record":{"metrics":{"durationMs":"fast"}}}]`))
	f.Add([]byte(`[null]`))
	f.Add([]byte(` null `))
	f.Add([]byte(`{"type":"function"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		events, err := Parse(data)
		// The listener answers a push that CheckBatch takes before it
		// parses it: the two must agree.
		if cerr := CheckBatch(data); (cerr == nil) != (err == nil) {
			t.Fatalf("CheckBatch: %v, Parse: %v", cerr, err)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		for _, ev := range events {
			switch ev.Kind {
			case KindPlatform:
				if ev.Platform == nil {
					t.Fatal("platform event without record")
				}
			case KindLog:
				if ev.Log == nil {
					t.Fatal("log event without record")
				}
			}
		}
	})
}

// TestListenerAnswersBeforeHandling holds the handler and checks that
// pushes are answered meanwhile (Lambda waits for the answer at the start
// of an invocation), and that Shutdown returns only once every answered
// push was handled, in order.
func TestListenerAnswersBeforeHandling(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var got []string
	l := NewListener(func(evs []Event) {
		<-release
		mu.Lock()
		defer mu.Unlock()
		for _, ev := range evs {
			got = append(got, ev.Platform.RequestID)
		}
	}, nil)
	if err := l.Start(t.Context(), "127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	url := "http://127.0.0.1:" + strconv.Itoa(l.Port()) + "/"
	client := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	const pushes = 3
	for i := range pushes {
		body := `[{"time":"2024-05-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"r` + strconv.Itoa(i) + `"}}]`
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("push %d while the handler is held: %v", i, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("push %d: status %d", i, resp.StatusCode)
		}
	}
	stopped := make(chan error, 1)
	go func() { stopped <- l.Shutdown(context.Background()) }()
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned (%v) before the answered pushes were handled", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return within 5 s")
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"r0", "r1", "r2"}; !slices.Equal(got, want) {
		t.Errorf("handled %v, want %v", got, want)
	}
	if st := l.Stats(); st.Pushes != pushes || st.Events != pushes {
		t.Errorf("stats = %+v, want %d pushes and events", st, pushes)
	}
}

// TestListenerShutdownCountsUnhandled: when Shutdown's context ends
// before the answered pushes are handled, it says so, counts them (the
// one in the handler too), and hands none of them to the handler after.
func TestListenerShutdownCountsUnhandled(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	var mu sync.Mutex
	handled := 0
	l := NewListener(func(evs []Event) {
		entered <- struct{}{}
		<-release
		mu.Lock()
		handled++
		mu.Unlock()
	}, nil)
	if err := l.Start(t.Context(), "127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	url := "http://127.0.0.1:" + strconv.Itoa(l.Port()) + "/"
	client := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	var bytesPushed uint64
	for i := range 2 {
		body := `[{"time":"2024-05-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"r` + strconv.Itoa(i) + `"}}]`
		bytesPushed += uint64(len(body))
		resp, err := client.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
		_ = resp.Body.Close()
	}
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the first push never reached the handler")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := l.Shutdown(ctx); err == nil {
		t.Error("Shutdown returned nil with two pushes not handled")
	}
	close(release)
	if st := l.Stats(); st.Unhandled != 2 || st.UnhandledBytes != bytesPushed {
		t.Errorf("stats = %+v, want 2 pushes (%d bytes) unhandled", st, bytesPushed)
	}
	// The handler lets the first push go; the second is not handed to it.
	if err := l.Shutdown(t.Context()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if handled != 1 {
		t.Errorf("handler ended %d pushes, want only the one it held", handled)
	}
}

func TestListener(t *testing.T) {
	var mu sync.Mutex
	var got []Event
	l := NewListener(func(evs []Event) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, evs...)
	}, nil)
	if err := l.Start(t.Context(), "127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := l.Shutdown(context.Background()); err != nil {
			t.Errorf("second Shutdown: %v", err)
		}
	})
	if l.Port() == 0 {
		t.Fatal("no port after Start")
	}
	url := "http://127.0.0.1:" + strconv.Itoa(l.Port()) + "/"
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)

	tests := []struct {
		name   string
		method string
		body   []byte
		want   int
	}{
		{"documented events", http.MethodPost, readTestdata(t, "documented.json"), http.StatusOK},
		{"malformed", http.MethodPost, []byte(`[{"type":`), http.StatusBadRequest},
		{"wrong method", http.MethodGet, nil, http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, url, bytes.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("push: %v", err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
	if err := l.Handled(t.Context()); err != nil {
		t.Fatalf("Handled: %v", err)
	}
	st := l.Stats()
	mu.Lock()
	n := len(got)
	mu.Unlock()
	if st.Pushes != 1 || st.Malformed != 1 || st.Unknown != 1 || int(st.Events) != n || n != 14 {
		t.Errorf("stats = %+v, handler got %d events", st, n)
	}
}

func BenchmarkParse(b *testing.B) {
	data := readTestdata(b, "documented.json")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestParseManagedInstances reads a push of a Lambda Managed Instances
// environment (schema 2025-01-29): two invocations overlapping, JSON log
// lines that carry their request ID, record fields this version does not
// read (ignored), and an event type it does not know (kept raw, counted as
// unknown by the listener).
func TestParseManagedInstances(t *testing.T) {
	events, err := Parse(readTestdata(t, "managed-instances-2025-01-29.json"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(events) != 12 {
		t.Fatalf("%d events, want 12", len(events))
	}
	if r := events[0].Platform; events[0].Kind != KindPlatform || r.InitializationType != "lambda-managed-instances" || r.RuntimeVersion != "python:3.13.v12" {
		t.Errorf("initStart = %+v", events[0])
	}
	for i, want := range map[int]string{5: "11111111-0000-4000-8000-000000000002", 6: "11111111-0000-4000-8000-000000000001"} {
		ev := events[i]
		if ev.Kind != KindLog || !ev.Log.IsJSON() || ev.Log.Fields["requestId"] != want {
			t.Errorf("event %d = %+v, want a JSON log line of %s", i, ev, want)
		}
	}
	if r := events[8].Platform; r.RequestID != "11111111-0000-4000-8000-000000000001" || r.Status != "error" || r.ErrorType != "Function.Unhandled" {
		t.Errorf("runtimeDone = %+v", r)
	}
	if r := events[9].Platform; r.Metrics.BilledDurationMs != 49 || r.Metrics.MemorySizeMB != 8192 || r.Metrics.MaxMemoryUsedMB != 210 {
		t.Errorf("report metrics = %+v", r.Metrics)
	}
	if last := events[11]; last.Kind != KindUnknown || last.Type != "platform.someFutureEvent" || len(last.Raw) == 0 {
		t.Errorf("unknown event = %+v, want it kept raw", last)
	}
}

// TestListenerShutdownWithAFullQueue: with the handler stuck and the queue
// full, a push waiting for room does not hold Shutdown beyond its context;
// every push not handled is counted, the one refused included.
func TestListenerShutdownWithAFullQueue(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	l := NewListener(func(evs []Event) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
	}, nil)
	if err := l.Start(t.Context(), "127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	url := "http://127.0.0.1:" + strconv.Itoa(l.Port()) + "/"
	client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	body := `[{"time":"2024-05-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"r"}}]`
	push := func() int {
		resp, err := client.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			return 0
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	// One in the handler, then a full queue.
	if code := push(); code != http.StatusOK {
		t.Fatalf("first push: status %d", code)
	}
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the first push never reached the handler")
	}
	for i := range queuedPushes {
		if code := push(); code != http.StatusOK {
			t.Fatalf("push %d: status %d", i+2, code)
		}
	}
	// The next waits for room that never comes.
	waiting := make(chan int, 1)
	go func() { waiting <- push() }()
	for deadline := time.Now().Add(5 * time.Second); l.pending.Load() != int64(queuedPushes+2); {
		if time.Now().After(deadline) {
			t.Fatalf("%d pushes pending, want %d", l.pending.Load(), queuedPushes+2)
		}
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- l.Shutdown(ctx) }()
	select {
	case err := <-stopped:
		if err == nil {
			t.Error("Shutdown returned nil with pushes not handled")
		}
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("Shutdown did not return within 10 s of a 200 ms context")
	}
	close(release)
	if code := <-waiting; code == http.StatusOK {
		t.Errorf("the push waiting for room was answered %d", code)
	}
	want := uint64(queuedPushes + 2)
	if st := l.Stats(); st.Unhandled != want || st.UnhandledBytes != want*uint64(len(body)) {
		t.Errorf("stats = %+v, want %d pushes (%d bytes) unhandled", st, want, want*uint64(len(body)))
	}
	if err := l.Shutdown(t.Context()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}
