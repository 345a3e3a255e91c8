package query

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/lambdascope/lambdascope/storage"
)

// TraceByIDBefore is TraceByID as it was before the spans were read in two
// steps (commit 9697743): the spans in one read, then their invocations.
// The tests hold the reads of today to its answers.
func (s *Service) TraceByIDBefore(ctx context.Context, id TraceID) (*Trace, error) {
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
	invocations, err := s.traceInvocationsBefore(ctx, id, nodes)
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

// traceInvocationsBefore reads the invocations the spans of trace id ran in,
// with the columns an Invocation holds.
func (s *Service) traceInvocationsBefore(ctx context.Context, id TraceID, nodes []Node) ([]Invocation, error) {
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
