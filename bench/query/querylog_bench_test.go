package querybench

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// QueryCost is what the server's query log says one query cost: the
// files it opened, its reads from them and their bytes, the time those
// reads took, its CPU time and its wait for a CPU, the rows it read, and
// its duration.
type QueryCost struct {
	Files, Reads, DiskBytes, Rows uint64
	Disk, CPU, CPUWait, Duration  time.Duration
}

// QueryKind is the mean cost of the queries of one kind.
type QueryKind struct {
	Kind  string
	Count int
	Mean  QueryCost
}

// queryKinds are the reads of a trace by ID, by how their text begins;
// the first that matches names a query.
var queryKinds = []struct{ prefix, kind string }{
	{"SELECT _part,", kindLayout},
	{"SELECT trace_id, span_id, parent_span_id", kindWide},
	{"SELECT start_unix_nano, account_id", kindInvocations},
	{"SELECT start_unix_nano, function_name, request_id, shown", kindInvocations}, // from trace_invocations (migration 55)
	{"SELECT linked_trace_id", "links in"},
}

// The kinds of query on a cold trace read's longest path.
const (
	kindLayout      = "spans, narrow columns (layout)"
	kindWide        = "spans, wide columns"
	kindInvocations = "invocations"
)

// kindOf names the kind of a query, "" for one that is not a read of a
// trace.
func kindOf(query string) string {
	for _, k := range queryKinds {
		if strings.HasPrefix(query, k.prefix) {
			return k.kind
		}
	}
	return ""
}

// loggedQuery is a query as the log holds it.
type loggedQuery struct {
	text string
	cost QueryCost
}

// summarize is the mean cost of each kind of query in qs, which the log
// holds in the order they started; a query whose text was seen before
// (the same trace read again) is left out.
func summarize(qs []loggedQuery) []QueryKind {
	seen := map[string]bool{}
	sums := map[string]*QueryKind{}
	for _, q := range qs {
		kind := kindOf(q.text)
		if kind == "" || seen[q.text] {
			continue
		}
		seen[q.text] = true
		k := sums[kind]
		if k == nil {
			k = &QueryKind{Kind: kind}
			sums[kind] = k
		}
		k.Count++
		c := &k.Mean
		c.Files += q.cost.Files
		c.Reads += q.cost.Reads
		c.DiskBytes += q.cost.DiskBytes
		c.Rows += q.cost.Rows
		c.Disk += q.cost.Disk
		c.CPU += q.cost.CPU
		c.CPUWait += q.cost.CPUWait
		c.Duration += q.cost.Duration
	}
	out := make([]QueryKind, 0, len(sums))
	for _, k := range sums {
		n := uint64(k.Count)
		c := &k.Mean
		c.Files, c.Reads, c.DiskBytes, c.Rows = c.Files/n, c.Reads/n, c.DiskBytes/n, c.Rows/n
		c.Disk, c.CPU, c.CPUWait, c.Duration = c.Disk/time.Duration(n), c.CPU/time.Duration(n), c.CPUWait/time.Duration(n), c.Duration/time.Duration(n)
		out = append(out, *k)
	}
	slices.SortFunc(out, func(a, b QueryKind) int { return cmp.Compare(a.Kind, b.Kind) })
	return out
}

// queryLogSQL reads the queries of database db that finished since a
// time, in the order they started. ProfileEvents are as 18.16 names
// them.
const queryLogSQL = `SELECT query,
    ProfileEvents.Values[indexOf(ProfileEvents.Names, 'FileOpen')],
    ProfileEvents.Values[indexOf(ProfileEvents.Names, 'ReadBufferFromFileDescriptorRead')],
    ProfileEvents.Values[indexOf(ProfileEvents.Names, 'ReadBufferFromFileDescriptorReadBytes')],
    read_rows,
    ProfileEvents.Values[indexOf(ProfileEvents.Names, 'DiskReadElapsedMicroseconds')],
    ProfileEvents.Values[indexOf(ProfileEvents.Names, 'OSCPUVirtualTimeMicroseconds')],
    ProfileEvents.Values[indexOf(ProfileEvents.Names, 'OSCPUWaitMicroseconds')],
    query_duration_ms
FROM system.query_log
WHERE type = 2 AND event_time >= ? AND position(query, ?) > 0
ORDER BY query_start_time, event_time`

// TraceReadCosts reads from the server's query log what each kind of
// query of a trace read by ID cost on average, for the queries of db
// that ended since since (the log's times are whole seconds); each query
// text is counted once, the first time. The
// store's queries are logged only with log_queries = 1 (-cold.query-log
// sets it in the DSN), and only by a server whose configuration has a
// query_log section: without one, the error says so.
func TraceReadCosts(ctx context.Context, conn clickhouse.Conn, db string, since time.Time) ([]QueryKind, error) {
	if err := conn.Exec(ctx, "SYSTEM FLUSH LOGS"); err != nil {
		return nil, fmt.Errorf("flush the query log: %w", err)
	}
	rows, err := conn.Query(ctx, queryLogSQL, since.Truncate(time.Second), db+".")
	if err != nil {
		return nil, fmt.Errorf("read system.query_log (does the server's configuration have a query_log section?): %w", err)
	}
	defer rows.Close()
	var qs []loggedQuery
	for rows.Next() {
		var (
			q                         loggedQuery
			disk, cpu, wait, duration uint64
		)
		if err := rows.Scan(&q.text, &q.cost.Files, &q.cost.Reads, &q.cost.DiskBytes, &q.cost.Rows, &disk, &cpu, &wait, &duration); err != nil {
			return nil, fmt.Errorf("read system.query_log: %w", err)
		}
		q.cost.Disk, q.cost.CPU, q.cost.CPUWait = time.Duration(disk)*time.Microsecond, time.Duration(cpu)*time.Microsecond, time.Duration(wait)*time.Microsecond
		q.cost.Duration = time.Duration(duration) * time.Millisecond
		qs = append(qs, q)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read system.query_log: %w", err)
	}
	out := summarize(qs)
	if len(out) == 0 {
		return nil, fmt.Errorf("system.query_log holds no read of a trace of %s since %s: were the store's queries logged (log_queries = 1)?", db, since.Format(time.RFC3339))
	}
	return out, nil
}

// String is the kind's line in a benchmark's log.
func (k QueryKind) String() string {
	c := k.Mean
	return fmt.Sprintf("%s: %d queries, mean %d files opened, %d reads of %.0f KiB taking %.1f ms, %d rows, CPU %.1f ms, waited for a CPU %.1f ms, %.1f ms",
		k.Kind, k.Count, c.Files, c.Reads, float64(c.DiskBytes)/1024, ms(c.Disk), c.Rows, ms(c.CPU), ms(c.CPUWait), ms(c.Duration))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
