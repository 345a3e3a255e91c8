// The bulk generator: the demo's request as demo-shaped rows, millions
// at a time, written inside ClickHouse for the query benchmarks.

package storagetest

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"golang.org/x/sync/errgroup"
)

// Shape of a generated trace: the demo's placed order, twelve spans in two
// invocations (see bulk_spans.sql).
const (
	BulkSpansPerTrace       = 12
	BulkInvocationsPerTrace = 2
)

var (
	//go:embed bulk_spans.sql
	bulkSpansSQL string
	//go:embed bulk_invocations.sql
	bulkInvocationsSQL string
)

// bulkChunkTraces is the traces one generating statement writes a span
// (or an invocation report) of: a million rows, in blocks of
// bulkBlockRows. Each statement stays inside the client's read timeout (5
// minutes) on a busy server, and progress is shown after each.
const (
	bulkChunkTraces = 1_000_000
	bulkBlockRows   = 1 << 20
	bulkParallel    = 2
)

// BulkConfig sizes a generated data set.
type BulkConfig struct {
	// Spans is the number of spans, rounded down to whole traces of
	// BulkSpansPerTrace; there are BulkInvocationsPerTrace reports per trace.
	Spans int
	// Pairs is how many orders-NN / inventory-NN pairs of functions there
	// are (default 20: 40 functions in 2 accounts and 2 regions).
	Pairs int
	// End and Days place the data in [End-Days, End).
	End  time.Time
	Days int
}

// BulkData is a generated data set.
type BulkData struct {
	BulkConfig
	Traces      int
	Invocations int
}

// Begin is when the data starts.
func (d BulkData) Begin() time.Time { return d.End.AddDate(0, 0, -d.Days) }

// SpanRows is the number of spans written.
func (d BulkData) SpanRows() int { return d.Traces * BulkSpansPerTrace }

func (c BulkConfig) data() (BulkData, error) {
	if c.Pairs <= 0 {
		c.Pairs = 20
	}
	if c.Days <= 0 || c.End.IsZero() || c.Spans < BulkSpansPerTrace {
		return BulkData{}, fmt.Errorf("generate demo-shaped data: need end, days > 0 and at least %d spans", BulkSpansPerTrace)
	}
	traces := c.Spans / BulkSpansPerTrace
	return BulkData{BulkConfig: c, Traces: traces, Invocations: traces * BulkInvocationsPerTrace}, nil
}

func (d BulkData) params() []any {
	rangeNs := d.End.Sub(d.Begin()).Nanoseconds()
	return []any{
		clickhouse.Named("pairs", d.Pairs),
		clickhouse.Named("begin", d.Begin().UnixNano()),
		clickhouse.Named("step", max(rangeNs/int64(d.Traces), 1)),
	}
}

// GenerateBulk writes cfg's demo-shaped spans and invocation reports into the
// tables of database db (migrated) through conn with INSERT ... SELECT over
// numbers(), printing progress to w after each statement; the
// materialized views (trace windows, service map, links) fill as they do
// from the collector. Each statement writes one span of the demo's trace
// (or one of its two invocation reports) for up to bulkChunkTraces traces,
// so that what a row holds apart from its hashed values is constant. A
// database that already holds exactly this data is kept as it is; one that
// holds other rows is an error.
func GenerateBulk(ctx context.Context, conn clickhouse.Conn, db string, cfg BulkConfig, w io.Writer) (BulkData, error) {
	d, err := cfg.data()
	if err != nil {
		return BulkData{}, err
	}
	spans, invocations, err := bulkCounts(ctx, conn, db)
	if err != nil {
		return BulkData{}, err
	}
	switch {
	case spans == uint64(d.SpanRows()) && invocations == uint64(d.Invocations):
		fmt.Fprintf(w, "%s already holds %d spans and %d invocations: kept\n", db, spans, invocations)
		return d, nil
	case spans != 0 || invocations != 0:
		return BulkData{}, fmt.Errorf("generate demo-shaped data: database %s holds %d spans and %d invocations, not %d and %d: drop it or name another",
			db, spans, invocations, d.SpanRows(), d.Invocations)
	}
	ctx = bulkInsertContext(ctx)
	type statement struct {
		what      string
		part, of  int
		sql       string
		offset, n int
	}
	var todo []statement
	for _, q := range []struct {
		what, text string
		parts      int // statements per chunk of traces: one per span or report
	}{
		{"spans", bulkSpansSQL, BulkSpansPerTrace},
		{"invocations", bulkInvocationsSQL, BulkInvocationsPerTrace},
	} {
		for part := range q.parts {
			sql, err := renderBulkSQL(q.text, db, part, false)
			if err != nil {
				return BulkData{}, err
			}
			for off := 0; off < d.Traces; off += bulkChunkTraces {
				todo = append(todo, statement{q.what, part, q.parts, sql, off, min(bulkChunkTraces, d.Traces-off)})
			}
		}
	}
	// bulkParallel statements at a time: a server writes the parts of one
	// INSERT on one thread.
	start := time.Now()
	total := d.SpanRows() + d.Invocations
	var (
		mu   sync.Mutex
		done int
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(bulkParallel)
	for _, st := range todo {
		g.Go(func() error {
			args := append(slices.Clip(d.params()), clickhouse.Named("offset", st.offset), clickhouse.Named("rows", st.n))
			if err := conn.Exec(gctx, st.sql, args...); err != nil {
				return fmt.Errorf("generate %s %d of traces %d to %d: %w", st.what, st.part, st.offset, st.offset+st.n, err)
			}
			mu.Lock()
			defer mu.Unlock()
			done += st.n
			el := time.Since(start)
			rate := float64(done) / el.Seconds()
			left := time.Duration(float64(total-done) / rate * float64(time.Second))
			fmt.Fprintf(w, "generate: %s, %d of %d per trace, traces %d to %d of %d; all rows %d of %d (%.0f %%), %.0f rows/s, %s so far, about %s left\n",
				st.what, st.part+1, st.of, st.offset, st.offset+st.n, d.Traces, done, total, 100*float64(done)/float64(total), rate,
				el.Round(time.Second), left.Round(time.Second))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return BulkData{}, err
	}
	return d, nil
}

// renderBulkSQL renders a bulk generator statement for database db and the
// part-th span (or invocation report) of each trace; counted says whether
// the invocation reports carry the extension's counts.
func renderBulkSQL(text, db string, part int, counted bool) (string, error) {
	tmpl, err := template.New("bulk").Funcs(template.FuncMap{
		// pick is the argument for the part: {{pick .C "first" "second"}}
		"pick": func(i int, choices ...string) (string, error) {
			if i < 0 || i >= len(choices) {
				return "", fmt.Errorf("no choice %d of %d", i, len(choices))
			}
			return choices[i], nil
		},
		"counts": telemetryCounts,
	}).Parse(text)
	if err != nil {
		return "", fmt.Errorf("parse bulk generator SQL: %w", err)
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, struct {
		DB      string
		C       int
		Counted bool
	}{db, part, counted}); err != nil {
		return "", fmt.Errorf("render bulk generator SQL: %w", err)
	}
	return b.String(), nil
}

// telemetryCounts is the extension's counts of a generated invocation
// report after tel_counted and tel_spans_received, for the report with
// request ID req (an expression) that received spans spans: two log lines
// for one report in 5 (generate_logs.sql writes them), 450 bytes per span
// and 120 per line received and shipped, a span lost in the extension's
// buffer for one report in 1,000, a log line for one in 5,000, the spans
// spooled for one in 10,000, and a line Lambda dropped for one in 20,000.
func telemetryCounts(req, spans string) string {
	lines := "if(cityHash64(" + req + ", 21) % 5 = 0, 2, 0)"
	bytes := "toUInt64(" + spans + ") * 450 + " + lines + " * 120"
	return lines + ", " + bytes + ", " + bytes + ",\n    " +
		"if(cityHash64(" + req + ", 22) % 1000 = 0 AND " + spans + " > 0, 1, 0), " +
		"if(cityHash64(" + req + ", 23) % 1000 = 0 AND " + lines + " > 0, 1, 0),\n    " +
		"if(cityHash64(" + req + ", 24) % 10000 = 0, " + spans + ", 0), " +
		"if(cityHash64(" + req + ", 25) % 20000 = 0, 1, 0)"
}

// bulkCounts is the rows of db's spans and invocations tables.
func bulkCounts(ctx context.Context, conn clickhouse.Conn, db string) (spans, invocations uint64, err error) {
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".spans").Scan(&spans); err != nil {
		return 0, 0, fmt.Errorf("count spans: %w", err)
	}
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".invocations").Scan(&invocations); err != nil {
		return 0, 0, fmt.Errorf("count invocations: %w", err)
	}
	return spans, invocations, nil
}

// bulkTraceIDExpr is the ID of generated trace t, as bulk_spans.sql computes it.
const bulkTraceIDExpr = `toFixedString(concat(reinterpretAsString(bitOr(cityHash64(t, 5), 9223372036854775808)),
    reinterpretAsString(bitOr(cityHash64(t, 6), 9223372036854775808))), 16)`

// BulkTraceIDs is the IDs of generated traces ts of the data set d, in
// their order. A trace number beyond d's traces is an error: its ID would
// name a trace that was never written.
func BulkTraceIDs(ctx context.Context, conn clickhouse.Conn, d BulkData, ts []uint64) ([][16]byte, error) {
	for _, t := range ts {
		if t >= uint64(d.Traces) {
			return nil, fmt.Errorf("compute trace IDs: trace %d is beyond the %d generated (0 to %d)", t, d.Traces, d.Traces-1)
		}
	}
	rows, err := conn.Query(ctx, "SELECT "+bulkTraceIDExpr+" FROM (SELECT arrayJoin(?) AS t)", ts)
	if err != nil {
		return nil, fmt.Errorf("compute trace IDs: %w", err)
	}
	defer rows.Close()
	out := make([][16]byte, 0, len(ts))
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("scan trace ID: %w", err)
		}
		out = append(out, [16]byte([]byte(id)))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read trace IDs: %w", err)
	}
	return out, nil
}

// bulkInsertContext gives the generators' INSERT ... SELECT statements two
// threads at most and blocks of a million rows: fewer parts to merge, and
// the server left some room on a shared machine.
func bulkInsertContext(ctx context.Context) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
		"max_threads":                 2,
		"max_block_size":              65536,
		"max_insert_block_size":       bulkBlockRows,
		"min_insert_block_size_rows":  bulkBlockRows,
		"min_insert_block_size_bytes": 256 << 20,
	}))
}
