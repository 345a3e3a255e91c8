package query

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/lambdascope/lambdascope/storage"
)

// Limits of TraceSearch.Limit.
const (
	DefaultSearchLimit = storage.DefaultTraceSearchLimit
	MaxSearchLimit     = storage.MaxTraceSearchLimit
)

// TraceSearch selects traces by their spans: a trace is found when one of
// its spans meets every condition set. Since and Until are required.
type TraceSearch struct {
	Since, Until time.Time
	FunctionName string
	ServiceName  string
	SpanName     string
	// Status is "", "ok", "error" or "unset".
	Status                   string
	MinDuration, MaxDuration time.Duration
	// Attributes must all be on the span with exactly these values.
	Attributes    map[string]string
	ColdStartOnly bool
	// Offset and Limit page through the traces, newest first.
	Offset, Limit int
}

// Validate reports what makes the search unusable, naming the field.
func (f *TraceSearch) Validate() error {
	switch {
	case f.Since.IsZero() || f.Until.IsZero():
		return fmt.Errorf("%w: since and until are required", ErrInvalidFilter)
	case !f.Since.Before(f.Until):
		return fmt.Errorf("%w: since must be before until", ErrInvalidFilter)
	case f.Limit < 0 || f.Limit > MaxSearchLimit:
		return fmt.Errorf("%w: limit must be between 1 and %d, got %d", ErrInvalidFilter, MaxSearchLimit, f.Limit)
	case f.Offset < 0:
		return fmt.Errorf("%w: offset must not be negative, got %d", ErrInvalidFilter, f.Offset)
	case f.MinDuration < 0 || f.MaxDuration < 0:
		return fmt.Errorf("%w: min_duration and max_duration must not be negative", ErrInvalidFilter)
	case f.MaxDuration > 0 && f.MinDuration > f.MaxDuration:
		return fmt.Errorf("%w: min_duration %s is above max_duration %s", ErrInvalidFilter, f.MinDuration, f.MaxDuration)
	}
	if _, err := statusCode(f.Status); err != nil {
		return err
	}
	for k := range f.Attributes {
		if k == "" {
			return fmt.Errorf("%w: attribute names must not be empty", ErrInvalidFilter)
		}
	}
	return nil
}

func statusCode(s string) (int32, error) {
	switch s {
	case "":
		return -1, nil
	case "unset":
		return StatusUnset, nil
	case "ok":
		return StatusOK, nil
	case "error":
		return StatusError, nil
	}
	return 0, fmt.Errorf("%w: status must be ok, error or unset, got %q", ErrInvalidFilter, s)
}

// TraceSummary sums up one found trace.
type TraceSummary struct {
	TraceID    TraceID       `json:"traceId"`
	Start      time.Time     `json:"start"`
	Duration   time.Duration `json:"durationNs"`
	Spans      uint64        `json:"spans"`
	ErrorSpans uint64        `json:"errorSpans"`
	// RootName and RootSource are of the root span, or of the earliest
	// span when the root is missing (HasRoot false).
	RootName   string   `json:"rootName"`
	RootSource string   `json:"rootSource"`
	HasRoot    bool     `json:"hasRoot"`
	Sources    []string `json:"sources"`
}

// SearchTraces finds traces, newest first.
func (s *Service) SearchTraces(ctx context.Context, f TraceSearch) ([]TraceSummary, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	code, _ := statusCode(f.Status)
	recs, err := s.store.SearchTraces(ctx, storage.TraceSearchFilter{
		Since: f.Since, Until: f.Until, FunctionName: f.FunctionName, ServiceName: f.ServiceName,
		SpanName: f.SpanName, StatusCode: code, MinDuration: f.MinDuration, MaxDuration: f.MaxDuration,
		Attributes: f.Attributes, ColdStartOnly: f.ColdStartOnly, Offset: f.Offset, Limit: f.Limit,
	})
	if err != nil {
		return nil, fmt.Errorf("search traces: %w", err)
	}
	out := make([]TraceSummary, len(recs))
	for i, r := range recs {
		srcs := slices.DeleteFunc(slices.Clone(r.SourceNames), func(s string) bool { return s == "" })
		slices.Sort(srcs)
		out[i] = TraceSummary{
			TraceID: r.TraceID, Start: r.Start, Duration: r.End.Sub(r.Start), Spans: r.Spans,
			ErrorSpans: r.ErrorSpans, RootName: r.RootName, RootSource: r.RootSource, HasRoot: r.HasRoot, Sources: srcs,
		}
	}
	return out, nil
}

// TimeRange is [Since, Until).
type TimeRange struct {
	Since, Until time.Time
}

// Validate reports a missing or empty range.
func (r TimeRange) Validate() error {
	if r.Since.IsZero() || r.Until.IsZero() || !r.Since.Before(r.Until) {
		return fmt.Errorf("%w: a time range with since before until is required", ErrInvalidFilter)
	}
	return nil
}

// Node kinds of the service map.
const (
	NodeFunction = "function"
	NodeService  = "service"
	NodeResource = "resource"
)

// ServiceMap is who calls whom in a time range.
type ServiceMap struct {
	Nodes []MapNode `json:"nodes"`
	Edges []MapEdge `json:"edges"`
}

// MapNode is a function, a traced service or a downstream resource.
type MapNode struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Calls and Errors are of the calls into the node: for a resource or
	// service, those the map's callers made; for a function, its
	// invocations and failed invocations in the range, whoever called
	// (callers on the map, callers that are not traced, triggers), unless
	// the map's callers saw more (calls refused before the function ran).
	Calls  uint64 `json:"calls"`
	Errors uint64 `json:"errors"`
	// Unmapped is the part of Calls that came from no caller on the map:
	// untraced callers and triggers.
	Unmapped uint64 `json:"unmapped"`
}

// MapEdge is the calls from one node to another.
type MapEdge struct {
	Caller string `json:"caller"`
	Callee string `json:"callee"`
	Calls  uint64 `json:"calls"`
	Errors uint64 `json:"errors"`
	// RatePerSecond is Calls over the map's time range.
	RatePerSecond float64 `json:"ratePerSecond"`
	// ErrorRate is Errors / Calls.
	ErrorRate float64       `json:"errorRate"`
	P50       time.Duration `json:"p50Ns"`
	P95       time.Duration `json:"p95Ns"`
	P99       time.Duration `json:"p99Ns"`
}

// ServiceMap is the call graph of the range, from the calling side: every
// client or producer span that names what it calls is a call from its
// function (else its service) to a function or service (peer.service,
// faas.invoked_name) or to a downstream resource (db.system,
// messaging.system, rpc.service, server.address, ...). Errors and latency
// are the caller's view of the call. It reads the per-minute
// service_map_minutes view where the view is whole, raw spans elsewhere
// (storage.Store.ServiceMapEdges), so its cost grows with edges × minutes.
// A call whose client span names nothing is not on the map.
func (s *Service) ServiceMap(ctx context.Context, r TimeRange) (*ServiceMap, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	recs, err := s.store.ServiceMapEdges(ctx, storage.SpanEdgeFilter{Since: r.Since, Until: r.Until})
	if err != nil {
		return nil, fmt.Errorf("read service map: %w", err)
	}
	functions, err := s.functionCounts(ctx, r)
	if err != nil {
		return nil, err
	}
	secs := r.Until.Sub(r.Since).Seconds()
	m := &ServiceMap{}
	nodes := map[string]*MapNode{}
	node := func(name, kind string) *MapNode {
		if n, ok := nodes[name]; ok {
			return n
		}
		if kind != NodeResource {
			kind = NodeService
			if _, ok := functions[name]; ok {
				kind = NodeFunction
			}
		}
		n := &MapNode{Name: name, Kind: kind}
		nodes[name] = n
		return n
	}
	for _, e := range recs {
		node(e.Caller, "")
		kind := ""
		if e.Resource {
			kind = NodeResource
		}
		callee := node(e.Callee, kind)
		callee.Calls += e.Calls
		callee.Errors += e.Errors
		edge := MapEdge{
			Caller: e.Caller, Callee: e.Callee, Calls: e.Calls, Errors: e.Errors,
			RatePerSecond: float64(e.Calls) / secs, P50: e.DurationP50, P95: e.DurationP95, P99: e.DurationP99,
		}
		if e.Calls > 0 {
			edge.ErrorRate = float64(e.Errors) / float64(e.Calls)
		}
		m.Edges = append(m.Edges, edge)
	}
	for _, n := range nodes {
		if inv, ok := functions[n.Name]; ok && n.Kind == NodeFunction {
			mapped := n.Calls
			n.Calls, n.Errors = max(n.Calls, inv.calls), max(n.Errors, inv.errors)
			n.Unmapped = n.Calls - mapped
		}
		m.Nodes = append(m.Nodes, *n)
	}
	slices.SortFunc(m.Nodes, func(a, b MapNode) int { return cmpStrings(a.Name, b.Name) })
	slices.SortFunc(m.Edges, func(a, b MapEdge) int {
		if c := cmpStrings(a.Caller, b.Caller); c != 0 {
			return c
		}
		return cmpStrings(a.Callee, b.Callee)
	})
	return m, nil
}

func cmpStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// invocationCount is how often a function was invoked and failed.
type invocationCount struct{ calls, errors uint64 }

// functionCounts returns the functions invoked in the range (of every
// account and region) with their invocations.
func (s *Service) functionCounts(ctx context.Context, r TimeRange) (map[string]invocationCount, error) {
	cat, err := s.store.FunctionCatalog(ctx, storage.UsageFilter{Since: r.Since, Until: r.Until})
	if err != nil {
		return nil, fmt.Errorf("read function names: %w", err)
	}
	out := make(map[string]invocationCount, len(cat))
	for _, c := range cat {
		n := out[c.FunctionName]
		n.calls += c.Invocations
		n.errors += c.Errors
		out[c.FunctionName] = n
	}
	return out, nil
}

// FunctionQuery selects function figures over time.
type FunctionQuery struct {
	TimeRange
	// FunctionName keeps one function; empty means every function.
	FunctionName string
	// Step is the bucket width, a whole number of seconds; 0 picks one
	// giving about 60 buckets.
	Step time.Duration
}

// FunctionPoint is one function's figures over one bucket.
type FunctionPoint struct {
	Start        time.Time `json:"start"`
	FunctionName string    `json:"functionName"`
	Invocations  uint64    `json:"invocations"`
	// Errors counts every invocation that did not succeed, timeouts
	// included.
	Errors   uint64 `json:"errors"`
	Timeouts uint64 `json:"timeouts"`
	// Throttles is always nil (JSON null): unknown. A throttled request is
	// refused by the Lambda service before any execution environment runs,
	// so no extension ever sees it and the platform's reports do not count
	// it; only CloudWatch's Throttles metric has it. Errors and Invocations
	// never include throttles.
	Throttles     *uint64 `json:"throttles"`
	ErrorRate     float64 `json:"errorRate"`
	ColdStarts    uint64  `json:"coldStarts"`
	ColdStartRate float64 `json:"coldStartRate"`
	// InitDurationMs is the mean init time of the bucket's cold starts.
	InitDurationMs float64 `json:"initDurationMs"`
	P50Ms          float64 `json:"p50Ms"`
	P95Ms          float64 `json:"p95Ms"`
	P99Ms          float64 `json:"p99Ms"`
	// Concurrency estimates the mean number of invocations running at
	// once: the time spent in invocations over the bucket's length.
	Concurrency        float64 `json:"concurrency"`
	MaxMemoryUsedMB    uint32  `json:"maxMemoryUsedMB"`
	MemoryConfiguredMB uint32  `json:"memoryConfiguredMB"`
}

// FunctionFigures returns per-function figures per step, by function then
// time. Throttles are not in the platform's reports: FunctionPoint.Throttles
// is unknown (nil).
//
// At steps of whole minutes, when the function_figures view holds at least
// two invocations per row, the buckets that lie wholly in the range and
// after the view's horizon are read from the view; the others (ragged
// edges, rows older than the view) from the raw invocations table. Counts, sums, means and memory are the same either way; the
// duration quantiles of view buckets are t-digest estimates.
func (s *Service) FunctionFigures(ctx context.Context, q FunctionQuery) ([]FunctionPoint, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	step := q.Step
	if step == 0 {
		step = max(time.Minute, (q.Until.Sub(q.Since) / 60).Truncate(time.Minute))
	}
	if step < time.Second || step%time.Second != 0 {
		return nil, fmt.Errorf("%w: step must be a whole number of seconds, got %s", ErrInvalidFilter, step)
	}
	recs, err := s.store.FunctionBuckets(ctx, storage.UsageFilter{Since: q.Since, Until: q.Until, FunctionName: q.FunctionName}, step)
	if err != nil {
		return nil, fmt.Errorf("read function figures: %w", err)
	}
	out := make([]FunctionPoint, len(recs))
	for i, r := range recs {
		p := FunctionPoint{
			Start: r.Start, FunctionName: r.FunctionName, Invocations: r.Invocations, Errors: r.Errors,
			Timeouts: r.Timeouts, ColdStarts: r.ColdStarts, InitDurationMs: r.InitDurationMs,
			P50Ms: r.DurationMsP50, P95Ms: r.DurationMsP95, P99Ms: r.DurationMsP99,
			Concurrency:     r.DurationMsSum / float64(step.Milliseconds()),
			MaxMemoryUsedMB: r.MaxMemoryUsedMB, MemoryConfiguredMB: r.MemoryConfiguredMB,
		}
		if r.Invocations > 0 {
			p.ErrorRate = float64(r.Errors) / float64(r.Invocations)
			p.ColdStartRate = float64(r.ColdStarts) / float64(r.Invocations)
		}
		out[i] = p
	}
	return out, nil
}

// FunctionInfo is what was seen of one function.
type FunctionInfo struct {
	FunctionName string    `json:"functionName"`
	AccountID    string    `json:"accountId"`
	Region       string    `json:"region"`
	ServiceName  string    `json:"serviceName,omitempty"`
	Runtime      string    `json:"runtime,omitempty"`
	Architecture string    `json:"architecture,omitempty"`
	MemorySizeMB uint32    `json:"memorySizeMB"`
	Versions     []string  `json:"versions"`
	FirstSeen    time.Time `json:"firstSeen"`
	LastSeen     time.Time `json:"lastSeen"`
	Invocations  uint64    `json:"invocations"`
	Errors       uint64    `json:"errors"`
	// Triggers are the faas.trigger values of its spans (http, pubsub,
	// datasource, timer, other).
	Triggers []string `json:"triggers"`
	// CalledBy and Calls name the functions, services and resources on
	// the other end of its traced calls.
	CalledBy []string `json:"calledBy"`
	Calls    []string `json:"calls"`
}

// FunctionList lists every function with invocations in the range, from
// the invocation records alone: Triggers, CalledBy and Calls are left
// empty. It is what pickers and name lookups need, without reading the
// spans that Functions reads for the calls (which grows with the spans of
// the range).
func (s *Service) FunctionList(ctx context.Context, r TimeRange) ([]FunctionInfo, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	cat, err := s.store.FunctionCatalog(ctx, storage.UsageFilter{Since: r.Since, Until: r.Until})
	if err != nil {
		return nil, fmt.Errorf("read function catalog: %w", err)
	}
	out := make([]FunctionInfo, len(cat))
	for i, c := range cat {
		versions := slices.Clone(c.Versions)
		slices.Sort(versions)
		out[i] = FunctionInfo{
			FunctionName: c.FunctionName, AccountID: c.AccountID, Region: c.Region, ServiceName: c.ServiceName,
			Runtime: c.Runtime, Architecture: c.Architecture, MemorySizeMB: c.MemorySizeMB, Versions: versions,
			FirstSeen: c.FirstSeen, LastSeen: c.LastSeen, Invocations: c.Invocations, Errors: c.Errors,
			Triggers: []string{}, CalledBy: []string{}, Calls: []string{},
		}
	}
	return out, nil
}

// Functions lists every function with invocations in the range, with what
// triggers it, what calls it and what it calls.
func (s *Service) Functions(ctx context.Context, r TimeRange) ([]FunctionInfo, error) {
	out, err := s.FunctionList(ctx, r)
	if err != nil {
		return nil, err
	}
	edges, err := s.store.SpanEdges(ctx, storage.SpanEdgeFilter{Since: r.Since, Until: r.Until})
	if err != nil {
		return nil, fmt.Errorf("read function calls: %w", err)
	}
	triggers, err := s.store.FunctionTriggers(ctx, storage.SpanEdgeFilter{Since: r.Since, Until: r.Until})
	if err != nil {
		return nil, fmt.Errorf("read function triggers: %w", err)
	}
	callers, callees := map[string][]string{}, map[string][]string{}
	for _, e := range edges {
		callees[e.Caller] = append(callees[e.Caller], e.Callee)
		callers[e.Callee] = append(callers[e.Callee], e.Caller)
	}
	for i := range out {
		fn := out[i].FunctionName
		out[i].Triggers = sortedUnique(triggers[fn])
		out[i].CalledBy, out[i].Calls = sortedUnique(callers[fn]), sortedUnique(callees[fn])
	}
	return out, nil
}

func sortedUnique(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	s = slices.Compact(s)
	if s == nil {
		return []string{}
	}
	return s
}

// Limits of LogQuery.Limit.
const (
	DefaultLogLimit = 100
	MaxLogLimit     = 10_000
)

// LogQuery selects log records; zero fields select anything.
type LogQuery struct {
	Since, Until time.Time
	FunctionName string
	RequestID    string
	TraceID      TraceID
	// Text keeps records whose body contains it, ignoring case.
	Text  string
	Limit int
}

// LogLine is one log record.
type LogLine struct {
	Time            time.Time `json:"time"`
	FunctionName    string    `json:"functionName,omitempty"`
	FunctionVersion string    `json:"functionVersion,omitempty"`
	ServiceName     string    `json:"serviceName,omitempty"`
	RequestID       string    `json:"requestId,omitempty"`
	TraceID         TraceID   `json:"traceId,omitzero"`
	SpanID          SpanID    `json:"spanId,omitzero"`
	// Severity is the record's level text; when the record has neither
	// text nor number, the level its body names (see bodyLevel), if any.
	Severity       string            `json:"severity,omitempty"`
	SeverityNumber uint8             `json:"severityNumber,omitempty"`
	Type           string            `json:"type,omitempty"`
	Body           string            `json:"body"`
	Attributes     map[string]string `json:"attributes,omitempty"`
}

// Logs returns log records, newest first.
func (s *Service) Logs(ctx context.Context, q LogQuery) ([]LogLine, error) {
	if q.Limit < 0 || q.Limit > MaxLogLimit {
		return nil, logLimitError(q.Limit)
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return nil, fmt.Errorf("%w: since must be before until", ErrInvalidFilter)
	}
	if q.Limit == 0 {
		q.Limit = DefaultLogLimit
	}
	f := storage.LogFilter{
		FunctionName: q.FunctionName, Since: q.Since, Until: q.Until, RequestID: q.RequestID,
		TraceID: q.TraceID, Contains: q.Text, Limit: q.Limit,
	}
	if !q.TraceID.IsZero() {
		// A line whose own trace ID was not set (its function's span had
		// not arrived, or it has none) belongs to the trace through its
		// invocation.
		ids, err := s.traceRequestIDs(ctx, q)
		if err != nil {
			return nil, err
		}
		f.TraceRequestIDs = ids
	}
	recs, err := s.store.Logs(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("read logs: %w", err)
	}
	out := make([]LogLine, len(recs))
	for i, r := range recs {
		out[i] = LogLine{
			Time: r.Time, FunctionName: r.FunctionName, FunctionVersion: r.FunctionVersion, ServiceName: r.ServiceName,
			RequestID: r.RequestID, TraceID: r.TraceID, SpanID: r.SpanID, Severity: r.SeverityText,
			SeverityNumber: r.SeverityNumber, Type: r.LogType, Body: r.Body, Attributes: r.Attributes,
		}
		if r.SeverityNumber == 0 && r.SeverityText == "" {
			out[i].Severity = bodyLevel(r.Body)
		}
	}
	return out, nil
}

// logLimitError says that a log query's limit is out of bounds.
func logLimitError(limit int) error {
	return fmt.Errorf("%w: limit must be between 1 and %d, got %d", ErrInvalidFilter, MaxLogLimit, limit)
}

// traceRequestIDs lists the request IDs of the invocations of q's trace,
// from their records, over q's range widened by invocationJoinMargin.
func (s *Service) traceRequestIDs(ctx context.Context, q LogQuery) ([]string, error) {
	f := storage.InvocationFilter{TraceID: q.TraceID, FunctionName: q.FunctionName, Limit: MaxInvocationLimit}
	if !q.Since.IsZero() {
		f.Since = q.Since.Add(-invocationJoinMargin)
	}
	if !q.Until.IsZero() {
		f.Until = q.Until.Add(invocationJoinMargin)
	}
	recs, err := s.store.Invocations(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("read invocations of trace %s: %w", q.TraceID, err)
	}
	ids := make([]string, 0, len(recs))
	for _, r := range recs {
		if r.RequestID != "" && !slices.Contains(ids, r.RequestID) {
			ids = append(ids, r.RequestID)
		}
	}
	return ids, nil
}
