package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/ClickHouse/ch-go"
	"github.com/ClickHouse/ch-go/proto"

	"github.com/lambdascope/lambdascope/storage/dbmodel"
)

// spanBlock is the spans insert block over one or more dbmodel.SpanColumns
// (their rows one after the other), in the order of spanInsertColumns.
// Blocks are pooled with their input list.
type spanBlock struct {
	mark  sendMark
	end   endMark
	cols  spanBlockColumns
	input proto.Input
}

type spanBlockColumns struct {
	start                                       dateTimeColumn
	startNano, duration                         uint64Column
	traceID, spanID, parentID                   fixedColumn
	traceState, name                            nativeStrings
	kind, status                                uint8Column
	statusMessage                               nativeStrings
	service, function, version, account, region nativeStrings
	requestID, scopeName, scopeVersion          nativeStrings
	attrKeys, attrValues                        nativeArrays
	resKeys, resValues                          nativeArrayRuns
	eventTimes                                  nativeUint64Arrays
	eventNames, eventAttrs                      nativeArrays
	linkTraceIDs, linkSpanIDs                   nativeFixedArrays
	linkAttrs                                   nativeArrays
}

var spanBlockPool = sync.Pool{New: func() any {
	b := new(spanBlock)
	c := &b.cols
	b.mark.ColInput = &c.start
	b.end = endMark{ColInput: &c.linkAttrs, mark: &b.mark}
	b.input = blockInput(spanInsertColumns, &b.mark, &c.startNano, &c.duration, &c.traceID, &c.spanID, &c.parentID,
		&c.traceState, &c.name, &c.kind, &c.status, &c.statusMessage,
		&c.service, &c.function, &c.version, &c.account, &c.region, &c.requestID, &c.scopeName, &c.scopeVersion,
		&c.attrKeys, &c.attrValues, &c.resKeys, &c.resValues,
		&c.eventTimes, &c.eventNames, &c.eventAttrs, &c.linkTraceIDs, &c.linkSpanIDs, &b.end)
	return b
}}

// blockInput names the columns of a block, which must be as many as names.
func blockInput(names []string, cols ...proto.ColInput) proto.Input {
	if len(names) != len(cols) {
		panic(fmt.Sprintf("block has %d columns for %d names", len(cols), len(names)))
	}
	in := make(proto.Input, len(cols))
	for i, c := range cols {
		in[i] = proto.InputColumn{Name: names[i], Data: c}
	}
	return in
}

// set points the block at the buffers of cs, in their order.
func (b *spanBlock) set(cs ...*dbmodel.SpanColumns) {
	b.mark.sent = false
	k := &b.cols
	*k = spanBlockColumns{}
	k.traceID.size, k.spanID.size, k.parentID.size = 16, 8, 8
	k.linkTraceIDs.size, k.linkSpanIDs.size = 16, 8
	for _, c := range cs {
		k.start.ns, k.startNano, k.duration = append(k.start.ns, c.StartUnixNano), append(k.startNano, c.StartUnixNano), append(k.duration, c.DurationNs)
		k.traceID.bufs, k.spanID.bufs, k.parentID.bufs = append(k.traceID.bufs, c.TraceIDs), append(k.spanID.bufs, c.SpanIDs), append(k.parentID.bufs, c.ParentSpanIDs)
		k.traceState, k.name, k.kind, k.status = append(k.traceState, &c.TraceState), append(k.name, &c.Name), append(k.kind, c.Kind), append(k.status, c.StatusCode)
		k.statusMessage, k.service, k.function = append(k.statusMessage, &c.StatusMessage), append(k.service, &c.ServiceName), append(k.function, &c.FunctionName)
		k.version, k.account, k.region = append(k.version, &c.FunctionVersion), append(k.account, &c.AccountID), append(k.region, &c.Region)
		k.requestID, k.scopeName, k.scopeVersion = append(k.requestID, &c.RequestID), append(k.scopeName, &c.ScopeName), append(k.scopeVersion, &c.ScopeVersion)
		k.attrKeys, k.attrValues = append(k.attrKeys, &c.AttributeKeys), append(k.attrValues, &c.AttributeValues)
		k.resKeys, k.resValues = append(k.resKeys, &c.ResourceAttrKeys), append(k.resValues, &c.ResourceAttrValues)
		k.eventTimes, k.eventNames, k.eventAttrs = append(k.eventTimes, &c.EventTimes), append(k.eventNames, &c.EventNames), append(k.eventAttrs, &c.EventAttrs)
		k.linkTraceIDs.arrays, k.linkSpanIDs.arrays = append(k.linkTraceIDs.arrays, &c.LinkTraceIDs), append(k.linkSpanIDs.arrays, &c.LinkSpanIDs)
		k.linkAttrs = append(k.linkAttrs, &c.LinkAttrs)
	}
}

// logBlock is the logs insert block over a dbmodel.LogColumns, in the
// order of logInsertColumns.
type logBlock struct {
	mark  sendMark
	end   endMark
	cols  logBlockColumns
	input proto.Input
}

type logBlockColumns struct {
	timestamp                                   dateTimeColumn
	timeNano, observedNano                      uint64Column
	traceID, spanID                             fixedColumn
	severityNumber                              uint8Column
	severityText, body                          nativeStrings
	service, function, version, account, region nativeStrings
	requestID, logType                          nativeStrings
	attrKeys, attrValues                        nativeArrays
	resKeys, resValues                          nativeArrayRuns
}

var logBlockPool = sync.Pool{New: func() any {
	b := new(logBlock)
	c := &b.cols
	b.mark.ColInput = &c.timestamp
	b.end = endMark{ColInput: &c.resValues, mark: &b.mark}
	b.input = blockInput(logInsertColumns, &b.mark, &c.timeNano, &c.observedNano, &c.traceID, &c.spanID,
		&c.severityNumber, &c.severityText, &c.body,
		&c.service, &c.function, &c.version, &c.account, &c.region, &c.requestID, &c.logType,
		&c.attrKeys, &c.attrValues, &c.resKeys, &b.end)
	return b
}}

// set points the block at the buffers of cs, in their order.
func (b *logBlock) set(cs ...*dbmodel.LogColumns) {
	b.mark.sent = false
	k := &b.cols
	*k = logBlockColumns{}
	k.traceID.size, k.spanID.size = 16, 8
	for _, c := range cs {
		k.timestamp.ns, k.timeNano, k.observedNano = append(k.timestamp.ns, c.TimeUnixNano), append(k.timeNano, c.TimeUnixNano), append(k.observedNano, c.ObservedTimeUnixNano)
		k.traceID.bufs, k.spanID.bufs = append(k.traceID.bufs, c.TraceIDs), append(k.spanID.bufs, c.SpanIDs)
		k.severityNumber, k.severityText, k.body = append(k.severityNumber, c.SeverityNumber), append(k.severityText, &c.SeverityText), append(k.body, &c.Body)
		k.service, k.function, k.version = append(k.service, &c.ServiceName), append(k.function, &c.FunctionName), append(k.version, &c.FunctionVersion)
		k.account, k.region, k.requestID, k.logType = append(k.account, &c.AccountID), append(k.region, &c.Region), append(k.requestID, &c.RequestID), append(k.logType, &c.LogType)
		k.attrKeys, k.attrValues = append(k.attrKeys, &c.AttributeKeys), append(k.attrValues, &c.AttributeValues)
		k.resKeys, k.resValues = append(k.resKeys, &c.ResourceAttrKeys), append(k.resValues, &c.ResourceAttrValues)
	}
}

// blockBytes is what the last block of a table took of the send buffer,
// for insertBlock's estimate of the next block's size. The estimates are
// the process's, not a store's: they only size a buffer.
type blockBytes struct {
	perRow atomic.Int64 // a row's share, rounded up; 0 before the first block
	block  atomic.Int64 // the whole block's
}

var spanBlockBytes, logBlockBytes blockBytes

// reserve is the room to make in the send buffer for a block of rows rows
// of input: rows times the last block's bytes per row, at most twice the
// last block's bytes (a block of a few large rows must not make the next,
// of many small ones, reserve many times its size: one larger still grows
// the buffer as it is encoded); before the first block, blockSize.
func (l *blockBytes) reserve(input proto.Input, rows int) int {
	if n := l.perRow.Load(); n > 0 {
		return int(min(int64(rows)*n, 2*l.block.Load()))
	}
	return blockSize(input)
}

// learn notes what the block mark marks, of rows rows, took of the send
// buffer, once it was encoded.
func (l *blockBytes) learn(mark *sendMark, rows int) {
	if n := mark.encoded(); n > 0 && rows > 0 {
		l.perRow.Store(int64((n + rows - 1) / rows))
		l.block.Store(int64(n))
	}
}

// writeSpanBlock sends the spans of cs, one after the other, in one block
// on the block writer's connections.
func (s *Store) writeSpanBlock(ctx context.Context, cs []*dbmodel.SpanColumns) error {
	b := spanBlockPool.Get().(*spanBlock)
	defer func() {
		b.cols = spanBlockColumns{}
		spanBlockPool.Put(b)
	}()
	b.set(cs...)
	return s.insertBlock(ctx, "spans", spanInsertColumns, b.input, &b.mark, &spanBlockBytes)
}

// writeLogBlock sends the log records of cs, one after the other, in one
// block on the block writer's connections.
func (s *Store) writeLogBlock(ctx context.Context, cs []*dbmodel.LogColumns) error {
	b := logBlockPool.Get().(*logBlock)
	defer func() {
		b.cols = logBlockColumns{}
		logBlockPool.Put(b)
	}()
	b.set(cs...)
	return s.insertBlock(ctx, "logs", logInsertColumns, b.input, &b.mark, &logBlockBytes)
}

// insertBlock sends one block into table and waits for ClickHouse's
// answer, with the outcomes sendInsert gives the clickhouse-go inserts:
// ClickHouse refusing the block is an error; a failure after the block
// began to be sent is ErrOutcomeUnknown; a failure before it (connecting,
// the query, the server's column list) is an error of preparing the
// insert, retried once on a new connection when the connection was an idle
// one, which the server may have closed.
//
// The send buffer is grown before the block to rows times what a row of
// the table's last block took (last), or, before any block was sent, to
// the block's summed encoded size (blockSize: a pass over every string of
// the columns, which the estimate saves, 428 of the collector's 9,150
// instructions per demo-shaped span). A block of larger rows than the last
// grows the buffer as it is encoded, and sets the estimate for the next.
func (s *Store) insertBlock(ctx context.Context, table string, columns []string, input proto.Input, mark *sendMark, last *blockBytes) error {
	query := ch.Query{Body: insertSQL(s.database, table, columns) + " VALUES", Input: input}
	rows := input[0].Data.Rows()
	mark.reserve = last.reserve(input, rows)
	if token, ok := ctx.Value(dedupTokenKey{}).(string); ok {
		// insert_distributed_sync is set on the connections already.
		query.Settings = []ch.Setting{{Key: "insert_deduplication_token", Value: token}}
	}
	for attempt := 0; ; attempt++ {
		conn, reused, err := s.blocks.acquire(ctx)
		if err != nil {
			return fmt.Errorf("prepare insert into %s: %w", table, err)
		}
		mark.sent = false
		err = conn.Do(ctx, query)
		s.blocks.release(conn, err == nil)
		switch {
		case err == nil:
			last.learn(mark, rows)
			return nil
		case ch.IsException(err):
			return fmt.Errorf("insert into %s: %w", table, err)
		case mark.sent:
			return fmt.Errorf("insert into %s (%w): %w", table, ErrOutcomeUnknown, err)
		case reused && attempt == 0 && ctx.Err() == nil && staleConn(err):
			continue
		default:
			return fmt.Errorf("prepare insert into %s: %w", table, err)
		}
	}
}

// staleConn says whether err is how an idle connection the server has
// closed fails: the peer gone (EOF, reset, broken pipe, closed). Anything
// else, a timeout or a refusal of the query, would fail the same on a new
// connection, and retrying it only spends the rest of the deadline.
func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}
