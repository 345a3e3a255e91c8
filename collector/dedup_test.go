package collector

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func testID(n int) [16]byte { return [16]byte{byte(n), byte(n >> 8), 0xd1} }

func TestDedupLogSurvivesReopenAndStaysBounded(t *testing.T) {
	dir := t.TempDir()
	const window = 4
	d := newDedup(window)
	if n, err := d.persist(dir, discard); err != nil || n != 0 {
		t.Fatalf("persist on an empty directory: %d IDs, %v", n, err)
	}
	for i := range 11 {
		if d.claim(testID(i)) != claimed {
			t.Fatalf("batch %d: want claimed", i)
		}
		d.finish(testID(i), true)
	}
	d.claim(testID(99))
	d.finish(testID(99), false) // not stored: not remembered
	if err := d.close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, dedupLogFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > 2*window*16 {
		t.Errorf("dedup log is %d bytes after 11 batches with a window of %d; it must be rewritten before 2×window", st.Size(), window)
	}

	again := newDedup(window)
	n, err := again.persist(dir, discard)
	if err != nil {
		t.Fatal(err)
	}
	if n != window {
		t.Fatalf("reopened log gave %d IDs, want the last %d", n, window)
	}
	for i := range 11 {
		want := claimed
		if i >= 11-window {
			want = alreadyStored
		}
		if got := again.claim(testID(i)); got != want {
			t.Errorf("batch %d after reopen: claim %v, want %v", i, got, want)
		}
	}
	if got := again.claim(testID(99)); got != claimed {
		t.Errorf("batch never stored: claim %v after reopen, want claimed", got)
	}
	_ = again.close()
}

func TestDedupLogCutsTornRecord(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, dedupLogFile)
	id := testID(7)
	if err := os.WriteFile(path, append(id[:], 1, 2, 3), 0o640); err != nil {
		t.Fatal(err)
	}
	d := newDedup(10)
	if n, err := d.persist(dir, discard); err != nil || n != 1 {
		t.Fatalf("persist: %d IDs, %v; want 1", n, err)
	}
	d.claim(testID(8))
	d.finish(testID(8), true)
	_ = d.close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 32 {
		t.Fatalf("log is %d bytes, want 32: the torn record cut and one ID appended", len(b))
	}
	if [16]byte(b[16:]) != testID(8) {
		t.Errorf("appended ID %x, want %x", b[16:], testID(8))
	}
}

var discard = slog.New(slog.DiscardHandler)
