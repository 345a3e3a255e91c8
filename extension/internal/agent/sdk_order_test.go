package agent

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/invocation"
	"github.com/lambdascope/lambdascope/extension/internal/rtproxy"
	"github.com/lambdascope/lambdascope/extension/internal/trigger"
)

// heldObserver is the event observer whose Invoked runs only once
// released: a machine too busy to run the proxy's observer goroutine
// before the function's span arrives.
type heldObserver struct {
	*eventObserver
	release chan struct{}
}

func (h heldObserver) Invoked(ev rtproxy.Event) {
	<-h.release
	h.eventObserver.Invoked(ev)
}

// TestSDKSpanBeforeTheEventIsRead: the function's invocation span reaches
// the extension before the proxy's observer read the event it relayed; the
// span waits for it and goes under the inferred span all the same.
func TestSDKSpanBeforeTheEventIsRead(t *testing.T) {
	const id = "33333333-0000-4000-8000-000000000001"
	event := sample(t, "apigw-v2-request-no-authorizer.json")
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(rtproxy.HeaderRequestID, id)
		w.Header().Set(rtproxy.HeaderTraceID, lambdaTraceHeader)
		_, _ = io.WriteString(w, event)
	}))
	t.Cleanup(upstream.Close)

	ready := make(chan struct{})
	close(ready)
	buf := buffer.New(1<<20, 1<<20, slog.New(slog.DiscardHandler))
	o := newEventObserver(ready, trigger.DefaultPrecedence, func() (*buffer.Buffer, *invocation.Tracker, *resourcepb.Resource) {
		return buf, nil, nil
	}, slog.New(slog.DiscardHandler))
	held := heldObserver{eventObserver: o, release: make(chan struct{})}
	release := sync.OnceFunc(func() { close(held.release) })
	px, err := rtproxy.New(strings.TrimPrefix(upstream.URL, "http://"), held, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	px.SetCaptureLimit(trigger.MaxDecode + 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	px.Serve(ln)
	t.Cleanup(func() {
		release()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = px.Shutdown(ctx)
	})
	// The span is what lets Invoked run: without the wait it is read
	// first.
	o.waitInvoked = func(id string) {
		release()
		px.WaitInvoked(id)
	}

	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	resp, err := client.Get("http://" + ln.Addr().String() + "/2018-06-01/runtime/invocation/next")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()

	sdk := &tracepb.Span{TraceId: bytes.Repeat([]byte{7}, 16), SpanId: bytes.Repeat([]byte{8}, 8),
		Kind: tracepb.Span_SPAN_KIND_SERVER, Attributes: []*commonpb.KeyValue{strAttr("faas.invocation_id", id)}}
	o.adoptDecoded([]*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{sdk}}}}})

	o.mu.Lock()
	p := o.pending[id]
	o.mu.Unlock()
	if p == nil {
		t.Fatal("the event was not read")
	}
	if !bytes.Equal(sdk.GetParentSpanId(), p.spanID[:]) || p.sc.Source != FunctionTrace {
		t.Errorf("SDK span under %x, inferred span %x in a trace from %q; want the SDK's span under the inferred span, which takes its trace",
			sdk.GetParentSpanId(), p.spanID, p.sc.Source)
	}
}
