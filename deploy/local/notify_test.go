package local_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"

	"github.com/lambdascope/lambdascope/deploy/layer"
	"github.com/lambdascope/lambdascope/emulator"
	"github.com/lambdascope/lambdascope/emulator/eventsource"
	// Registers the zstd compressor the extension sends with.
	_ "github.com/lambdascope/lambdascope/proto/grpczstd"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// TestSNSAndEventBridgeJoinTheTrace runs an uninstrumented Node.js
// function with the real layer (the launcher as its extension, the exec
// wrapper in front of the runtime) subscribed to an SNS topic and the
// target of an EventBridge rule, under the emulator. The message carries
// its publisher's W3C traceparent as a message attribute; the event goes
// with its sender's X-Ray header, which Lambda passes on. For each, the
// extension's Runtime API proxy detects the trigger and adds the inferred
// span of the hop, in the caller's trace, under the caller's span.
func TestSNSAndEventBridgeJoinTheTrace(t *testing.T) {
	root, err := layer.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	launcher, err := layer.BuildTree(t.Context(), root, filepath.Join(dir, "layer"))
	if err != nil {
		t.Fatal(err)
	}
	code := filepath.Join(dir, "code")
	if err := os.MkdirAll(code, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(code, "index.js"), []byte("exports.handler = async () => ({ ok: true });\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	collector := startIngestRecorder(t)
	var buf bytes.Buffer
	out := syncWriter{w: &buf}
	em, err := emulator.New(emulator.Config{
		Functions: []emulator.FunctionConfig{{Name: "listener", Runtime: "nodejs20.x", Handler: "index.handler", CodeDir: code,
			Extensions: []string{launcher}, Timeout: 10 * time.Second, Env: map[string]string{
				"AWS_LAMBDA_EXEC_WRAPPER": filepath.Join(dir, "layer", filepath.FromSlash(layer.WrapperPath)),
				"LAMBDASCOPE_ENDPOINT":    collector.addr, "LAMBDASCOPE_API_KEY": "test-key"}}},
		Topics: []emulator.TopicConfig{{Name: "orders-placed", Subscribers: []string{"listener"}}},
		Rules:  []emulator.RuleConfig{{Name: "orders-to-listener", Sources: []string{"shop.orders"}, Targets: []string{"listener"}}},
		Output: &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := em.Shutdown(ctx); err != nil {
			t.Errorf("emulator shutdown: %v", err)
		}
	}
	t.Cleanup(stop)

	const (
		snsTrace, snsParent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
		xray                = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
		ebTrace, ebParent   = "5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8"
	)
	msgID, err := em.Publish("orders-placed", eventsource.Notification{Message: `{"order":"o-1"}`,
		Attributes: map[string]eventsource.MessageAttribute{
			"traceparent": {DataType: "String", StringValue: "00-" + snsTrace + "-" + snsParent + "-01"}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	waitDelivered(t, "the message delivered", func() bool {
		st, _ := em.TopicStats("orders-placed")
		return st.Delivered == 1
	})
	ids, errs := em.PutEvents([]emulator.BusEntry{{BusEvent: eventsource.BusEvent{Source: "shop.orders", DetailType: "OrderPlaced",
		Detail: []byte(`{"order":"o-1"}`)}, TraceHeader: xray}})
	if errs[0] != nil {
		t.Fatal(errs[0])
	}
	waitDelivered(t, "the event delivered", func() bool {
		st, _ := em.RuleStats("orders-to-listener")
		return st.Delivered == 1
	})
	stop()

	spans := collector.spans()
	for _, tc := range []struct {
		trigger, name, trace, parent string
		kind                         tracepb.Span_SpanKind
		attrs                        map[string]string
	}{
		{"sns", "orders-placed process", snsTrace, snsParent, tracepb.Span_SPAN_KIND_CONSUMER,
			map[string]string{"messaging.system": "aws_sns", "messaging.message.id": msgID, "lambdascope.trace_context.source": "w3c"}},
		{"eventbridge", "shop.orders OrderPlaced", ebTrace, ebParent, tracepb.Span_SPAN_KIND_CONSUMER,
			map[string]string{"aws.eventbridge.source": "shop.orders", "aws.eventbridge.detail_type": "OrderPlaced",
				"lambdascope.trace_context.source": "lambda"}},
	} {
		var found []*tracepb.Span
		for _, sp := range spans {
			if spanStringAttr(sp, "lambdascope.trigger") == tc.trigger {
				found = append(found, sp)
			}
		}
		if len(found) != 1 {
			t.Errorf("%s: %d inferred spans, want one\n%s", tc.trigger, len(found), out.String())
			continue
		}
		sp := found[0]
		if hex.EncodeToString(sp.GetTraceId()) != tc.trace || hex.EncodeToString(sp.GetParentSpanId()) != tc.parent {
			t.Errorf("%s: inferred span in %x under %x, want the caller's trace %s under its span %s",
				tc.trigger, sp.GetTraceId(), sp.GetParentSpanId(), tc.trace, tc.parent)
		}
		if sp.GetKind() != tc.kind {
			t.Errorf("%s: kind %v, want %v", tc.trigger, sp.GetKind(), tc.kind)
		}
		for k, v := range tc.attrs {
			if got := spanStringAttr(sp, k); got != v {
				t.Errorf("%s: %s = %q, want %q", tc.trigger, k, got, v)
			}
		}
	}
	if len(ids) != 1 || ids[0] == "" {
		t.Errorf("PutEvents gave IDs %v", ids)
	}
}

// waitDelivered polls cond, bounded.
func waitDelivered(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func spanStringAttr(sp *tracepb.Span, key string) string {
	for _, kv := range sp.GetAttributes() {
		if kv.GetKey() == key {
			switch v := kv.GetValue().GetValue().(type) {
			case *commonpb.AnyValue_StringValue:
				return v.StringValue
			}
		}
	}
	return ""
}

// ingestRecorder is a stand-in for the collector's Ingest API that keeps what
// the extension exports.
type ingestRecorder struct {
	ingestv1.UnimplementedIngestServiceServer
	addr string
	mu   sync.Mutex
	reqs []*ingestv1.ExportRequest
}

func startIngestRecorder(t *testing.T) *ingestRecorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &ingestRecorder{addr: ln.Addr().String()}
	srv := grpc.NewServer()
	ingestv1.RegisterIngestServiceServer(srv, r)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return r
}

func (r *ingestRecorder) Export(_ context.Context, req *ingestv1.ExportRequest) (*ingestv1.ExportResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, req)
	return &ingestv1.ExportResponse{}, nil
}

func (r *ingestRecorder) spans() []*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*tracepb.Span
	for _, req := range r.reqs {
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				out = append(out, ss.GetSpans()...)
			}
		}
	}
	return out
}
