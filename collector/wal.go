package collector

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The write-ahead log is a persistent FIFO queue of batches in segment files
// under one directory. Each segment is named by the global byte offset of
// its first record (20 decimal digits, ".seg"); a record never spans two
// segments. A record is
//
//	length uint32 | crc32c(batch id + payload) uint32 | batch id [16]byte | payload
//
// The reader's position is a global offset kept in the file "reader",
// replaced atomically (write, fsync, rename). Segments wholly before it are
// deleted. On open, a torn record at the end (a crash during append) is cut
// off; every record behind the reader is counted and its batch ID returned so
// that retries of those batches are recognised after a restart.

const (
	walHeader     = 4 + 4 + 16
	walSegSuffix  = ".seg"
	walReaderFile = "reader"
)

var (
	// errWALFull reports that an append would take the WAL over MaxBytes.
	errWALFull = errors.New("write-ahead log is full")
	crcTable   = crc32.MakeTable(crc32.Castagnoli)
)

// walRecord is one batch read back from the WAL.
type walRecord struct {
	id      [16]byte
	payload []byte
	// next is the global offset just after the record.
	next int64
}

type wal struct {
	dir      string
	maxBytes int64
	segBytes int64

	mu      sync.Mutex
	segs    []int64 // start offsets, ascending; the last one is being written
	w       *os.File
	wOff    int64 // global offset of the end of the log
	rOff    int64 // global offset of the first pending record
	pending int   // records behind the reader
	closed  bool
}

// openWAL opens or creates the WAL in dir and returns the batch IDs of the
// records not yet consumed.
func openWAL(dir string, maxBytes, segBytes int64) (*wal, [][16]byte, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, nil, fmt.Errorf("create WAL directory: %w", err)
	}
	w := &wal{dir: dir, maxBytes: maxBytes, segBytes: segBytes}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("list WAL directory: %w", err)
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), walSegSuffix)
		if !ok {
			continue
		}
		off, err := strconv.ParseInt(name, 10, 64)
		if err != nil {
			continue
		}
		w.segs = append(w.segs, off)
	}
	slices.Sort(w.segs)
	if b, err := os.ReadFile(filepath.Join(dir, walReaderFile)); err == nil && len(b) == 8 {
		w.rOff = int64(binary.LittleEndian.Uint64(b))
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("read WAL reader position: %w", err)
	}
	if len(w.segs) == 0 {
		w.segs = []int64{w.rOff}
	}
	if w.rOff < w.segs[0] {
		w.rOff = w.segs[0]
	}
	// Scan every segment that holds pending records; cut a torn tail.
	var ids [][16]byte
	for i, start := range w.segs {
		end, segIDs, err := w.scanSegment(start, i == len(w.segs)-1)
		if err != nil {
			return nil, nil, err
		}
		w.wOff = end
		for _, r := range segIDs {
			if r.next > w.rOff {
				ids = append(ids, r.id)
			}
		}
	}
	w.pending = len(ids)
	if w.rOff > w.wOff {
		w.rOff = w.wOff
	}
	last := w.segs[len(w.segs)-1]
	f, err := os.OpenFile(w.segPath(last), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, nil, fmt.Errorf("open WAL segment: %w", err)
	}
	w.w = f
	return w, ids, nil
}

func (w *wal) segPath(start int64) string {
	return filepath.Join(w.dir, fmt.Sprintf("%020d%s", start, walSegSuffix))
}

// scanSegment reads the IDs of every whole record of a segment. In the last
// segment a torn or corrupt tail is truncated; elsewhere it is an error.
func (w *wal) scanSegment(start int64, last bool) (int64, []walRecord, error) {
	f, err := os.OpenFile(w.segPath(start), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return 0, nil, fmt.Errorf("open WAL segment: %w", err)
	}
	defer f.Close()
	var recs []walRecord
	var off int64
	var hdr [walHeader]byte
	for {
		payload, err := readRecord(f, hdr[:], off)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if !last {
				return 0, nil, fmt.Errorf("WAL segment %d at %d: %w", start, off, err)
			}
			if err := f.Truncate(off); err != nil {
				return 0, nil, fmt.Errorf("truncate torn WAL tail: %w", err)
			}
			break
		}
		r := walRecord{next: start + off + walHeader + int64(len(payload))}
		copy(r.id[:], hdr[8:])
		recs = append(recs, r)
		off += walHeader + int64(len(payload))
	}
	return start + off, recs, nil
}

// readRecord reads and checks the record at off; io.EOF means a clean end.
func readRecord(f *os.File, hdr []byte, off int64) ([]byte, error) {
	n, err := f.ReadAt(hdr, off)
	if n == 0 && errors.Is(err, io.EOF) {
		return nil, io.EOF
	}
	if n < walHeader {
		return nil, errors.New("torn record header")
	}
	size := binary.LittleEndian.Uint32(hdr[0:])
	if size > 1<<30 {
		return nil, errors.New("record length out of range")
	}
	payload := make([]byte, size)
	if m, _ := f.ReadAt(payload, off+walHeader); m < int(size) {
		return nil, errors.New("torn record")
	}
	sum := crc32.Update(crc32.Checksum(hdr[8:], crcTable), crcTable, payload)
	if sum != binary.LittleEndian.Uint32(hdr[4:]) {
		return nil, errors.New("record checksum mismatch")
	}
	return payload, nil
}

// append writes records and fsyncs them; it fails with errWALFull, writing
// nothing, when they do not fit.
func (w *wal) append(recs []walRecord) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("write-ahead log is closed")
	}
	var size int64
	for _, r := range recs {
		size += walHeader + int64(len(r.payload))
	}
	if w.wOff-w.rOff+size > w.maxBytes {
		return errWALFull
	}
	buf := make([]byte, 0, size)
	for _, r := range recs {
		var hdr [walHeader]byte
		binary.LittleEndian.PutUint32(hdr[0:], uint32(len(r.payload)))
		copy(hdr[8:], r.id[:])
		binary.LittleEndian.PutUint32(hdr[4:], crc32.Update(crc32.Checksum(hdr[8:], crcTable), crcTable, r.payload))
		buf = append(buf, hdr[:]...)
		buf = append(buf, r.payload...)
	}
	if w.wOff-w.segs[len(w.segs)-1] >= w.segBytes {
		if err := w.roll(); err != nil {
			return err
		}
	}
	if _, err := w.w.Write(buf); err != nil {
		// Cut what was partly written so that the log stays well formed.
		_ = w.w.Truncate(w.wOff - w.segs[len(w.segs)-1])
		return fmt.Errorf("append to WAL: %w", err)
	}
	if err := w.w.Sync(); err != nil {
		return fmt.Errorf("fsync WAL: %w", err)
	}
	w.wOff += size
	w.pending += len(recs)
	return nil
}

func (w *wal) roll() error {
	f, err := os.OpenFile(w.segPath(w.wOff), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("create WAL segment: %w", err)
	}
	if err := syncDir(w.dir); err != nil {
		_ = f.Close()
		return err
	}
	_ = w.w.Close()
	w.w = f
	w.segs = append(w.segs, w.wOff)
	return nil
}

// peek returns pending records from the reader on, at most maxRecords and
// about maxBytes, without consuming them.
func (w *wal) peek(maxRecords int, maxBytes int64) ([]walRecord, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []walRecord
	var total int64
	off := w.rOff
	var hdr [walHeader]byte
	for off < w.wOff && len(out) < maxRecords && total < maxBytes {
		i, _ := slices.BinarySearch(w.segs, off+1)
		seg := w.segs[i-1]
		f, err := os.Open(w.segPath(seg))
		if err != nil {
			return out, fmt.Errorf("open WAL segment: %w", err)
		}
		for off < w.wOff && len(out) < maxRecords && total < maxBytes {
			payload, err := readRecord(f, hdr[:], off-seg)
			if errors.Is(err, io.EOF) {
				// End of this segment: go on with the next one.
				if i == len(w.segs) {
					_ = f.Close()
					return out, nil
				}
				off = w.segs[i]
				break
			}
			if err != nil {
				_ = f.Close()
				return out, fmt.Errorf("read WAL at %d: %w", off, err)
			}
			r := walRecord{payload: payload, next: off + walHeader + int64(len(payload))}
			copy(r.id[:], hdr[8:])
			out = append(out, r)
			total += int64(len(payload))
			off = r.next
		}
		_ = f.Close()
	}
	return out, nil
}

// consume moves the reader to next (the next of the last record stored),
// persists it and removes segments wholly before it.
func (w *wal) consume(next int64, records int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(next))
	tmp := filepath.Join(w.dir, walReaderFile+".tmp")
	if err := writeFileSync(tmp, b[:]); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(w.dir, walReaderFile)); err != nil {
		return fmt.Errorf("persist WAL reader position: %w", err)
	}
	if err := syncDir(w.dir); err != nil {
		return err
	}
	w.rOff = next
	w.pending -= records
	for len(w.segs) > 1 && w.segs[1] <= w.rOff {
		if err := os.Remove(w.segPath(w.segs[0])); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove consumed WAL segment: %w", err)
		}
		w.segs = w.segs[1:]
	}
	return nil
}

// depth returns the pending records and bytes.
func (w *wal) depth() (records int, bytes int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pending, w.wOff - w.rOff
}

// full reports whether less than one more MiB fits.
func (w *wal) full() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.wOff-w.rOff > w.maxBytes-(1<<20)
}

func (w *wal) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if err := w.w.Close(); err != nil {
		return fmt.Errorf("close WAL: %w", err)
	}
	return nil
}

func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open WAL directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync WAL directory: %w", err)
	}
	return nil
}
