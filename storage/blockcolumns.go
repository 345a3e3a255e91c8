package storage

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unsafe"

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

// stringColumn is a String column.
type stringColumn [][]string

func (c *stringColumn) Type() proto.ColumnType { return proto.ColumnTypeString }

func (c *stringColumn) Rows() int { return rowsOf(*c) }

func (c *stringColumn) Infer(t proto.ColumnType) error { return checkType(t, proto.ColumnTypeString) }

// EncodeColumn encodes each run of rows holding one string (the same
// bytes in memory: the spans of a resource share its service, function,
// region, ...; empty strings) once, then copies the encoding for the rest
// of the run.
func (c *stringColumn) EncodeColumn(b *proto.Buffer) {
	buf := b.Buf
	for _, chunk := range *c {
		for i := 0; i < len(chunk); {
			s := chunk[i]
			j := i + 1
			for j < len(chunk) && sameString(chunk[j], s) {
				j++
			}
			from := len(buf)
			buf = appendString(buf, s)
			if j-i > 1 {
				buf = repeatTail(buf, from, j-i-1)
			}
			i = j
		}
	}
	b.Buf = buf
}

// sameString says whether a and b are one string: of the same length and,
// unless empty, at the same address.
func sameString(a, b string) bool {
	return len(a) == len(b) && (len(a) == 0 || unsafe.StringData(a) == unsafe.StringData(b))
}

// repeatTail appends n more copies of buf[from:], doubling what each copy
// takes, so that a run of rows costs a few copies rather than one per
// row.
func repeatTail(buf []byte, from, n int) []byte {
	size := len(buf) - from
	if size == 0 || n <= 0 {
		return buf
	}
	end := len(buf) + size*n
	buf = slices.Grow(buf, end-len(buf))
	for len(buf) < end {
		buf = append(buf, buf[from:from+min(len(buf)-from, end-len(buf))]...)
	}
	return buf
}

// appendString appends s as the Native format writes a String: its length
// as an unsigned varint, then its bytes. Most strings here are shorter
// than 128 bytes, whose length is one byte.
func appendString(buf []byte, s string) []byte {
	if len(s) < 0x80 {
		buf = append(buf, byte(len(s)))
	} else {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
	}
	return append(buf, s...)
}

// sameRow says whether two rows of an array column are one slice: the
// spans of one resource share its attributes' rows, which are encoded once
// and then copied.
func sameRow[T any](a, b []T) bool {
	return len(a) == len(b) && len(a) > 0 && unsafe.SliceData(a) == unsafe.SliceData(b)
}

func (c *stringColumn) WriteColumn(w *proto.Writer) { w.ChainBuffer(c.EncodeColumn) }

// The array columns take dbmodel's rows: one []string (or []uint64) per
// row. In the Native format an array column is the running total of the
// row lengths (UInt64 each) followed by every element.

// putOffsets writes the offsets of an array column of chunks of rows.
func putOffsets[T any](b *proto.Buffer, chunks [][][]T) {
	buf := slices.Grow(b.Buf, 8*rowsOf(chunks))
	var total uint64
	for _, rows := range chunks {
		for _, r := range rows {
			total += uint64(len(r))
			buf = binary.LittleEndian.AppendUint64(buf, total)
		}
	}
	b.Buf = buf
}

// stringArrays is an Array(String) column.
type stringArrays [][][]string

func (c *stringArrays) Type() proto.ColumnType { return proto.ColumnTypeString.Array() }

func (c *stringArrays) Rows() int { return rowsOf(*c) }

func (c *stringArrays) Infer(t proto.ColumnType) error { return checkType(t, c.Type()) }

func (c *stringArrays) EncodeColumn(b *proto.Buffer) {
	putOffsets(b, *c)
	buf := b.Buf
	// A run of rows that are the same slice (the spans of a resource share
	// its attributes) is encoded once, then copied.
	for _, rows := range *c {
		for i := 0; i < len(rows); {
			r := rows[i]
			if len(r) == 0 { // most rows of events and links
				i++
				continue
			}
			j := i + 1
			for j < len(rows) && sameRow(rows[j], r) {
				j++
			}
			from := len(buf)
			for _, s := range r {
				buf = appendString(buf, s)
			}
			if j-i > 1 {
				buf = repeatTail(buf, from, j-i-1)
			}
			i = j
		}
	}
	b.Buf = buf
}

func (c *stringArrays) WriteColumn(w *proto.Writer) { w.ChainBuffer(c.EncodeColumn) }

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
	buf := slices.Grow(b.Buf, 8*c.Rows())
	var base uint64
	for _, a := range *c {
		for _, off := range a.Offsets {
			buf = binary.LittleEndian.AppendUint64(buf, base+off)
		}
		if n := len(a.Offsets); n > 0 {
			base += a.Offsets[n-1]
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

// fixedArrays is an Array(FixedString(size)) column whose elements are
// strings of size bytes; another length is cut or padded with zeros.
type fixedArrays struct {
	rows [][][]string
	size int
}

func (c *fixedArrays) Type() proto.ColumnType {
	return proto.ColumnTypeFixedString.With(strconv.Itoa(c.size)).Array()
}

func (c *fixedArrays) Rows() int { return rowsOf(c.rows) }

func (c *fixedArrays) Infer(t proto.ColumnType) error { return checkType(t, c.Type()) }

func (c *fixedArrays) EncodeColumn(b *proto.Buffer) {
	putOffsets(b, c.rows)
	for _, rows := range c.rows {
		for _, r := range rows {
			for _, s := range r {
				s = s[:min(len(s), c.size)]
				b.Buf = append(b.Buf, s...)
				for range c.size - len(s) {
					b.Buf = append(b.Buf, 0)
				}
			}
		}
	}
}

func (c *fixedArrays) WriteColumn(w *proto.Writer) { w.ChainBuffer(c.EncodeColumn) }

// uint64Arrays is an Array(UInt64) column.
type uint64Arrays [][][]uint64

func (c *uint64Arrays) Type() proto.ColumnType { return proto.ColumnTypeUInt64.Array() }

func (c *uint64Arrays) Rows() int { return rowsOf(*c) }

func (c *uint64Arrays) Infer(t proto.ColumnType) error { return checkType(t, c.Type()) }

func (c *uint64Arrays) EncodeColumn(b *proto.Buffer) {
	putOffsets(b, *c)
	for _, rows := range *c {
		for _, r := range rows {
			for _, v := range r {
				b.PutUInt64(v)
			}
		}
	}
}

func (c *uint64Arrays) WriteColumn(w *proto.Writer) { w.ChainBuffer(c.EncodeColumn) }

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

func (c *stringColumn) encodedSize() int {
	n := 0
	for _, chunk := range *c {
		for _, s := range chunk {
			n += stringSize(s)
		}
	}
	return n
}

// stringSize is the encoded size of s: its length's varint and its bytes.
// Most strings here are shorter than 128 bytes, a length of one byte.
func stringSize(s string) int {
	if len(s) < 0x80 {
		return 1 + len(s)
	}
	return uvarintLen(len(s)) + len(s)
}

func (c *stringArrays) encodedSize() int {
	n := 8 * c.Rows()
	var (
		prev []string
		size int // prev's
	)
	for _, rows := range *c {
		for _, r := range rows {
			if !sameRow(r, prev) {
				size = 0
				for _, s := range r {
					size += stringSize(s)
				}
				prev = r
			}
			n += size
		}
	}
	return n
}

func (c *fixedArrays) encodedSize() int {
	n := 8 * c.Rows()
	for _, rows := range c.rows {
		n += c.size * rowsOf(rows)
	}
	return n
}

func (c *uint64Arrays) encodedSize() int {
	n := 8 * c.Rows()
	for _, rows := range *c {
		n += 8 * rowsOf(rows)
	}
	return n
}

func (c *uint64Column) encodedSize() int { return 8 * c.Rows() }

func (c *uint8Column) encodedSize() int { return c.Rows() }

// uvarintLen is the length of n as an unsigned varint.
func uvarintLen(n int) int {
	l := 1
	for ; n >= 0x80; n >>= 7 {
		l++
	}
	return l
}

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
