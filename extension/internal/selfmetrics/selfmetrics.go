// Package selfmetrics turns the extension's own counters (what it received,
// sent, dropped, sampled out and spooled per signal, telemetry events it could not use,
// log records Lambda dropped, OTLP requests it could not read, invocation
// records built without the platform's report) into OTLP metrics shipped with the function's
// data, so losses are visible in the backend and not only in the log.
package selfmetrics

import (
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
)

// ScopeName is the instrumentation scope of the extension's metrics.
const ScopeName = "lambdascope.extension"

// Metric names.
const (
	Received          = "lambdascope.extension.received"
	Sent              = "lambdascope.extension.sent"
	Dropped           = "lambdascope.extension.dropped"
	SampledOut        = "lambdascope.extension.sampled_out"
	Spooled           = "lambdascope.extension.spooled"
	Replayed          = "lambdascope.extension.replayed"
	SpoolCorrupt      = "lambdascope.extension.spool.corrupt_files"
	TelemetryEvents   = "lambdascope.extension.telemetry.events"
	TelemetryUnknown  = "lambdascope.extension.telemetry.unknown"
	TelemetryMalform  = "lambdascope.extension.telemetry.malformed"
	OTLPMalformed     = "lambdascope.extension.otlp.malformed"
	LambdaLogsDropped = "lambdascope.extension.lambda.logs_dropped"
	RuntimeDoneLate   = "lambdascope.extension.telemetry.runtime_done_late"
	LogsUnattributed  = "lambdascope.extension.logs.unattributed"
	// The records built from the extension's own view, without the
	// Telemetry API, and what they left out.
	RecordsFromOwnView     = "lambdascope.extension.records.from_own_view"
	ReportsAfterOwnRecords = "lambdascope.extension.telemetry.reports_after_own_records"
	InvocationsUnrecorded  = "lambdascope.extension.invocations.unrecorded"
	ErrorTextsCut          = "lambdascope.extension.runtime_api.error_texts_cut"
	ErrorBodiesTooLarge    = "lambdascope.extension.runtime_api.error_bodies_too_large"
	// The inferred spans of the Runtime API proxy's events.
	InferredSpansLost        = "lambdascope.extension.runtime_api.inferred_spans_lost"
	InferredSpansUnanswered  = "lambdascope.extension.runtime_api.inferred_spans_unanswered"
	AnswersAfterInferredSpan = "lambdascope.extension.runtime_api.answers_after_inferred_span"
	Redacted                 = "lambdascope.extension.redacted"
	BufferBytes              = "lambdascope.extension.buffer.bytes"
	SpoolBytes               = "lambdascope.extension.spool.bytes"
)

// Snapshot is the state of every counter at one moment. Counters are
// cumulative since Start.
type Snapshot struct {
	Received, Sent, Dropped, Spooled, Replayed buffer.Counts
	// SampledOut is what LAMBDASCOPE_SAMPLE_RATE left out on purpose.
	SampledOut         buffer.Counts
	SpoolCorrupt       uint64
	TelemetryEvents    uint64
	TelemetryUnknown   uint64
	TelemetryMalformed uint64
	// OTLPMalformed is the function's OTLP requests refused as unreadable.
	OTLPMalformed uint64
	// LambdaLogsDropped is the records platform.logsDropped reported.
	LambdaLogsDropped uint64
	// RuntimeDoneLate is the invocations whose platform.runtimeDone did
	// not come within the bound on the wait for it.
	RuntimeDoneLate uint64
	// LogsUnattributed is the log lines without a request ID of their own
	// shipped without one because their invocation could not be known.
	LogsUnattributed uint64
	// RecordsFromOwnView is the invocation records built from the
	// extension's own view (no platform report); ReportsAfterOwnRecords
	// the platform reports left out because their invocation had such a
	// record already; InvocationsUnrecorded the invocations the extension
	// saw run and could build no record of.
	RecordsFromOwnView, ReportsAfterOwnRecords, InvocationsUnrecorded uint64
	// ErrorTextsCut is the runtime's answers to /error (and streamed
	// responses' error trailers) whose message or type was cut to its
	// bound.
	ErrorTextsCut uint64
	// ErrorBodiesTooLarge is the runtime's errors whose body was too
	// large to read (an /error body over 1 MiB, a streamed response's
	// error-body trailer whose first 64 KiB hold not both the type and
	// the message): no message, the type from what was read or the
	// Lambda-Runtime-Function-Error-Type header or trailer.
	ErrorBodiesTooLarge uint64
	// InferredSpansLost is the invocations forgotten before their answer
	// came whose inferred span was not made (more waiting than the bound,
	// an answer whose event was never seen); InferredSpansUnanswered the
	// inferred spans made for invocations that never answered;
	// AnswersAfterInferredSpan the answers that came after such a span
	// was made, which it does not have.
	InferredSpansLost, InferredSpansUnanswered, AnswersAfterInferredSpan uint64
	// Redacted is the values hidden by the redaction rules.
	Redacted    uint64
	BufferBytes int64
	SpoolBytes  int64
}

// Build returns the snapshot as one ResourceMetrics: monotonic cumulative
// sums (per signal where the counter has one) starting at start, and gauges
// for the buffer and spool sizes, all at now.
func Build(res *resourcepb.Resource, s Snapshot, start, now time.Time) *metricspb.ResourceMetrics {
	st, t := uint64(start.UnixNano()), uint64(now.UnixNano())
	var ms []*metricspb.Metric
	perSignal := func(name, desc string, c buffer.Counts) {
		pts := make([]*metricspb.NumberDataPoint, 0, len(c))
		for i, n := range c {
			pts = append(pts, &metricspb.NumberDataPoint{
				Attributes:        []*commonpb.KeyValue{str("signal", buffer.Signal(i).String())},
				StartTimeUnixNano: st, TimeUnixNano: t,
				Value: &metricspb.NumberDataPoint_AsInt{AsInt: int64(n)},
			})
		}
		ms = append(ms, sum(name, desc, "{item}", pts))
	}
	single := func(name, desc, unit string, n uint64) {
		ms = append(ms, sum(name, desc, unit, []*metricspb.NumberDataPoint{{
			StartTimeUnixNano: st, TimeUnixNano: t,
			Value: &metricspb.NumberDataPoint_AsInt{AsInt: int64(n)},
		}}))
	}
	gauge := func(name, desc string, n int64) {
		ms = append(ms, &metricspb.Metric{Name: name, Description: desc, Unit: "By", Data: &metricspb.Metric_Gauge{
			Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{{
				TimeUnixNano: t, Value: &metricspb.NumberDataPoint_AsInt{AsInt: n},
			}}},
		}})
	}
	perSignal(Received, "Telemetry items the extension received.", s.Received)
	perSignal(Sent, "Telemetry items the collector accepted.", s.Sent)
	perSignal(Dropped, "Telemetry items dropped (buffer or spool full, rejected by the collector, unsendable).", s.Dropped)
	perSignal(SampledOut, "Telemetry items left out by sampling (LAMBDASCOPE_SAMPLE_RATE).", s.SampledOut)
	perSignal(Spooled, "Telemetry items written to the on-disk spool.", s.Spooled)
	perSignal(Replayed, "Spooled telemetry items the collector accepted later.", s.Replayed)
	single(SpoolCorrupt, "Spool files skipped as unreadable.", "{file}", s.SpoolCorrupt)
	single(TelemetryEvents, "Telemetry API events received.", "{event}", s.TelemetryEvents)
	single(TelemetryUnknown, "Telemetry API events of an unknown type, kept raw.", "{event}", s.TelemetryUnknown)
	single(TelemetryMalform, "Telemetry API events that could not be parsed.", "{event}", s.TelemetryMalformed)
	single(OTLPMalformed, "OTLP requests from the function refused as unreadable.", "{request}", s.OTLPMalformed)
	single(LambdaLogsDropped, "Log records Lambda reported dropped (platform.logsDropped).", "{record}", s.LambdaLogsDropped)
	single(RuntimeDoneLate, "Invocations whose platform.runtimeDone did not come within the bound; /event/next was called without it.", "{invocation}", s.RuntimeDoneLate)
	single(Redacted, "Values hidden by the redaction rules (LAMBDASCOPE_REDACT_KEYS, LAMBDASCOPE_REDACT_PATTERNS) in log records and captured values.", "{value}", s.Redacted)
	single(LogsUnattributed, "Log lines without a request ID of their own, shipped without one because their invocation could not be known (several in flight, or Managed Instances).", "{record}", s.LogsUnattributed)
	single(RecordsFromOwnView, "Invocation records built from the extension's own view (the INVOKE event, the Runtime API proxy's event and answer), without a platform report: the Telemetry API did not deliver.", "{record}", s.RecordsFromOwnView)
	single(ReportsAfterOwnRecords, "Platform reports left out because their invocation's record was built from the extension's own view already.", "{report}", s.ReportsAfterOwnRecords)
	single(InvocationsUnrecorded, "Invocations the extension saw run and could build no record of (more waiting than the bound, or known at shutdown only from a platform.start).", "{invocation}", s.InvocationsUnrecorded)
	single(ErrorTextsCut, "Errors the runtime reported through the Runtime API proxy whose message or type was cut to its bound on the record.", "{error}", s.ErrorTextsCut)
	single(ErrorBodiesTooLarge, "Errors the runtime reported through the Runtime API proxy whose body was too large to read (an /error body over 1 MiB, a streamed response's error-body trailer whose first 64 KiB hold not both the type and the message): no message on the record, the type from what was read or the Lambda-Runtime-Function-Error-Type header or trailer.", "{error}", s.ErrorBodiesTooLarge)
	single(InferredSpansLost, "Invocations the Runtime API proxy saw whose inferred span was not made: forgotten before their answer came (more waiting than the bound), or an answer whose event was never seen.", "{invocation}", s.InferredSpansLost)
	single(InferredSpansUnanswered, "Inferred spans made for invocations that never answered (timed out, crashed, shut down), ended by the platform's report, the next INVOKE or SHUTDOWN.", "{span}", s.InferredSpansUnanswered)
	single(AnswersAfterInferredSpan, "Answers the Runtime API proxy saw after their invocation's inferred span was made without one.", "{answer}", s.AnswersAfterInferredSpan)
	gauge(BufferBytes, "Bytes waiting in the in-memory buffer.", s.BufferBytes)
	gauge(SpoolBytes, "Bytes waiting in the on-disk spool.", s.SpoolBytes)
	return &metricspb.ResourceMetrics{
		Resource: res,
		ScopeMetrics: []*metricspb.ScopeMetrics{{
			Scope:   &commonpb.InstrumentationScope{Name: ScopeName},
			Metrics: ms,
		}},
	}
}

func sum(name, desc, unit string, pts []*metricspb.NumberDataPoint) *metricspb.Metric {
	return &metricspb.Metric{Name: name, Description: desc, Unit: unit, Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
		DataPoints:             pts,
		AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE,
		IsMonotonic:            true,
	}}}
}

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}
