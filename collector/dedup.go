package collector

import "sync"

// dedup remembers the IDs of the most recent stored batches so that a
// retry of a batch already stored is acknowledged without storing it again.
// It is in memory, seeded on start with the batch IDs still in the WAL: a
// retry after a restart of a batch that was written straight to ClickHouse
// is stored again.
type dedup struct {
	mu       sync.Mutex
	size     int
	ring     [][16]byte
	next     int
	stored   map[[16]byte]struct{}
	inflight map[[16]byte]struct{}
}

func newDedup(size int) *dedup {
	return &dedup{
		size:     size,
		stored:   make(map[[16]byte]struct{}, size),
		inflight: make(map[[16]byte]struct{}),
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
	if len(d.ring) < d.size {
		d.ring = append(d.ring, id)
	} else {
		delete(d.stored, d.ring[d.next])
		d.ring[d.next] = id
		d.next = (d.next + 1) % d.size
	}
	d.stored[id] = struct{}{}
}
