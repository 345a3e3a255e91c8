package selfmetrics

import (
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
)

// Names of the metrics of a takeover: what the launcher counted while it
// stood in for an agent that died (the agent ships them when the launcher
// starts it again at SHUTDOWN).
const (
	Takeovers                = "lambdascope.extension.takeovers"
	TakeoverInvocations      = "lambdascope.extension.takeover.invocations"
	TakeoverDroppedRequests  = "lambdascope.extension.takeover.dropped_requests"
	TakeoverDroppedBytes     = "lambdascope.extension.takeover.dropped_bytes"
	takeoverSourceOTLP       = "otlp"
	takeoverSourceTelemetry  = "telemetry"
	takeoverSourceEarlyOTLP  = "early_otlp"
	takeoverAgentEndAttrName = "agent.end"
)

// Takeover is what a launcher's takeover counted.
type Takeover struct {
	// AgentEnd says how the agent ended ("killed by signal killed").
	AgentEnd string
	// Invocations is the events the launcher received in the agent's
	// place.
	Invocations int64
	// OTLP*, Telemetry* and Early* are the requests (and their bytes) it
	// answered and dropped: the function's exports after the agent died,
	// the Telemetry API's pushes, and the exports it answered while the
	// agent started that never reached it.
	OTLPRequests, OTLPBytes         int64
	TelemetryPushes, TelemetryBytes int64
	EarlyLost, EarlyLostBytes       int64
}

// BuildTakeover returns t as one ResourceMetrics: monotonic cumulative
// sums starting at start (the launcher's start), at now.
func BuildTakeover(res *resourcepb.Resource, t Takeover, start, now time.Time) *metricspb.ResourceMetrics {
	st, ts := uint64(start.UnixNano()), uint64(now.UnixNano())
	point := func(n int64, attrs ...*commonpb.KeyValue) *metricspb.NumberDataPoint {
		return &metricspb.NumberDataPoint{Attributes: attrs, StartTimeUnixNano: st, TimeUnixNano: ts,
			Value: &metricspb.NumberDataPoint_AsInt{AsInt: n}}
	}
	bySource := func(otlp, telemetry, early int64) []*metricspb.NumberDataPoint {
		return []*metricspb.NumberDataPoint{
			point(otlp, str("source", takeoverSourceOTLP)),
			point(telemetry, str("source", takeoverSourceTelemetry)),
			point(early, str("source", takeoverSourceEarlyOTLP)),
		}
	}
	ms := []*metricspb.Metric{
		sum(Takeovers, "Times the launcher took over from an agent that ended unexpectedly.", "{takeover}",
			[]*metricspb.NumberDataPoint{point(1, str(takeoverAgentEndAttrName, t.AgentEnd))}),
		sum(TakeoverInvocations, "Invocations the launcher followed in the agent's place: their records, logs and spans are missing.", "{invocation}",
			[]*metricspb.NumberDataPoint{point(t.Invocations)}),
		sum(TakeoverDroppedRequests, "Requests the launcher answered and dropped while it stood in for the agent: the function's OTLP exports, the Telemetry API's pushes, and exports answered while the agent started that never reached it.", "{request}",
			bySource(t.OTLPRequests, t.TelemetryPushes, t.EarlyLost)),
		sum(TakeoverDroppedBytes, "Bytes of those requests.", "By",
			bySource(t.OTLPBytes, t.TelemetryBytes, t.EarlyLostBytes)),
	}
	return &metricspb.ResourceMetrics{
		Resource:     res,
		ScopeMetrics: []*metricspb.ScopeMetrics{{Scope: &commonpb.InstrumentationScope{Name: ScopeName}, Metrics: ms}},
	}
}
