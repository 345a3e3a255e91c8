package ingestv1

import (
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// Items is how many items a batch holds, by signal: the one count the
// extension (buffer caps, drop reports), the collector (max_batch_items,
// its counters) and storage (block sizes) share. A metric's items are its
// data points.
type Items struct {
	Spans, Logs, Points, Invocations int
}

// Total is the items of every signal.
func (n Items) Total() int { return n.Spans + n.Logs + n.Points + n.Invocations }

// CountItems counts the items of a batch, malformed ones included.
func CountItems(req *ExportRequest) Items {
	n := Items{Invocations: len(req.GetInvocations())}
	for _, rs := range req.GetResourceSpans() {
		n.Spans += SpansIn(rs)
	}
	for _, rl := range req.GetResourceLogs() {
		n.Logs += LogsIn(rl)
	}
	for _, rm := range req.GetResourceMetrics() {
		n.Points += PointsIn(rm)
	}
	return n
}

// SpansIn counts the spans of one resource.
func SpansIn(rs *tracepb.ResourceSpans) int {
	n := 0
	for _, ss := range rs.GetScopeSpans() {
		n += len(ss.GetSpans())
	}
	return n
}

// LogsIn counts the log records of one resource.
func LogsIn(rl *logspb.ResourceLogs) int {
	n := 0
	for _, sl := range rl.GetScopeLogs() {
		n += len(sl.GetLogRecords())
	}
	return n
}

// PointsIn counts the data points of one resource's metrics, of every
// metric type.
func PointsIn(rm *metricspb.ResourceMetrics) int {
	n := 0
	for _, sm := range rm.GetScopeMetrics() {
		for _, m := range sm.GetMetrics() {
			n += len(m.GetGauge().GetDataPoints()) + len(m.GetSum().GetDataPoints()) +
				len(m.GetHistogram().GetDataPoints()) + len(m.GetExponentialHistogram().GetDataPoints()) +
				len(m.GetSummary().GetDataPoints())
		}
	}
	return n
}
