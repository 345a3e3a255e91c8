package storage

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/ClickHouse/ch-go/proto"

	"github.com/lambdascope/lambdascope/storage/dbmodel"
)

// The columns of the spans and logs blocks. Each encodes dbmodel's column
// buffers as they stand, without a copy of its own: the only copy is into
// the connection's send buffer. A column is a list of chunks, one per
// dbmodel columns the block joins (the requests of a batch, each read
// into columns of its own), encoded one after the other as one column. Infer checks the type
// the server announces for the column against the one encoded, so that a
// table whose column changed type refuses the insert before any row is
// sent.

// checkType is Infer's check of the server's column type.
func checkType(got, want proto.ColumnType) error {
	if got != want {
		return fmt.Errorf("column is %s on the server, the writer sends %s (%w)", got, want, errEncode)
	}
	return nil
}

// rowsOf is the rows of chunks.
func rowsOf[T any](chunks [][]T) int {
	n := 0
	for _, c := range chunks {
		n += len(c)
	}
	return n
}

// dateTimeColumn is a DateTime column from Unix nanoseconds.
type dateTimeColumn struct {
	ns  [][]uint64
	typ proto.ColumnType // as the server names it, with or without a time zone
}

func (c *dateTimeColumn) Type() proto.ColumnType {
	if c.typ == "" {
		return proto.ColumnTypeDateTime
	}
	return c.typ
}

func (c *dateTimeColumn) Rows() int { return rowsOf(c.ns) }

func (c *dateTimeColumn) Infer(t proto.ColumnType) error {
	if t.Base() != proto.ColumnTypeDateTime {
		return checkType(t, proto.ColumnTypeDateTime)
	}
	c.typ = t
	return nil
}

func (c *dateTimeColumn) EncodeColumn(b *proto.Buffer) {
	b.Buf = slices.Grow(b.Buf, 4*c.Rows())
	for _, chunk := range c.ns {
		for _, n := range chunk {
			// unixTime(n).Unix() truncated to DateTime's 32 bits, as
			// clickhouse-go stores it.
			b.PutUInt32(uint32(min(n, math.MaxInt64) / 1e9))
		}
	}
}

func (c *dateTimeColumn) WriteColumn(w *proto.Writer) { w.ChainBuffer(c.EncodeColumn) }

// fixedColumn is a FixedString(size) column held back to back in each
// chunk.
type fixedColumn struct {
	bufs [][]byte
	size int
}

func (c *fixedColumn) Type() proto.ColumnType {
	return proto.ColumnTypeFixedString.With(strconv.Itoa(c.size))
}

func (c *fixedColumn) Rows() int { return rowsOf(c.bufs) / c.size }

func (c *fixedColumn) Infer(t proto.ColumnType) error { return checkType(t, c.Type()) }

func (c *fixedColumn) EncodeColumn(b *proto.Buffer) {
	for _, buf := range c.bufs {
		b.Buf = append(b.Buf, buf...)
	}
}

func (c *fixedColumn) WriteColumn(w *proto.Writer) {
	for _, buf := range c.bufs {
		if len(buf) > 0 {
			w.ChainWrite(buf)
		}
	}
}

// nativeStrings is a String column held in the Native format already
// (dbmodel.Strings): its chunks are copied as they are, or, on an
// uncompressed connection, sent from the columns' own buffers.
type nativeStrings []*dbmodel.Strings

func (c *nativeStrings) Type() proto.ColumnType { return proto.ColumnTypeString }

func (c *nativeStrings) Rows() int {
	n := 0
	for _, s := range *c {
		n += s.Len()
	}
	return n
}

func (c *nativeStrings) Infer(t proto.ColumnType) error { return checkType(t, proto.ColumnTypeString) }

func (c *nativeStrings) EncodeColumn(b *proto.Buffer) {
	for _, s := range *c {
		b.Buf = append(b.Buf, s.Data...)
	}
}

func (c *nativeStrings) WriteColumn(w *proto.Writer) {
	for _, s := range *c {
		if len(s.Data) > 0 {
			w.ChainWrite(s.Data)
		}
	}
}

func (c *nativeStrings) encodedSize() int {
	n := 0
	for _, s := range *c {
		n += len(s.Data)
	}
	return n
}

// nativeArrays is an Array(String) column held in the Native format
// already (dbmodel.StringArrays): the offsets of each chunk are written
// shifted by the elements of the chunks before, and the elements are
// copied as they are, or, on an uncompressed connection, sent from the
// columns' own buffers.
type nativeArrays []*dbmodel.StringArrays

func (c *nativeArrays) Type() proto.ColumnType { return proto.ColumnTypeString.Array() }

func (c *nativeArrays) Rows() int {
	n := 0
	for _, a := range *c {
		n += a.Len()
	}
	return n
}

func (c *nativeArrays) Infer(t proto.ColumnType) error { return checkType(t, c.Type()) }

// putOffsets writes the offsets of every chunk.
func (c *nativeArrays) putOffsets(b *proto.Buffer) {
	putOffsets(b, *c, func(a *dbmodel.StringArrays) []uint64 { return a.Offsets })
}

// putOffsets writes the offsets of an array column of chunks held in the
// Native format: each chunk's offsets shifted by the elements of the
// chunks before (the last offset of each).
func putOffsets[T any](b *proto.Buffer, chunks []T, offsets func(T) []uint64) {
	n := 0
	for _, c := range chunks {
		n += len(offsets(c))
	}
	buf := slices.Grow(b.Buf, 8*n)
	var base uint64
	for _, c := range chunks {
		offs := offsets(c)
		for _, off := range offs {
			buf = binary.LittleEndian.AppendUint64(buf, base+off)
		}
		if n := len(offs); n > 0 {
			base += offs[n-1]
		}
	}
	b.Buf = buf
}

func (c *nativeArrays) EncodeColumn(b *proto.Buffer) {
	c.putOffsets(b)
	for _, a := range *c {
		b.Buf = append(b.Buf, a.Data...)
	}
}

func (c *nativeArrays) WriteColumn(w *proto.Writer) {
	w.ChainBuffer(c.putOffsets)
	for _, a := range *c {
		if len(a.Data) > 0 {
			w.ChainWrite(a.Data)
		}
	}
}

func (c *nativeArrays) encodedSize() int {
	n := 8 * c.Rows()
	for _, a := range *c {
		n += len(a.Data)
	}
	return n
}

// nativeArrayRuns is an Array(String) column held in runs of rows
// (dbmodel.StringArrayRuns: the resource attributes): the offsets of every
// row, shifted by the elements of the chunks before, into the send
// buffer, and each run's row repeated for its rows: into the send buffer
// on a compressed connection; on an uncompressed one, a run of more than
// chainedRunBytes is its row repeated to about chainedRunBytes once in the
// send buffer, chained as many times as the run needs (as nativeArrays'
// elements are chained from the columns), so that the rows of a long run
// are not copied into the buffer before the connection. The bytes sent
// are those of nativeArrays holding every row.
type nativeArrayRuns []*dbmodel.StringArrayRuns

// chainedRunBytes is about the bytes of a run's rows written once into the
// send buffer and chained again for its other rows.
const chainedRunBytes = 32 << 10

func (c *nativeArrayRuns) Type() proto.ColumnType { return proto.ColumnTypeString.Array() }

func (c *nativeArrayRuns) Rows() int {
	n := 0
	for _, a := range *c {
		n += a.Len()
	}
	return n
}

func (c *nativeArrayRuns) Infer(t proto.ColumnType) error { return checkType(t, c.Type()) }

func (c *nativeArrayRuns) EncodeColumn(b *proto.Buffer) {
	b.Buf = slices.Grow(b.Buf, c.encodedSize())
	c.putOffsets(b)
	for _, a := range *c {
		b.Buf = a.AppendNativeData(b.Buf)
	}
}

// putOffsets writes the offsets of every row into the buffer.
func (c *nativeArrayRuns) putOffsets(b *proto.Buffer) {
	buf := b.Buf
	var base, elems uint64
	for _, a := range *c {
		buf, elems = a.AppendNativeOffsets(buf, base)
		base += elems
	}
	b.Buf = buf
}

func (c *nativeArrayRuns) WriteColumn(w *proto.Writer) {
	w.ChainBuffer(c.putOffsets)
	r := new(repeatedRun)
	for _, a := range *c {
		for j := range a.RunCount() {
			row, rows := a.NativeRun(j)
			if len(row) == 0 {
				continue
			}
			// A short run whole; a long one's row repeated k times, then
			// chained for the run's other rows, k at a time.
			k := rows
			if len(row)*rows > chainedRunBytes {
				k = max(1, chainedRunBytes/len(row))
			}
			r.row, r.n = row, k
			w.ChainBuffer(r.put)
			for left := rows - k; left > 0; left -= k {
				w.ChainWrite(r.rep[:len(row)*min(k, left)])
			}
		}
	}
}

// repeatedRun is a run's row put n times into the send buffer, where the
// copies are kept as rep to be chained again.
type repeatedRun struct {
	row, rep []byte
	n        int
}

func (r *repeatedRun) put(b *proto.Buffer) {
	start := len(b.Buf)
	b.Buf = dbmodel.AppendRepeat(b.Buf, r.row, r.n)
	// Chained as it is until the writer flushes: what is written into the
	// buffer after it goes after its end, and a buffer grown leaves it in
	// the one before.
	r.rep = b.Buf[start:len(b.Buf):len(b.Buf)]
}

func (c *nativeArrayRuns) encodedSize() int {
	n := 8 * c.Rows()
	for _, a := range *c {
		n += a.NativeDataSize()
	}
	return n
}

// nativeFixedArrays is an Array(FixedString(size)) column held in the
// Native format already (dbmodel.FixedArrays, elements of size bytes):
// the offsets of each chunk are written shifted as nativeArrays' are, and
// the elements copied as they are, or, on an uncompressed connection,
// sent from the columns' own buffers.
type nativeFixedArrays struct {
	arrays []*dbmodel.FixedArrays
	size   int
}

func (c *nativeFixedArrays) Type() proto.ColumnType {
	return proto.ColumnTypeFixedString.With(strconv.Itoa(c.size)).Array()
}

func (c *nativeFixedArrays) Rows() int {
	n := 0
	for _, a := range c.arrays {
		n += a.Len()
	}
	return n
}

func (c *nativeFixedArrays) Infer(t proto.ColumnType) error { return checkType(t, c.Type()) }

func (c *nativeFixedArrays) putOffsets(b *proto.Buffer) {
	putOffsets(b, c.arrays, func(a *dbmodel.FixedArrays) []uint64 { return a.Offsets })
}

func (c *nativeFixedArrays) EncodeColumn(b *proto.Buffer) {
	c.putOffsets(b)
	for _, a := range c.arrays {
		b.Buf = append(b.Buf, a.Data...)
	}
}

func (c *nativeFixedArrays) WriteColumn(w *proto.Writer) {
	w.ChainBuffer(c.putOffsets)
	for _, a := range c.arrays {
		if len(a.Data) > 0 {
			w.ChainWrite(a.Data)
		}
	}
}

func (c *nativeFixedArrays) encodedSize() int {
	n := 8 * c.Rows()
	for _, a := range c.arrays {
		n += len(a.Data)
	}
	return n
}

// nativeUint64Arrays is an Array(UInt64) column held in the Native format
// already (dbmodel.Uint64Arrays): offsets as nativeArrays', then the
// elements as ch-go's UInt64 column writes them.
type nativeUint64Arrays []*dbmodel.Uint64Arrays

func (c *nativeUint64Arrays) Type() proto.ColumnType { return proto.ColumnTypeUInt64.Array() }

func (c *nativeUint64Arrays) Rows() int {
	n := 0
	for _, a := range *c {
		n += a.Len()
	}
	return n
}

func (c *nativeUint64Arrays) Infer(t proto.ColumnType) error { return checkType(t, c.Type()) }

func (c *nativeUint64Arrays) putOffsets(b *proto.Buffer) {
	putOffsets(b, *c, func(a *dbmodel.Uint64Arrays) []uint64 { return a.Offsets })
}

func (c *nativeUint64Arrays) EncodeColumn(b *proto.Buffer) {
	c.putOffsets(b)
	for _, a := range *c {
		(*proto.ColUInt64)(&a.Data).EncodeColumn(b)
	}
}

func (c *nativeUint64Arrays) WriteColumn(w *proto.Writer) {
	w.ChainBuffer(c.putOffsets)
	for _, a := range *c {
		if len(a.Data) > 0 {
			(*proto.ColUInt64)(&a.Data).WriteColumn(w)
		}
	}
}

func (c *nativeUint64Arrays) encodedSize() int {
	n := 8 * c.Rows()
	for _, a := range *c {
		n += 8 * len(a.Data)
	}
	return n
}

// uint64Column is a UInt64 column.
type uint64Column [][]uint64

func (c *uint64Column) Type() proto.ColumnType { return proto.ColumnTypeUInt64 }

func (c *uint64Column) Rows() int { return rowsOf(*c) }

func (c *uint64Column) Infer(t proto.ColumnType) error { return checkType(t, proto.ColumnTypeUInt64) }

func (c *uint64Column) EncodeColumn(b *proto.Buffer) {
	for _, chunk := range *c {
		(*proto.ColUInt64)(&chunk).EncodeColumn(b)
	}
}

func (c *uint64Column) WriteColumn(w *proto.Writer) {
	for _, chunk := range *c {
		if len(chunk) > 0 {
			(*proto.ColUInt64)(&chunk).WriteColumn(w)
		}
	}
}

// uint8Column is a UInt8 column.
type uint8Column [][]uint8

func (c *uint8Column) Type() proto.ColumnType { return proto.ColumnTypeUInt8 }

func (c *uint8Column) Rows() int { return rowsOf(*c) }

func (c *uint8Column) Infer(t proto.ColumnType) error { return checkType(t, proto.ColumnTypeUInt8) }

func (c *uint8Column) EncodeColumn(b *proto.Buffer) {
	for _, chunk := range *c {
		(*proto.ColUInt8)(&chunk).EncodeColumn(b)
	}
}

func (c *uint8Column) WriteColumn(w *proto.Writer) {
	for _, chunk := range *c {
		if len(chunk) > 0 {
			(*proto.ColUInt8)(&chunk).WriteColumn(w)
		}
	}
}

// sendMark wraps a block's first column: encoding it means the block is
// being sent, after which a failure leaves the insert's outcome unknown.
// Before the first column it grows the connection's send buffer to hold
// reserve bytes, the whole block's encoded size, so that the buffer grows
// once per larger block rather than many times within it (each growth
// copies all the columns encoded before); see reserveBlock.
//
// It also notes where the block's encoding starts in the send buffer, and
// its endMark where it ends: their difference is what the block took of
// the buffer, from which the next block's reserve is estimated (see
// rowBytes).
type sendMark struct {
	proto.ColInput
	sent       bool
	reserve    int
	start, end int // len of the send buffer at the block's first column and after its last
}

// endMark wraps a block's last column: it notes in mark the length of the
// send buffer once the column is encoded.
type endMark struct {
	proto.ColInput
	mark *sendMark
}

func (e *endMark) Infer(t proto.ColumnType) error {
	if i, ok := e.ColInput.(proto.Inferable); ok {
		return i.Infer(t)
	}
	return nil
}

func (e *endMark) EncodeColumn(b *proto.Buffer) {
	e.ColInput.EncodeColumn(b)
	e.mark.end = len(b.Buf)
}

func (e *endMark) WriteColumn(w *proto.Writer) {
	e.ColInput.WriteColumn(w)
	w.ChainBuffer(func(b *proto.Buffer) { e.mark.end = len(b.Buf) })
}

// encoded is the bytes the block took of the send buffer (the columns
// written through it, not those chained as they are), once it was encoded;
// 0 before.
func (m *sendMark) encoded() int {
	if m.end <= m.start {
		return 0
	}
	return m.end - m.start
}

// sizedColumn is a column that knows its encoded size in the Native
// format.
type sizedColumn interface{ encodedSize() int }

// blockSize is the encoded size of input's columns, as far as they know it.
func blockSize(input proto.Input) int {
	n := 0
	for _, c := range input {
		col := c.Data
		switch m := col.(type) {
		case *sendMark:
			col = m.ColInput
		case *endMark:
			col = m.ColInput
		}
		if s, ok := col.(sizedColumn); ok {
			n += s.encodedSize()
		}
	}
	return n
}

func (c *dateTimeColumn) encodedSize() int { return 4 * c.Rows() }

func (c *fixedColumn) encodedSize() int { return rowsOf(c.bufs) }

func (c *uint64Column) encodedSize() int { return 8 * c.Rows() }

func (c *uint8Column) encodedSize() int { return c.Rows() }

func (m *sendMark) Infer(t proto.ColumnType) error {
	if i, ok := m.ColInput.(proto.Inferable); ok {
		return i.Infer(t)
	}
	return nil
}

func (m *sendMark) EncodeColumn(b *proto.Buffer) {
	m.sent = true
	reserveBlock(b, m.reserve)
	m.start, m.end = len(b.Buf), 0
	m.ColInput.EncodeColumn(b)
}

func (m *sendMark) WriteColumn(w *proto.Writer) {
	m.sent = true
	w.ChainBuffer(func(b *proto.Buffer) {
		reserveBlock(b, m.reserve)
		m.start, m.end = len(b.Buf), 0
	})
	m.ColInput.WriteColumn(w)
}

// reserveBlock makes room for n more bytes in b. A buffer too small gets a
// quarter more than n: a connection's blocks are of about the same size
// (batches of the same number of requests), and growing it for each one a
// little larger than the largest so far took a new buffer of the whole
// block's size, cleared, every few inserts (tens of MiB of fresh pages
// each time). Only what b holds is copied (the packet's header), not its
// whole capacity as slices.Grow does.
func reserveBlock(b *proto.Buffer, n int) {
	if cap(b.Buf)-len(b.Buf) >= n {
		return
	}
	grown := make([]byte, len(b.Buf), len(b.Buf)+n+n/4)
	copy(grown, b.Buf)
	b.Buf = grown
}
