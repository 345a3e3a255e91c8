// Package spool keeps batches the collector could not take on local disk
// (under /tmp in Lambda), capped in bytes, so they survive a collector
// outage and the end of the execution environment's process and are
// replayed, oldest first and with their batch IDs, when the collector
// answers again or on the next start.
package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// Config configures a Spool.
type Config struct {
	// Dir is the directory the batches are written to; it is created when
	// missing.
	Dir string
	// MaxBytes caps the total size of the spooled files.
	MaxBytes int64
}

// DefaultConfig returns the defaults: 64 MiB under $TMPDIR/lambdascope-spool
// (/tmp in Lambda, where TMPDIR is unset).
func DefaultConfig() Config {
	return Config{Dir: filepath.Join(os.TempDir(), "lambdascope-spool"), MaxBytes: 64 << 20}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("spool_dir must not be empty"))
	}
	if c.MaxBytes <= 0 {
		errs = append(errs, errors.New("spool_bytes must be positive"))
	}
	return errors.Join(errs...)
}

// File layout: magic, CRC-32 (Castagnoli) of the rest, the per-signal
// counts, then the ExportRequest (with its batch ID) in protobuf.
const (
	magic      = "LSSPOOL1"
	headerSize = len(magic) + 4 + 8*len(buffer.Counts{})
	suffix     = ".batch"
	tmpPrefix  = ".tmp-"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrTooLarge means one batch is larger than the whole spool.
var ErrTooLarge = errors.New("batch larger than the spool cap")

// Stats are the spool's counters since Open.
type Stats struct {
	// Spooled is what was written to disk.
	Spooled Counts
	// Replayed is what was read back and accepted by the collector.
	Replayed Counts
	// Dropped is what was removed to stay under the cap, or could not be
	// written.
	Dropped Counts
	// Corrupt counts files that could not be read back; they are deleted.
	Corrupt uint64
	// Files and Bytes describe what is on disk now.
	Files int
	Bytes int64
}

// Counts is a per-signal count, as in the buffer.
type Counts = buffer.Counts

// Entry is one spooled batch.
type Entry struct {
	// Request carries the batch ID it was first sent with.
	Request *ingestv1.ExportRequest
	Counts  Counts
	name    string
	size    int64
}

type file struct {
	name string
	seq  uint64
	size int64
}

// Spool is a directory of batch files, ordered by a sequence number in
// their names. It is safe for concurrent use.
type Spool struct {
	cfg  Config
	dir  string
	log  *slog.Logger
	lock *os.File

	mu      sync.Mutex
	indexed bool   // the directory's batches are in files (indexLocked)
	files   []file // oldest first
	bytes   int64
	nextSeq uint64
	stats   Stats
}

// maxSiblings bounds how many spool directories processes sharing one
// /tmp (several environments on one machine) may use side by side.
const maxSiblings = 16

// lockName is the file whose lock marks a spool directory as in use.
const lockName = ".lock"

// Open creates the directory when needed and locks it. In Lambda /tmp
// belongs to one environment; where processes share it, a directory
// locked by another process is skipped for Dir-2, Dir-3, ...
//
// The batches a previous process left there are indexed (and leftover
// temporary files removed) at the spool's first use, not here: the
// extension opens its spool before it serves the function's exports, and
// a directory of many batches (an environment whose init was retried
// keeps /tmp) would hold that up by a read of the directory and a stat of
// every file.
func Open(cfg Config, log *slog.Logger) (*Spool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configure spool: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Spool{cfg: cfg, log: log, nextSeq: 1}
	for i := 1; s.lock == nil; i++ {
		if i > maxSiblings {
			return nil, fmt.Errorf("lock spool directory: %s and %d siblings are in use", cfg.Dir, maxSiblings-1)
		}
		dir := cfg.Dir
		if i > 1 {
			dir = fmt.Sprintf("%s-%d", cfg.Dir, i)
		}
		lock, err := lockDir(dir)
		if errors.Is(err, syscall.EWOULDBLOCK) {
			continue
		}
		if err != nil {
			return nil, err
		}
		s.dir, s.lock = dir, lock
	}
	return s, nil
}

// indexLocked, once, indexes the batches a previous process left in the
// directory and removes leftover temporary files. A directory that cannot
// be read is said in one log line and counts as empty: new batches are
// still written.
func (s *Spool) indexLocked() {
	if s.indexed {
		return
	}
	s.indexed = true
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		s.log.Warn("the spool directory cannot be read; batches an earlier run left there are not replayed", "dir", s.dir, "err", err)
		return
	}
	for _, de := range entries {
		name := de.Name()
		if strings.HasPrefix(name, tmpPrefix) {
			_ = os.Remove(filepath.Join(s.dir, name))
			continue
		}
		seq, ok := parseName(name)
		if !ok || !de.Type().IsRegular() {
			continue
		}
		info, err := de.Info()
		if err != nil {
			continue
		}
		s.files = append(s.files, file{name: name, seq: seq, size: info.Size()})
		s.bytes += info.Size()
		s.nextSeq = max(s.nextSeq, seq+1)
	}
	slices.SortFunc(s.files, func(a, b file) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	if len(s.files) > 0 {
		s.log.Info("found spooled batches from an earlier run; they are replayed first", "files", len(s.files), "bytes", s.bytes)
	}
}

func lockDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create spool directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open spool lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock spool directory: %w", err)
	}
	return f, nil
}

// Dir is the directory in use (Config.Dir or a sibling).
func (s *Spool) Dir() string { return s.dir }

// Close releases the directory's lock; the files stay for the next start.
// It is idempotent.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lock == nil {
		return nil
	}
	err := s.lock.Close() // closing releases the lock
	s.lock = nil
	if err != nil {
		return fmt.Errorf("close spool lock: %w", err)
	}
	return nil
}

func parseName(name string) (uint64, bool) {
	base, ok := strings.CutSuffix(name, suffix)
	if !ok {
		return 0, false
	}
	seqPart, _, _ := strings.Cut(base, "-")
	seq, err := strconv.ParseUint(seqPart, 10, 64)
	return seq, err == nil
}

// Put writes one batch atomically (temporary file, then rename). The request
// must carry its batch ID. To stay under the cap the oldest files are
// removed and counted as dropped; a batch larger than the cap is dropped
// itself (ErrTooLarge).
func (s *Spool) Put(req *ingestv1.ExportRequest, c Counts) error {
	payload, err := proto.Marshal(req)
	if err != nil {
		s.drop(c)
		return fmt.Errorf("encode spooled batch: %w", err)
	}
	data := make([]byte, headerSize, headerSize+len(payload))
	copy(data, magic)
	for i, n := range c {
		binary.LittleEndian.PutUint64(data[len(magic)+4+8*i:], n)
	}
	data = append(data, payload...)
	binary.LittleEndian.PutUint32(data[len(magic):], crc32.Checksum(data[len(magic)+4:], castagnoli))
	size := int64(len(data))
	if size > s.cfg.MaxBytes {
		s.drop(c)
		return fmt.Errorf("spool batch of %d bytes: %w", size, ErrTooLarge)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.indexLocked() // before a sequence number is taken
	for s.bytes+size > s.cfg.MaxBytes && len(s.files) > 0 {
		s.dropOldestLocked()
	}
	seq := s.nextSeq
	s.nextSeq++
	name := fmt.Sprintf("%020d-%x%s", seq, req.GetBatchId(), suffix)
	if err := writeAtomic(s.dir, name, data); err != nil {
		s.stats.Dropped.Add(c)
		return err
	}
	s.files = append(s.files, file{name: name, seq: seq, size: size})
	s.bytes += size
	s.stats.Spooled.Add(c)
	return nil
}

func (s *Spool) drop(c Counts) {
	s.mu.Lock()
	s.stats.Dropped.Add(c)
	s.mu.Unlock()
}

// dropOldestLocked removes the oldest file to make room, counting what it
// held.
func (s *Spool) dropOldestLocked() {
	f := s.files[0]
	s.files = s.files[1:]
	s.bytes -= f.size
	path := filepath.Join(s.dir, f.name)
	if e, err := readEntry(path); err == nil {
		s.stats.Dropped.Add(e.Counts)
		s.log.Warn("spool full, dropping its oldest batch", "cap_bytes", s.cfg.MaxBytes, "dropped", e.Counts)
	} else {
		s.stats.Corrupt++
		s.log.Warn("spool full, dropping its oldest batch, which was unreadable", "cap_bytes", s.cfg.MaxBytes, "err", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Warn("remove spooled batch", "err", err)
	}
}

func writeAtomic(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return fmt.Errorf("create spool file: %w", err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write spool file: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("rename spool file: %w", err)
	}
	return nil
}

// Oldest returns the oldest readable batch without removing it; false when
// the spool is empty. Unreadable files are deleted and counted as corrupt.
func (s *Spool) Oldest() (Entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.indexLocked()
	for len(s.files) > 0 {
		f := s.files[0]
		path := filepath.Join(s.dir, f.name)
		e, err := readEntry(path)
		if err == nil {
			e.name, e.size = f.name, f.size
			return e, true
		}
		s.files = s.files[1:]
		s.bytes -= f.size
		s.stats.Corrupt++
		s.log.Warn("skipping a corrupt spooled batch", "file", f.name, "err", err)
		_ = os.Remove(path)
	}
	return Entry{}, false
}

// Done removes a batch the collector accepted (replayed) or refused for
// good (replayed=false, counted as dropped).
func (s *Spool) Done(e Entry, replayed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.indexLocked()
	i := slices.IndexFunc(s.files, func(f file) bool { return f.name == e.name })
	if i < 0 {
		return // already dropped to make room
	}
	s.files = slices.Delete(s.files, i, i+1)
	s.bytes -= e.size
	if replayed {
		s.stats.Replayed.Add(e.Counts)
	} else {
		s.stats.Dropped.Add(e.Counts)
	}
	if err := os.Remove(filepath.Join(s.dir, e.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Warn("remove replayed batch", "err", err)
	}
}

// Len is the number of spooled batches.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.indexLocked()
	return len(s.files)
}

// Stats returns a snapshot of the counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.indexLocked()
	st := s.stats
	st.Files, st.Bytes = len(s.files), s.bytes
	return st
}

func readEntry(path string) (Entry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Entry{}, fmt.Errorf("read spooled batch: %w", err)
	}
	if len(data) < headerSize || string(data[:len(magic)]) != magic {
		return Entry{}, errors.New("read spooled batch: bad header")
	}
	if crc32.Checksum(data[len(magic)+4:], castagnoli) != binary.LittleEndian.Uint32(data[len(magic):]) {
		return Entry{}, errors.New("read spooled batch: checksum mismatch")
	}
	var e Entry
	for i := range e.Counts {
		e.Counts[i] = binary.LittleEndian.Uint64(data[len(magic)+4+8*i:])
	}
	e.Request = &ingestv1.ExportRequest{}
	if err := proto.Unmarshal(data[headerSize:], e.Request); err != nil {
		return Entry{}, fmt.Errorf("decode spooled batch: %w", err)
	}
	return e, nil
}
