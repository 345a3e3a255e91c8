package dbmodel

import (
	"bytes"
	"encoding/binary"
	"slices"
	"sort"
)

// StringArrayRuns is an Array(String) column whose consecutive rows that
// are the same byte for byte are held once: the resource attributes, the
// same for every span of a resource (and for the same resource sent again
// in the next request). Runs holds one row per run in the Native format
// (see StringArrays), Ends the number of rows up to the end of each run.
//
// The block writer repeats each run's row, as many times as the run has
// rows, into the Native bytes it sends (AppendNativeOffsets,
// AppendNativeData): what ClickHouse receives is what a StringArrays of
// every row would send, while the columns hold a resource's attributes
// once instead of once a span.
//
// The runs are always the longest: a row appended that is the last run's
// row lengthens that run, so that columns holding the same rows hold the
// same runs, however they were appended.
type StringArrayRuns struct {
	Runs StringArrays
	Ends []int
}

// Len is the number of rows.
func (a *StringArrayRuns) Len() int {
	if len(a.Ends) == 0 {
		return 0
	}
	return a.Ends[len(a.Ends)-1]
}

// Reset empties the column, keeping its capacity.
func (a *StringArrayRuns) Reset() {
	a.Runs.Reset()
	a.Ends = a.Ends[:0]
}

// Grow makes room for runs more runs of size bytes in all.
func (a *StringArrayRuns) Grow(runs, size int) {
	a.Runs.Grow(runs, size)
	a.Ends = slices.Grow(a.Ends, runs)
}

// AppendRowRepeat adds n rows holding strs.
func (a *StringArrayRuns) AppendRowRepeat(strs []string, n int) {
	if n <= 0 {
		return
	}
	a.Runs.AppendRow(strs)
	a.endRun(n)
}

// AppendRow adds a row holding strs.
func (a *StringArrayRuns) AppendRow(strs []string) { a.AppendRowRepeat(strs, 1) }

// AppendEmpty adds n empty rows.
func (a *StringArrayRuns) AppendEmpty(n int) { a.AppendRowRepeat(nil, n) }

// endRun gives the row just added to Runs n rows: a run of its own, or,
// when it is the run before's row byte for byte, n more rows of that run
// (and the row is dropped).
func (a *StringArrayRuns) endRun(n int) {
	k := a.Runs.Len()
	if k > 1 && bytes.Equal(a.Runs.rowBytes(k-2), a.Runs.rowBytes(k-1)) {
		a.Runs.Truncate(k - 1)
		a.Ends[k-2] += n
		return
	}
	a.Ends = append(a.Ends, a.Len()+n)
}

// runRows is the number of rows of run j.
func (a *StringArrayRuns) runRows(j int) int {
	if j == 0 {
		return a.Ends[0]
	}
	return a.Ends[j] - a.Ends[j-1]
}

// run is the run holding row i.
func (a *StringArrayRuns) run(i int) int {
	return sort.Search(len(a.Ends), func(j int) bool { return a.Ends[j] > i })
}

// Row returns row i, its strings copied.
func (a *StringArrayRuns) Row(i int) []string {
	if i < 0 || i >= a.Len() {
		panic("dbmodel: StringArrayRuns row out of range")
	}
	return a.Runs.Row(a.run(i))
}

// Rows returns every row, as Row does.
func (a *StringArrayRuns) Rows() [][]string {
	rows := make([][]string, 0, a.Len())
	for j := range a.Ends {
		for range a.runRows(j) {
			rows = append(rows, a.Runs.Row(j))
		}
	}
	return rows
}

// Truncate keeps the first n rows: the run holding row n-1 is cut to end
// there, the runs after it dropped.
func (a *StringArrayRuns) Truncate(n int) {
	if n >= a.Len() {
		return
	}
	if n <= 0 {
		a.Reset()
		return
	}
	j := a.run(n - 1)
	a.Ends = a.Ends[:j+1]
	a.Ends[j] = n
	a.Runs.Truncate(j + 1)
}

// Append adds the rows of o; o's first run lengthens the last one when
// their rows are the same.
func (a *StringArrayRuns) Append(o *StringArrayRuns) {
	a.Runs.Grow(o.Runs.Len(), len(o.Runs.Data))
	a.Ends = slices.Grow(a.Ends, len(o.Ends))
	for j := range o.Ends {
		a.Runs.appendRaw(o.Runs.rowBytes(j), o.Runs.rowElements(j))
		a.endRun(o.runRows(j))
	}
}

// AppendNativeOffsets appends the column's offsets as the Native format
// sends them: for every row, the elements up to its end plus base (the
// elements of the rows before it in the block), a little-endian UInt64.
// It returns the elements of the column's rows.
func (a *StringArrayRuns) AppendNativeOffsets(buf []byte, base uint64) ([]byte, uint64) {
	buf = slices.Grow(buf, 8*a.Len())
	off := base
	for j := range a.Ends {
		k := a.Runs.rowElements(j)
		for range a.runRows(j) {
			off += k
			buf = binary.LittleEndian.AppendUint64(buf, off)
		}
	}
	return buf, off - base
}

// AppendNativeData appends the column's elements as the Native format
// sends them: each run's row as many times as the run has rows, the
// copies doubling.
func (a *StringArrayRuns) AppendNativeData(buf []byte) []byte {
	buf = slices.Grow(buf, a.NativeDataSize())
	for j := range a.Ends {
		buf = AppendRepeat(buf, a.Runs.rowBytes(j), a.runRows(j))
	}
	return buf
}

// RunCount is the number of runs.
func (a *StringArrayRuns) RunCount() int { return len(a.Ends) }

// NativeRun is run j's row as AppendNativeData writes it (its elements in
// the Native format, once) and the number of rows of the run.
func (a *StringArrayRuns) NativeRun(j int) (row []byte, rows int) {
	return a.Runs.rowBytes(j), a.runRows(j)
}

// AppendRepeat appends b n times, the copies doubling.
func AppendRepeat(buf, b []byte, n int) []byte {
	if len(b) == 0 || n <= 0 {
		return buf
	}
	start := len(buf)
	buf = append(slices.Grow(buf, len(b)*n), b...)
	for have := 1; have < n; have = (len(buf) - start) / len(b) {
		buf = append(buf, buf[start:start+len(b)*min(have, n-have)]...)
	}
	return buf
}

// NativeDataSize is the bytes AppendNativeData appends.
func (a *StringArrayRuns) NativeDataSize() int {
	n := 0
	for j := range a.Ends {
		n += len(a.Runs.rowBytes(j)) * a.runRows(j)
	}
	return n
}

// rowBytes is row i's elements in Data, in the Native format.
func (a *StringArrays) rowBytes(i int) []byte {
	start := 0
	if i > 0 {
		start = a.Ends[i-1]
	}
	return a.Data[start:a.Ends[i]]
}

// rowElements is the number of elements of row i.
func (a *StringArrays) rowElements(i int) uint64 {
	if i == 0 {
		return a.Offsets[0]
	}
	return a.Offsets[i] - a.Offsets[i-1]
}

// appendRaw adds a row of elems elements given in the Native format.
func (a *StringArrays) appendRaw(row []byte, elems uint64) {
	a.Data = append(a.Data, row...)
	a.Offsets = append(a.Offsets, a.elements()+elems)
	a.Ends = append(a.Ends, len(a.Data))
}
