package dbmodel

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
	"testing"
)

// runsLike fails the test unless a holds the rows want and encodes, after
// base elements, what a StringArrays of every row holds (its offsets as
// the Native format writes them, its data), and unless its runs are the
// longest: no two runs side by side with the same row.
func runsLike(t *testing.T, what string, a *StringArrayRuns, want [][]string, base uint64) {
	t.Helper()
	if a.Len() != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, a.Len(), len(want))
	}
	var every StringArrays
	for i, w := range want {
		every.AppendRow(w)
		if got := a.Row(i); !slices.Equal(got, w) || got == nil {
			t.Fatalf("%s: row %d = %q, want %q", what, i, got, w)
		}
	}
	if rows := a.Rows(); len(rows) != len(want) || (len(want) > 0 && !slices.EqualFunc(rows, want, slices.Equal)) {
		t.Fatalf("%s: Rows = %q, want %q", what, rows, want)
	}
	var offs []byte
	for _, o := range every.Offsets {
		offs = binary.LittleEndian.AppendUint64(offs, base+o)
	}
	head := []byte("head")
	gotOffs, elems := a.AppendNativeOffsets(slices.Clone(head), base)
	if !bytes.Equal(gotOffs, append(slices.Clone(head), offs...)) || elems != every.elements() {
		t.Fatalf("%s: offsets %x (%d elements), want %x (%d)", what, gotOffs, elems, offs, every.elements())
	}
	if got := a.AppendNativeData(slices.Clone(head)); !bytes.Equal(got, append(slices.Clone(head), every.Data...)) {
		t.Fatalf("%s: data %q, want %q", what, got, every.Data)
	}
	if a.NativeDataSize() != len(every.Data) {
		t.Fatalf("%s: NativeDataSize = %d, want %d", what, a.NativeDataSize(), len(every.Data))
	}
	if len(a.Ends) != a.Runs.Len() {
		t.Fatalf("%s: %d run ends for %d runs", what, len(a.Ends), a.Runs.Len())
	}
	for j := 1; j < len(a.Ends); j++ {
		if bytes.Equal(a.Runs.rowBytes(j-1), a.Runs.rowBytes(j)) {
			t.Fatalf("%s: runs %d and %d hold the same row %q", what, j-1, j, a.Runs.Row(j))
		}
		if a.Ends[j] <= a.Ends[j-1] {
			t.Fatalf("%s: run %d is empty (ends %v)", what, j, a.Ends)
		}
	}
}

// TestStringArrayRuns holds the resource attributes' column in runs to
// the rows put in, and what it encodes to a StringArrays of every row:
// runs of 0 to 40 rows, appended at once or row by row, empty rows,
// lengths of one- and two-byte varints; rows cut at every length (a
// refused resource's spans taken back out leave no run longer), and
// columns joined, the runs at the seam joined.
func TestStringArrayRuns(t *testing.T) {
	long := strings.Repeat("v", 200)
	res := []string{"service.name", "orders", long, ""}
	other := []string{"service.name", "orders", long, "x"}
	type run struct {
		row []string
		n   int
	}
	runs := []run{{res, 3}, {res, 2}, {nil, 5}, {res[:2], 1}, {other, 0}, {nil, 1}, {res, 7}, {other, 1}, {res, 1}, {res[2:], 40}, {nil, 2}}
	var (
		a, byRow StringArrayRuns
		want     [][]string
	)
	for _, r := range runs {
		a.AppendRowRepeat(r.row, r.n)
		for range r.n {
			byRow.AppendRow(r.row)
			want = append(want, r.row)
		}
	}
	for i := range want {
		if want[i] == nil {
			want[i] = []string{}
		}
	}
	runsLike(t, "at once", &a, want, 0)
	runsLike(t, "row by row", &byRow, want, 9)
	if !slices.Equal(a.Ends, byRow.Ends) || !bytes.Equal(a.Runs.Data, byRow.Runs.Data) {
		t.Fatalf("runs appended at once %v, row by row %v", a.Ends, byRow.Ends)
	}
	if got := len(a.Ends); got != 9 {
		t.Errorf("%d runs, want 9 (%v)", got, a.Ends)
	}

	for n := len(want); n >= 0; n-- {
		var cut StringArrayRuns
		cut.Append(&a)
		cut.Truncate(n)
		runsLike(t, "cut", &cut, want[:n], 0)
		// What is appended after the cut starts where the cut ended: the
		// row before it lengthens the last run by its rows only.
		cut.AppendRowRepeat(res, 2)
		runsLike(t, "cut, then filled", &cut, slices.Concat(want[:n], [][]string{res, res}), 0)
	}

	var joined StringArrayRuns
	joined.AppendRowRepeat(res, 2)
	joined.Append(&a)
	joined.Append(&a)
	joined.Append(&StringArrayRuns{})
	runsLike(t, "joined", &joined, slices.Concat([][]string{res, res}, want, want), 0)
	if got, wantRuns := len(joined.Ends), 2*9; got != wantRuns {
		t.Errorf("joined: %d runs, want %d (the resource's rows before the first seam joined to its run)", got, wantRuns)
	}
	joined.Reset()
	runsLike(t, "emptied", &joined, nil, 0)
	if len(joined.Runs.Data) != 0 {
		t.Errorf("emptied column keeps %d bytes", len(joined.Runs.Data))
	}
}
