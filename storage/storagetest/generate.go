package storagetest

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"golang.org/x/sync/errgroup"

	"github.com/lambdascope/lambdascope/storage/internal/testconn"
)

// Store is the store Generate writes into: a *storage.Store.
type Store = testconn.Store

// GenerateConfig sizes telemetry generated inside ClickHouse.
type GenerateConfig struct {
	// Spans is the number of spans to write, rounded down to whole traces
	// of the demo's placed order (GeneratedSpansPerTrace spans, the same
	// as DemoTrace's and GenerateBulk's).
	Spans int
	// Invocations is the number of invocation reports: the
	// GeneratedInvocationsPerTrace of each trace and, for the rest,
	// reports without spans. At least the traced ones are written.
	Invocations int
	// Functions is how many distinct functions there are, orders-NN and
	// inventory-NN pairs (default 40; an odd number is rounded down).
	Functions int
	// End and Days place the data in [End-Days, End).
	End  time.Time
	Days int
}

// Generation is what Generate wrote, with 16 of its trace IDs spread over
// the range.
type Generation struct {
	Spans, Invocations int
	SampleTraces       [][16]byte
}

// Shape of a generated trace: the demo's placed order, GenerateBulk's.
const (
	// GeneratedSpansPerTrace is the span count of every generated trace.
	GeneratedSpansPerTrace = BulkSpansPerTrace
	// GeneratedInvocationsPerTrace is the invocation reports of every
	// generated trace.
	GeneratedInvocationsPerTrace = BulkInvocationsPerTrace
)

var (
	//go:embed generate_invocations.sql
	generateInvocationsSQL string
	//go:embed generate_logs.sql
	generateLogsSQL string
	//go:embed generate_losses.sql
	generateLossesSQL string
)

// Generate writes realistic traces and invocation reports straight into
// the store's tables with INSERT ... SELECT over generated numbers, so that
// ten million rows take minutes instead of the write path's tens: the
// demo's placed order (GenerateBulk's rows: twelve spans, two invocation
// reports per trace) through cfg.Functions/2 pairs of functions in 2
// accounts and 2 regions, spread evenly over the range, and the reports
// beyond the traces' without spans. Every report carries the extension's
// counts (telemetryCounts); the log lines they count are written to the
// logs table, and a few batches of spans the collector left out to
// ingest_losses. The materialized views fill as they would from the
// collector.
func Generate(ctx context.Context, st Store, cfg GenerateConfig) (Generation, error) {
	conn, err := connOf(st)
	if err != nil {
		return Generation{}, err
	}
	d, untraced, err := generateData(cfg)
	if err != nil {
		return Generation{}, err
	}
	ctx = bulkInsertContext(ctx)
	type statement struct {
		what      string
		sql       string
		params    []any
		offset, n int
	}
	var todo []statement
	add := func(what, text string, part, rows int, params []any) error {
		sql, err := renderBulkSQL(text, st.Database(), part, true)
		if err != nil {
			return err
		}
		for off := 0; off < rows; off += bulkChunkTraces {
			todo = append(todo, statement{what, sql, params, off, min(bulkChunkTraces, rows-off)})
		}
		return nil
	}
	for part := range BulkSpansPerTrace {
		if err := add(fmt.Sprintf("span %d of the traces", part), bulkSpansSQL, part, d.Traces, d.params()); err != nil {
			return Generation{}, err
		}
	}
	for part := range BulkInvocationsPerTrace {
		if err := add(fmt.Sprintf("report %d of the traces", part), bulkInvocationsSQL, part, d.Traces, d.params()); err != nil {
			return Generation{}, err
		}
	}
	rangeNs := d.End.Sub(d.Begin()).Nanoseconds()
	untracedParams := []any{
		clickhouse.Named("pairs", d.Pairs),
		clickhouse.Named("begin", d.Begin().UnixNano()),
		clickhouse.Named("untracedStep", max(rangeNs/int64(max(untraced, 1)), 1)),
	}
	if err := add("reports without spans", generateInvocationsSQL, 0, untraced, untracedParams); err != nil {
		return Generation{}, err
	}
	// Two statements at a time: a server writes the parts of one INSERT on
	// one thread.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(bulkParallel)
	for _, q := range todo {
		g.Go(func() error {
			args := append(slices.Clip(q.params), clickhouse.Named("offset", q.offset), clickhouse.Named("rows", q.n))
			if err := conn.Exec(gctx, q.sql, args...); err != nil {
				return fmt.Errorf("generate %s, %d to %d: %w", q.what, q.offset, q.offset+q.n, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return Generation{}, err
	}
	// The log lines and losses follow the reports written.
	for _, q := range []struct{ what, text string }{{"log lines", generateLogsSQL}, {"ingest losses", generateLossesSQL}} {
		sql, err := renderBulkSQL(q.text, st.Database(), 0, true)
		if err != nil {
			return Generation{}, err
		}
		if err := conn.Exec(ctx, sql); err != nil {
			return Generation{}, fmt.Errorf("generate %s: %w", q.what, err)
		}
	}
	return generated(ctx, conn, d, untraced)
}

// Generated is what Generate wrote with cfg, without writing it again: for
// a database generated by an earlier run.
func Generated(ctx context.Context, st Store, cfg GenerateConfig) (Generation, error) {
	conn, err := connOf(st)
	if err != nil {
		return Generation{}, err
	}
	d, untraced, err := generateData(cfg)
	if err != nil {
		return Generation{}, err
	}
	return generated(ctx, conn, d, untraced)
}

func connOf(st Store) (driver.Conn, error) {
	if testconn.Of != nil {
		if conn, ok := testconn.Of(st); ok {
			return conn, nil
		}
	}
	return nil, errors.New("generate telemetry: the store is not a *storage.Store")
}

// generateData is cfg's traces as GenerateBulk's data set, and the
// reports without spans beyond them.
func generateData(cfg GenerateConfig) (d BulkData, untraced int, err error) {
	if cfg.Functions <= 0 {
		cfg.Functions = 40
	}
	if cfg.Functions < 2 {
		return BulkData{}, 0, fmt.Errorf("generate telemetry: need at least 2 functions (a pair), not %d", cfg.Functions)
	}
	d, err = BulkConfig{Spans: cfg.Spans, Pairs: cfg.Functions / 2, End: cfg.End, Days: cfg.Days}.data()
	if err != nil {
		return BulkData{}, 0, fmt.Errorf("generate telemetry: %w", err)
	}
	return d, max(cfg.Invocations-d.Invocations, 0), nil
}

// generated sums up a generation and computes 16 of its trace IDs, spread
// over the range.
func generated(ctx context.Context, conn driver.Conn, d BulkData, untraced int) (Generation, error) {
	res := Generation{Spans: d.SpanRows(), Invocations: d.Invocations + untraced}
	picks := make([]uint64, 0, 16)
	for i := range 16 {
		picks = append(picks, uint64(i*d.Traces/16+d.Traces/32))
	}
	ids, err := BulkTraceIDs(ctx, conn, d, picks)
	if err != nil {
		return res, fmt.Errorf("compute sample trace IDs: %w", err)
	}
	res.SampleTraces = ids
	return res, nil
}

// WaitForMerges returns when the server runs no merge on the store's
// database, or when ctx ends: the background merges after a large load
// settle the parts a long-running server would have.
func WaitForMerges(ctx context.Context, st Store) error {
	conn, err := connOf(st)
	if err != nil {
		return err
	}
	for {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.merges WHERE database = ?", st.Database()).Scan(&n); err != nil {
			return fmt.Errorf("count merges: %w", err)
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
