package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

func batch(id byte, requestIDs ...string) (*ingestv1.ExportRequest, Counts) {
	req := &ingestv1.ExportRequest{BatchId: bytes.Repeat([]byte{id}, 16)}
	for _, r := range requestIDs {
		req.Invocations = append(req.Invocations, &ingestv1.Invocation{RequestId: r, DurationMs: 3})
	}
	var c Counts
	c[buffer.Invocations] = uint64(len(requestIDs))
	return req, c
}

func open(t *testing.T, dir string, maxBytes int64) *Spool {
	t.Helper()
	s, err := Open(Config{Dir: dir, MaxBytes: maxBytes}, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// reopen closes s and opens its directory again, as the next process would.
func reopen(t *testing.T, s *Spool, maxBytes int64) *Spool {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return open(t, s.cfg.Dir, maxBytes)
}

func put(t *testing.T, s *Spool, id byte, requestIDs ...string) {
	t.Helper()
	req, c := batch(id, requestIDs...)
	if err := s.Put(req, c); err != nil {
		t.Fatalf("Put: %v", err)
	}
}

// drain replays everything and returns the first byte of each batch ID.
func drain(t *testing.T, s *Spool) []byte {
	t.Helper()
	var ids []byte
	for {
		e, ok := s.Oldest()
		if !ok {
			return ids
		}
		ids = append(ids, e.Request.GetBatchId()[0])
		s.Done(e, true)
	}
}

// TestOpenLeavesTheDirectoryToTheFirstUse: Open only locks the directory
// (the extension opens its spool before it serves the function); the
// batches an earlier run left, and its temporary files, are seen at the
// first use, and what that finds is replayed in order before new batches.
func TestOpenLeavesTheDirectoryToTheFirstUse(t *testing.T) {
	dir := t.TempDir()
	first := open(t, dir, 1<<20)
	put(t, first, 1, "a")
	s := reopen(t, first, 1<<20)
	// Written after Open, as if there before: Open has not read the
	// directory, so the first use finds both.
	old, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var batchFile string
	for _, de := range old {
		if _, ok := parseName(de.Name()); ok {
			batchFile = de.Name()
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, batchFile))
	if err != nil {
		t.Fatalf("read the earlier run's batch: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "00000000000000000007-07.batch"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, tmpPrefix+"half"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	put(t, s, 9, "new")
	if got := s.Len(); got != 3 {
		t.Fatalf("Len = %d; want the 2 batches there at the first use and the new one", got)
	}
	if _, err := os.Stat(filepath.Join(dir, tmpPrefix+"half")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover temporary file not removed by the first use: %v", err)
	}
	if got := drain(t, s); !bytes.Equal(got, []byte{1, 1, 9}) {
		t.Errorf("replay order = %v; want the earlier run's two batches, then the new one", got)
	}
}

func TestReplayInOrderAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 1<<20)
	put(t, s, 1, "a")
	put(t, s, 2, "b", "c")
	put(t, s, 3, "d")
	if err := os.WriteFile(filepath.Join(dir, tmpPrefix+"half"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}

	s2 := reopen(t, s, 1<<20)
	if got := s2.Len(); got != 3 {
		t.Fatalf("Len after reopen = %d, want 3", got)
	}
	if _, err := os.Stat(filepath.Join(dir, tmpPrefix+"half")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover temporary file not removed by the first use: %v", err)
	}
	e, _ := s2.Oldest()
	if got := e.Request.GetInvocations()[0].GetRequestId(); got != "a" || e.Counts[buffer.Invocations] != 1 {
		t.Errorf("oldest = %q counts %v, want a with 1 invocation", got, e.Counts)
	}
	if got := drain(t, s2); !bytes.Equal(got, []byte{1, 2, 3}) {
		t.Errorf("replay order = %v, want [1 2 3]", got)
	}
	st := s2.Stats()
	if st.Replayed[buffer.Invocations] != 4 || st.Files != 0 || st.Bytes != 0 {
		t.Errorf("stats = %+v, want 4 invocations replayed and no files", st)
	}
	put(t, s2, 4, "e")
	s3 := reopen(t, s2, 1<<20)
	if got := drain(t, s3); !bytes.Equal(got, []byte{4}) {
		t.Errorf("after replay and a new batch, spool holds %v, want [4]", got)
	}
}

func TestLockedDirectoryUsesSibling(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	first := open(t, dir, 1<<20)
	put(t, first, 1, "a")
	second := open(t, dir, 1<<20)
	if got, want := second.Dir(), dir+"-2"; got != want {
		t.Fatalf("second spool in %s, want %s", got, want)
	}
	if second.Len() != 0 {
		t.Errorf("second spool sees %d batches of the first", second.Len())
	}
	third := reopen(t, first, 1<<20)
	if third.Dir() != dir || third.Len() != 1 {
		t.Errorf("after the first closed: dir %s with %d batches, want %s with 1", third.Dir(), third.Len(), dir)
	}
}

func TestCorruptFilesAreSkippedAndCounted(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(data []byte) []byte
	}{
		{"truncated", func(d []byte) []byte { return d[:len(d)-3] }},
		{"flipped byte", func(d []byte) []byte { d[len(d)-1] ^= 0xff; return d }},
		{"bad magic", func(d []byte) []byte { d[0] = 'X'; return d }},
		{"empty", func([]byte) []byte { return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir, 1<<20)
			put(t, s, 1, "a")
			put(t, s, 2, "b")
			path := filepath.Join(dir, s.files[0].name)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tt.corrupt(data), 0o600); err != nil {
				t.Fatal(err)
			}
			s = reopen(t, s, 1<<20)
			if got := drain(t, s); !bytes.Equal(got, []byte{2}) {
				t.Errorf("replayed %v, want only [2]", got)
			}
			if got := s.Stats().Corrupt; got != 1 {
				t.Errorf("corrupt = %d, want 1", got)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("corrupt file kept: %v", err)
			}
		})
	}
}

func TestCapDropsOldest(t *testing.T) {
	dir := t.TempDir()
	req, c := batch(1, "a")
	probe := open(t, t.TempDir(), 1<<20)
	if err := probe.Put(req, c); err != nil {
		t.Fatal(err)
	}
	one := probe.Stats().Bytes

	s := open(t, dir, 2*one+one/2) // room for two batches
	put(t, s, 1, "a")
	put(t, s, 2, "b")
	put(t, s, 3, "c")
	st := s.Stats()
	if st.Dropped[buffer.Invocations] != 1 || st.Spooled[buffer.Invocations] != 3 || st.Files != 2 {
		t.Errorf("stats = %+v, want 3 spooled, 1 dropped, 2 files", st)
	}
	if st.Bytes > 2*one+one/2 {
		t.Errorf("bytes = %d over the cap", st.Bytes)
	}
	if got := drain(t, s); !bytes.Equal(got, []byte{2, 3}) {
		t.Errorf("kept %v, want the newest [2 3]", got)
	}

	small := open(t, t.TempDir(), one/2)
	req, c = batch(9, "z")
	if err := small.Put(req, c); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Put over the cap: err = %v, want ErrTooLarge", err)
	}
	if got := small.Stats().Dropped[buffer.Invocations]; got != 1 {
		t.Errorf("dropped = %d, want 1", got)
	}
}

func TestDoneRefusedCountsDropped(t *testing.T) {
	s := open(t, t.TempDir(), 1<<20)
	put(t, s, 1, "a", "b")
	e, ok := s.Oldest()
	if !ok {
		t.Fatal("spool empty")
	}
	s.Done(e, false)
	s.Done(e, false) // twice is harmless
	st := s.Stats()
	if st.Dropped[buffer.Invocations] != 2 || st.Files != 0 || st.Bytes != 0 {
		t.Errorf("stats = %+v, want 2 dropped, empty", st)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"default", DefaultConfig(), ""},
		{"no dir", Config{MaxBytes: 1}, "spool_dir must not be empty"},
		{"no cap", Config{Dir: "/tmp/x"}, "spool_bytes must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != (tt.want == "") || (err != nil && err.Error() != tt.want) {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

func FuzzReadEntry(f *testing.F) {
	dir := f.TempDir()
	s, err := Open(Config{Dir: dir, MaxBytes: 1 << 20}, nil)
	if err != nil {
		f.Fatal(err)
	}
	req, c := batch(1, "a")
	if err := s.Put(req, c); err != nil {
		f.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, s.files[0].name))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(magic))
	// Each input is a file of one directory, removed once read (a
	// directory made and removed for each, or a file truncated and
	// written again, which ext4 flushes, held the fuzzer to a few hundred
	// runs a second). It is read as it is and, past the checksum that
	// turns away nearly every mutation, with the checksum made right, so
	// that the header's counts and the request are read too.
	path := filepath.Join(f.TempDir(), "x.batch")
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(data []byte) {
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(path)
			if e, err := readEntry(path); err == nil && e.Request == nil {
				t.Error("nil request without error")
			}
		}
		check(data)
		if len(data) >= headerSize && string(data[:len(magic)]) == magic {
			fixed := append([]byte(nil), data...)
			binary.LittleEndian.PutUint32(fixed[len(magic):], crc32.Checksum(fixed[len(magic)+4:], castagnoli))
			check(fixed)
		}
	})
}

// BenchmarkOpenWithLeftovers opens a spool whose directory holds 1,000
// batches an earlier run left, as an agent starting in an environment whose
// init was retried does before it serves the function's exports.
func BenchmarkOpenWithLeftovers(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(Config{Dir: dir, MaxBytes: 64 << 20}, nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		req, c := batch(byte(i), "r")
		if err := s.Put(req, c); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		s, err := Open(Config{Dir: dir, MaxBytes: 64 << 20}, nil)
		if err != nil {
			b.Fatal(err)
		}
		_ = s.Close()
	}
}
