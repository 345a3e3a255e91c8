package collector

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// dedup remembers the IDs of the most recent stored batches so that a
// retry of a batch already stored is acknowledged without storing it again.
// With a WAL directory, the IDs are also appended to a file there
// (dedupLogFile), so the set survives a restart: a retry after a crash of a
// batch that was acknowledged, whether it went to ClickHouse directly or
// through the WAL, is recognised. Without one the set is in memory only.
type dedup struct {
	mu       sync.Mutex
	size     int
	ring     [][16]byte
	next     int
	stored   map[[16]byte]struct{}
	inflight map[[16]byte]struct{}

	log     *dedupLog // nil without a WAL directory
	logger  *slog.Logger
	logErrs int // failed appends; only the first is logged
}

func newDedup(size int) *dedup {
	return &dedup{
		size:     size,
		stored:   make(map[[16]byte]struct{}, size),
		inflight: make(map[[16]byte]struct{}),
		logger:   slog.New(slog.DiscardHandler),
	}
}

type claim int

const (
	claimed claim = iota
	alreadyStored
	inFlight
)

// claim marks id as being written, unless it is stored or being written.
func (d *dedup) claim(id [16]byte) claim {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.stored[id]; ok {
		return alreadyStored
	}
	if _, ok := d.inflight[id]; ok {
		return inFlight
	}
	d.inflight[id] = struct{}{}
	return claimed
}

// finish ends a claim; stored says whether the batch is now stored.
func (d *dedup) finish(id [16]byte, stored bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.inflight, id)
	if !stored || d.size == 0 {
		return
	}
	d.remember(id)
	if d.log == nil {
		return
	}
	err := d.log.append(id)
	if err == nil && d.log.entries >= 2*d.size {
		err = d.log.rewrite(d.ordered())
	}
	if err != nil {
		d.logErrs++
		if d.logErrs == 1 {
			d.logger.Warn("cannot record a stored batch ID on disk; a retry of it after a restart would be stored again",
				"file", d.log.path, "err", err)
		}
	}
}

// remember adds id to the set, forgetting the oldest ID when it is full.
func (d *dedup) remember(id [16]byte) {
	if _, ok := d.stored[id]; ok {
		return
	}
	if len(d.ring) < d.size {
		d.ring = append(d.ring, id)
	} else {
		delete(d.stored, d.ring[d.next])
		d.ring[d.next] = id
		d.next = (d.next + 1) % d.size
	}
	d.stored[id] = struct{}{}
}

// seed remembers ids without recording them on disk.
func (d *dedup) seed(ids [][16]byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.size == 0 {
		return
	}
	for _, id := range ids {
		d.remember(id)
	}
}

// ordered returns the remembered IDs, oldest first.
func (d *dedup) ordered() [][16]byte {
	if len(d.ring) < d.size {
		return d.ring
	}
	return append(append(make([][16]byte, 0, d.size), d.ring[d.next:]...), d.ring[:d.next]...)
}

// persist loads the IDs recorded in dir's dedup log and records every
// stored batch there from now on.
func (d *dedup) persist(dir string, logger *slog.Logger) (loaded int, err error) {
	if d.size == 0 {
		return 0, nil
	}
	l, ids, err := openDedupLog(filepath.Join(dir, dedupLogFile), d.size)
	if err != nil {
		return 0, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range ids {
		d.remember(id)
	}
	d.log, d.logger = l, logger
	return len(ids), nil
}

// close closes the dedup log, if any.
func (d *dedup) close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.log == nil {
		return nil
	}
	err := d.log.f.Close()
	d.log = nil
	return err
}

// dedupLogFile is the file in the WAL directory that records the IDs of
// acknowledged batches: 16 bytes each, appended. It is not fsynced: a
// process crash keeps what was written, only a machine crash may lose the
// last IDs (then a retry of those batches is stored again).
const dedupLogFile = "stored-batch-ids"

type dedupLog struct {
	path    string
	f       *os.File
	entries int
}

// openDedupLog opens (creating) the log at path and returns its last keep
// IDs, oldest first. A torn last record is cut off.
func openDedupLog(path string, keep int) (*dedupLog, [][16]byte, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, nil, fmt.Errorf("open dedup log: %w", err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("read dedup log: %w", err)
	}
	whole := len(b) / 16 * 16
	if whole != len(b) {
		if err := f.Truncate(int64(whole)); err != nil {
			_ = f.Close()
			return nil, nil, fmt.Errorf("cut torn record of dedup log: %w", err)
		}
	}
	if _, err := f.Seek(int64(whole), io.SeekStart); err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("seek dedup log: %w", err)
	}
	n := whole / 16
	ids := make([][16]byte, 0, min(n, keep))
	for i := max(0, n-keep); i < n; i++ {
		ids = append(ids, [16]byte(b[i*16:(i+1)*16]))
	}
	return &dedupLog{path: path, f: f, entries: n}, ids, nil
}

func (l *dedupLog) append(id [16]byte) error {
	if _, err := l.f.Write(id[:]); err != nil {
		return fmt.Errorf("append to dedup log: %w", err)
	}
	l.entries++
	return nil
}

// rewrite replaces the log with ids, so that it stops growing: written to a
// temporary file and renamed over the log.
func (l *dedupLog) rewrite(ids [][16]byte) error {
	tmp := l.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("create dedup log: %w", err)
	}
	buf := make([]byte, 0, 16*len(ids))
	for _, id := range ids {
		buf = append(buf, id[:]...)
	}
	if _, err := f.Write(buf); err != nil {
		_ = f.Close()
		return errors.Join(fmt.Errorf("write dedup log: %w", err), os.Remove(tmp))
	}
	if err := os.Rename(tmp, l.path); err != nil {
		_ = f.Close()
		return errors.Join(fmt.Errorf("replace dedup log: %w", err), os.Remove(tmp))
	}
	_ = l.f.Close()
	l.f, l.entries = f, len(ids)
	return nil
}
