package query

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/lambdascope/lambdascope/storage"
	"github.com/lambdascope/lambdascope/storage/dbmodel"
)

// Store is the part of storage the query layer reads from.
type Store interface {
	// SpansByTraceID returns the spans of one trace ordered by start.
	SpansByTraceID(ctx context.Context, traceID [16]byte) ([]storage.SpanRecord, error)
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
// The reads that do not depend on each other run at once: the links to
// the trace with the spans, then the invocations with the spans the links
// out point to. Their errors are reported in the order of a read one
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
	// Every return below first ends the read of the links in and waits
	// for it, so that no read outlives the call.
	abandon := func() {
		cancel()
		<-linksIn
	}
	records, err := s.store.SpansByTraceID(ctx, id)
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
	invocations, err := s.traceInvocations(ctx, id, nodes)
	if err != nil {
		cancel()
		<-outDone
		<-linksIn
		return nil, err
	}
	<-outDone
	if linksOutErr != nil {
		abandon()
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

// traceInvocations reads the invocations the spans of trace id ran in,
// with the columns an Invocation holds.
func (s *Service) traceInvocations(ctx context.Context, id TraceID, nodes []Node) ([]Invocation, error) {
	var first, last time.Time
	requestIDs := make([]string, 0, 8)
	seen := make(map[string]bool)
	// The functions of the spans that name an invocation narrow the read of
	// the invocations to their rows, unless a span names one without its
	// function.
	var functions []string
	seenFn, anonymous := make(map[string]bool), false
	for i := range nodes {
		sp := &nodes[i].Span
		if first.IsZero() || sp.Start.Before(first) {
			first = sp.Start
		}
		if end := sp.End(); end.After(last) {
			last = end
		}
		if sp.RequestID != "" && !seen[sp.RequestID] {
			seen[sp.RequestID] = true
			requestIDs = append(requestIDs, sp.RequestID)
		}
		if sp.RequestID != "" {
			anonymous = anonymous || sp.FunctionName == ""
			if sp.FunctionName != "" && !seenFn[sp.FunctionName] {
				seenFn[sp.FunctionName] = true
				functions = append(functions, sp.FunctionName)
			}
		}
	}
	if anonymous {
		functions = nil
	}
	var invocations []Invocation
	for chunk := range slices.Chunk(requestIDs, invocationJoinChunk) {
		recs, err := s.store.Invocations(ctx, storage.InvocationFilter{
			RequestIDs:    chunk,
			FunctionNames: functions,
			Since:         first.Add(-invocationJoinMargin),
			Until:         last.Add(invocationJoinMargin),
			Limit:         min(2*len(chunk), MaxInvocationLimit),
			TraceView:     true,
		})
		if err != nil {
			return nil, fmt.Errorf("read invocations of trace %s: %w", id, err)
		}
		for i := range recs {
			invocations = append(invocations, invocationFromRecord(&recs[i]))
		}
	}
	return invocations, nil
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
		FunctionName: f.FunctionName,
		Since:        f.Since,
		Until:        f.Until,
		RequestIDs:   f.RequestIDs,
		TraceID:      f.TraceID,
		TenantID:     f.TenantID,
		Limit:        f.Limit,
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
	}
}
