package query

import (
	"context"
	"fmt"
	"iter"
	"reflect"
	"slices"
	"time"

	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/dbmodel"
)

// Store is the part of storage the query layer reads from.
type Store interface {
	// SpansByTraceID returns the spans of one trace ordered by start.
	SpansByTraceID(ctx context.Context, traceID [16]byte) ([]storage.SpanRecord, error)
	// TraceSpanLayout reads where a trace's spans lie and their keys,
	// from their narrow columns; SpansInLayout reads the spans there.
	TraceSpanLayout(ctx context.Context, traceID [16]byte) (storage.TraceLayout, error)
	SpansInLayout(ctx context.Context, traceID [16]byte, l storage.TraceLayout) ([]storage.SpanRecord, error)
	// SpansLinkingTo returns the spans of other traces with a link to a
	// span of the trace, oldest first.
	SpansLinkingTo(ctx context.Context, traceID [16]byte, limit int) ([]storage.LinkingSpan, error)
	// SpansByRef looks up spans by trace and span ID.
	SpansByRef(ctx context.Context, refs []storage.SpanRef) ([]storage.SpanHead, error)
	// Invocations returns invocation records, newest first.
	Invocations(ctx context.Context, f storage.InvocationFilter) ([]storage.InvocationRecord, error)
	// SearchTraces summarises the traces with a matching span, newest first.
	SearchTraces(ctx context.Context, f storage.TraceSearchFilter) ([]storage.TraceSummaryRecord, error)
	// SpanEdges derives calls between sources and to resources from spans.
	SpanEdges(ctx context.Context, f storage.SpanEdgeFilter) ([]storage.SpanEdgeRecord, error)
	// ServiceMapEdges returns the calls client and producer spans name,
	// from the service map view where it is whole.
	ServiceMapEdges(ctx context.Context, f storage.SpanEdgeFilter) ([]storage.SpanEdgeRecord, error)
	// FunctionBuckets aggregates invocations per function per time step.
	FunctionBuckets(ctx context.Context, f storage.UsageFilter, step time.Duration) ([]storage.FunctionBucketRecord, error)
	// FunctionTriggers maps functions to the faas.trigger values of their spans.
	FunctionTriggers(ctx context.Context, f storage.SpanEdgeFilter) (map[string][]string, error)
	// FunctionCatalog lists the functions seen with their configuration.
	FunctionCatalog(ctx context.Context, f storage.UsageFilter) ([]storage.FunctionInfoRecord, error)
	// Usage sums billed figures per day and function configuration.
	Usage(ctx context.Context, f storage.UsageFilter) ([]storage.UsageRecord, error)
	// CostUsage reads what a cost report prices: the usage, SnapStart
	// invocations and restores per day and function configuration, and the
	// invocations whose billed duration is an estimate per day, function
	// and version.
	CostUsage(ctx context.Context, f storage.UsageFilter) (storage.CostUsage, error)
	// TenantUsage sums the invocations that name a tenant per tenant and
	// function configuration.
	TenantUsage(ctx context.Context, f storage.UsageFilter) ([]storage.TenantRecord, error)
	// DurableExecutions groups the inferred spans of durable executions
	// by execution.
	DurableExecutions(ctx context.Context, f storage.DurableFilter) ([]storage.DurableExecutionRecord, error)
	// LogsDropped counts, per function, the log records Lambda dropped.
	LogsDropped(ctx context.Context, f storage.UsageFilter) ([]storage.LogsDroppedRecord, error)
	// Completeness compares, per function and hour, the extensions'
	// counts with what was stored.
	Completeness(ctx context.Context, f storage.UsageFilter) ([]storage.CompletenessRecord, error)
	// CompletenessSince is where the completeness report starts: the
	// range's start, or later where retention dropped rows of a table it
	// compares.
	CompletenessSince(ctx context.Context, f storage.UsageFilter) (time.Time, []storage.RetentionCutoff, error)
	// RetentionCutoffs says, for each of tables that retention has
	// dropped rows of, before when its rows are gone.
	RetentionCutoffs(ctx context.Context, tables []string) ([]storage.RetentionCutoff, error)
	// Overhead sums what the extension added to the bill per day and
	// function; LogDays the stored log lines and bytes per day.
	Overhead(ctx context.Context, f storage.UsageFilter) ([]storage.OverheadRecord, error)
	LogDays(ctx context.Context, f storage.UsageFilter) ([]storage.LogDayRecord, error)
	// MemoryProfiles aggregates memory use per function configuration.
	MemoryProfiles(ctx context.Context, f storage.UsageFilter) ([]storage.MemoryProfileRecord, error)
	// Logs returns log records, newest first.
	Logs(ctx context.Context, f storage.LogFilter) ([]storage.LogRecord, error)
	// VersionsFirstSeen lists each function version with its first
	// invocation in a range.
	VersionsFirstSeen(ctx context.Context, f storage.UsageFilter) ([]storage.VersionFirstSeenRecord, error)
	// Tenants lists the tenants of the invocations in a range.
	Tenants(ctx context.Context, f storage.UsageFilter, limit int) ([]string, error)
	// LogVolume counts log records per step, function and severity.
	LogVolume(ctx context.Context, f storage.LogFilter, step time.Duration) ([]storage.LogVolumeRecord, error)
}

var _ Store = (*storage.Store)(nil)

// invocationJoinChunk bounds the request IDs sent in one query when a
// trace's spans are joined with their invocations.
const invocationJoinChunk = 500

// invocationJoinMargin widens the time range searched for a trace's
// invocations beyond its spans, for clocks that disagree.
const invocationJoinMargin = time.Hour

// Service answers questions about stored telemetry. It is safe for
// concurrent use.
type Service struct {
	store Store
	// owned is the connection Open made, closed by Close.
	owned *storage.Store
}

// NewService returns a Service reading from store.
func NewService(store Store) *Service {
	return &Service{store: store}
}

// TraceByID assembles the trace with the given ID: its spans as a tree, each
// joined with the invocation it ran in, with the links its spans hold to
// other traces and the spans of other traces linking to it. It returns an
// error wrapping ErrTraceNotFound when no span of the trace is stored.
//
// A cold read pays for every file it opens, so the spans are read in two
// steps: their narrow columns first (TraceSpanLayout), which name the
// parts holding them and what their invocations are found by, then their
// wide columns in those parts alone (SpansInLayout) while the invocations
// are read. The invocations read at once are those the spans read then
// name: when they name others (a span stored since), they are read again.
// The links in are read from the start, the spans the links out point to
// with the invocations. Errors are reported in the order of a read one
// after the other: spans, invocations, links out, links in.
func (s *Service) TraceByID(ctx context.Context, id TraceID) (*Trace, error) {
	if id.IsZero() {
		return nil, fmt.Errorf("%w: all zeros", ErrInvalidTraceID)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type linksInResult struct {
		links []TraceLink
		err   error
	}
	linksIn := make(chan linksInResult, 1)
	go func() {
		links, err := s.LinksIn(ctx, id, MaxTraceLinksIn+1)
		linksIn <- linksInResult{links, err}
	}()
	// Every return below first ends the reads still running and waits for
	// them, so that no read outlives the call.
	var early *invocationRead
	abandon := func() {
		cancel()
		if early != nil {
			early.wait()
		}
		<-linksIn
	}
	layout, err := s.store.TraceSpanLayout(ctx, id)
	if err != nil {
		abandon()
		return nil, fmt.Errorf("read spans of trace %s: %w", id, err)
	}
	var records []storage.SpanRecord
	if len(layout.Spans) > 0 {
		early = s.startInvocations(ctx, id, invocationFilters(func(yield func(spanKey) bool) {
			for _, k := range layout.Spans {
				if !yield(spanKey{k.Start, k.End(), k.RequestID, k.FunctionName}) {
					return
				}
			}
		}))
		records, err = s.store.SpansInLayout(ctx, id, layout)
	} else {
		records, err = s.store.SpansByTraceID(ctx, id)
	}
	if err != nil {
		abandon()
		return nil, fmt.Errorf("read spans of trace %s: %w", id, err)
	}
	if len(records) == 0 {
		abandon()
		return nil, fmt.Errorf("trace %s: %w", id, ErrTraceNotFound)
	}
	// The tree is made of these nodes (buildTrace): each span is copied
	// once, from its record into its node.
	nodes := make([]Node, len(records))
	for i := range records {
		nodes[i].Span = spanFromRecord(&records[i])
	}
	var (
		linksOut    []TraceLink
		linksOutErr error
		outDone     = make(chan struct{})
	)
	go func() {
		defer close(outDone)
		// The links out are those of every span read, before the tree
		// drops exact copies.
		linksOut, linksOutErr = s.linksOut(ctx, id, func(yield func(*Span) bool) {
			for i := range nodes {
				if !yield(&nodes[i].Span) {
					return
				}
			}
		})
	}()
	filters := invocationFilters(func(yield func(spanKey) bool) {
		for i := range nodes {
			sp := &nodes[i].Span
			if !yield(spanKey{sp.Start, sp.End(), sp.RequestID, sp.FunctionName}) {
				return
			}
		}
	})
	var invocations []Invocation
	if early != nil && reflect.DeepEqual(early.filters, filters) {
		invocations, err = early.wait()
	} else {
		if early != nil {
			_, _ = early.wait() // read for other spans than those read now
		}
		invocations, err = s.readInvocations(ctx, id, filters)
	}
	if err != nil {
		cancel()
		<-outDone
		<-linksIn
		return nil, err
	}
	<-outDone
	if linksOutErr != nil {
		cancel()
		<-linksIn
		return nil, linksOutErr
	}
	in := <-linksIn
	if in.err != nil {
		return nil, in.err
	}
	t := buildTrace(id, nodes, invocations)
	t.LinksOut, t.LinksIn = linksOut, in.links
	if len(t.LinksIn) > MaxTraceLinksIn {
		t.LinksIn, t.LinksInTruncated = t.LinksIn[:MaxTraceLinksIn], true
	}
	return t, nil
}

// spanKey is what the read of a trace's invocations needs of a span.
type spanKey struct {
	start, end              time.Time
	requestID, functionName string
}

// invocationFilters are the reads of the invocations the spans ran in,
// with the columns an Invocation holds: their request IDs, in chunks of
// invocationJoinChunk, in the range of the spans widened by
// invocationJoinMargin, narrowed to the spans' functions unless a span
// names an invocation without its function.
func invocationFilters(spans iter.Seq[spanKey]) []storage.InvocationFilter {
	var first, last time.Time
	requestIDs := make([]string, 0, 8)
	seen := make(map[string]bool)
	var functions []string
	seenFn, anonymous := make(map[string]bool), false
	for sp := range spans {
		if first.IsZero() || sp.start.Before(first) {
			first = sp.start
		}
		if sp.end.After(last) {
			last = sp.end
		}
		if sp.requestID != "" && !seen[sp.requestID] {
			seen[sp.requestID] = true
			requestIDs = append(requestIDs, sp.requestID)
		}
		if sp.requestID != "" {
			anonymous = anonymous || sp.functionName == ""
			if sp.functionName != "" && !seenFn[sp.functionName] {
				seenFn[sp.functionName] = true
				functions = append(functions, sp.functionName)
			}
		}
	}
	if anonymous {
		functions = nil
	}
	var out []storage.InvocationFilter
	for chunk := range slices.Chunk(requestIDs, invocationJoinChunk) {
		out = append(out, storage.InvocationFilter{
			RequestIDs:    chunk,
			FunctionNames: functions,
			Since:         first.Add(-invocationJoinMargin),
			Until:         last.Add(invocationJoinMargin),
			Limit:         min(2*len(chunk), MaxInvocationLimit),
			TraceView:     true,
		})
	}
	return out
}

// readInvocations reads the invocations of trace id that filters select.
func (s *Service) readInvocations(ctx context.Context, id TraceID, filters []storage.InvocationFilter) ([]Invocation, error) {
	var invocations []Invocation
	for _, f := range filters {
		recs, err := s.store.Invocations(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("read invocations of trace %s: %w", id, err)
		}
		for i := range recs {
			invocations = append(invocations, invocationFromRecord(&recs[i]))
		}
	}
	return invocations, nil
}

// invocationRead is a readInvocations running in the background.
type invocationRead struct {
	filters []storage.InvocationFilter
	done    chan struct{}
	got     []Invocation
	err     error
}

// startInvocations starts reading the invocations filters select.
func (s *Service) startInvocations(ctx context.Context, id TraceID, filters []storage.InvocationFilter) *invocationRead {
	r := &invocationRead{filters: filters, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.got, r.err = s.readInvocations(ctx, id, filters)
	}()
	return r
}

// wait waits for the read to end and returns what it read.
func (r *invocationRead) wait() ([]Invocation, error) {
	<-r.done
	return r.got, r.err
}

// Invocations lists invocation records matching f, newest first.
func (s *Service) Invocations(ctx context.Context, f InvocationFilter) ([]Invocation, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if f.Limit == 0 {
		f.Limit = DefaultInvocationLimit
	}
	recs, err := s.store.Invocations(ctx, storage.InvocationFilter{
		FunctionName:  f.FunctionName,
		Since:         f.Since,
		Until:         f.Until,
		RequestIDs:    f.RequestIDs,
		TraceID:       f.TraceID,
		TenantID:      f.TenantID,
		Trigger:       f.Trigger,
		TriggerSource: f.TriggerSource,
		Failed:        f.Failed,
		ErrorType:     f.ErrorType,
		Limit:         f.Limit,
	})
	if err != nil {
		return nil, fmt.Errorf("read invocations: %w", err)
	}
	out := make([]Invocation, len(recs))
	for i := range recs {
		out[i] = invocationFromRecord(&recs[i])
	}
	return out, nil
}

func spanFromRecord(r *storage.SpanRecord) Span {
	s := Span{
		TraceID:            r.TraceID,
		SpanID:             r.SpanID,
		ParentSpanID:       r.ParentSpanID,
		TraceState:         r.TraceState,
		Start:              r.Start,
		Duration:           r.Duration,
		Name:               r.Name,
		Kind:               r.Kind,
		StatusCode:         r.StatusCode,
		StatusMessage:      r.StatusMessage,
		ServiceName:        r.ServiceName,
		FunctionName:       r.FunctionName,
		FunctionVersion:    r.FunctionVersion,
		AccountID:          r.AccountID,
		Region:             r.Region,
		RequestID:          r.RequestID,
		Attributes:         r.Attributes,
		ResourceAttributes: r.ResourceAttributes,
	}
	if len(r.Events) > 0 {
		s.Events = make([]SpanEvent, len(r.Events))
		for i, e := range r.Events {
			s.Events[i] = SpanEvent{Time: e.Time, Name: e.Name, Attributes: e.Attributes}
		}
	}
	if len(r.Links) > 0 {
		s.Links = make([]SpanLink, len(r.Links))
		for i, l := range r.Links {
			s.Links[i] = SpanLink{TraceID: l.TraceID, SpanID: l.SpanID, Attributes: l.Attributes}
		}
	}
	return s
}

func invocationFromRecord(r *storage.InvocationRecord) Invocation {
	return Invocation{
		AccountID:            r.AccountID,
		Region:               r.Region,
		FunctionName:         r.FunctionName,
		FunctionVersion:      r.FunctionVersion,
		ServiceName:          r.ServiceName,
		Architecture:         r.Architecture,
		Runtime:              r.Runtime,
		InitializationType:   r.InitializationType,
		LogStream:            r.LogStream,
		RequestID:            r.RequestID,
		Start:                r.Start,
		MemorySizeMB:         r.MemorySizeMB,
		MaxMemoryUsedMB:      r.MaxMemoryUsedMB,
		EphemeralStorageMB:   r.EphemeralStorageMB,
		BilledInitDurationMs: r.BilledInitDurationMs,
		RestoreDurationMs:    r.RestoreDurationMs,
		XRayTraceHeader:      r.XRayTraceHeader,
		DurationMs:           r.DurationMs,
		BilledDurationMs:     r.BilledDurationMs,
		InitDurationMs:       r.InitDurationMs,
		ColdStart:            r.ColdStart,
		Status:               r.Status,
		ErrorType:            r.ErrorType,
		TraceID:              r.TraceID,
		SpanID:               r.SpanID,
		DurationUnknown:      r.UnknownFigures&dbmodel.FigureDuration != 0,
		BilledEstimated:      r.UnknownFigures&dbmodel.FigureBilledDuration != 0,
		MaxMemoryUsedUnknown: r.UnknownFigures&dbmodel.FigureMaxMemoryUsed != 0,
		MemorySizeUnknown:    r.UnknownFigures&dbmodel.FigureMemorySize != 0,
		Incomplete:           r.Incomplete,
		TenantID:             r.TenantID,
		Trigger:              r.Trigger,
		HTTPStatusCode:       r.HTTPStatusCode,
		ResponseSize:         r.ResponseSize,
		TriggerSource:        r.TriggerSource,
		ErrorMessage:         r.ErrorMessage,
		TraceContextSource:   r.TraceContextSource,
		FunctionErrorType:    r.FunctionErrorType,
	}
}
