package dbmodel

import (
	"encoding/binary"
	"slices"
)

// StringArrays is an Array(String) column held as ClickHouse's Native
// format sends it: Offsets is, for each row, the number of elements up to
// the end of the row (the column's offsets, counted from its first row),
// and Data every element one after the other, each its length as an
// unsigned varint and its bytes. Ends is where each row's elements end in
// Data, to read a row back.
//
// Unlike a [][]string it holds no pointers: the garbage collector has
// nothing to mark in it and Reset nothing to clear, and the strings are
// copied as they are read, while the request's bytes are in the cache,
// instead of once the columns are written. The block writer sends Data as
// it is.
type StringArrays struct {
	Offsets []uint64
	Ends    []int
	Data    []byte
}

// Len is the number of rows.
func (a *StringArrays) Len() int { return len(a.Offsets) }

// Reset empties the column, keeping its capacity.
func (a *StringArrays) Reset() {
	a.Offsets, a.Ends, a.Data = a.Offsets[:0], a.Ends[:0], a.Data[:0]
}

// Grow makes room for rows more rows of size bytes in all.
func (a *StringArrays) Grow(rows, size int) {
	a.Offsets, a.Ends, a.Data = slices.Grow(a.Offsets, rows), slices.Grow(a.Ends, rows), slices.Grow(a.Data, size)
}

// elements is the number of elements of the column.
func (a *StringArrays) elements() uint64 {
	if len(a.Offsets) == 0 {
		return 0
	}
	return a.Offsets[len(a.Offsets)-1]
}

// AppendRow adds a row holding strs.
func (a *StringArrays) AppendRow(strs []string) {
	data := a.Data
	for _, s := range strs {
		data = AppendNativeString(data, s)
	}
	a.Data = data
	a.Offsets = append(a.Offsets, a.elements()+uint64(len(strs)))
	a.Ends = append(a.Ends, len(data))
}

// AppendNativeString appends s as the Native format writes a String: its
// length as an unsigned varint, then its bytes. Most strings are shorter
// than 128 bytes, whose length is one byte.
func AppendNativeString(buf []byte, s string) []byte {
	if len(s) < 0x80 {
		buf = append(buf, byte(len(s)))
	} else {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
	}
	return append(buf, s...)
}

// Row returns row i, its strings copied.
func (a *StringArrays) Row(i int) []string {
	start := 0
	if i > 0 {
		start = a.Ends[i-1]
	}
	n := a.Offsets[i]
	if i > 0 {
		n -= a.Offsets[i-1]
	}
	row := make([]string, 0, n)
	for b := a.Data[start:a.Ends[i]]; len(b) > 0; {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			panic("dbmodel: malformed StringArrays data")
		}
		row = append(row, string(b[k:k+int(l)]))
		b = b[k+int(l):]
	}
	return row
}

// Rows returns every row, as Row does.
func (a *StringArrays) Rows() [][]string {
	rows := make([][]string, a.Len())
	for i := range rows {
		rows[i] = a.Row(i)
	}
	return rows
}

// Truncate keeps the first n rows.
func (a *StringArrays) Truncate(n int) {
	if n >= a.Len() {
		return
	}
	size := 0
	if n > 0 {
		size = a.Ends[n-1]
	}
	a.Offsets, a.Ends, a.Data = a.Offsets[:n], a.Ends[:n], a.Data[:size]
}

// Append adds the rows of o.
func (a *StringArrays) Append(o *StringArrays) {
	elems, size := a.elements(), len(a.Data)
	a.Offsets, a.Ends = slices.Grow(a.Offsets, o.Len()), slices.Grow(a.Ends, o.Len())
	for i, off := range o.Offsets {
		a.Offsets = append(a.Offsets, elems+off)
		a.Ends = append(a.Ends, size+o.Ends[i])
	}
	a.Data = append(a.Data, o.Data...)
}

// Strings is a String column held as ClickHouse's Native format sends it:
// Data holds each row's length as an unsigned varint and its bytes, one
// row after the other, and Ends is where each row ends in Data, to read a
// row back. Like StringArrays it holds no pointers.
type Strings struct {
	Data []byte
	Ends []int
}

// Len is the number of rows.
func (c *Strings) Len() int { return len(c.Ends) }

// Reset empties the column, keeping its capacity.
func (c *Strings) Reset() { c.Data, c.Ends = c.Data[:0], c.Ends[:0] }

// Grow makes room for rows more rows of size bytes in all.
func (c *Strings) Grow(rows, size int) {
	c.Data, c.Ends = slices.Grow(c.Data, size), slices.Grow(c.Ends, rows)
}

// Append adds a row holding s.
func (c *Strings) Append(s string) {
	c.Data = AppendNativeString(c.Data, s)
	c.Ends = append(c.Ends, len(c.Data))
}

// AppendRepeat adds n rows holding s, doubling what each copy takes.
func (c *Strings) AppendRepeat(s string, n int) {
	if n <= 0 {
		return
	}
	start := len(c.Data)
	c.Data = AppendNativeString(c.Data, s)
	size := len(c.Data) - start
	c.Data = slices.Grow(c.Data, size*(n-1))
	for have := 1; have < n; have = (len(c.Data) - start) / size {
		c.Data = append(c.Data, c.Data[start:start+size*min(have, n-have)]...)
	}
	c.Ends = slices.Grow(c.Ends, n)
	for i := range n {
		c.Ends = append(c.Ends, start+size*(i+1))
	}
}

// Row returns row i, copied.
func (c *Strings) Row(i int) string {
	start := 0
	if i > 0 {
		start = c.Ends[i-1]
	}
	b := c.Data[start:c.Ends[i]]
	l, k := binary.Uvarint(b)
	if k <= 0 || l != uint64(len(b)-k) {
		panic("dbmodel: malformed Strings data")
	}
	return string(b[k:])
}

// Strings returns every row, as Row does.
func (c *Strings) Strings() []string {
	rows := make([]string, c.Len())
	for i := range rows {
		rows[i] = c.Row(i)
	}
	return rows
}

// Truncate keeps the first n rows.
func (c *Strings) Truncate(n int) {
	if n >= c.Len() {
		return
	}
	size := 0
	if n > 0 {
		size = c.Ends[n-1]
	}
	c.Data, c.Ends = c.Data[:size], c.Ends[:n]
}

// AppendColumn adds the rows of o.
func (c *Strings) AppendColumn(o *Strings) {
	size := len(c.Data)
	c.Ends = slices.Grow(c.Ends, o.Len())
	for _, e := range o.Ends {
		c.Ends = append(c.Ends, size+e)
	}
	c.Data = append(c.Data, o.Data...)
}

// AppendEmpty adds n empty rows.
func (a *StringArrays) AppendEmpty(n int) {
	if n <= 0 {
		return
	}
	elems, size := a.elements(), len(a.Data)
	a.Offsets, a.Ends = slices.Grow(a.Offsets, n), slices.Grow(a.Ends, n)
	for range n {
		a.Offsets = append(a.Offsets, elems)
		a.Ends = append(a.Ends, size)
	}
}

// Uint64Arrays is an Array(UInt64) column held as the Native format sends
// it: Offsets as StringArrays' (the running count of elements), Data every
// element one after the other. It holds no pointers.
type Uint64Arrays struct {
	Offsets []uint64
	Data    []uint64
}

// Len is the number of rows.
func (a *Uint64Arrays) Len() int { return len(a.Offsets) }

// Reset empties the column, keeping its capacity.
func (a *Uint64Arrays) Reset() { a.Offsets, a.Data = a.Offsets[:0], a.Data[:0] }

// Grow makes room for rows more rows.
func (a *Uint64Arrays) Grow(rows int) { a.Offsets = slices.Grow(a.Offsets, rows) }

// AppendRow adds a row holding vs.
func (a *Uint64Arrays) AppendRow(vs []uint64) {
	a.Data = append(a.Data, vs...)
	a.Offsets = append(a.Offsets, uint64(len(a.Data)))
}

// AppendEmpty adds n empty rows.
func (a *Uint64Arrays) AppendEmpty(n int) {
	a.Offsets = appendRepeatedOffset(a.Offsets, uint64(len(a.Data)), n)
}

// Row returns row i, copied.
func (a *Uint64Arrays) Row(i int) []uint64 {
	start := uint64(0)
	if i > 0 {
		start = a.Offsets[i-1]
	}
	return slices.Clone(a.Data[start:a.Offsets[i]:a.Offsets[i]])
}

// Rows returns every row, as Row does.
func (a *Uint64Arrays) Rows() [][]uint64 {
	rows := make([][]uint64, a.Len())
	for i := range rows {
		rows[i] = a.Row(i)
	}
	return rows
}

// Truncate keeps the first n rows.
func (a *Uint64Arrays) Truncate(n int) {
	if n >= a.Len() {
		return
	}
	size := uint64(0)
	if n > 0 {
		size = a.Offsets[n-1]
	}
	a.Offsets, a.Data = a.Offsets[:n], a.Data[:size]
}

// Append adds the rows of o.
func (a *Uint64Arrays) Append(o *Uint64Arrays) {
	a.Offsets = appendShifted(a.Offsets, o.Offsets, uint64(len(a.Data)))
	a.Data = append(a.Data, o.Data...)
}

// FixedArrays is an Array(FixedString(n)) column held as the Native format
// sends it: Offsets as StringArrays', Data every element's n bytes one
// after the other. n is the caller's: the methods that need it take it.
// It holds no pointers.
type FixedArrays struct {
	Offsets []uint64
	Data    []byte
}

// Len is the number of rows.
func (a *FixedArrays) Len() int { return len(a.Offsets) }

// Reset empties the column, keeping its capacity.
func (a *FixedArrays) Reset() { a.Offsets, a.Data = a.Offsets[:0], a.Data[:0] }

// Grow makes room for rows more rows.
func (a *FixedArrays) Grow(rows int) { a.Offsets = slices.Grow(a.Offsets, rows) }

// elements is the number of elements of the column.
func (a *FixedArrays) elements() uint64 {
	if len(a.Offsets) == 0 {
		return 0
	}
	return a.Offsets[len(a.Offsets)-1]
}

// AppendRow adds a row holding vals, each of n bytes: a longer one is
// cut, a shorter one padded with zeros, as a FixedString(n) stores it.
func (a *FixedArrays) AppendRow(vals []string, n int) {
	for _, v := range vals {
		v = v[:min(len(v), n)]
		a.Data = append(a.Data, v...)
		for range n - len(v) {
			a.Data = append(a.Data, 0)
		}
	}
	a.Offsets = append(a.Offsets, a.elements()+uint64(len(vals)))
}

// AppendEmpty adds k empty rows.
func (a *FixedArrays) AppendEmpty(k int) {
	a.Offsets = appendRepeatedOffset(a.Offsets, a.elements(), k)
}

// Row returns row i, its elements of n bytes each, copied.
func (a *FixedArrays) Row(i, n int) []string {
	start := uint64(0)
	if i > 0 {
		start = a.Offsets[i-1]
	}
	row := make([]string, 0, a.Offsets[i]-start)
	for e := start; e < a.Offsets[i]; e++ {
		row = append(row, string(a.Data[int(e)*n:int(e+1)*n]))
	}
	return row
}

// Rows returns every row, as Row does.
func (a *FixedArrays) Rows(n int) [][]string {
	rows := make([][]string, a.Len())
	for i := range rows {
		rows[i] = a.Row(i, n)
	}
	return rows
}

// Truncate keeps the first k rows of elements of n bytes.
func (a *FixedArrays) Truncate(k, n int) {
	if k >= a.Len() {
		return
	}
	elems := uint64(0)
	if k > 0 {
		elems = a.Offsets[k-1]
	}
	a.Offsets, a.Data = a.Offsets[:k], a.Data[:int(elems)*n]
}

// Append adds the rows of o.
func (a *FixedArrays) Append(o *FixedArrays) {
	a.Offsets = appendShifted(a.Offsets, o.Offsets, a.elements())
	a.Data = append(a.Data, o.Data...)
}

// appendRepeatedOffset appends n copies of off.
func appendRepeatedOffset(offsets []uint64, off uint64, n int) []uint64 {
	if n <= 0 {
		return offsets
	}
	offsets = slices.Grow(offsets, n)
	for range n {
		offsets = append(offsets, off)
	}
	return offsets
}

// appendShifted appends each of offs plus base.
func appendShifted(offsets, offs []uint64, base uint64) []uint64 {
	offsets = slices.Grow(offsets, len(offs))
	for _, o := range offs {
		offsets = append(offsets, base+o)
	}
	return offsets
}
