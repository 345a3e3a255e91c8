package invocation

import (
	"encoding/binary"
	"math/rand/v2"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/extension/internal/telemetry"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// Names of the platform spans built for each invocation.
const (
	SpanInit            = "lambda.init"
	SpanInvoke          = "lambda.invoke"
	SpanRuntimeOverhead = "lambda.runtime_overhead"
)

// SpanSink is the optional part of a Sink that takes the platform spans.
type SpanSink interface {
	AddSpans([]*tracepb.ResourceSpans) int
}

// platformSpansLocked builds the platform spans of a finished invocation.
//
// They go in the invocation's trace: the function's SERVER span trace when
// the function exported one, else the X-Ray root; with neither, a new
// trace, and the invocation record points at it. The function's spans are
// already exported when the report comes and cannot be re-parented, so the
// platform spans join the tree without breaking it:
//   - with the function's invocation span known, lambda.init and
//     lambda.invoke become its children (whether it is the trace's root or
//     sits under an upstream caller), so the trace keeps one root and a
//     caller's span keeps exactly the callee's invocation span under it;
//   - without it, they hang under Lambda's span of the invocation
//     (platform tracing) or the X-Ray header's parent when there is one,
//     else lambda.invoke is the root.
//
// lambda.runtime_overhead is always a child of lambda.invoke.
func (t *Tracker) platformSpansLocked(st *state, inv *ingestv1.Invocation, ref spanRef, haveRef bool) []*tracepb.Span {
	var parent []byte
	switch {
	case haveRef:
		parent = ref.spanID
	case len(inv.SpanId) == 8:
		parent = inv.SpanId
	default:
		parent = XRayParentID(inv.XrayTraceHeader)
	}
	if len(inv.TraceId) != 16 {
		inv.TraceId = randomID(16)
		parent = nil
	}
	traceID := inv.TraceId

	start := time.Unix(0, int64(inv.StartTimeUnixNano))
	if inv.StartTimeUnixNano == 0 {
		return nil
	}
	end := start.Add(msDuration(inv.DurationMs))
	if rd := st.runtimeDone; rd != nil && !st.runtimeDoneAt.IsZero() && st.runtimeDoneAt.After(start) {
		end = st.runtimeDoneAt
	}

	invocationAttrs := []*commonpb.KeyValue{
		strAttr(AttrInvocationID, inv.RequestId),
		boolAttr("faas.coldstart", inv.ColdStart),
		strAttr("aws.lambda.status", inv.Status),
	}
	if inv.ErrorType != "" {
		invocationAttrs = append(invocationAttrs, strAttr("aws.lambda.error_type", inv.ErrorType))
	}
	if inv.BilledDurationMs > 0 {
		invocationAttrs = append(invocationAttrs, intAttr("aws.lambda.billed_duration_ms", int64(inv.BilledDurationMs)))
	}
	if inv.MaxMemoryUsedMb > 0 {
		invocationAttrs = append(invocationAttrs, intAttr("aws.lambda.max_memory_used_mb", int64(inv.MaxMemoryUsedMb)))
	}
	invoke := &tracepb.Span{
		TraceId: traceID, SpanId: randomID(8), ParentSpanId: parent,
		Name: SpanInvoke, Kind: tracepb.Span_SPAN_KIND_INTERNAL,
		StartTimeUnixNano: uint64(start.UnixNano()), EndTimeUnixNano: uint64(end.UnixNano()),
		Attributes: invocationAttrs,
	}
	if inv.Status != "success" {
		invoke.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: inv.Status + " " + inv.ErrorType}
	}
	if !haveRef && len(inv.SpanId) != 8 {
		// Nothing else represents the invocation: point the record at it.
		inv.SpanId = invoke.SpanId
	}
	spans := []*tracepb.Span{invoke}

	if inv.RuntimeOverheadMs > 0 {
		oStart := end
		if rd := st.runtimeDone; rd != nil {
			for _, s := range rd.Spans {
				if s.Name == "runtimeOverhead" {
					if ts, err := time.Parse(time.RFC3339Nano, s.Start); err == nil {
						oStart = ts
					}
				}
			}
		}
		oEnd := oStart.Add(msDuration(inv.RuntimeOverheadMs))
		if oEnd.After(end) {
			// The overhead is part of the invocation; keep it inside.
			invoke.EndTimeUnixNano = uint64(oEnd.UnixNano())
		}
		spans = append(spans, &tracepb.Span{
			TraceId: traceID, SpanId: randomID(8), ParentSpanId: invoke.SpanId,
			Name: SpanRuntimeOverhead, Kind: tracepb.Span_SPAN_KIND_INTERNAL,
			StartTimeUnixNano: uint64(oStart.UnixNano()), EndTimeUnixNano: uint64(oEnd.UnixNano()),
			Attributes: []*commonpb.KeyValue{strAttr(AttrInvocationID, inv.RequestId)},
		})
	}

	if inv.ColdStart && inv.InitDurationMs > 0 {
		iStart := t.initStartAt
		if iStart.IsZero() || iStart.After(start) {
			iStart = start.Add(-msDuration(inv.InitDurationMs))
		}
		attrs := []*commonpb.KeyValue{strAttr(AttrInvocationID, inv.RequestId), boolAttr("faas.coldstart", true)}
		if t.initType != "" {
			attrs = append(attrs, strAttr("aws.lambda.initialization_type", t.initType))
		}
		spans = append(spans, &tracepb.Span{
			TraceId: traceID, SpanId: randomID(8), ParentSpanId: parent,
			Name: SpanInit, Kind: tracepb.Span_SPAN_KIND_INTERNAL,
			StartTimeUnixNano: uint64(iStart.UnixNano()),
			EndTimeUnixNano:   uint64(iStart.Add(msDuration(inv.InitDurationMs)).UnixNano()),
			Attributes:        attrs,
		})
	}
	return spans
}

// noteInitLocked keeps what the init events say for the lambda.init span.
func (t *Tracker) noteInitLocked(ev *telemetry.Event) {
	if ev.Type == telemetry.TypeInitStart && (ev.Platform.Phase == "" || ev.Platform.Phase == "init") {
		t.initStartAt = ev.Time
		t.initType = ev.Platform.InitializationType
	}
}

func msDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

func randomID(n int) []byte {
	id := make([]byte, n)
	for i := 0; i < n; i += 8 {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], rand.Uint64()|1) // never all zero
		copy(id[i:], b[:])
	}
	return id
}

func strAttr(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func boolAttr(k string, v bool) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v}}}
}

func intAttr(k string, v int64) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
}
