// Package invocation turns what the extension sees of each invocation — the
// INVOKE event, the Telemetry API's platform events and log lines, the
// function's own spans — into Invocation records and OTLP log records.
package invocation

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/extension/internal/otlpwire"
	"github.com/lambdascope/lambdascope/extension/internal/recent"
	"github.com/lambdascope/lambdascope/extension/internal/telemetry"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// Sink receives what the tracker produces (the buffer in the extension).
type Sink interface {
	AddInvocation(*ingestv1.Invocation) bool
	AddLogs([]*logspb.ResourceLogs) int
}

// ScopeName is the instrumentation scope of the log records the tracker
// builds from the Telemetry API.
const ScopeName = "lambdascope/telemetry"

// maxTracked bounds the per-request state kept for requests whose report
// never comes.
const maxTracked = 4096

type spanRef struct {
	traceID, spanID []byte
	server          bool
}

type state struct {
	requestID   string
	seq         uint64
	start       time.Time
	xray        string
	xraySpanID  string
	tenantID    string
	runtimeDone *telemetry.PlatformRecord
	// response is what the Runtime API proxy saw of the event and the
	// answer (ObserveResponse), bounded.
	response Response
	// runtimeDoneAt is the time of platform.runtimeDone.
	runtimeDoneAt time.Time
	// invokedAt is when the INVOKE event came, handedAt when the Runtime
	// API proxy handed the event to the runtime (ObserveEvent, or
	// ObserveEnd), end is the answer the proxy saw (ObserveEnd): the
	// record's start and end when it is built from the extension's own
	// view (ownview.go).
	invokedAt time.Time
	handedAt  time.Time
	end       *answer
}

// Stats are the tracker's counters.
type Stats struct {
	Invocations uint64
	// Incomplete counts the records written without a platform.report
	// (FinishIncomplete).
	Incomplete   uint64
	LogsDropped  uint64 // records Lambda reported as dropped (platform.logsDropped)
	UnknownTypes uint64
	EMFLines     uint64 // function log lines in the Embedded Metric Format
	// StaleInitEvents counts init events of snapshot time, seen after a
	// SnapStart restore and left out.
	StaleInitEvents uint64
	// ResponsesLate counts events and answers the Runtime API proxy
	// reported (ObserveEvent, ObserveResponse) after the invocation's
	// record was built: what the proxy saw of them is not on it.
	ResponsesLate uint64

	// LogsUnattributed counts log lines without a request ID of their own
	// that arrived while several invocations were running, or, on Lambda
	// Managed Instances, once any invocation had started: they are
	// shipped without one rather than under a guess.
	LogsUnattributed uint64

	// OwnRecords counts the records built from the extension's own view
	// (ownview.go), without the platform's report.
	OwnRecords uint64
	// ReportsAfterOwn counts the platform reports left out because the
	// invocation's record was built from the own view already.
	ReportsAfterOwn uint64
	// Unrecorded counts the invocations the extension saw run and could
	// build no record of: forgotten beyond maxTracked, or, at shutdown,
	// known only from a platform.start.
	Unrecorded uint64
}

// Tracker assembles invocation records. It is safe for concurrent use.
type Tracker struct {
	sink     Sink
	resource *resourcepb.Resource
	log      *slog.Logger
	now      func() time.Time

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every state change
	// inflight are the invocations running now: started (platform.start,
	// or INVOKE until the stream has shown a platform.start) and not yet
	// done (runtimeDone or report). A log line without a request ID of
	// its own belongs to an invocation only when it is the only one.
	inflight map[string]struct{}
	// sawStart says the stream has shown a platform.start.
	sawStart bool
	// namedOnly says a line belongs to an invocation only when it names
	// it (SetManagedInstances).
	namedOnly    bool
	seq          uint64
	requests     map[string]*state
	spans        map[string]spanRef
	firstDone    bool
	initDuration float64
	restoreMs    float64
	initStartAt  time.Time
	initType     string
	// restored says the environment was restored from a SnapStart
	// snapshot (platform.restoreStart or platform.restoreReport seen).
	restored bool
	stats    Stats
	// unattributedLogged is when unattributedLocked last logged.
	unattributedLogged time.Time
	// lastSign is when the last push with a platform or function event
	// arrived: the telemetry stream's last sign of the function's life.
	lastSign time.Time
	// built remembers the request IDs of the last maxBuilt records built,
	// so that an answer reported after its record is counted, not kept.
	built *recent.IDs
	// deferred are the invocations whose record waits for ReleaseReport
	// (DeferReport), with their report once it came.
	deferred map[string]*deferredReport
	// heldLines are the log lines, without a trace of their own, of the
	// invocations whose record waits: they take the trace known at
	// ReleaseReport, not the one known when they came; heldLineCount
	// counts them, at most maxHeldLines.
	heldLines     map[string][]*logspb.LogRecord
	heldLineCount int
	// tally, when set, gives the telemetry counts each record carries, and
	// untally takes back those of a record the sink dropped (SetTally).
	tally   func() *ingestv1.TelemetryCounts
	untally func(*ingestv1.TelemetryCounts)
	// extensionInitMs is the extension's own start, for the first record
	// (SetExtensionInit).
	extensionInitMs float64
	// own says records are built from the extension's own view
	// (SetOwnRecords) until the Telemetry API is seen delivering;
	// ownBuilt remembers the last maxBuilt built so; shutdownReason is
	// the SHUTDOWN's (SetShutdownReason), lastInvoke the request ID of
	// the last INVOKE event: the one invocation the reason can concern.
	own            bool
	ownBuilt       *recent.IDs
	shutdownReason string
	lastInvoke     string
}

// SetExtensionInit records how long the extension took from its process
// start to its first /event/next; the environment's first record carries
// it.
func (t *Tracker) SetExtensionInit(d time.Duration) {
	t.mu.Lock()
	t.extensionInitMs = float64(d) / float64(time.Millisecond)
	t.mu.Unlock()
}

// SetTally makes every record carry what tally returns when the record
// is handed to the sink, after the spans and log lines of the same push:
// the extension's counts of what it received since the previous record.
// When the sink drops a record (a full buffer), its counts are handed to
// untally, so that the next record carries them. Call it before the
// tracker is used.
func (t *Tracker) SetTally(tally func() *ingestv1.TelemetryCounts, untally func(*ingestv1.TelemetryCounts)) {
	t.mu.Lock()
	t.tally, t.untally = tally, untally
	t.mu.Unlock()
}

// addInvocations hands records to the sink, each with the counts of the
// telemetry received up to it.
func (t *Tracker) addInvocations(invocations []*ingestv1.Invocation) {
	t.mu.Lock()
	tally, untally := t.tally, t.untally
	t.mu.Unlock()
	for _, inv := range invocations {
		if tally != nil {
			inv.Telemetry = tally()
		}
		if !t.sink.AddInvocation(inv) && untally != nil && inv.Telemetry != nil {
			untally(inv.Telemetry)
		}
	}
}

// maxBuilt bounds Tracker.built and Tracker.ownBuilt.
const maxBuilt = 256

// maxHeldLines bounds the log lines held with the records that wait
// (Tracker.heldLines); beyond it a line goes out at once, in the trace
// known then.
const maxHeldLines = 4096

// New returns a tracker writing to sink; resource is attached to the log
// records it builds.
func New(sink Sink, resource *resourcepb.Resource, log *slog.Logger) *Tracker {
	if log == nil {
		log = slog.Default()
	}
	return &Tracker{
		sink: sink, resource: resource, log: log, now: time.Now,
		changed:   make(chan struct{}),
		requests:  map[string]*state{},
		inflight:  map[string]struct{}{},
		spans:     map[string]spanRef{},
		built:     recent.New(maxBuilt),
		ownBuilt:  recent.New(maxBuilt),
		deferred:  map[string]*deferredReport{},
		heldLines: map[string][]*logspb.LogRecord{},
	}
}

// SetManagedInstances makes the tracker attribute a log line only to the
// invocation it names, never by which invocations are in flight. On Lambda
// Managed Instances invocations run concurrently and the Telemetry API may
// deliver a line after its invocation is done and another has started, so
// being the only one in flight says nothing of a line's owner. Call it
// before the first event.
func (t *Tracker) SetManagedInstances() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.namedOnly = true
}

// notifyLocked wakes the waiters.
func (t *Tracker) notifyLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}

func (t *Tracker) stateLocked(requestID string) *state {
	st, ok := t.requests[requestID]
	if !ok {
		if len(t.requests) >= maxTracked {
			t.evictOldestLocked()
		}
		t.seq++
		st = &state{requestID: requestID, seq: t.seq}
		t.requests[requestID] = st
	}
	return st
}

func (t *Tracker) evictOldestLocked() {
	var oldest *state
	for _, st := range t.requests {
		if oldest == nil || st.seq < oldest.seq {
			oldest = st
		}
	}
	if oldest != nil {
		t.unrecordedLocked(oldest, "more invocations waited for their record than the bound")
		delete(t.requests, oldest.requestID)
		delete(t.inflight, oldest.requestID)
	}
}

// ObserveInvoke records an INVOKE event from the Extensions API, received
// now.
func (t *Tracker) ObserveInvoke(requestID, xrayHeader string) {
	t.ObserveInvokeAt(requestID, xrayHeader, t.now())
}

// ObserveInvokeAt records an INVOKE event from the Extensions API,
// received at at: the start of a record built from the extension's own
// view.
func (t *Tracker) ObserveInvokeAt(requestID, xrayHeader string, at time.Time) {
	if requestID == "" {
		return
	}
	t.mu.Lock()
	t.lastInvoke = requestID
	if t.reportedLocked(requestID) {
		// The report was handled before the INVOKE event.
		t.mu.Unlock()
		return
	}
	st := t.stateLocked(requestID)
	if st.xray == "" {
		st.xray = xrayHeader
	}
	if st.invokedAt.IsZero() {
		st.invokedAt = at
	}
	settled := t.settleLocked(requestID)
	// The invocations in flight follow the telemetry stream's
	// platform.start once there is one, not the INVOKE event: lines of the
	// previous invocation may still be on the way when the next INVOKE
	// arrives. Until then an INVOKE (sent one at a time) means the
	// previous invocation is over.
	if !t.sawStart {
		clear(t.inflight)
		t.inflight[requestID] = struct{}{}
	}
	t.notifyLocked()
	t.mu.Unlock()
	t.addInvocations(settled)
}

// Bounds of the texts of a Response, in bytes.
const (
	MaxTriggerSource      = 256
	MaxErrorMessage       = 1 << 10
	MaxTraceContextSource = 32
	MaxFunctionErrorType  = 256
	maxTrigger            = 64
)

// Response is what the Runtime API proxy saw of an invocation's event and
// answer.
type Response struct {
	// Trigger is the kind of event ("sqs", "apigateway-http", "direct").
	Trigger string
	// TriggerSource names where the event came from (the queue, the
	// route); empty when it names none.
	TriggerSource string
	// TraceContextSource is where the invocation's trace context came
	// from ("w3c", "xray", "lambda", "none").
	TraceContextSource string
	// HTTPStatus is the status code a proxy integration answered with, 0
	// for none.
	HTTPStatus int
	// Size is the size of the answer in bytes.
	Size int64
	// ErrorMessage is the message of the error reported through /error,
	// redacted.
	ErrorMessage string
	// FunctionErrorType is the type of that error as the function's
	// runtime gave it (the body's errorType, else its
	// Lambda-Runtime-Function-Error-Type header), redacted.
	FunctionErrorType string
}

// bounded is r with its numbers in range and its texts cut to their
// bounds at a UTF-8 boundary.
func (r Response) bounded() Response {
	r.Trigger = CutText(r.Trigger, maxTrigger)
	r.TriggerSource = CutText(r.TriggerSource, MaxTriggerSource)
	r.TraceContextSource = CutText(r.TraceContextSource, MaxTraceContextSource)
	r.ErrorMessage = CutText(r.ErrorMessage, MaxErrorMessage)
	r.FunctionErrorType = CutText(r.FunctionErrorType, MaxFunctionErrorType)
	r.HTTPStatus = min(max(r.HTTPStatus, 0), 999)
	r.Size = max(r.Size, 0)
	return r
}

// CutText cuts s to at most n bytes at a UTF-8 boundary.
func CutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// ObserveResponse records what the Runtime API proxy saw of an
// invocation (r, its texts cut to their bounds): it goes on the
// invocation's record; call it before the platform's report. Called
// again, the last call's holds.
func (t *Tracker) ObserveResponse(requestID string, r Response) {
	if requestID == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.lateLocked(requestID, "answer") {
		return
	}
	t.stateLocked(requestID).response = r.bounded()
}

// ObserveEvent records what the Runtime API proxy read of an
// invocation's event when it handed it to the runtime (received): the
// trigger fields of r (Trigger, TriggerSource, TraceContextSource; the
// others are left as they are), which go on the invocation's record even
// when no answer comes (a function that times out or crashes), and the
// start of a record built from the extension's own view. The answer
// (ObserveResponse) may give them again.
func (t *Tracker) ObserveEvent(requestID string, received time.Time, r Response) {
	if requestID == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.lateLocked(requestID, "event") {
		return
	}
	st := t.stateLocked(requestID)
	r = r.bounded()
	st.response.Trigger, st.response.TriggerSource, st.response.TraceContextSource = r.Trigger, r.TriggerSource, r.TraceContextSource
	if st.handedAt.IsZero() {
		st.handedAt = received
	}
}

// lateLocked says whether the record of requestID was built already, and
// if so counts what the proxy reported of it (what: "event", "answer")
// as late and says so.
func (t *Tracker) lateLocked(requestID, what string) bool {
	if !t.built.Has(requestID) {
		return false
	}
	t.stats.ResponsesLate++
	t.log.Warn("what the proxy saw of an invocation came after its record was built and is left out",
		"request_id", requestID, "what", what, "total", t.stats.ResponsesLate)
	return true
}

// ObserveSpans notes, for each span carrying faas.invocation_id, the trace
// and span of that invocation (a SERVER span is preferred).
func (t *Tracker) ObserveSpans(rss []*tracepb.ResourceSpans) {
	var found []otlpwire.InvocationSpan
	for _, rs := range rss {
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				id := attrString(sp.GetAttributes(), AttrInvocationID)
				if id == "" || len(sp.GetTraceId()) != 16 {
					continue
				}
				found = append(found, otlpwire.InvocationSpan{InvocationID: id, TraceID: sp.GetTraceId(), SpanID: sp.GetSpanId(),
					Server: sp.GetKind() == tracepb.Span_SPAN_KIND_SERVER})
			}
		}
	}
	t.ObserveInvocationSpans(found)
}

// ObserveInvocationSpans notes the trace and span of each invocation
// named by spans, in order; a SERVER span is preferred.
func (t *Tracker) ObserveInvocationSpans(spans []otlpwire.InvocationSpan) {
	if len(spans) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, sp := range spans {
		ref := spanRef{traceID: sp.TraceID, spanID: sp.SpanID, server: sp.Server}
		if prev, ok := t.spans[sp.InvocationID]; ok && (prev.server || !ref.server) {
			continue
		}
		if len(t.spans) >= maxTracked {
			clear(t.spans)
		}
		t.spans[sp.InvocationID] = ref
	}
}

func attrString(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.GetKey() == key {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

// HandleTelemetry processes one push of the Telemetry API, in order.
func (t *Tracker) HandleTelemetry(events []telemetry.Event) {
	observed := t.now()
	var records []*logspb.LogRecord
	var invocations []*ingestv1.Invocation
	var spans []*tracepb.Span
	var metrics []*metricspb.Metric

	t.mu.Lock()
	for i := range events {
		ev := &events[i]
		if ev.Type != telemetry.TypeExtensionLog {
			t.lastSign = observed
		}
		switch ev.Kind {
		case telemetry.KindLog:
			owner, ambiguous := t.ownerLocked()
			rec, id := logFromEvent(ev, owner, observed)
			if id == "" && ambiguous {
				t.unattributedLocked(observed)
			}
			if !t.holdLineLocked(rec) {
				t.addTraceLocked(rec)
				records = append(records, rec)
			}
			if ev.Type == telemetry.TypeFunction {
				if doc := emfDocument(ev.Log); doc != nil {
					ms := emfMetrics(doc, ev.Time)
					t.stats.EMFLines++
					metrics = append(metrics, ms...)
				}
			}
		case telemetry.KindPlatform:
			t.platformSeenLocked()
			if inv, ss := t.platformLocked(ev); inv != nil {
				invocations = append(invocations, inv)
				spans = append(spans, ss...)
			}
			if ev.Type == telemetry.TypeLogsDropped {
				owner, _ := t.ownerLocked()
				records = append(records, rawLog(ev, owner, observed, logspb.SeverityNumber_SEVERITY_NUMBER_WARN))
			}
		default:
			t.stats.UnknownTypes++
			owner, _ := t.ownerLocked()
			records = append(records, rawLog(ev, owner, observed, logspb.SeverityNumber_SEVERITY_NUMBER_UNSPECIFIED))
		}
	}
	t.notifyLocked()
	t.mu.Unlock()

	if ms, ok := t.sink.(MetricSink); ok && len(metrics) > 0 {
		ms.AddMetrics([]*metricspb.ResourceMetrics{{
			Resource:     t.resource,
			ScopeMetrics: []*metricspb.ScopeMetrics{{Scope: &commonpb.InstrumentationScope{Name: ScopeName}, Metrics: metrics}},
		}})
	}
	if ss, ok := t.sink.(SpanSink); ok && len(spans) > 0 {
		ss.AddSpans([]*tracepb.ResourceSpans{{
			Resource:   t.resource,
			ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: ScopeName}, Spans: spans}},
		}})
	}
	if len(records) > 0 {
		t.sink.AddLogs([]*logspb.ResourceLogs{{
			Resource:  t.resource,
			ScopeLogs: []*logspb.ScopeLogs{{Scope: &commonpb.InstrumentationScope{Name: ScopeName}, LogRecords: records}},
		}})
	}
	// The records go last, so that their counts include the spans and
	// log lines of this push.
	t.addInvocations(invocations)
}

// holdLineLocked keeps a log line without a trace of its own whose
// invocation's record waits (DeferReport): the invocation's trace may
// still change (the function's invocation span, coming late, decides it),
// and the line goes in the trace its record does.
func (t *Tracker) holdLineLocked(rec *logspb.LogRecord) bool {
	if len(rec.TraceId) != 0 || t.heldLineCount >= maxHeldLines {
		return false
	}
	id := attrString(rec.Attributes, AttrInvocationID)
	if _, waits := t.deferred[id]; !waits || id == "" {
		return false
	}
	t.heldLines[id] = append(t.heldLines[id], rec)
	t.heldLineCount++
	return true
}

// takeLinesLocked returns the held lines of id, in the trace known now.
func (t *Tracker) takeLinesLocked(id string) []*logspb.LogRecord {
	lines := t.heldLines[id]
	delete(t.heldLines, id)
	t.heldLineCount -= len(lines)
	for _, rec := range lines {
		t.addTraceLocked(rec)
	}
	return lines
}

// shipLines gives the sink log lines.
func (t *Tracker) shipLines(lines []*logspb.LogRecord) {
	if len(lines) == 0 {
		return
	}
	t.sink.AddLogs([]*logspb.ResourceLogs{{
		Resource:  t.resource,
		ScopeLogs: []*logspb.ScopeLogs{{Scope: &commonpb.InstrumentationScope{Name: ScopeName}, LogRecords: lines}},
	}})
}

// addTraceLocked fills the trace of a log line from the invocation's spans
// when the line itself did not carry one.
func (t *Tracker) addTraceLocked(rec *logspb.LogRecord) {
	if len(rec.TraceId) != 0 {
		return
	}
	id := attrString(rec.Attributes, AttrInvocationID)
	if ref, ok := t.spans[id]; ok && id != "" {
		rec.TraceId = ref.traceID
		if len(rec.SpanId) == 0 {
			rec.SpanId = ref.spanID
		}
	}
}

// platformLocked handles one platform event and returns a finished
// invocation record, with its platform spans, when the event completes one.
func (t *Tracker) platformLocked(ev *telemetry.Event) (*ingestv1.Invocation, []*tracepb.Span) {
	p := ev.Platform
	if p.RequestID != "" && t.ownBuiltLocked(p.RequestID) {
		// Recorded from the extension's own view already: one record
		// per request.
		if ev.Type == telemetry.TypeReport {
			t.reportAfterOwnLocked(p.RequestID)
		}
		return nil, nil
	}
	switch ev.Type {
	case telemetry.TypeInitStart:
		if t.restored {
			// SnapStart: the init ran when the snapshot was taken, not in
			// this environment's start.
			t.staleInitLocked(ev)
			return nil, nil
		}
		t.noteInitLocked(ev)
	case telemetry.TypeInitReport:
		if t.restored {
			t.staleInitLocked(ev)
			return nil, nil
		}
		if p.Phase == "" || p.Phase == "init" {
			t.initDuration = p.Metrics.DurationMs
		}
	case telemetry.TypeRestoreStart:
		// A restore from a SnapStart snapshot is this environment's cold
		// start; what the init events of snapshot time said is not.
		t.restored = true
		t.firstDone = false
		t.initDuration, t.initStartAt, t.initType = 0, time.Time{}, "snap-start"
	case telemetry.TypeRestoreReport:
		t.restored = true
		t.restoreMs = p.Metrics.DurationMs
	case telemetry.TypeStart:
		if p.RequestID == "" {
			return nil, nil
		}
		st := t.stateLocked(p.RequestID)
		st.start = ev.Time
		if p.TenantID != "" {
			st.tenantID = p.TenantID
		}
		if p.Tracing != nil {
			if p.Tracing.Value != "" {
				st.xray = p.Tracing.Value
			}
			st.xraySpanID = p.Tracing.SpanID
		}
		t.inflight[p.RequestID], t.sawStart = struct{}{}, true
	case telemetry.TypeRuntimeDone:
		if p.RequestID == "" {
			return nil, nil
		}
		st := t.stateLocked(p.RequestID)
		st.runtimeDone = p
		delete(t.inflight, p.RequestID)
		st.runtimeDoneAt = ev.Time
		if p.TenantID != "" {
			st.tenantID = p.TenantID
		}
		if p.Tracing != nil && st.xray == "" {
			st.xray = p.Tracing.Value
			st.xraySpanID = p.Tracing.SpanID
		}
	case telemetry.TypeReport:
		if p.RequestID == "" {
			return nil, nil
		}
		st := t.stateLocked(p.RequestID)
		delete(t.requests, p.RequestID)
		delete(t.inflight, p.RequestID)
		if d, ok := t.deferred[p.RequestID]; ok && d == nil {
			pr := *p
			t.deferred[p.RequestID] = &deferredReport{st: st, ev: telemetry.Event{Time: ev.Time, Type: ev.Type, Kind: ev.Kind, Platform: &pr}}
			return nil, nil
		}
		return t.reportLocked(st, ev)
	case telemetry.TypeLogsDropped:
		t.stats.LogsDropped += uint64(p.DroppedRecords)
		t.log.Warn("Lambda dropped telemetry records the extension did not take in time",
			"dropped_records", int64(p.DroppedRecords), "dropped_bytes", int64(p.DroppedBytes), "reason", p.Reason)
	}
	return nil, nil
}

// reportLocked builds the record and the platform spans of an invocation
// from its report.
func (t *Tracker) reportLocked(st *state, ev *telemetry.Event) (*ingestv1.Invocation, []*tracepb.Span) {
	id := ev.Platform.RequestID
	ref, haveRef := t.spans[id]
	inv := t.buildLocked(st, ev)
	spans := t.platformSpansLocked(st, inv, ref, haveRef)
	delete(t.spans, id)
	t.stats.Invocations++
	return inv, spans
}

// deferredReport is the report of an invocation whose record waits.
type deferredReport struct {
	st *state
	ev telemetry.Event
}

// DeferReport makes the record of requestID, its platform spans and its
// log lines without a trace of their own (at most maxHeldLines in all)
// wait for ReleaseReport: the trace they go in may still change (the
// function's invocation span, named by ObserveInvocationSpans, may come
// after the answer). It reports false when the record was built already.
// At most maxTracked records wait; FinishIncomplete builds those still
// waiting.
func (t *Tracker) DeferReport(requestID string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.built.Has(requestID) || requestID == "" || len(t.deferred) >= maxTracked {
		return false
	}
	if _, ok := t.deferred[requestID]; !ok {
		t.deferred[requestID] = nil
	}
	return true
}

// ReleaseReport ends the wait DeferReport began: the record is built now
// if its report came, else when it comes, in the trace the invocation's
// spans name then.
func (t *Tracker) ReleaseReport(requestID string) {
	t.mu.Lock()
	lines := t.takeLinesLocked(requestID)
	d, ok := t.deferred[requestID]
	delete(t.deferred, requestID)
	if !ok || d == nil {
		// A record built from the own view at the answer waited too.
		var own []*ingestv1.Invocation
		if st := t.requests[requestID]; ok && st != nil {
			if inv := t.atAnswerLocked(st); inv != nil {
				own = append(own, inv)
			}
		}
		t.mu.Unlock()
		t.shipLines(lines)
		t.addInvocations(own)
		return
	}
	inv, spans := t.reportLocked(d.st, &d.ev)
	t.notifyLocked()
	t.mu.Unlock()
	t.shipLines(lines)
	t.shipRecords([]*ingestv1.Invocation{inv}, spans)
}

// shipRecords gives the sink platform spans, then the records.
func (t *Tracker) shipRecords(invocations []*ingestv1.Invocation, spans []*tracepb.Span) {
	if ss, ok := t.sink.(SpanSink); ok && len(spans) > 0 {
		ss.AddSpans([]*tracepb.ResourceSpans{{
			Resource:   t.resource,
			ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: ScopeName}, Spans: spans}},
		}})
	}
	t.addInvocations(invocations)
}

func (t *Tracker) buildLocked(st *state, ev *telemetry.Event) *ingestv1.Invocation {
	p := ev.Platform
	m := p.Metrics
	if p.RequestID != "" {
		t.built.Add(p.RequestID)
	}
	inv := &ingestv1.Invocation{
		RequestId:          p.RequestID,
		DurationMs:         m.DurationMs,
		BilledDurationMs:   uint64(max(m.BilledDurationMs, 0)),
		MemorySizeMb:       uint32(max(m.MemorySizeMB, 0)),
		MaxMemoryUsedMb:    uint32(max(m.MaxMemoryUsedMB, 0)),
		InitDurationMs:     m.InitDurationMs,
		RestoreDurationMs:  m.RestoreDurationMs,
		Status:             p.Status,
		ErrorType:          p.ErrorType,
		XrayTraceHeader:    st.xray,
		UnknownFigures:     unknownFigures(m.Given),
		TenantId:           cmp.Or(p.TenantID, st.tenantID),
		Trigger:            st.response.Trigger,
		HttpStatusCode:     uint32(st.response.HTTPStatus),
		ResponseSize:       uint64(st.response.Size),
		TriggerSource:      st.response.TriggerSource,
		ErrorMessage:       st.response.ErrorMessage,
		TraceContextSource: st.response.TraceContextSource,
		FunctionErrorType:  st.response.FunctionErrorType,
	}
	if p.Tracing != nil && inv.XrayTraceHeader == "" {
		inv.XrayTraceHeader = p.Tracing.Value
	}
	if !t.firstDone {
		t.firstDone = true
		inv.ColdStart = true
		if inv.InitDurationMs == 0 {
			inv.InitDurationMs = t.initDuration
		}
		if inv.RestoreDurationMs == 0 {
			inv.RestoreDurationMs = t.restoreMs
		}
		inv.ExtensionInitMs = t.extensionInitMs
	}
	start := st.start
	if start.IsZero() && !ev.Time.IsZero() {
		// No platform.start seen: the report comes right after the end.
		start = ev.Time.Add(-time.Duration(m.DurationMs * float64(time.Millisecond)))
	}
	if !start.IsZero() {
		inv.StartTimeUnixNano = uint64(start.UnixNano())
	}
	if rd := st.runtimeDone; rd != nil {
		if inv.Status == "" {
			inv.Status, inv.ErrorType = rd.Status, rd.ErrorType
		}
		if inv.ErrorType == "" {
			inv.ErrorType = rd.ErrorType
		}
		inv.ResponseLatencyMs, _ = rd.SpanDuration("responseLatency")
		inv.ResponseDurationMs, _ = rd.SpanDuration("responseDuration")
		inv.RuntimeOverheadMs, _ = rd.SpanDuration("runtimeOverhead")
		inv.ProducedBytes = uint64(max(rd.Metrics.ProducedBytes, 0))
		if rd.Metrics.Given.Has(telemetry.FigureDuration) {
			inv.RuntimeDurationMs = rd.Metrics.DurationMs
		}
		if !m.Given.Has(telemetry.FigureDuration) && rd.Metrics.Given.Has(telemetry.FigureDuration) {
			inv.DurationMs = rd.Metrics.DurationMs
			inv.UnknownFigures &^= uint32(ingestv1.Figure_FIGURE_DURATION)
		}
	}
	if d, ok := p.SpanDuration("runtimeOverhead"); ok && inv.RuntimeOverheadMs == 0 {
		inv.RuntimeOverheadMs = d
	}
	// On Lambda Managed Instances the response spans come in the report.
	if d, ok := p.SpanDuration("responseLatency"); ok && inv.ResponseLatencyMs == 0 {
		inv.ResponseLatencyMs = d
	}
	if d, ok := p.SpanDuration("responseDuration"); ok && inv.ResponseDurationMs == 0 {
		inv.ResponseDurationMs = d
	}
	inv.Status = normalizeStatus(inv.Status)
	if ref, ok := t.spans[p.RequestID]; ok {
		inv.TraceId, inv.SpanId = ref.traceID, ref.spanID
	} else if id := XRayTraceID(inv.XrayTraceHeader); id != nil {
		inv.TraceId = id
		inv.SpanId = decodeHexID(st.xraySpanID, 8)
		if inv.SpanId == nil && p.Tracing != nil {
			inv.SpanId = decodeHexID(p.Tracing.SpanID, 8)
		}
	}
	return inv
}

// staleInitLocked leaves out an init event of snapshot time that came
// after a SnapStart restore, and says so.
func (t *Tracker) staleInitLocked(ev *telemetry.Event) {
	t.stats.StaleInitEvents++
	t.log.Info("left out an init event of snapshot time after a SnapStart restore", "type", ev.Type, "time", ev.Time)
}

// reportFigures pairs the figures of platform.report with their Ingest API
// names.
var reportFigures = []struct {
	given   telemetry.Figures
	unknown ingestv1.Figure
}{
	{telemetry.FigureDuration, ingestv1.Figure_FIGURE_DURATION},
	{telemetry.FigureBilledDuration, ingestv1.Figure_FIGURE_BILLED_DURATION},
	{telemetry.FigureMemorySize, ingestv1.Figure_FIGURE_MEMORY_SIZE},
	{telemetry.FigureMaxMemoryUsed, ingestv1.Figure_FIGURE_MAX_MEMORY_USED},
}

// unknownFigures lists, as Ingest API bits, the figures of a report that
// the platform left out.
func unknownFigures(given telemetry.Figures) uint32 {
	var out uint32
	for _, f := range reportFigures {
		if !given.Has(f.given) {
			out |= uint32(f.unknown)
		}
	}
	return out
}

func normalizeStatus(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "success"
	}
	return s
}

// FinishIncomplete writes a record, marked incomplete, for every
// invocation whose runtime finished (platform.runtimeDone) but whose
// platform.report has not come, with what is known: its start, duration,
// outcome and response spans; the report's figures are unknown. An
// invocation the extension saw run without either gets a record from the
// extension's own view (ownview.go) when the platform said nothing of it
// or the proxy saw its answer; one that only started (platform.start) is
// counted (Stats.Unrecorded). Records still waiting for ReleaseReport are
// written too, in the trace known now.
// Call it at shutdown, once no more telemetry can arrive. It returns how
// many records it wrote.
func (t *Tracker) FinishIncomplete() int {
	var (
		invocations []*ingestv1.Invocation
		spans       []*tracepb.Span
	)
	t.mu.Lock()
	var lines []*logspb.LogRecord
	for id := range t.heldLines {
		lines = append(lines, t.takeLinesLocked(id)...)
	}
	pending := make([]*state, 0, len(t.requests))
	for _, st := range t.requests {
		switch {
		case t.deferred[st.requestID] != nil:
			// Its report came and waits: built below.
		case st.runtimeDone != nil || st.ownRecordDue():
			pending = append(pending, st)
		case !st.start.IsZero():
			t.unrecordedLocked(st, "platform.start came, neither platform.runtimeDone nor the report nor the answer did")
		}
	}
	// In the order the invocations were first seen, so the cold start is
	// the first.
	slices.SortFunc(pending, func(a, b *state) int { return cmp.Compare(a.seq, b.seq) })
	lastRun, reason := t.shutdownStatus(pending)
	own := 0
	for _, st := range pending {
		rd := st.runtimeDone
		if rd == nil {
			// Neither a report nor runtimeDone: from the own view.
			status := ""
			if st == lastRun {
				status = reason
			}
			invocations = append(invocations, t.ownLocked(st, status))
			own++
			continue
		}
		// A report that gave only what runtimeDone knows.
		ev := &telemetry.Event{Time: st.runtimeDoneAt, Type: telemetry.TypeReport, Kind: telemetry.KindPlatform,
			Platform: &telemetry.PlatformRecord{RequestID: st.requestID, Status: rd.Status, ErrorType: rd.ErrorType,
				Metrics: telemetry.Metrics{DurationMs: rd.Metrics.DurationMs, Given: rd.Metrics.Given & telemetry.FigureDuration}}}
		delete(t.requests, st.requestID)
		ref, haveRef := t.spans[st.requestID]
		inv := t.buildLocked(st, ev)
		inv.Incomplete = true
		spans = append(spans, t.platformSpansLocked(st, inv, ref, haveRef)...)
		delete(t.spans, st.requestID)
		t.stats.Invocations++
		t.stats.Incomplete++
		invocations = append(invocations, inv)
	}
	incomplete := len(invocations) - own
	// Records still waiting (DeferReport) are built as things stand.
	for id, d := range t.deferred {
		delete(t.deferred, id)
		if d != nil {
			inv, ss := t.reportLocked(d.st, &d.ev)
			invocations = append(invocations, inv)
			spans = append(spans, ss...)
		}
	}
	if len(invocations) > 0 {
		t.notifyLocked()
	}
	t.mu.Unlock()

	if incomplete > 0 {
		t.log.Warn("writing invocation records without their platform report", "count", incomplete)
	}
	if own > 0 {
		t.log.Info("writing invocation records from the extension's own view at shutdown", "count", own)
	}
	t.shipLines(lines)
	t.shipRecords(invocations, spans)
	return len(invocations)
}

// WaitRuntimeDone blocks until platform.runtimeDone of requestID was seen
// or ctx is done; it reports whether it was seen. With quiet > 0 it also
// gives up once the telemetry stream has shown no platform or function
// event for quiet (counted from the call at the earliest): runtimeDone
// follows the function's last event within the subscription's buffering
// window, so a stream quiet for longer says it is late or lost.
// (Extension log lines do not count: the extension's own would keep the
// wait alive.)
func (t *Tracker) WaitRuntimeDone(ctx context.Context, requestID string, quiet time.Duration) bool {
	called := t.now()
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		t.mu.Lock()
		st, ok := t.requests[requestID]
		done := !ok || st.runtimeDone != nil
		ch := t.changed
		lastSign := t.lastSign
		t.mu.Unlock()
		if done {
			return true
		}
		var expired <-chan time.Time
		if quiet > 0 {
			from := called
			if lastSign.After(from) {
				from = lastSign
			}
			left := from.Add(quiet).Sub(t.now())
			if left <= 0 {
				return false
			}
			if timer == nil {
				timer = time.NewTimer(left)
			} else {
				timer.Reset(left)
			}
			expired = timer.C
		}
		select {
		case <-ctx.Done():
			return false
		case <-ch:
		case <-expired:
		}
	}
}

// WaitReports blocks until every invocation seen so far has its
// platform.report, or ctx is done; it returns the request IDs still
// waiting.
func (t *Tracker) WaitReports(ctx context.Context) []string {
	for {
		t.mu.Lock()
		n := len(t.requests)
		ch := t.changed
		var missing []string
		if n > 0 && ctx.Err() != nil {
			for id := range t.requests {
				missing = append(missing, id)
			}
		}
		t.mu.Unlock()
		if n == 0 || missing != nil {
			return missing
		}
		select {
		case <-ctx.Done():
		case <-ch:
		}
	}
}

// Active is the request ID of the invocation running now, as far as the
// tracker knows; "" when none or several are.
func (t *Tracker) Active() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	owner, _ := t.ownerLocked()
	return owner
}

// ownerLocked returns the invocation a line without a request ID of its
// own belongs to: the one in flight, when there is exactly one.
// ambiguous says the line's owner cannot be known: several are in flight,
// or, on Managed Instances (namedOnly), any invocation has started.
func (t *Tracker) ownerLocked() (owner string, ambiguous bool) {
	if t.namedOnly {
		return "", t.sawStart
	}
	if len(t.inflight) != 1 {
		return "", len(t.inflight) > 1
	}
	for id := range t.inflight {
		owner = id
	}
	return owner, false
}

// unattributedLocked counts a line shipped without a request ID because
// its owner cannot be known, and says so at most once a minute.
func (t *Tracker) unattributedLocked(now time.Time) {
	t.stats.LogsUnattributed++
	if t.unattributedLogged.IsZero() || now.Sub(t.unattributedLogged) >= time.Minute {
		t.unattributedLogged = now
		msg := "log lines without a request ID of their own, written while several invocations ran, are shipped without one " +
			"(logged at most once a minute)"
		if t.namedOnly {
			msg = "log lines without a request ID of their own are shipped without one: on Lambda Managed Instances " +
				"invocations run concurrently (logged at most once a minute)"
		}
		t.log.Info(msg, "in_flight", len(t.inflight), "unattributed_total", t.stats.LogsUnattributed)
	}
}

// Stats returns the counters.
func (t *Tracker) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stats
}
