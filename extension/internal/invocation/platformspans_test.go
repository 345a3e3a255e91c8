package invocation

import (
	"bytes"
	"sync"
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/extension/internal/telemetry"
)

type spanSink struct {
	sink
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (s *spanSink) AddSpans(rss []*tracepb.ResourceSpans) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rs := range rss {
		for _, ss := range rs.GetScopeSpans() {
			s.spans = append(s.spans, ss.GetSpans()...)
		}
	}
	return 0
}

const platformEvents = `[
 {"time":"2024-05-01T10:00:00.000Z","type":"platform.initStart","record":{"initializationType":"on-demand","phase":"init"}},
 {"time":"2024-05-01T10:00:00.180Z","type":"platform.initReport","record":{"initializationType":"on-demand","phase":"init","metrics":{"durationMs":180}}},
 {"time":"2024-05-01T10:00:00.200Z","type":"platform.start","record":{"requestId":"r1","version":"$LATEST"}},
 {"time":"2024-05-01T10:00:00.300Z","type":"platform.runtimeDone","record":{"requestId":"r1","status":"error","errorType":"Runtime.Unknown","metrics":{"durationMs":100},
   "spans":[{"name":"responseLatency","start":"2024-05-01T10:00:00.200Z","durationMs":90},{"name":"runtimeOverhead","start":"2024-05-01T10:00:00.300Z","durationMs":5}]}},
 {"time":"2024-05-01T10:00:00.310Z","type":"platform.report","record":{"requestId":"r1","status":"error","errorType":"Runtime.Unknown","metrics":{"durationMs":105,"billedDurationMs":106,"memorySizeMB":128,"maxMemoryUsedMB":60,"initDurationMs":180}}}
]`

func TestPlatformSpans(t *testing.T) {
	fnTrace := mustHex(t, "0af7651916cd43dd8448eb211c80319c")
	fnSpan := mustHex(t, "b7ad6b7169203331")
	upstream := mustHex(t, "00f067aa0ba902b7")
	xrayTrace := mustHex(t, "5759e988bd862e3fe1be46a994272793")
	xrayParent := mustHex(t, "53995c3f42cd8ad8")
	tests := []struct {
		name       string
		xray       string
		fnSpan     *tracepb.Span
		wantTrace  []byte // nil: a new trace
		wantParent []byte
	}{
		{"function span under a caller: children", "", &tracepb.Span{TraceId: fnTrace, SpanId: fnSpan, ParentSpanId: upstream, Kind: tracepb.Span_SPAN_KIND_SERVER}, fnTrace, fnSpan},
		{"function span is the root: children", "", &tracepb.Span{TraceId: fnTrace, SpanId: fnSpan, Kind: tracepb.Span_SPAN_KIND_SERVER}, fnTrace, fnSpan},
		{"no function span: under the X-Ray parent", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", nil, xrayTrace, xrayParent},
		{"no trace at all: a new one", "", nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &spanSink{}
			tr := New(s, nil, nil)
			tr.ObserveInvoke("r1", tt.xray)
			if tt.fnSpan != nil {
				tt.fnSpan.Attributes = []*commonpb.KeyValue{strAttr(AttrInvocationID, "r1")}
				tr.ObserveSpans([]*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{tt.fnSpan}}}}})
			}
			evs, err := telemetry.Parse([]byte(platformEvents))
			if err != nil {
				t.Fatal(err)
			}
			tr.HandleTelemetry(evs)
			if len(s.invocations) != 1 {
				t.Fatalf("%d invocations", len(s.invocations))
			}
			inv := s.invocations[0]
			byName := map[string]*tracepb.Span{}
			for _, sp := range s.spans {
				byName[sp.GetName()] = sp
			}
			if len(byName) != 3 {
				t.Fatalf("platform spans %v, want init, invoke and runtime overhead", byName)
			}
			invoke, init, overhead := byName[SpanInvoke], byName[SpanInit], byName[SpanRuntimeOverhead]
			for _, sp := range s.spans {
				if !bytes.Equal(sp.GetTraceId(), inv.GetTraceId()) || len(sp.GetTraceId()) != 16 {
					t.Errorf("%s trace %x, invocation trace %x", sp.GetName(), sp.GetTraceId(), inv.GetTraceId())
				}
			}
			if tt.wantTrace != nil && !bytes.Equal(inv.GetTraceId(), tt.wantTrace) {
				t.Errorf("trace %x, want %x", inv.GetTraceId(), tt.wantTrace)
			}
			if !bytes.Equal(invoke.GetParentSpanId(), tt.wantParent) || !bytes.Equal(init.GetParentSpanId(), tt.wantParent) {
				t.Errorf("invoke parent %x, init parent %x, want %x", invoke.GetParentSpanId(), init.GetParentSpanId(), tt.wantParent)
			}
			if !bytes.Equal(overhead.GetParentSpanId(), invoke.GetSpanId()) {
				t.Errorf("runtime overhead parent %x, want the invoke span %x", overhead.GetParentSpanId(), invoke.GetSpanId())
			}
			if tt.wantTrace == nil && !bytes.Equal(inv.GetSpanId(), invoke.GetSpanId()) {
				t.Errorf("invocation record span %x does not point at lambda.invoke %x", inv.GetSpanId(), invoke.GetSpanId())
			}
			if d := init.GetEndTimeUnixNano() - init.GetStartTimeUnixNano(); d != 180e6 {
				t.Errorf("init lasts %d ns, want 180 ms", d)
			}
			if init.GetEndTimeUnixNano() > invoke.GetStartTimeUnixNano() {
				t.Errorf("init ends after the invocation starts")
			}
			if overhead.GetEndTimeUnixNano() > invoke.GetEndTimeUnixNano() || overhead.GetEndTimeUnixNano()-overhead.GetStartTimeUnixNano() != 5e6 {
				t.Errorf("runtime overhead %d..%d not a 5 ms span inside invoke ..%d", overhead.GetStartTimeUnixNano(), overhead.GetEndTimeUnixNano(), invoke.GetEndTimeUnixNano())
			}
			if invoke.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR {
				t.Errorf("invoke status %v, want error", invoke.GetStatus())
			}
			attrs := map[string]string{}
			for _, kv := range invoke.GetAttributes() {
				attrs[kv.GetKey()] = kv.GetValue().String()
			}
			if attrs[AttrInvocationID] == "" || attrs["faas.coldstart"] == "" || attrs["aws.lambda.error_type"] == "" {
				t.Errorf("invoke attributes %v", attrs)
			}
		})
	}
}
