package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
)

// With wal.ack_after, a request whose direct insert has not ended within
// that time is put in the WAL (fsynced) and acknowledged; the insert goes
// on. Such a WAL record is "shadowed" by its direct insert: the replayer
// waits for the insert before it decides, skips the record when the insert
// stored the batch, and inserts it when the insert failed. A shadowed
// record does not count as pending for store(): batches behind it still go
// straight to ClickHouse while it answers.
//
// The batch IDs the direct insert stored are also appended (fsynced) to
// storedDirectFile in the WAL directory, so that a record whose insert
// ended before a restart is skipped by the replay after it. The one window
// left is a crash between ClickHouse's answer and that append: the replay
// then stores the batch a second time.

// A request acknowledged from the WAL keeps its bytes charged to
// max_inflight_bytes until its insert ends (keptBytes): the insert still
// holds them, and without the charge the budget would not bound what such
// inserts hold (up to wal.ack_max_pending of them). Nothing waits for the
// budget on this path: while such inserts hold it, new requests that do
// not fit are refused at the front door as over budget, retryable, and
// the inserts give it back when they end, within write_timeout.

// keptBytes are request bytes an insert acknowledged from the WAL keeps
// charged to the in-flight budget until it ends.
type keptBytes struct {
	b *budget
	n int64
}

// keepHeld moves what ctx's request holds of the budget (its body, as the
// front door charged it) to the returned keptBytes, so that the charge
// outlives the request; without a hold in ctx it keeps nothing.
func keepHeld(ctx context.Context) keptBytes {
	h, ok := ctx.Value(holdKey{}).(*hold)
	if !ok || h == nil {
		return keptBytes{}
	}
	return keptBytes{b: h.b, n: h.detach()}
}

// release gives the kept bytes back to the budget.
func (k keptBytes) release() {
	if k.b != nil && k.n > 0 {
		k.b.release(k.n)
	}
}

// storedDirectFile lists the batch IDs of WAL records that their direct
// insert stored, 16 bytes each, appended.
const storedDirectFile = "stored-directly-ids"

// shadow is one WAL record's direct insert.
type shadow struct {
	done   chan struct{} // closed when the insert ended
	stored bool          // set before done is closed
}

// shadows are the WAL records acknowledged while their direct insert ran,
// until the replayer consumes them.
type shadows struct {
	mu      sync.Mutex
	byID    map[[16]byte]*shadow
	log     *dedupLog // storedDirectFile; nil without a WAL
	stored  int       // entries of byID that were stored
	running int       // entries of byID whose insert runs
	logger  *slog.Logger
	errs    int // failed appends to log; only the first is logged
}

func newShadows() *shadows {
	return &shadows{byID: map[[16]byte]*shadow{}, logger: slog.New(slog.DiscardHandler)}
}

// open loads the IDs in dir's storedDirectFile that are still in the WAL
// (pending), as stored, and keeps only those in the file.
func (s *shadows) open(dir string, pending [][16]byte, logger *slog.Logger) (int, error) {
	l, ids, err := openDedupLog(filepath.Join(dir, storedDirectFile), 1<<30)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", storedDirectFile, err)
	}
	inWAL := make(map[[16]byte]bool, len(pending))
	for _, id := range pending {
		inWAL[id] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log, s.logger = l, logger
	var keep [][16]byte
	for _, id := range ids {
		if !inWAL[id] || s.byID[id] != nil {
			continue
		}
		done := make(chan struct{})
		close(done)
		s.byID[id] = &shadow{done: done, stored: true}
		s.stored++
		keep = append(keep, id)
	}
	if len(keep) != len(ids) {
		if err := l.rewrite(keep); err != nil {
			return 0, errors.Join(err, l.f.Close())
		}
	}
	return len(keep), nil
}

// add registers id's direct insert as running, before its record is
// appended to the WAL. It returns false when id has an entry already or
// max inserts run already.
func (s *shadows) add(id [16]byte, max int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID[id] != nil || s.running >= max {
		return false
	}
	s.byID[id] = &shadow{done: make(chan struct{})}
	s.running++
	return true
}

// settle records the end of id's direct insert. When it stored the batch
// the ID is recorded on disk; otherwise the entry goes, and the record is
// an ordinary pending one that the replayer inserts.
func (s *shadows) settle(id [16]byte, stored bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byID[id]
	if e == nil {
		return
	}
	s.running--
	if stored {
		e.stored = true
		s.stored++
		if s.log != nil {
			err := s.log.append(id)
			if err == nil {
				err = s.log.f.Sync()
			}
			if err == nil && s.log.entries > 2*s.stored+1024 {
				err = s.log.rewrite(s.storedIDs())
			}
			if err != nil {
				s.errs++
				if s.errs == 1 {
					s.logger.Warn("cannot record on disk that a batch acknowledged from the WAL was stored directly; a restart before the WAL replays it would store it again",
						"file", s.log.path, "batch_id", fmt.Sprintf("%x", id), "err", err)
				}
			}
		}
	} else {
		delete(s.byID, id)
	}
	close(e.done)
}

// storedIDs returns the IDs of the stored entries; s.mu is held.
func (s *shadows) storedIDs() [][16]byte {
	ids := make([][16]byte, 0, s.stored)
	for id, e := range s.byID {
		if e.stored {
			ids = append(ids, id)
		}
	}
	return ids
}

// drop forgets id, whose record was consumed.
func (s *shadows) drop(id [16]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.byID[id]; e != nil && e.stored {
		s.stored--
		delete(s.byID, id)
	}
}

// abandon forgets id, whose record could not be appended.
func (s *shadows) abandon(id [16]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.byID[id]; e != nil && !e.stored {
		s.running--
		delete(s.byID, id)
		close(e.done)
	}
}

// count is the records shadowed now: running or stored, not consumed.
func (s *shadows) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

// has reports whether id's record is shadowed (its insert runs or stored it).
func (s *shadows) has(id [16]byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byID[id] != nil
}

// storedNow reports whether id's direct insert has stored its batch.
func (s *shadows) storedNow(id [16]byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byID[id]
	return e != nil && e.stored
}

// wait waits for id's direct insert, if any, and says whether it stored
// the batch; ok is false when stop was closed first.
func (s *shadows) wait(id [16]byte, stop <-chan struct{}) (stored, ok bool) {
	s.mu.Lock()
	e := s.byID[id]
	s.mu.Unlock()
	if e == nil {
		return false, true
	}
	select {
	case <-e.done:
	case <-stop:
		return false, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return e.stored, true
}

func (s *shadows) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log == nil {
		return nil
	}
	err := s.log.f.Close()
	s.log = nil
	return err
}
