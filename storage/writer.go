package storage

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage/dbmodel"
)

// WriteCounts says what a write stored and refused.
type WriteCounts struct {
	Spans        int
	Logs         int
	Invocations  int
	MetricPoints int
	// Rejected counts items refused one by one (spans with malformed IDs);
	// the rest of the batch was stored.
	Rejected int
	// Uncertain, with an error, counts the rows of the insert whose outcome
	// is unknown: the connection failed after the block was sent, so
	// ClickHouse may have stored it (ErrOutcomeUnknown).
	Uncertain int
}

// ErrOutcomeUnknown marks an insert that failed after its block was sent
// without ClickHouse saying it refused it (connection lost, deadline): the
// rows may be stored, and a retry may store them twice.
var ErrOutcomeUnknown = errors.New("insert outcome unknown")

// Add sums two counts.
func (c WriteCounts) Add(o WriteCounts) WriteCounts {
	return WriteCounts{
		Spans: c.Spans + o.Spans, Logs: c.Logs + o.Logs, Invocations: c.Invocations + o.Invocations,
		MetricPoints: c.MetricPoints + o.MetricPoints, Rejected: c.Rejected + o.Rejected,
		Uncertain: c.Uncertain + o.Uncertain,
	}
}

// WriteExport stores one Ingest API batch; it is WriteExports with one
// request.
func (s *Store) WriteExport(ctx context.Context, req *ingestv1.ExportRequest) (WriteCounts, error) {
	return s.WriteExports(ctx, []*ingestv1.ExportRequest{req})
}

// WriteExports stores several Ingest API batches with one insert per table
// (invocations, spans, logs, metric_points, in that order), so that many
// small batches cost as few inserts and parts as one large one. Malformed
// spans are counted in Rejected, logged and skipped; the rest is stored.
//
// Partial failure: each table's insert is one native-protocol block, which
// ClickHouse stores whole or not at all, but the four tables are separate
// inserts. When an insert fails, WriteExports stops: the tables before it
// hold every request's rows, the failing table and those after it hold none,
// and the returned counts say what was stored. The caller retries all the
// requests; the rows already stored are then stored again, which readers
// tolerate (SpansByTraceID returns a span once; the aggregate views count
// the duplicates). When the failing insert's block was sent but no answer
// came back, ClickHouse may have stored it too: the error is then
// ErrOutcomeUnknown and Uncertain counts its rows. On a cluster a shard
// may have stored the failing table's rows before one of their views
// failed; ViewsAtRisk counts them where the retry cannot mend the views.
func (s *Store) WriteExports(ctx context.Context, reqs []*ingestv1.ExportRequest) (WriteCounts, error) {
	return s.writeExports(ctx, reqs, nil, nil)
}

// WriteExportsWithSpans is WriteExports for batches whose spans were read
// into columns already (dbmodel.SpanColumns.AppendWire): spans holds
// them, in sets of columns (one per request, say) that are written one
// after the other as they are, without being joined first, then the spans
// reqs hold as messages. The write does not change them; the caller resets
// them after it.
func (s *Store) WriteExportsWithSpans(ctx context.Context, reqs []*ingestv1.ExportRequest, spans []*dbmodel.SpanColumns) (WriteCounts, error) {
	return s.writeExports(ctx, reqs, spans, nil)
}

// WriteExportsWithColumns is WriteExportsWithSpans for batches whose log
// records were read into columns too (dbmodel.LogColumns.AppendWire):
// logs holds them, written one after the other as spans are, then the
// log records reqs hold as messages.
func (s *Store) WriteExportsWithColumns(ctx context.Context, reqs []*ingestv1.ExportRequest, spans []*dbmodel.SpanColumns, logs []*dbmodel.LogColumns) (WriteCounts, error) {
	return s.writeExports(ctx, reqs, spans, logs)
}

func (s *Store) writeExports(ctx context.Context, reqs []*ingestv1.ExportRequest, read []*dbmodel.SpanColumns, readLogs []*dbmodel.LogColumns) (WriteCounts, error) {
	if token := s.dedupToken(reqs); token != "" {
		ctx = context.WithValue(ctx, dedupTokenKey{}, token)
	}
	var (
		invocations []dbmodel.Invocation
		metrics     []dbmodel.MetricPoint
		counts      WriteCounts
		problems    []string // of the other tables; the spans keep their own
	)
	// The spans reqs hold as messages, after those read already.
	spans := spanColumnsPool.Get().(*dbmodel.SpanColumns)
	defer func() {
		spans.Reset()
		spanColumnsPool.Put(spans)
	}()
	all := append(slices.Clip(read), spans)
	// The log records reqs hold as messages, after those read already.
	logs := logColumnsPool.Get().(*dbmodel.LogColumns)
	defer func() {
		logs.Reset()
		logColumnsPool.Put(logs)
	}()
	allLogs := append(slices.Clip(readLogs), logs)
	nSpans, nLogs := 0, 0
	for _, req := range reqs {
		n := ingestv1.CountItems(req)
		nSpans += n.Spans
		nLogs += n.Logs
	}
	spans.Grow(nSpans)
	logs.Grow(nLogs)
	for _, req := range reqs {
		spans.AppendExport(req)
		logs.AppendExport(req)
		if len(req.GetResourceMetrics()) == 0 && len(req.GetInvocations()) == 0 {
			continue
		}
		b := dbmodel.FromExport(&ingestv1.ExportRequest{
			Function: req.GetFunction(), SentTimeUnixNano: req.GetSentTimeUnixNano(),
			Invocations: req.GetInvocations(), ResourceMetrics: req.GetResourceMetrics(),
		})
		invocations = append(invocations, b.Invocations...)
		metrics = append(metrics, b.Metrics...)
		counts.Rejected += b.Rejected
		if len(problems) < maxLoggedProblems {
			problems = append(problems, b.Problems[:min(len(b.Problems), maxLoggedProblems-len(problems))]...)
		}
	}
	var spanProblems []string
	for _, c := range all {
		counts.Rejected += c.Rejected
		spanProblems = append(spanProblems, c.Problems...)
	}
	var logProblems []string
	for _, c := range allLogs {
		counts.Rejected += c.Rejected
		logProblems = append(logProblems, c.Problems...)
	}
	if counts.Rejected > 0 {
		problems = append(append(spanProblems, logProblems...), problems...)
		s.rejected.Add(uint64(counts.Rejected))
		s.logger.Warn("rejected items in batch", "rejected", counts.Rejected, "problems", problems[:min(len(problems), maxLoggedProblems)])
	}
	failed := func(table string, rows int, err error) (WriteCounts, error) {
		err = classify(err)
		if errors.Is(err, ErrOutcomeUnknown) {
			counts.Uncertain = rows
		}
		s.noteViewsAtRisk(table, rows, err)
		return counts, err
	}
	if err := insertRows(ctx, s, "invocations", invocationInsertColumns, invocations, invocationValues); err != nil {
		return failed("invocations", len(invocations), err)
	}
	counts.Invocations = len(invocations)
	nSpans = 0
	for _, c := range all {
		nSpans += c.Len()
	}
	if err := s.insertSpans(ctx, all); err != nil {
		return failed("spans", nSpans, err)
	}
	counts.Spans = nSpans
	nLogs = 0
	for _, c := range allLogs {
		nLogs += c.Len()
	}
	if err := s.insertLogs(ctx, allLogs); err != nil {
		return failed("logs", nLogs, err)
	}
	counts.Logs = nLogs
	if err := insertRows(ctx, s, "metric_points", metricInsertColumns, metrics, metricValues); err != nil {
		return failed("metric_points", len(metrics), err)
	}
	counts.MetricPoints = len(metrics)
	return counts, nil
}

// maxLoggedProblems bounds the reasons a write logs for rejected items.
const maxLoggedProblems = 10

// Rejected is how many items writes have refused since the store opened.
func (s *Store) Rejected() uint64 { return s.rejected.Load() }

// viewSourceTables are the tables with materialized views on their shard
// tables (TestClusterViewsCountEqualRowsOfTwoInsertsAndARetryOnce checks
// the list against the cluster schema).
var viewSourceTables = []string{"invocations", "spans", "logs"}

// ViewsAtRisk is how many rows of failed inserts since the store opened
// the views may miss for good (noteViewsAtRisk).
func (s *Store) ViewsAtRisk() uint64 { return s.viewsAtRisk.Load() }

// noteViewsAtRisk counts and logs the rows of a failed insert into a table
// with views, on a cluster whose servers skip the views of a deduplicated
// block (before viewDedupSince), when a shard may have committed them:
// a view failed ("while pushing to view", a ZooKeeper connection loss
// say), or the outcome is unknown. Their retry is then deduplicated and
// the views that had not got them never do. Elsewhere the retry mends the
// views: a single server does not deduplicate, and from viewDedupSince on
// the retry reaches the views. An insert the server refused before storing
// anything (a table in read-only mode) puts nothing at risk.
func (s *Store) noteViewsAtRisk(table string, rows int, err error) {
	if s.cluster == "" || rows == 0 || !slices.Contains(viewSourceTables, table) ||
		s.caps.Version.AtLeast(viewDedupSince.Major, viewDedupSince.Minor) {
		return
	}
	if !errors.Is(err, ErrOutcomeUnknown) && !strings.Contains(err.Error(), "while pushing to view") {
		return
	}
	s.viewsAtRisk.Add(uint64(rows))
	s.logger.Warn("insert failed on a cluster after a shard may have stored the rows: views that did not get them miss them for good, "+
		"since the retry is deduplicated and this server skips the views of a deduplicated block",
		"table", table, "rows", rows, "server", s.caps.Version.String(), "err", err)
}

// dedupTokenKey carries the insert_deduplication_token of a write's inserts
// in its context.
type dedupTokenKey struct{}

// noDedupKey, set to true in a write's context, turns off the
// deduplication of its inserts on a cluster (insert_deduplicate = 0), for
// tables whose equal blocks are separate facts (ingest_losses).
type noDedupKey struct{}

// insertDedupTokenSince is the first ClickHouse release with the
// insert_deduplication_token setting.
var insertDedupTokenSince = Version{Major: 22, Minor: 2}

// dedupToken is the insert_deduplication_token for a write of reqs: the
// batch ID, in hex, when the write holds one batch, the store is on a
// cluster (ReplicatedMergeTree tables, which deduplicate inserts) and the
// server has the setting; "" otherwise. With it a retried batch is dropped
// whatever its blocks hold (a new sent_time_unix_nano, say); without it
// (18.16) ClickHouse drops only a block identical to one it has.
func (s *Store) dedupToken(reqs []*ingestv1.ExportRequest) string {
	if s.cluster == "" || len(reqs) != 1 || len(reqs[0].GetBatchId()) == 0 ||
		!s.caps.Version.AtLeast(insertDedupTokenSince.Major, insertDedupTokenSince.Minor) {
		return ""
	}
	return hex.EncodeToString(reqs[0].GetBatchId())
}

// viewDedupSince is the first release whose materialized views take the
// rows of a deduplicated block, with
// deduplicate_blocks_in_dependent_materialized_views, and deduplicate
// what they write by the source block's ID rather than by their own
// output (ClickHouse 24.7 changed it; 24.8 is the first long-term release
// with it).
//
// A shard's insert is not atomic: the source table's part is committed
// first, then each view's, one after the other. An insert that fails in
// between (a ZooKeeper timeout, say) leaves the views behind the source
// table, and its retry does not mend them: the source block is
// deduplicated, and without the setting a server skips every view of a
// deduplicated block (checked on 18.16.1). With it, before 24.7, views
// deduplicate by their output, and two different inserts whose view rows
// are equal (one invocation each, same minute and figures) would count
// once; from 24.7 on, the retry brings the missing view rows and the
// views that have them already drop them.
var viewDedupSince = Version{Major: 24, Minor: 8}

// insertSettings are the settings of every insert of a write: on a
// cluster, insert_distributed_sync, the write's deduplication token and,
// where the server has it right, deduplicate_blocks_in_dependent_materialized_views;
// insert_deduplicate = 0 for a write that asks for it (noDedupKey).
func (s *Store) insertSettings(ctx context.Context) clickhouse.Settings {
	if s.cluster == "" {
		return nil
	}
	// Wait for the shards to hold the rows: the default, queueing them on
	// this server's disk for later, would report success for rows a shard
	// has not stored yet.
	settings := clickhouse.Settings{"insert_distributed_sync": 1}
	if s.caps.Version.AtLeast(viewDedupSince.Major, viewDedupSince.Minor) {
		settings["deduplicate_blocks_in_dependent_materialized_views"] = 1
	}
	if token, ok := ctx.Value(dedupTokenKey{}).(string); ok {
		settings["insert_deduplication_token"] = token
	}
	if off, _ := ctx.Value(noDedupKey{}).(bool); off {
		settings["insert_deduplicate"] = 0
	}
	return settings
}

// prepareInsert starts an insert of columns into table.
func (s *Store) prepareInsert(ctx context.Context, table string, columns []string) (driver.Batch, error) {
	if settings := s.insertSettings(ctx); settings != nil {
		ctx = clickhouse.Context(ctx, clickhouse.WithSettings(settings))
	}
	batch, err := s.conn.PrepareBatch(ctx, insertSQL(s.database, table, columns))
	if err != nil {
		return nil, fmt.Errorf("prepare insert into %s: %w", table, err)
	}
	return batch, nil
}

// insertRows sends rows to one table in a single native-protocol block.
func insertRows[R any](ctx context.Context, s *Store, table string, columns []string, rows []R, values func(*R) []any) error {
	if len(rows) == 0 {
		return nil
	}
	batch, err := s.prepareInsert(ctx, table, columns)
	if err != nil {
		return err
	}
	for i := range rows {
		if err := batch.Append(values(&rows[i])...); err != nil {
			return errors.Join(encodeError(table, err), batch.Abort())
		}
	}
	return sendInsert(batch, table)
}

// sendInsert sends the block and waits for ClickHouse's answer. A failure
// that is not ClickHouse refusing the insert (an exception) happened after
// the block may have reached the server, and is marked ErrOutcomeUnknown.
func sendInsert(batch driver.Batch, table string) error {
	err := batch.Send()
	if err == nil {
		return nil
	}
	var exc *clickhouse.Exception
	if errors.As(err, &exc) {
		return fmt.Errorf("insert into %s: %w", table, err)
	}
	return fmt.Errorf("insert into %s (%w): %w", table, ErrOutcomeUnknown, err)
}

// spanColumnsPool keeps the column buffers of span inserts between writes.
var spanColumnsPool = sync.Pool{New: func() any { return new(dbmodel.SpanColumns) }}

// logColumnsPool keeps the column buffers of log inserts between writes.
var logColumnsPool = sync.Pool{New: func() any { return new(dbmodel.LogColumns) }}

// idViewsPool keeps the per-row slices FixedString columns are appended
// from.
var idViewsPool = sync.Pool{New: func() any { return new([][]byte) }}

// columnInsert appends whole columns to one insert, in the order of its
// column list; the first failure stops it and is reported by finish.
type columnInsert struct {
	batch   driver.Batch
	table   string
	columns []string
	rows    int
	col     int
	err     error
	views   *[][]byte
}

// newColumnInsert prepares an insert of rows rows into table.
func (s *Store) newColumnInsert(ctx context.Context, table string, columns []string, rows int) (*columnInsert, error) {
	batch, err := s.prepareInsert(ctx, table, columns)
	if err != nil {
		return nil, err
	}
	return &columnInsert{batch: batch, table: table, columns: columns, rows: rows, views: idViewsPool.Get().(*[][]byte)}, nil
}

// column appends one column's values (a typed slice).
func (w *columnInsert) column(v any) {
	if w.err == nil {
		if w.err = w.batch.Column(w.col).Append(v); w.err != nil {
			w.err = encodeError(w.table+"."+w.columns[w.col], w.err)
		}
	}
	w.col++
}

// arrays appends an array column row by row.
func arrays[T any](w *columnInsert, rows [][]T) {
	bc := w.batch.Column(w.col)
	for _, r := range rows {
		if w.err != nil {
			break
		}
		if w.err = bc.AppendRow(r); w.err != nil {
			w.err = encodeError(w.table+"."+w.columns[w.col], w.err)
		}
	}
	w.col++
}

// ids appends a FixedString(size) column held back to back in buf. The
// views are reused between columns: the driver copies on append.
func (w *columnInsert) ids(buf []byte, size int) {
	v := (*w.views)[:0]
	for i := range w.rows {
		v = append(v, buf[i*size:(i+1)*size:(i+1)*size])
	}
	*w.views = v
	w.column(v)
}

// seconds appends a DateTime column from Unix nanoseconds.
func (w *columnInsert) seconds(ns []uint64) {
	out := make([]int64, len(ns))
	for i, n := range ns {
		out[i] = unixTime(n).Unix()
	}
	w.column(out)
}

// finish sends the block, or aborts it after a failure or a column count
// that does not match the column list.
func (w *columnInsert) finish() error {
	defer func() {
		clear(*w.views)
		*w.views = (*w.views)[:0]
		idViewsPool.Put(w.views)
	}()
	if w.err == nil && w.col != len(w.columns) {
		w.err = encodeError(w.table, fmt.Errorf("insert has %d columns, want %d", w.col, len(w.columns)))
	}
	if w.err != nil {
		return errors.Join(w.err, w.batch.Abort())
	}
	return sendInsert(w.batch, w.table)
}

// insertSpans sends the spans of cs, one after the other, in a single
// native-protocol block, in the order of spanInsertColumns: on the block
// writer's connections when the store has them, else column by column
// through clickhouse-go.
func (s *Store) insertSpans(ctx context.Context, cs []*dbmodel.SpanColumns) error {
	var filled []*dbmodel.SpanColumns
	n := 0
	for _, c := range cs {
		if c.Len() > 0 {
			filled = append(filled, c)
			n += c.Len()
		}
	}
	if n == 0 {
		return nil
	}
	if s.blocks != nil {
		return s.writeSpanBlock(ctx, filled)
	}
	c := filled[0]
	if len(filled) > 1 {
		c = spanColumnsPool.Get().(*dbmodel.SpanColumns)
		defer func() {
			c.Reset()
			spanColumnsPool.Put(c)
		}()
		c.Grow(n)
		for _, f := range filled {
			c.AppendColumns(f)
		}
	}
	w, err := s.newColumnInsert(ctx, "spans", spanInsertColumns, c.Len())
	if err != nil {
		return err
	}
	w.seconds(c.StartUnixNano)
	w.column(c.StartUnixNano)
	w.column(c.DurationNs)
	w.ids(c.TraceIDs, 16)
	w.ids(c.SpanIDs, 8)
	w.ids(c.ParentSpanIDs, 8)
	w.column(c.TraceState.Strings())
	w.column(c.Name.Strings())
	w.column(c.Kind)
	w.column(c.StatusCode)
	for _, v := range []*dbmodel.Strings{
		&c.StatusMessage, &c.ServiceName, &c.FunctionName, &c.FunctionVersion, &c.AccountID, &c.Region, &c.RequestID,
		&c.ScopeName, &c.ScopeVersion,
	} {
		w.column(v.Strings())
	}
	for _, v := range [][][]string{c.AttributeKeys.Rows(), c.AttributeValues.Rows(), c.ResourceAttrKeys.Rows(), c.ResourceAttrValues.Rows()} {
		arrays(w, v)
	}
	arrays(w, c.EventTimes.Rows())
	for _, v := range [][][]string{c.EventNames.Rows(), c.EventAttrs.Rows(), c.LinkTraceIDs.Rows(16), c.LinkSpanIDs.Rows(8), c.LinkAttrs.Rows()} {
		arrays(w, v)
	}
	return w.finish()
}

// insertLogs sends the log records of cs, one after the other, in a
// single native-protocol block, in the order of logInsertColumns: on the
// block writer's connections when the store has them, else column by
// column through clickhouse-go.
func (s *Store) insertLogs(ctx context.Context, cs []*dbmodel.LogColumns) error {
	var filled []*dbmodel.LogColumns
	n := 0
	for _, c := range cs {
		if c.Len() > 0 {
			filled = append(filled, c)
			n += c.Len()
		}
	}
	if n == 0 {
		return nil
	}
	if s.blocks != nil {
		return s.writeLogBlock(ctx, filled)
	}
	c := filled[0]
	if len(filled) > 1 {
		c = logColumnsPool.Get().(*dbmodel.LogColumns)
		defer func() {
			c.Reset()
			logColumnsPool.Put(c)
		}()
		c.Grow(n)
		for _, f := range filled {
			c.AppendColumns(f)
		}
	}
	w, err := s.newColumnInsert(ctx, "logs", logInsertColumns, c.Len())
	if err != nil {
		return err
	}
	w.seconds(c.TimeUnixNano)
	w.column(c.TimeUnixNano)
	w.column(c.ObservedTimeUnixNano)
	w.ids(c.TraceIDs, 16)
	w.ids(c.SpanIDs, 8)
	w.column(c.SeverityNumber)
	for _, v := range []*dbmodel.Strings{
		&c.SeverityText, &c.Body, &c.ServiceName, &c.FunctionName, &c.FunctionVersion, &c.AccountID, &c.Region,
		&c.RequestID, &c.LogType,
	} {
		w.column(v.Strings())
	}
	for _, v := range [][][]string{c.AttributeKeys.Rows(), c.AttributeValues.Rows(), c.ResourceAttrKeys.Rows(), c.ResourceAttrValues.Rows()} {
		arrays(w, v)
	}
	return w.finish()
}

func metricValues(r *dbmodel.MetricPoint) []any {
	return []any{
		unixTime(r.TimeUnixNano), r.TimeUnixNano, r.StartTimeUnixNano,
		r.ServiceName, r.FunctionName, r.FunctionVersion, r.AccountID, r.Region, r.ScopeName,
		r.Name, r.Type, r.Unit, r.Temporality, boolUint8(r.Monotonic), r.Flags,
		r.Value, r.Count, r.Sum, r.Min, r.Max,
		nonNil(r.BucketCounts), nonNil(r.ExplicitBounds), nonNil(r.QuantileValues),
		nonNil(r.Attributes.Keys), nonNil(r.Attributes.Values),
		nonNil(r.ResourceAttributes.Keys), nonNil(r.ResourceAttributes.Values),
		idStrings(r.ExemplarTraceIDs), nonNil(r.ExemplarValues),
	}
}

func invocationValues(r *dbmodel.Invocation) []any {
	return []any{
		unixTime(r.StartUnixNano), r.StartUnixNano, r.AccountID, r.Region, r.FunctionName, r.FunctionVersion,
		r.ServiceName, r.Architecture, r.Runtime, r.InitializationType, r.LogStream, r.RequestID,
		r.MemorySizeMB, r.MaxMemoryUsedMB, r.EphemeralStorageMB, r.DurationMs, r.BilledDurationMs,
		r.BilledInitDurationMs, r.InitDurationMs, r.RestoreDurationMs, boolUint8(r.ColdStart), r.Status,
		r.ErrorType, r.TraceID[:], r.SpanID[:], r.XRayTraceHeader, r.ResponseLatencyMs,
		r.ResponseDurationMs, r.RuntimeOverheadMs, r.ProducedBytes, r.UnknownFigures, boolUint8(r.Incomplete), r.TenantID,
		r.Trigger, r.HTTPStatusCode, r.ResponseSize,
		boolUint8(r.Telemetry.Counted), r.Telemetry.SpansReceived, r.Telemetry.LogLinesReceived,
		r.Telemetry.BytesReceived, r.Telemetry.BytesShipped, r.Telemetry.SpansSampledOut, r.Telemetry.SpansDropped,
		r.Telemetry.LogLinesDropped, r.Telemetry.SpansSpooled, r.Telemetry.LogLinesSpooled,
		r.Telemetry.SpansSpoolDropped, r.Telemetry.LogLinesSpoolDropped, r.Telemetry.PlatformLogsDropped,
		r.RuntimeDurationMs, r.ExtensionInitMs, r.Telemetry.SpansRefused, r.Telemetry.LogLinesRefused,
		r.TriggerSource, r.ErrorMessage, r.TraceContextSource, r.FunctionErrorType,
	}
}

func boolUint8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// nonNil gives array columns an empty slice instead of nil.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// idStrings turns binary IDs into the strings an Array(FixedString(N))
// column takes.
func idStrings[ID [16]byte | [8]byte](ids []ID) []string {
	out := make([]string, len(ids))
	for i := range ids {
		out[i] = idString(ids[i])
	}
	return out
}

func idString[ID [16]byte | [8]byte](id ID) string {
	switch v := any(id).(type) {
	case [16]byte:
		return string(v[:])
	case [8]byte:
		return string(v[:])
	}
	return ""
}
