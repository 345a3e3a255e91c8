package dbmodel

import (
	"fmt"

	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// Attribute keys the conversion reads.
const (
	// AttrServiceName is the resource attribute naming the service.
	AttrServiceName = "service.name"
	// AttrInvocationID is the span (or log) attribute holding the Lambda
	// request ID (OpenTelemetry FaaS conventions).
	AttrInvocationID = "faas.invocation_id"
	// AttrLogType is the log (or resource) attribute saying where a log line
	// came from: one of LogTypeFunction, LogTypeExtension, LogTypePlatform.
	AttrLogType = "lambdascope.log.type"

	// Resource attributes used when a batch carries no function identity
	// (plain OTLP senders).
	attrFaaSName      = "faas.name"
	attrFaaSVersion   = "faas.version"
	attrCloudAccount  = "cloud.account.id"
	attrCloudRegion   = "cloud.region"
	attrFaaSExecution = "faas.execution" // older name of faas.invocation_id
)

// Values of the log_type column.
const (
	LogTypeFunction  = "function"
	LogTypeExtension = "extension"
	LogTypePlatform  = "platform"
	LogTypeOTLP      = "otlp"
)

// LogRequestIDKeys are the log attributes that may carry the request ID, in
// order of preference.
var LogRequestIDKeys = []string{AttrInvocationID, "requestId", "request_id", attrFaaSExecution}

// maxProblems bounds Batch.Problems.
const maxProblems = 10

// FromExport converts one Ingest API batch into table rows. It never fails:
// an item that cannot be stored (a span whose trace ID is not 16 non-zero
// bytes or whose span ID is not 8 non-zero bytes, an item whose time is
// after MaxDateTimeUnixNano) is counted in Rejected and the rest is kept.
func FromExport(req *ingestv1.ExportRequest) Batch {
	var b Batch
	fn := req.GetFunction()
	for _, inv := range req.GetInvocations() {
		row := invocationRow(fn, inv, req.GetSentTimeUnixNano())
		if err := checkTime(row.StartUnixNano, "start_time_unix_nano"); err != nil {
			b.reject(fmt.Sprintf("invocation %q: %v", row.RequestID, err))
			continue
		}
		b.Invocations = append(b.Invocations, row)
	}
	var spans SpanColumns
	spans.AppendExport(req)
	if n := spans.Len(); n > 0 {
		b.Spans = make([]Span, n)
		for i := range n {
			b.Spans[i] = spans.Row(i)
		}
	}
	var logs LogColumns
	logs.AppendExport(req)
	b.Rejected += spans.Rejected + logs.Rejected
	b.Problems = append(append(b.Problems, spans.Problems...), logs.Problems...)
	b.Problems = b.Problems[:min(len(b.Problems), maxProblems)]
	if n := logs.Len(); n > 0 {
		b.Logs = make([]Log, n)
		for i := range n {
			b.Logs[i] = logs.Row(i)
		}
	}
	metrics := metricRows(req)
	b.Metrics = metrics[:0]
	for _, m := range metrics {
		if m.TimeUnixNano == 0 {
			m.TimeUnixNano = req.GetSentTimeUnixNano()
		}
		if err := checkTime(m.TimeUnixNano, "time_unix_nano"); err != nil {
			b.reject(fmt.Sprintf("metric point %q: %v", m.Name, err))
			continue
		}
		b.Metrics = append(b.Metrics, m)
	}
	if len(b.Metrics) == 0 {
		b.Metrics = nil
	}
	return b
}

// reject counts an item refused and keeps the first reasons.
func (b *Batch) reject(problem string) {
	b.Rejected++
	if len(b.Problems) < maxProblems {
		b.Problems = append(b.Problems, problem)
	}
}

// identity is who produced a resource's data.
type identity struct {
	service, function, version, account, region string
}

// identityFor takes the function identity of the batch and fills what it
// lacks from the resource's attributes. The service is the resource's
// service.name, else the identity's service name, else the function name.
func identityFor(fn *ingestv1.FunctionIdentity, res *resourcepb.Resource) identity {
	attr := func(key string) string {
		for _, a := range res.GetAttributes() {
			if a.GetKey() == key {
				return AttributeValue(a.GetValue())
			}
		}
		return ""
	}
	id := identity{
		function: firstNonEmpty(fn.GetName(), attr(attrFaaSName)),
		version:  firstNonEmpty(fn.GetVersion(), attr(attrFaaSVersion)),
		account:  firstNonEmpty(fn.GetAccountId(), attr(attrCloudAccount)),
		region:   firstNonEmpty(fn.GetRegion(), attr(attrCloudRegion)),
	}
	id.service = firstNonEmpty(attr(AttrServiceName), fn.GetServiceName(), id.function)
	return id
}

func invocationRow(fn *ingestv1.FunctionIdentity, inv *ingestv1.Invocation, sent uint64) Invocation {
	row := Invocation{
		StartUnixNano:        inv.GetStartTimeUnixNano(),
		AccountID:            fn.GetAccountId(),
		Region:               fn.GetRegion(),
		FunctionName:         fn.GetName(),
		FunctionVersion:      fn.GetVersion(),
		ServiceName:          firstNonEmpty(fn.GetServiceName(), fn.GetName()),
		Architecture:         fn.GetArchitecture(),
		Runtime:              fn.GetRuntime(),
		InitializationType:   fn.GetInitializationType(),
		LogStream:            fn.GetLogStream(),
		RequestID:            inv.GetRequestId(),
		MemorySizeMB:         inv.GetMemorySizeMb(),
		MaxMemoryUsedMB:      inv.GetMaxMemoryUsedMb(),
		EphemeralStorageMB:   fn.GetEphemeralStorageMb(),
		DurationMs:           inv.GetDurationMs(),
		BilledDurationMs:     inv.GetBilledDurationMs(),
		BilledInitDurationMs: inv.GetBilledInitDurationMs(),
		InitDurationMs:       inv.GetInitDurationMs(),
		RestoreDurationMs:    inv.GetRestoreDurationMs(),
		ColdStart:            inv.GetColdStart(),
		Status:               inv.GetStatus(),
		ErrorType:            inv.GetErrorType(),
		XRayTraceHeader:      inv.GetXrayTraceHeader(),
		ResponseLatencyMs:    inv.GetResponseLatencyMs(),
		ResponseDurationMs:   inv.GetResponseDurationMs(),
		RuntimeOverheadMs:    inv.GetRuntimeOverheadMs(),
		ProducedBytes:        inv.GetProducedBytes(),
		UnknownFigures:       uint8(inv.GetUnknownFigures()) & knownFigures,
		Incomplete:           inv.GetIncomplete(),
		TenantID:             inv.GetTenantId(),
		Trigger:              inv.GetTrigger(),
		HTTPStatusCode:       uint16(min(inv.GetHttpStatusCode(), 65535)),
		ResponseSize:         inv.GetResponseSize(),
		Telemetry:            telemetryCounts(inv.GetTelemetry()),
		RuntimeDurationMs:    inv.GetRuntimeDurationMs(),
		ExtensionInitMs:      inv.GetExtensionInitMs(),
		TriggerSource:        inv.GetTriggerSource(),
		ErrorMessage:         inv.GetErrorMessage(),
		TraceContextSource:   inv.GetTraceContextSource(),
		FunctionErrorType:    inv.GetFunctionErrorType(),
	}
	if row.StartUnixNano == 0 {
		row.StartUnixNano = sent
	}
	if row.MemorySizeMB == 0 {
		row.MemorySizeMB = fn.GetMemoryMb()
	}
	if row.MemorySizeMB != 0 {
		// The memory configured is known from the function's identity when
		// the report left it out.
		row.UnknownFigures &^= FigureMemorySize
	}
	if row.UnknownFigures&FigureBilledDuration != 0 && row.UnknownFigures&FigureDuration == 0 {
		// What AWS bills, so that the usage views price the invocation;
		// readers show the figure as an estimate.
		row.BilledDurationMs = BilledEstimate(row.DurationMs)
	}
	// The platform's trace context is optional; a malformed one is dropped,
	// the invocation is kept.
	copyID(row.TraceID[:], inv.GetTraceId())
	copyID(row.SpanID[:], inv.GetSpanId())
	return row
}

// checkID checks an ID that must have exactly n bytes, not all zero.
func checkID(id []byte, n int, name string) error {
	if len(id) != n {
		return fmt.Errorf("%s has %d bytes, want %d", name, len(id), n)
	}
	for _, c := range id {
		if c != 0 {
			return nil
		}
	}
	return fmt.Errorf("%s is all zeros", name)
}

// MaxDateTimeUnixNano is the last instant stored: 2105-12-31
// 23:59:59.999999999 UTC. Every table's time column and partition key is a
// DateTime, which the server keeps in 32 bits (up to 2106-02-07 06:28:15
// UTC; a later time wraps to an instant after 1970), and whose date
// functions (toDate, the partition key) on 18.16 end with its date table
// in the first days of 2106: toDate(toDateTime(2^32-1)) is 0000-00-00.
// The end of 2105 keeps a margin for servers in any time zone.
const MaxDateTimeUnixNano = uint64(4291747199)*1e9 + 999_999_999

// checkTime checks that a time fits a DateTime column.
func checkTime(ns uint64, name string) error {
	if ns > MaxDateTimeUnixNano {
		return fmt.Errorf("%s %d is after 2105-12-31T23:59:59Z, the last time stored", name, ns)
	}
	return nil
}

// copyID copies an optional ID; one of the wrong length leaves dst zero.
func copyID(dst, src []byte) {
	if len(src) == len(dst) {
		copy(dst, src)
	}
}

func clampUint8(v int64) uint8 {
	switch {
	case v < 0:
		return 0
	case v > 255:
		return 255
	default:
		return uint8(v)
	}
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func logType(attrs KeyValues, fromResource string) string {
	v, ok := attrs.Get(AttrLogType)
	if !ok {
		v = fromResource
	}
	switch v {
	case LogTypeFunction, LogTypeExtension, LogTypePlatform:
		return v
	default:
		return LogTypeOTLP
	}
}

// telemetryCounts converts the extension's counts; a count beyond what
// the column holds reads as its largest value.
func telemetryCounts(c *ingestv1.TelemetryCounts) TelemetryCounts {
	if c == nil {
		return TelemetryCounts{}
	}
	u32 := func(v uint64) uint32 { return uint32(min(v, 1<<32-1)) }
	return TelemetryCounts{
		Counted:              true,
		SpansReceived:        u32(c.GetSpansReceived()),
		LogLinesReceived:     u32(c.GetLogLinesReceived()),
		BytesReceived:        c.GetBytesReceived(),
		BytesShipped:         c.GetBytesShipped(),
		SpansSampledOut:      u32(c.GetSpansSampledOut()),
		SpansDropped:         u32(c.GetSpansDropped()),
		LogLinesDropped:      u32(c.GetLogLinesDropped()),
		SpansSpooled:         u32(c.GetSpansSpooled()),
		LogLinesSpooled:      u32(c.GetLogLinesSpooled()),
		SpansSpoolDropped:    u32(c.GetSpansSpoolDropped()),
		LogLinesSpoolDropped: u32(c.GetLogLinesSpoolDropped()),
		PlatformLogsDropped:  u32(c.GetPlatformLogsDropped()),
		SpansRefused:         u32(c.GetSpansRefused()),
		LogLinesRefused:      u32(c.GetLogLinesRefused()),
	}
}
