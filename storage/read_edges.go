package storage

import (
	"context"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// SpanEdgeRecord is the calls from one source (function or service) to
// another, or to a downstream resource, in a time range.
type SpanEdgeRecord struct {
	Caller, Callee string
	// Resource is true when Callee is named by a client span's attributes
	// (a database, queue, peer service) rather than by its own spans.
	Resource bool
	Calls    uint64
	Errors   uint64
	// DurationP50/P95/P99 are of the callee's spans (the call as the callee
	// saw it) or, for a resource, of the client spans.
	DurationP50, DurationP95, DurationP99 time.Duration
}

// setDurations takes the p50, p95 and p99 from a quantiles result.
func (r *SpanEdgeRecord) setDurations(qs []float64) {
	r.DurationP50 = time.Duration(quantileAt(qs, 0))
	r.DurationP95 = time.Duration(quantileAt(qs, 1))
	r.DurationP99 = time.Duration(quantileAt(qs, 2))
}

// SpanEdges derives call edges from the raw spans: a span whose parent was
// emitted by another source is a call from that source, and a client span
// naming a downstream resource is a call to that resource.
func (s *Store) SpanEdges(ctx context.Context, f SpanEdgeFilter) ([]SpanEdgeRecord, error) {
	if err := requireRange("read span edges", f.Since, f.Until); err != nil {
		return nil, err
	}
	var out []SpanEdgeRecord
	for _, q := range []struct {
		build    func(string, SpanEdgeFilter) (string, []any)
		resource bool
	}{{spanEdgesSQL, false}, {resourceCallsSQL, true}} {
		query, args := q.build(s.database, f)
		err := s.scanAll(ctx, "span edges", query, args, func(rows driver.Rows) error {
			var (
				r  SpanEdgeRecord
				qs []float64
			)
			if err := rows.Scan(&r.Caller, &r.Callee, &r.Calls, &r.Errors, &qs); err != nil {
				return err
			}
			r.Resource = q.resource
			r.setDurations(qs)
			out = append(out, r)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ServiceMapEdges returns the calls each client or producer span names,
// per caller (function, else service), callee and kind of callee (see
// migration 10): the whole hours and minutes after the views' horizon from
// the service_map_hours and service_map_minutes views, the rest (the ragged
// edges, older time, a server without the horizon) from the raw spans,
// computed the same way, all merged in one query. Durations are the
// caller's view of the call; the quantiles are t-digest estimates.
func (s *Store) ServiceMapEdges(ctx context.Context, f SpanEdgeFilter) ([]SpanEdgeRecord, error) {
	if err := requireRange("read service map", f.Since, f.Until); err != nil {
		return nil, err
	}
	parts, err := s.serviceMapParts(ctx, f)
	if err != nil {
		return nil, err
	}
	query, args := serviceMapSQL(s.database, parts)
	var out []SpanEdgeRecord
	err = s.scanAll(ctx, "service map", query, args, func(rows driver.Rows) error {
		var (
			r        SpanEdgeRecord
			resource uint8
			qs       []float64
		)
		if err := rows.Scan(&r.Caller, &r.Callee, &resource, &r.Calls, &r.Errors, &qs); err != nil {
			return err
		}
		r.Resource = resource != 0
		r.setDurations(qs)
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// serviceMapParts splits f's range by where it is read from: the whole
// hours that start after the service_map horizon from service_map_hours,
// the other whole minutes after it from service_map_minutes, the rest from
// raw spans. Everything is raw when no horizon is known (a schema older
// than migration 10, or another server of a cluster).
func (s *Store) serviceMapParts(ctx context.Context, f SpanEdgeFilter) (serviceMapParts, error) {
	all := serviceMapParts{raw: []interval{{f.Since, f.Until}}}
	horizon, ok, err := s.viewHorizon(ctx, "service_map")
	if err != nil || !ok {
		return all, err
	}
	// whole is the part of f's range made of whole units of sec seconds
	// that start after the horizon.
	whole := func(sec int64) (interval, bool) {
		first := (ceilUnix(f.Since) + sec - 1) / sec * sec
		if horizon > 0 {
			first = max(first, (int64(horizon/1e9)/sec+1)*sec)
		}
		last := f.Until.Unix() / sec * sec
		return interval{time.Unix(first, 0).UTC(), time.Unix(last, 0).UTC()}, first < last
	}
	minutes, ok := whole(60)
	if !ok {
		return all, nil
	}
	var p serviceMapParts
	if hours, ok := whole(3600); ok {
		p.hours = []interval{hours}
		p.minutes = nonEmpty(interval{minutes.since, hours.since}, interval{hours.until, minutes.until})
	} else {
		p.minutes = []interval{minutes}
	}
	p.raw = nonEmpty(interval{f.Since, minutes.since}, interval{minutes.until, f.Until})
	return p, nil
}

func nonEmpty(rs ...interval) []interval {
	var out []interval
	for _, r := range rs {
		if r.since.Before(r.until) {
			out = append(out, r)
		}
	}
	return out
}

// FunctionTriggers maps each function to the faas.trigger values of its
// spans in the range.
func (s *Store) FunctionTriggers(ctx context.Context, f SpanEdgeFilter) (map[string][]string, error) {
	if err := requireRange("read function triggers", f.Since, f.Until); err != nil {
		return nil, err
	}
	query, args := functionTriggersSQL(s.database, f)
	out := map[string][]string{}
	err := s.scanAll(ctx, "function triggers", query, args, func(rows driver.Rows) error {
		var (
			fn       string
			triggers []string
		)
		if err := rows.Scan(&fn, &triggers); err != nil {
			return err
		}
		out[fn] = triggers
		return nil
	})
	return out, err
}
