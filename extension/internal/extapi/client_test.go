package extapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeAPI is a minimal Extensions API recording what it was sent.
type fakeAPI struct {
	mu       sync.Mutex
	requests map[string]*http.Request
	bodies   map[string]string
	events   []string
}

func newFakeAPI(t *testing.T, events ...string) (*fakeAPI, *Client) {
	t.Helper()
	f := &fakeAPI{requests: map[string]*http.Request{}, bodies: map[string]string{}, events: events}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	c := New(strings.TrimPrefix(srv.URL, "http://"), "lambdascope")
	t.Cleanup(c.CloseIdle)
	return f, c
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	key := r.Method + " " + r.URL.Path
	f.requests[key] = r
	f.bodies[key] = string(body)
	switch key {
	case "POST /2020-01-01/extension/register":
		w.Header().Set(headerIdentifier, "ext-id-1")
		_, _ = io.WriteString(w, `{"functionName":"checkout","functionVersion":"$LATEST","handler":"index.handler","accountId":"123456789012"}`)
	case "GET /2020-01-01/extension/event/next":
		if r.Header.Get(headerIdentifier) != "ext-id-1" {
			http.Error(w, `{"errorType":"Extension.Unknown"}`, http.StatusForbidden)
			return
		}
		if len(f.events) == 0 {
			http.Error(w, "no more events", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, f.events[0])
		f.events = f.events[1:]
	case "PUT /2022-07-01/telemetry":
		_, _ = io.WriteString(w, "OK")
	case "POST /2020-01-01/extension/init/error", "POST /2020-01-01/extension/exit/error":
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"status":"OK"}`)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeAPI) got(t *testing.T, key string) (*http.Request, string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.requests[key]
	if !ok {
		t.Fatalf("no request %s", key)
	}
	return r, f.bodies[key]
}

func TestRegisterAndEvents(t *testing.T) {
	f, c := newFakeAPI(t,
		`{"eventType":"INVOKE","deadlineMs":1700000000000,"requestId":"req-1","invokedFunctionArn":"arn:aws:lambda:us-east-1:123456789012:function:checkout","tracing":{"type":"X-Amzn-Trace-Id","value":"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}}`,
		`{"eventType":"SHUTDOWN","shutdownReason":"SPINDOWN","deadlineMs":1700000002000}`,
		`{"eventType":"SHUTDOWN","shutdownReason":"oom-ish","deadlineMs":1}`,
	)
	reg, err := c.Register(t.Context(), Invoke, Shutdown)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if reg.ExtensionID != "ext-id-1" || reg.AccountID != "123456789012" || reg.FunctionName != "checkout" {
		t.Errorf("registration = %+v", reg)
	}
	r, body := f.got(t, "POST /2020-01-01/extension/register")
	if r.Header.Get(headerName) != "lambdascope" || r.Header.Get(headerAcceptFeature) != "accountId" {
		t.Errorf("register headers = %v", r.Header)
	}
	var rb struct{ Events []string }
	if err := json.Unmarshal([]byte(body), &rb); err != nil || strings.Join(rb.Events, ",") != "INVOKE,SHUTDOWN" {
		t.Errorf("register body = %s (%v)", body, err)
	}

	tests := []struct {
		name string
		want Event
	}{
		{"invoke", Event{EventType: Invoke, DeadlineMs: 1700000000000, RequestID: "req-1",
			InvokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:checkout",
			Tracing:            &Tracing{Type: "X-Amzn-Trace-Id", Value: "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}}},
		{"shutdown upper case reason", Event{EventType: Shutdown, ShutdownReason: ReasonSpindown, DeadlineMs: 1700000002000}},
		{"shutdown unknown reason", Event{EventType: Shutdown, ShutdownReason: "oom-ish", DeadlineMs: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := c.Next(t.Context())
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			gotJSON, _ := json.Marshal(ev)
			wantJSON, _ := json.Marshal(tt.want)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("event = %s, want %s", gotJSON, wantJSON)
			}
		})
	}
	_, err = c.Next(t.Context())
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusInternalServerError {
		t.Errorf("Next after last event = %v, want status 500", err)
	}
}

func TestSubscribeAndErrors(t *testing.T) {
	f, c := newFakeAPI(t)
	if _, err := c.Register(t.Context(), Invoke, Shutdown); err != nil {
		t.Fatalf("Register: %v", err)
	}
	if err := c.SubscribeTelemetry(t.Context(), "http://sandbox.localdomain:4243/", SchemaV1, []string{"platform", "function", "extension"}, DefaultBuffering); err != nil {
		t.Fatalf("SubscribeTelemetry: %v", err)
	}
	r, body := f.got(t, "PUT /2022-07-01/telemetry")
	if r.Header.Get(headerIdentifier) != "ext-id-1" {
		t.Errorf("subscribe identifier = %q", r.Header.Get(headerIdentifier))
	}
	var sub struct {
		SchemaVersion string
		Types         []string
		Buffering     Buffering
		Destination   struct{ Protocol, URI string }
	}
	if err := json.Unmarshal([]byte(body), &sub); err != nil {
		t.Fatalf("subscribe body %s: %v", body, err)
	}
	if sub.SchemaVersion != "2022-12-13" || sub.Buffering != (Buffering{MaxItems: 1000, MaxBytes: 262144, TimeoutMs: 25}) ||
		sub.Destination.Protocol != "HTTP" || sub.Destination.URI != "http://sandbox.localdomain:4243/" ||
		strings.Join(sub.Types, ",") != "platform,function,extension" {
		t.Errorf("subscription = %+v", sub)
	}

	for _, phase := range []string{"init", "exit"} {
		t.Run(phase, func(t *testing.T) {
			report := c.InitError
			if phase == "exit" {
				report = c.ExitError
			}
			if err := report(t.Context(), "Extension.ConfigInvalid", errors.New("bad endpoint")); err != nil {
				t.Fatalf("report: %v", err)
			}
			r, body := f.got(t, "POST /2020-01-01/extension/"+phase+"/error")
			if r.Header.Get(headerErrorType) != "Extension.ConfigInvalid" || !strings.Contains(body, "bad endpoint") {
				t.Errorf("error report headers %v body %s", r.Header, body)
			}
		})
	}
}

// TestSubscriptionRefusals: a subscription is taken only on a 2xx answer
// without an errorType; AWS's emulator answers 202 with
// Telemetry.NotSupported.
func TestSubscriptionRefusals(t *testing.T) {
	const notSupported = `{"errorMessage":"Telemetry API is not supported","errorType":"Telemetry.NotSupported"}`
	tests := []struct {
		name             string
		status           int
		body             string
		wantErr, wantNot bool
	}{
		{"taken", http.StatusOK, "OK", false, false},
		{"taken, empty body", http.StatusOK, "", false, false},
		{"not supported under 202", http.StatusAccepted, notSupported, true, true},
		{"not supported under 200", http.StatusOK, notSupported, true, true},
		{"not supported under 400", http.StatusBadRequest, notSupported, true, true},
		{"other refusal under 202", http.StatusAccepted, `{"errorType":"Telemetry.Something"}`, true, false},
		{"unavailable", http.StatusServiceUnavailable, `{"errorType":"Telemetry.Unavailable"}`, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			t.Cleanup(srv.Close)
			c := New(strings.TrimPrefix(srv.URL, "http://"), "lambdascope")
			t.Cleanup(c.CloseIdle)
			err := c.SubscribeTelemetry(t.Context(), "http://127.0.0.1:1/", SchemaV1, []string{"platform"}, DefaultBuffering)
			if (err != nil) != tt.wantErr || errors.Is(err, ErrTelemetryNotSupported) != tt.wantNot {
				t.Fatalf("SubscribeTelemetry = %v; want error %v, not supported %v", err, tt.wantErr, tt.wantNot)
			}
			var se *StatusError
			if err != nil && (!errors.As(err, &se) || se.StatusCode != tt.status || !strings.Contains(err.Error(), tt.body)) {
				t.Errorf("error %v does not carry the status %d and the body", err, tt.status)
			}
		})
	}
}
