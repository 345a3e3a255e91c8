package collector

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// The quarantine keeps batches ClickHouse refused for good, so that the
// batches behind them are stored: data_dir/quarantine/batches.seg holds them
// as WAL records (length, CRC-32C, batch ID, payload: the batch as an
// Ingest API ExportRequest in protobuf), fsynced, and reasons.log one line
// per batch (time, batch ID, offset in batches.seg, the reason). The file
// is capped at quarantine.max_bytes; a batch that does not fit is not
// quarantined (the caller keeps it).

const (
	quarantineFile   = "batches.seg"
	quarantineReason = "reasons.log"
)

// errQuarantineFull reports that a batch would take the quarantine over its
// cap.
var errQuarantineFull = errors.New("quarantine is full")

type quarantine struct {
	dir      string
	maxBytes int64

	mu    sync.Mutex
	f     *os.File // opened on the first batch
	size  int64
	count int // batches set aside since start
	full  bool
}

func newQuarantine(dir string, maxBytes int64) *quarantine {
	return &quarantine{dir: dir, maxBytes: maxBytes}
}

// put appends one batch and its reason, fsynced, and returns the file it
// is in.
func (q *quarantine) put(id [16]byte, payload []byte, reason string) (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	path := filepath.Join(q.dir, quarantineFile)
	if q.f == nil {
		if err := os.MkdirAll(q.dir, 0o750); err != nil {
			return path, fmt.Errorf("create quarantine directory: %w", err)
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return path, fmt.Errorf("open quarantine: %w", err)
		}
		st, err := f.Stat()
		if err != nil {
			_ = f.Close()
			return path, fmt.Errorf("open quarantine: %w", err)
		}
		q.f, q.size = f, st.Size()
	}
	size := int64(walHeader + len(payload))
	if q.size+size > q.maxBytes {
		q.full = true
		return path, errQuarantineFull
	}
	buf := make([]byte, walHeader, size)
	binary.LittleEndian.PutUint32(buf[0:], uint32(len(payload)))
	copy(buf[8:], id[:])
	binary.LittleEndian.PutUint32(buf[4:], crc32.Update(crc32.Checksum(buf[8:walHeader], crcTable), crcTable, payload))
	buf = append(buf, payload...)
	if _, err := q.f.Write(buf); err != nil {
		_ = q.f.Truncate(q.size)
		return path, fmt.Errorf("append to quarantine: %w", err)
	}
	if err := q.f.Sync(); err != nil {
		return path, fmt.Errorf("fsync quarantine: %w", err)
	}
	line := fmt.Sprintf("%s batch_id=%x offset=%d bytes=%d reason=%q\n", time.Now().UTC().Format(time.RFC3339Nano), id, q.size, size, reason)
	// A failure here loses only the reason, which the caller's log line
	// also gives; the batch is kept.
	_ = appendLine(filepath.Join(q.dir, quarantineReason), line)
	q.size += size
	q.count++
	return path, nil
}

// isFull reports whether a batch did not fit since the last one that did.
func (q *quarantine) isFull() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.full
}

func (q *quarantine) close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.f == nil {
		return nil
	}
	err := q.f.Close()
	q.f = nil
	if err != nil {
		return fmt.Errorf("close quarantine: %w", err)
	}
	return nil
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line)
	return errors.Join(err, f.Close())
}

// QuarantinedBatches is how many batches ClickHouse refused were set aside
// in data_dir/quarantine since Start.
func (s *Server) QuarantinedBatches() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pipe == nil {
		return 0
	}
	return s.pipe.quarantined.Load()
}
