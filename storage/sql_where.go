package storage

import (
	"encoding/hex"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// The one builder of the package's WHERE clauses. Every read's SQL text is
// fixed, chosen only by which filter fields are set; the values are bound
// arguments. TestReadSQLTextDoesNotDependOnValues proves that hostile values
// leave the text unchanged, and the goldens under testdata/sql hold the text.
//
// A time range is [since, until) everywhere: since inclusive, until
// exclusive (storage/README.md, "Reading").

// readWhere collects the conditions of one query and their arguments.
type readWhere struct {
	conds []string
	args  []any
}

func (w *readWhere) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// timeRange keeps the rows in [since, until); a zero end leaves that side
// open. col is a DateTime column the table is partitioned or keyed by:
// bounded in whole seconds (since rounded down, until rounded up), it prunes
// partitions and the primary key. nsCol, when not empty, is the row's time
// in nanoseconds, which makes the bounds exact; without it the range is
// exact for whole seconds (a view's minutes and hours).
func (w *readWhere) timeRange(col, nsCol string, since, until time.Time) {
	if !since.IsZero() {
		w.add(col+" >= toDateTime(?)", since.Unix())
	}
	if !until.IsZero() {
		w.add(col+" < toDateTime(?)", ceilUnix(until))
	}
	if nsCol == "" {
		return
	}
	if !since.IsZero() {
		w.add(nsCol+" >= ?", unixNano(since))
	}
	if !until.IsZero() {
		w.add(nsCol+" < ?", unixNano(until))
	}
}

// equal keeps the rows whose column col holds value; an empty value is no
// condition.
func (w *readWhere) equal(col, value string) {
	if value != "" {
		w.add(col+" = ?", value)
	}
}

// configuration adds the conditions on the function configuration that f
// sets: function, version, account and region.
func (w *readWhere) configuration(f UsageFilter) {
	w.equal("function_name", f.FunctionName)
	w.equal("function_version", f.FunctionVersion)
	w.equal("account_id", f.AccountID)
	w.equal("region", f.Region)
}

func (w *readWhere) sql() string {
	if len(w.conds) == 0 {
		return "1"
	}
	return strings.Join(w.conds, "\n  AND ")
}

// ceilUnix is t in whole seconds, rounded up.
func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// interval is [since, until).
type interval struct{ since, until time.Time }

func hexID(id []byte) string { return hex.EncodeToString(id) }

// inList binds a list of strings as the right-hand side of IN: ('a', 'b').
func inList(vals []string) clickhouse.GroupSet {
	set := clickhouse.GroupSet{Value: make([]any, len(vals))}
	for i, v := range vals {
		set.Value[i] = v
	}
	return set
}

// limitBetween is a caller's limit n: def when n is not positive, at most
// most.
func limitBetween(n, def, most int) int {
	switch {
	case n <= 0:
		return def
	case n > most:
		return most
	default:
		return n
	}
}

// unixTime converts nanoseconds since the epoch to a UTC time, clamping
// values beyond what time.Unix can hold.
func unixTime(ns uint64) time.Time {
	const maxNs = uint64(1<<63 - 1)
	return time.Unix(0, int64(min(ns, maxNs))).UTC()
}

func unixNano(t time.Time) uint64 {
	if n := t.UnixNano(); n > 0 {
		return uint64(n)
	}
	return 0
}
