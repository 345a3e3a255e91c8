package collector

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func rec(i int, size int) walRecord {
	var id [16]byte
	id[0], id[1] = byte(i), byte(i>>8)
	return walRecord{id: id, payload: bytes.Repeat([]byte{byte(i)}, size)}
}

func TestWALKeepsOrderAcrossSegmentsAndRestarts(t *testing.T) {
	dir := t.TempDir()
	w, ids, err := openWAL(dir, 1<<20, 300)
	if err != nil || len(ids) != 0 {
		t.Fatalf("open empty WAL: %v, %d ids", err, len(ids))
	}
	for i := range 10 {
		if err := w.append([]walRecord{rec(i, 100)}); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	if segs, _ := filepath.Glob(filepath.Join(dir, "*.seg")); len(segs) < 3 {
		t.Fatalf("got %d segments, want several with segment_bytes 300", len(segs))
	}
	got, err := w.peek(4, 1<<20)
	if err != nil || len(got) != 4 {
		t.Fatalf("peek: %v, %d records", err, len(got))
	}
	if err := w.consume(got[3].next, 4); err != nil {
		t.Fatalf("consume: %v", err)
	}
	if err := w.close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	w, ids, err = openWAL(dir, 1<<20, 300)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { _ = w.close() })
	if len(ids) != 6 || ids[0][0] != 4 || ids[5][0] != 9 {
		t.Fatalf("reopened WAL pending ids %v, want records 4..9", ids)
	}
	rest, err := w.peek(100, 1<<20)
	if err != nil || len(rest) != 6 {
		t.Fatalf("peek after reopen: %v, %d records", err, len(rest))
	}
	for i, r := range rest {
		if r.payload[0] != byte(i+4) || len(r.payload) != 100 {
			t.Fatalf("record %d holds %d bytes of %d, want 100 of %d", i, len(r.payload), r.payload[0], i+4)
		}
	}
	if err := w.consume(rest[5].next, 6); err != nil {
		t.Fatalf("consume rest: %v", err)
	}
	if n, b := w.depth(); n != 0 || b != 0 {
		t.Fatalf("depth after consuming all: %d records %d bytes", n, b)
	}
	if segs, _ := filepath.Glob(filepath.Join(dir, "*.seg")); len(segs) != 1 {
		t.Fatalf("consumed segments not removed: %v", segs)
	}
}

func TestWALCutsTornTailOnOpen(t *testing.T) {
	tests := []struct {
		name string
		tear func(path string, size int64) error
	}{
		{"half a record", func(p string, size int64) error { return os.Truncate(p, size-30) }},
		{"half a header", func(p string, size int64) error { return os.Truncate(p, size-110) }},
		{"flipped byte", func(p string, size int64) error {
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteAt([]byte{0xff}, size-1)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			w, _, err := openWAL(dir, 1<<20, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				if err := w.append([]walRecord{rec(i, 100)}); err != nil {
					t.Fatal(err)
				}
			}
			_ = w.close()
			seg := w.segPath(0)
			st, _ := os.Stat(seg)
			if err := tt.tear(seg, st.Size()); err != nil {
				t.Fatal(err)
			}
			w, ids, err := openWAL(dir, 1<<20, 1<<20)
			if err != nil {
				t.Fatalf("reopen torn WAL: %v", err)
			}
			t.Cleanup(func() { _ = w.close() })
			if len(ids) != 2 {
				t.Fatalf("got %d records after tearing the last, want 2", len(ids))
			}
			if err := w.append([]walRecord{rec(7, 10)}); err != nil {
				t.Fatalf("append after repair: %v", err)
			}
			all, err := w.peek(10, 1<<20)
			if err != nil || len(all) != 3 || all[2].payload[0] != 7 {
				t.Fatalf("after repair and append: %v, %d records", err, len(all))
			}
		})
	}
}

func TestWALRefusesWhenFull(t *testing.T) {
	w, _, err := openWAL(t.TempDir(), 1000, 1000)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.close() })
	var appended int
	for i := range 20 {
		err := w.append([]walRecord{rec(i, 100)})
		if errors.Is(err, errWALFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		appended++
	}
	if appended != 8 {
		t.Fatalf("appended %d records of 124 bytes into 1000, want 8", appended)
	}
	got, _ := w.peek(1, 1<<20)
	if err := w.consume(got[0].next, 1); err != nil {
		t.Fatal(err)
	}
	if err := w.append([]walRecord{rec(99, 100)}); err != nil {
		t.Fatalf("append after consuming one: %v", err)
	}
}

func BenchmarkWALAppend(b *testing.B) {
	w, _, err := openWAL(b.TempDir(), 1<<40, 64<<20)
	if err != nil {
		b.Fatal(err)
	}
	defer w.close()
	r := rec(1, 4096)
	b.SetBytes(4096)
	for i := 0; b.Loop(); i++ {
		if err := w.append([]walRecord{r}); err != nil {
			b.Fatal(fmt.Errorf("append: %w", err))
		}
	}
}
