package storage

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Stages where telemetry can go missing, as IngestLoss.Stage and in the
// ingest_losses table.
const (
	// StageCollector: the collector took the items in and left them out
	// of a request it kept (malformed spans: bad trace or span IDs, or
	// bytes that do not decode). A request refused whole is counted by its
	// sender instead, and fields over their caps are cut, not left out.
	StageCollector = "collector"
	// StageStorage: ClickHouse refused the batch holding them for good.
	StageStorage = "storage"
)

// IngestLoss is a number of items of one function, signal and hour that
// the collector took in and did not store, and why.
type IngestLoss struct {
	// Hour is the start of the UTC hour of the items' own time.
	Hour         time.Time
	FunctionName string
	// Signal is "spans", "logs", "invocations" or "metric_points".
	Signal string
	Stage  string
	Reason string
	Items  uint64
}

// WriteIngestLosses records items the collector did not store; rows of
// the same key add up.
//
// On a cluster the insert is not deduplicated (insert_deduplicate = 0,
// which the Distributed table passes on to the shards): ReplicatedMergeTree
// drops a block equal to one inserted recently, and two flushes with equal
// loss rows (a malformed span of the same function and hour in each of
// two requests) would count once. A retry of a write whose outcome is unknown
// (ErrOutcomeUnknown) can then count its rows twice; the caller counts
// that.
func (s *Store) WriteIngestLosses(ctx context.Context, losses []IngestLoss) error {
	ctx = context.WithValue(ctx, noDedupKey{}, true)
	err := insertRows(ctx, s, "ingest_losses", ingestLossColumns, losses, func(l *IngestLoss) []any {
		return []any{l.Hour.UTC().Truncate(time.Hour), l.FunctionName, l.Signal, l.Stage, l.Reason, l.Items}
	})
	if err != nil {
		return fmt.Errorf("record ingest losses: %w", err)
	}
	return nil
}

// CompletenessRecord compares, for one function and UTC hour, what the
// extensions said they sent with what was stored.
type CompletenessRecord struct {
	Hour         time.Time
	FunctionName string
	// Invocations counts the records that carry the extension's counts.
	Invocations uint64

	// What the extensions counted (the sums of the records' tel_* columns).
	SpansReceived, LogLinesReceived         uint64
	BytesReceived, BytesShipped             uint64
	SpansSampledOut                         uint64
	SpansDropped, LogLinesDropped           uint64
	SpansSpooled, LogLinesSpooled           uint64
	SpansSpoolDropped, LogLinesSpoolDropped uint64
	PlatformLogsDropped                     uint64
	// Of the dropped, what the collector refused for good.
	SpansRefused, LogLinesRefused uint64

	// What the collector left out, by stage (ingest_losses).
	SpansCollectorLost, LogLinesCollectorLost uint64
	SpansStorageLost, LogLinesStorageLost     uint64

	// What the spans and logs tables hold.
	SpansStored, LogLinesStored uint64
}

type completenessKey struct {
	hour time.Time
	fn   string
}

// Completeness reports, per function and UTC hour of the range, the
// extensions' counts beside what the collector left out and what was
// stored. Only function hours with invocation records that carry counts,
// or with items the collector left out, are listed; they are in time
// order, then by function. The whole hours after the completeness_hours
// view's horizon (migration 50) are read from the view, the rest from the
// raw invocations, spans and logs; ingest_losses is read as it is.
//
// The range starts no earlier than CompletenessSince: where every table
// the report compares is still whole after retention.
func (s *Store) Completeness(ctx context.Context, f UsageFilter) ([]CompletenessRecord, error) {
	if err := f.check("read completeness"); err != nil {
		return nil, err
	}
	f, ok, err := s.completenessKept(ctx, f)
	if err != nil || !ok {
		return nil, err
	}
	horizon, known, err := s.viewHorizon(ctx, "completeness_hours")
	if err != nil {
		return nil, err
	}
	// The parts hourParts would read raw (no builder here) are read from
	// the raw tables.
	return s.completeness(ctx, f, hourParts(f, horizon, known, nil, completenessHoursSQL))
}

// CompletenessBefore is Completeness as it read before migration 50: the
// whole range from the raw invocations, spans and logs. It answers the
// same; it is the baseline the view is checked and measured against.
func (s *Store) CompletenessBefore(ctx context.Context, f UsageFilter) ([]CompletenessRecord, error) {
	if err := f.check("read completeness"); err != nil {
		return nil, err
	}
	f, ok, err := s.completenessKept(ctx, f)
	if err != nil || !ok {
		return nil, err
	}
	return s.completeness(ctx, f, []readPart{{f.Since, f.Until, nil}})
}

// completenessTables are the tables the completeness report compares:
// the invocations' counts against the spans and log lines stored and what
// the collector left out, read raw or from completeness_hours. Retention
// drops them by day (completeness_hours by month, so that its rows outlive
// the raw rows they count), each at its own cutoff.
var completenessTables = []string{"invocations", "spans", "logs", "ingest_losses", "completeness_hours"}

// CompletenessSince is where the completeness report of f starts: f.Since,
// or, when retention dropped rows of a table the report compares at or
// after it, the latest time before which it dropped them; cutoffs are
// those of the tables that moved the start, latest first. A report over a
// range one table lost days of would count what retention dropped as lost
// in the pipeline (spans kept fewer days than invocations) or as still
// stored (completeness_hours keeping the month of dropped days).
func (s *Store) CompletenessSince(ctx context.Context, f UsageFilter) (since time.Time, cutoffs []RetentionCutoff, err error) {
	all, err := s.RetentionCutoffs(ctx, completenessTables)
	if err != nil {
		return time.Time{}, nil, fmt.Errorf("read completeness: %w", err)
	}
	since = f.Since
	for _, c := range all {
		if c.DroppedBefore.After(f.Since) {
			cutoffs = append(cutoffs, c)
			if c.DroppedBefore.After(since) {
				since = c.DroppedBefore
			}
		}
	}
	slices.SortStableFunc(cutoffs, func(a, b RetentionCutoff) int { return b.DroppedBefore.Compare(a.DroppedBefore) })
	return since, cutoffs, nil
}

// completenessKept is f starting at CompletenessSince, and false when
// nothing of its range is left.
func (s *Store) completenessKept(ctx context.Context, f UsageFilter) (UsageFilter, bool, error) {
	since, _, err := s.CompletenessSince(ctx, f)
	if err != nil {
		return f, false, err
	}
	f.Since = since
	return f, f.Since.Before(f.Until), nil
}

// completeness reads f's report in parts: those without a builder from the
// raw tables, the others from completeness_hours. Parts share no hour.
func (s *Store) completeness(ctx context.Context, f UsageFilter, parts []readPart) ([]CompletenessRecord, error) {
	recs := map[completenessKey]*CompletenessRecord{}
	// sent adds the extensions' counts of a function hour.
	sent := func(r CompletenessRecord) {
		k := completenessKey{r.Hour, r.FunctionName}
		m := recs[k]
		if m == nil {
			m = &CompletenessRecord{Hour: r.Hour, FunctionName: r.FunctionName}
			recs[k] = m
		}
		m.Invocations += r.Invocations
		m.SpansReceived += r.SpansReceived
		m.LogLinesReceived += r.LogLinesReceived
		m.BytesReceived += r.BytesReceived
		m.BytesShipped += r.BytesShipped
		m.SpansSampledOut += r.SpansSampledOut
		m.SpansDropped += r.SpansDropped
		m.LogLinesDropped += r.LogLinesDropped
		m.SpansSpooled += r.SpansSpooled
		m.LogLinesSpooled += r.LogLinesSpooled
		m.SpansSpoolDropped += r.SpansSpoolDropped
		m.LogLinesSpoolDropped += r.LogLinesSpoolDropped
		m.PlatformLogsDropped += r.PlatformLogsDropped
		m.SpansRefused += r.SpansRefused
		m.LogLinesRefused += r.LogLinesRefused
	}
	// What the spans and logs tables hold, per function hour.
	type storedCounts struct{ spans, logLines uint64 }
	stored := map[completenessKey]*storedCounts{}
	store := func(k completenessKey, spans, logLines uint64) {
		c := stored[k]
		if c == nil {
			c = &storedCounts{}
			stored[k] = c
		}
		c.spans += spans
		c.logLines += logLines
	}
	for _, part := range parts {
		pf := f
		pf.Since, pf.Until = part.since, part.until
		var err error
		if part.build == nil {
			err = s.completenessRaw(ctx, pf, sent, store)
		} else {
			err = s.completenessFromView(ctx, pf, sent, store)
		}
		if err != nil {
			return nil, err
		}
	}
	query, args := completenessLossSQL(s.database, f)
	err := s.scanAll(ctx, "ingest losses", query, args, func(rows driver.Rows) error {
		var (
			hour              time.Time
			fn, signal, stage string
			items             uint64
		)
		if err := rows.Scan(&hour, &fn, &signal, &stage, &items); err != nil {
			return err
		}
		k := completenessKey{hour.UTC(), fn}
		r := recs[k]
		if r == nil {
			// The records of the hour were lost with their batch, or the
			// function's extension does not count: the losses still show.
			r = &CompletenessRecord{Hour: k.hour, FunctionName: fn}
			recs[k] = r
		}
		switch {
		case signal == "spans" && stage == StageCollector:
			r.SpansCollectorLost += items
		case signal == "logs" && stage == StageCollector:
			r.LogLinesCollectorLost += items
		case signal == "spans" && stage == StageStorage:
			r.SpansStorageLost += items
		case signal == "logs" && stage == StageStorage:
			r.LogLinesStorageLost += items
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, nil
	}
	out := make([]CompletenessRecord, 0, len(recs))
	for k, r := range recs {
		if c := stored[k]; c != nil {
			r.SpansStored, r.LogLinesStored = c.spans, c.logLines
		}
		out = append(out, *r)
	}
	sortCompleteness(out)
	return out, nil
}

// completenessRaw reads a part of the range from the raw invocations,
// spans and logs.
func (s *Store) completenessRaw(ctx context.Context, f UsageFilter, sent func(CompletenessRecord),
	store func(k completenessKey, spans, logLines uint64)) error {
	query, args := completenessSentSQL(s.database, f)
	err := s.scanAll(ctx, "telemetry counts", query, args, func(rows driver.Rows) error {
		var r CompletenessRecord
		if err := rows.Scan(&r.Hour, &r.FunctionName, &r.Invocations,
			&r.SpansReceived, &r.LogLinesReceived, &r.BytesReceived, &r.BytesShipped,
			&r.SpansSampledOut, &r.SpansDropped, &r.LogLinesDropped,
			&r.SpansSpooled, &r.LogLinesSpooled, &r.SpansSpoolDropped,
			&r.LogLinesSpoolDropped, &r.PlatformLogsDropped, &r.SpansRefused, &r.LogLinesRefused); err != nil {
			return err
		}
		r.Hour = r.Hour.UTC()
		sent(r)
		return nil
	})
	if err != nil {
		return err
	}
	for _, c := range []struct {
		table, timeCol string
		logs           bool
	}{
		{"spans", "start_time", false},
		{"logs", "timestamp", true},
	} {
		query, args := hourlyCountSQL(s.database, c.table, c.timeCol, f)
		err := s.scanAll(ctx, "stored "+c.table, query, args, func(rows driver.Rows) error {
			var (
				hour time.Time
				fn   string
				n    uint64
			)
			if err := rows.Scan(&hour, &fn, &n); err != nil {
				return err
			}
			k := completenessKey{hour.UTC(), fn}
			if c.logs {
				store(k, 0, n)
			} else {
				store(k, n, 0)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// completenessFromView reads whole hours from completeness_hours: the
// hours with counted records as the raw read's counts, and what was
// stored.
func (s *Store) completenessFromView(ctx context.Context, f UsageFilter, sent func(CompletenessRecord),
	store func(k completenessKey, spans, logLines uint64)) error {
	query, args := completenessHoursSQL(s.database, f)
	return s.scanAll(ctx, "completeness hours", query, args, func(rows driver.Rows) error {
		var (
			r                        CompletenessRecord
			spansStored, linesStored uint64
		)
		if err := rows.Scan(&r.Hour, &r.FunctionName, &r.Invocations,
			&r.SpansReceived, &r.LogLinesReceived, &r.BytesReceived, &r.BytesShipped,
			&r.SpansSampledOut, &r.SpansDropped, &r.LogLinesDropped,
			&r.SpansSpooled, &r.LogLinesSpooled, &r.SpansSpoolDropped,
			&r.LogLinesSpoolDropped, &r.PlatformLogsDropped, &r.SpansRefused, &r.LogLinesRefused,
			&spansStored, &linesStored); err != nil {
			return err
		}
		r.Hour = r.Hour.UTC()
		if r.Invocations > 0 {
			sent(r)
		}
		store(completenessKey{r.Hour, r.FunctionName}, spansStored, linesStored)
		return nil
	})
}

func sortCompleteness(recs []CompletenessRecord) {
	slices.SortFunc(recs, func(a, b CompletenessRecord) int {
		if c := a.Hour.Compare(b.Hour); c != 0 {
			return c
		}
		return strings.Compare(a.FunctionName, b.FunctionName)
	})
}
