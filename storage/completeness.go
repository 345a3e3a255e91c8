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
	// (limits, field caps, bad items).
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
func (s *Store) WriteIngestLosses(ctx context.Context, losses []IngestLoss) error {
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
// order, then by function.
func (s *Store) Completeness(ctx context.Context, f UsageFilter) ([]CompletenessRecord, error) {
	if err := f.check("read completeness"); err != nil {
		return nil, err
	}
	recs := map[completenessKey]*CompletenessRecord{}
	var order []completenessKey
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
		k := completenessKey{r.Hour, r.FunctionName}
		recs[k] = &r
		order = append(order, k)
		return nil
	})
	if err != nil {
		return nil, err
	}
	query, args = completenessLossSQL(s.database, f)
	err = s.scanAll(ctx, "ingest losses", query, args, func(rows driver.Rows) error {
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
			order = append(order, k)
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
	for _, c := range []struct {
		table, timeCol string
		set            func(*CompletenessRecord, uint64)
	}{
		{"spans", "start_time", func(r *CompletenessRecord, n uint64) { r.SpansStored = n }},
		{"logs", "timestamp", func(r *CompletenessRecord, n uint64) { r.LogLinesStored = n }},
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
			if r := recs[completenessKey{hour.UTC(), fn}]; r != nil {
				c.set(r, n)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	out := make([]CompletenessRecord, 0, len(order))
	for _, k := range order {
		out = append(out, *recs[k])
	}
	sortCompleteness(out)
	return out, nil
}

func sortCompleteness(recs []CompletenessRecord) {
	slices.SortFunc(recs, func(a, b CompletenessRecord) int {
		if c := a.Hour.Compare(b.Hour); c != 0 {
			return c
		}
		return strings.Compare(a.FunctionName, b.FunctionName)
	})
}
