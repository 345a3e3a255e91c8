package querybench

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/storage/storagetest"
)

// Shape of a generated trace: the demo's request, six spans in two
// invocations (see demo_spans.sql).
const (
	SpansPerTrace       = 6
	InvocationsPerTrace = 2
)

var (
	//go:embed demo_spans.sql
	demoSpansSQL string
	//go:embed demo_invocations.sql
	demoInvocationsSQL string
)

// chunkRows is the rows one generating statement writes: each stays well
// inside the client's read timeout (5 minutes) on a busy server, and
// progress is shown after each. A million rows took over 5 minutes at
// load average 20 on 2 cores; 200,000 take about one.
const chunkRows = 200_000

// Config sizes a generated data set.
type Config struct {
	// Spans is the number of spans, rounded down to whole traces of
	// SpansPerTrace; there are InvocationsPerTrace reports per trace.
	Spans int
	// Pairs is how many orders-NN / inventory-NN pairs of functions there
	// are (default 20: 40 functions in 2 accounts and 2 regions).
	Pairs int
	// End and Days place the data in [End-Days, End).
	End  time.Time
	Days int
}

// Data is a generated data set.
type Data struct {
	Config
	Traces      int
	Invocations int
}

// Begin is when the data starts.
func (d Data) Begin() time.Time { return d.End.AddDate(0, 0, -d.Days) }

// SpanRows is the number of spans written.
func (d Data) SpanRows() int { return d.Traces * SpansPerTrace }

func (c Config) data() (Data, error) {
	if c.Pairs <= 0 {
		c.Pairs = 20
	}
	if c.Days <= 0 || c.End.IsZero() || c.Spans < SpansPerTrace {
		return Data{}, fmt.Errorf("generate demo-shaped data: need end, days > 0 and at least %d spans", SpansPerTrace)
	}
	traces := c.Spans / SpansPerTrace
	return Data{Config: c, Traces: traces, Invocations: traces * InvocationsPerTrace}, nil
}

func (d Data) params() []any {
	rangeNs := d.End.Sub(d.Begin()).Nanoseconds()
	return []any{
		clickhouse.Named("pairs", d.Pairs),
		clickhouse.Named("begin", d.Begin().UnixNano()),
		clickhouse.Named("step", max(rangeNs/int64(d.Traces), 1)),
	}
}

// Generate writes cfg's demo-shaped spans and invocation reports into the
// tables of database db (migrated) through conn with INSERT ... SELECT over numbers(), chunkRows rows per
// statement, printing progress to w after each; the materialized views
// (trace windows, service map, usage, function figures) fill as they do
// from the collector. A database that already holds exactly this data is
// kept as it is; one that holds other rows is an error.
func Generate(ctx context.Context, conn clickhouse.Conn, db string, cfg Config, w io.Writer) (Data, error) {
	d, err := cfg.data()
	if err != nil {
		return Data{}, err
	}
	spans, invocations, err := counts(ctx, conn, db)
	if err != nil {
		return Data{}, err
	}
	switch {
	case spans == uint64(d.SpanRows()) && invocations == uint64(d.Invocations):
		fmt.Fprintf(w, "%s already holds %d spans and %d invocations: kept\n", db, spans, invocations)
		return d, nil
	case spans != 0 || invocations != 0:
		return Data{}, fmt.Errorf("generate demo-shaped data: database %s holds %d spans and %d invocations, not %d and %d: drop it or name another",
			db, spans, invocations, d.SpanRows(), d.Invocations)
	}
	start := time.Now()
	total := d.SpanRows() + d.Invocations
	done := 0
	for _, q := range []struct {
		what, text string
		rows       int
	}{
		{"spans", demoSpansSQL, d.SpanRows()},
		{"invocations", demoInvocationsSQL, d.Invocations},
	} {
		sql, err := storagetest.RenderSQL(q.text, db)
		if err != nil {
			return Data{}, err
		}
		for off := 0; off < q.rows; off += chunkRows {
			n := min(chunkRows, q.rows-off)
			args := append(slices.Clip(d.params()), clickhouse.Named("offset", off), clickhouse.Named("rows", n))
			if err := conn.Exec(ctx, sql, args...); err != nil {
				return Data{}, fmt.Errorf("generate %s %d to %d: %w", q.what, off, off+n, err)
			}
			done += n
			el := time.Since(start)
			rate := float64(done) / el.Seconds()
			left := time.Duration(float64(total-done) / rate * float64(time.Second))
			fmt.Fprintf(w, "generate: %s %d of %d; all rows %d of %d (%.0f %%), %.0f rows/s, %s so far, about %s left\n",
				q.what, off+n, q.rows, done, total, 100*float64(done)/float64(total), rate,
				el.Round(time.Second), left.Round(time.Second))
		}
	}
	return d, nil
}

// counts is the rows of db's spans and invocations tables.
func counts(ctx context.Context, conn clickhouse.Conn, db string) (spans, invocations uint64, err error) {
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".spans").Scan(&spans); err != nil {
		return 0, 0, fmt.Errorf("count spans: %w", err)
	}
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".invocations").Scan(&invocations); err != nil {
		return 0, 0, fmt.Errorf("count invocations: %w", err)
	}
	return spans, invocations, nil
}

// traceIDExpr is the ID of generated trace t, as demo_spans.sql computes it.
const traceIDExpr = `toFixedString(concat(reinterpretAsString(bitOr(cityHash64(t, 5), 9223372036854775808)),
    reinterpretAsString(bitOr(cityHash64(t, 6), 9223372036854775808))), 16)`

// TraceIDs is the IDs of generated traces ts, in their order.
func TraceIDs(ctx context.Context, conn clickhouse.Conn, ts []uint64) ([]query.TraceID, error) {
	rows, err := conn.Query(ctx, "SELECT "+traceIDExpr+" FROM (SELECT arrayJoin(?) AS t)", ts)
	if err != nil {
		return nil, fmt.Errorf("compute trace IDs: %w", err)
	}
	defer rows.Close()
	out := make([]query.TraceID, 0, len(ts))
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("scan trace ID: %w", err)
		}
		out = append(out, query.TraceID([]byte(id)))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read trace IDs: %w", err)
	}
	return out, nil
}
