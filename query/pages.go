package query

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// Page is a list read with name filters: the rows kept, at most the
// limit asked for, newest first.
type Page[T any] struct {
	Rows []T
	// Capped is set when the filters were applied to the newest rows the
	// read could take (its maximum) only, so that older rows that would
	// have passed were not seen.
	Capped bool
}

// keepPage filters rows read up to maxRead and keeps those from offset,
// at most limit.
func keepPage[T any](rows []T, maxRead, offset, limit int, keep func(T) bool) Page[T] {
	p := Page[T]{Capped: len(rows) >= maxRead}
	rows = slices.DeleteFunc(rows, func(r T) bool { return !keep(r) })
	rows = rows[min(offset, len(rows)):]
	p.Rows = rows[:min(limit, len(rows))]
	return p
}

// SearchTracesPage finds traces as SearchTraces does and keeps those the
// name filters select: a trace passes = and =~ when one of its functions
// (or services, its functions' services included) matches, and != and !~
// when none does. With filters, the newest MaxSearchLimit traces are read
// and filtered, then paged by f.Offset and f.Limit.
func (s *Service) SearchTracesPage(ctx context.Context, f TraceSearch, names NameFilters) (Page[TraceSummary], error) {
	if names.IsZero() {
		found, err := s.SearchTraces(ctx, f)
		return Page[TraceSummary]{Rows: found}, err
	}
	if err := f.Validate(); err != nil {
		return Page[TraceSummary]{}, err
	}
	offset, limit := f.Offset, cmp.Or(f.Limit, DefaultSearchLimit)
	f.Offset, f.Limit = 0, MaxSearchLimit
	found, err := s.SearchTraces(ctx, f)
	if err != nil {
		return Page[TraceSummary]{}, err
	}
	sel, err := s.Select(ctx, TimeRange{Since: f.Since, Until: f.Until}, names)
	if err != nil {
		return Page[TraceSummary]{}, err
	}
	return keepPage(found, MaxSearchLimit, offset, limit, sel.KeepTrace), nil
}

// InvocationsPage lists invocation records as Invocations does and keeps
// those the name filters select (a record without a service is judged by
// its function's service in the range, until now when the filter has no
// end). With filters, the newest MaxInvocationLimit records are read and
// filtered, then f.Limit kept.
func (s *Service) InvocationsPage(ctx context.Context, f InvocationFilter, names NameFilters) (Page[Invocation], error) {
	if names.IsZero() {
		invs, err := s.Invocations(ctx, f)
		return Page[Invocation]{Rows: invs}, err
	}
	if err := f.Validate(); err != nil {
		return Page[Invocation]{}, err
	}
	limit := cmp.Or(f.Limit, DefaultInvocationLimit)
	f.Limit = MaxInvocationLimit
	invs, err := s.Invocations(ctx, f)
	if err != nil {
		return Page[Invocation]{}, err
	}
	r := TimeRange{Since: f.Since, Until: f.Until}
	if r.Until.IsZero() {
		r.Until = time.Now() // the services of the functions seen until now
	}
	sel, err := s.Select(ctx, r, names)
	if err != nil {
		return Page[Invocation]{}, err
	}
	return keepPage(invs, MaxInvocationLimit, 0, limit, func(inv Invocation) bool { return sel.Keep(inv.FunctionName, inv.ServiceName) }), nil
}

// LogsPage returns log records as Logs does and keeps those the name
// filters select, by each line's own function and service. With filters,
// the newest MaxLogLimit lines are read and filtered, then q.Limit kept.
func (s *Service) LogsPage(ctx context.Context, q LogQuery, names NameFilters) (Page[LogLine], error) {
	if names.IsZero() {
		lines, err := s.Logs(ctx, q)
		return Page[LogLine]{Rows: lines}, err
	}
	if q.Limit < 0 || q.Limit > MaxLogLimit {
		return Page[LogLine]{}, logLimitError(q.Limit)
	}
	limit := cmp.Or(q.Limit, DefaultLogLimit)
	q.Limit = MaxLogLimit
	lines, err := s.Logs(ctx, q)
	if err != nil {
		return Page[LogLine]{}, err
	}
	return keepPage(lines, MaxLogLimit, 0, limit, func(l LogLine) bool { return names.Keep(l.FunctionName, l.ServiceName) }), nil
}
