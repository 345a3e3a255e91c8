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
