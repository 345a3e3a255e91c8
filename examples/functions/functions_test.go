// Package functions_test runs the sample orders and inventory functions under
// the emulator and checks the distributed trace they export.
package functions_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/emulator"
)

type spanStore struct {
	mu    sync.Mutex
	spans []*tracepb.Span
	svc   map[*tracepb.Span]string
}

func (s *spanStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		svc := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				svc = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				s.spans = append(s.spans, sp)
				s.svc[sp] = svc
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(nil)
}

func (s *spanStore) find(name string) (*tracepb.Span, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sp := range s.spans {
		if sp.GetName() == name {
			return sp, s.svc[sp]
		}
	}
	return nil, ""
}

func attr(sp *tracepb.Span, key string) string {
	for _, kv := range sp.GetAttributes() {
		if kv.GetKey() == key {
			v := kv.GetValue()
			if s := v.GetStringValue(); s != "" {
				return s
			}
			return fmt.Sprint(v.GetIntValue())
		}
	}
	return ""
}

func build(t *testing.T, dir, pkg string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(pkg), "bootstrap")
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("build %s: %v", pkg, err)
	}
	return out
}

func TestOrdersInvokesInventoryInOneTrace(t *testing.T) {
	dir := t.TempDir()
	orders, inventory := build(t, dir, "./orders"), build(t, dir, "./inventory")
	store := &spanStore{svc: map[*tracepb.Span]string{}}
	srv := httptest.NewServer(store)
	t.Cleanup(srv.Close)
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL}

	em, err := emulator.New(emulator.Config{Functions: []emulator.FunctionConfig{
		{Name: "orders", Handler: orders, Env: env, Timeout: 10 * time.Second},
		{Name: "inventory", Handler: inventory, Env: env, Timeout: 10 * time.Second},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := em.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})

	const parentTrace = "0af7651916cd43dd8448eb211c80319c"
	tests := []struct {
		name       string
		body       string
		wantStatus int
	}{
		{"reserved", `{"sku":"abc","qty":2}`, 200},
		{"inventory fails", `{"sku":"abc","qty":2,"fail_inventory":true}`, 502},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			event, _ := json.Marshal(map[string]any{
				"version": "2.0", "rawPath": "/orders", "body": tc.body,
				"headers":        map[string]string{"traceparent": "00-" + parentTrace + "-b7ad6b7169203331-01"},
				"requestContext": map[string]any{"http": map[string]string{"method": "POST"}},
			})
			res, err := em.Invoke(t.Context(), "orders", event)
			if err != nil {
				t.Fatal(err)
			}
			var resp struct {
				StatusCode int    `json:"statusCode"`
				Body       string `json:"body"`
			}
			if err := json.Unmarshal(res.Payload, &resp); err != nil || res.FunctionError != "" {
				t.Fatalf("orders result %s %s: %v", res.FunctionError, res.Payload, err)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, resp.Body)
			}
		})
	}

	// Spans are flushed before each function returns.
	server, svc := store.find("orders")
	client, _ := store.find("inventory invoke")
	inv, invSvc := store.find("inventory")
	reserve, _ := store.find("reserve stock")
	db, _ := store.find("INSERT shop.orders")
	if server == nil || client == nil || inv == nil || reserve == nil || db == nil {
		t.Fatalf("missing spans: orders=%v client=%v inventory=%v reserve=%v db=%v", server != nil, client != nil, inv != nil, reserve != nil, db != nil)
	}
	checks := []struct {
		name      string
		got, want string
	}{
		{"orders trace continues the caller's", hex.EncodeToString(server.GetTraceId()), parentTrace},
		{"orders service", svc, "orders"},
		{"inventory service", invSvc, "inventory"},
		{"orders span kind", server.GetKind().String(), "SPAN_KIND_SERVER"},
		{"client span kind", client.GetKind().String(), "SPAN_KIND_CLIENT"},
		{"inventory in the same trace", hex.EncodeToString(inv.GetTraceId()), parentTrace},
		{"inventory parent is the client span", hex.EncodeToString(inv.GetParentSpanId()), hex.EncodeToString(client.GetSpanId())},
		{"reserve parent is inventory", hex.EncodeToString(reserve.GetParentSpanId()), hex.EncodeToString(inv.GetSpanId())},
		{"db system", attr(db, "db.system.name"), "postgresql"},
		{"faas.trigger", attr(server, "faas.trigger"), "http"},
		{"cloud.account.id", attr(server, "cloud.account.id"), "123456789012"},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("got %q, want %q", c.got, c.want)
			}
		})
	}
	if id := attr(server, "faas.invocation_id"); len(id) != 36 || strings.Count(id, "-") != 4 {
		t.Errorf("faas.invocation_id = %q, want a request ID", id)
	}
}
