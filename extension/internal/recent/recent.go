// Package recent remembers the last request IDs of one kind (the records
// built, the inferred spans made without an answer): a set of at most a
// fixed number, the oldest forgotten first, so that what comes of an
// invocation after it was settled is recognised without keeping every ID.
package recent

// IDs is a set of at most a fixed number of IDs, held in a ring of that
// size allocated once: adding one beyond the bound forgets the oldest.
// Adding an ID already held changes nothing (it keeps its place, the
// oldest stays the oldest). It is not safe for concurrent use.
type IDs struct {
	set  map[string]struct{}
	ring []string
	// next is the slot the next ID goes in: once the ring is full, the
	// oldest's.
	next int
	full bool
}

// New returns an empty set of at most n IDs (at least 1).
func New(n int) *IDs {
	return &IDs{set: map[string]struct{}{}, ring: make([]string, max(n, 1))}
}

// Add puts id in the set, forgetting the oldest when it holds its bound
// already; it reports whether id was added (false: it was held already).
func (r *IDs) Add(id string) bool {
	if _, ok := r.set[id]; ok {
		return false
	}
	if r.full {
		delete(r.set, r.ring[r.next])
	}
	r.ring[r.next] = id
	r.set[id] = struct{}{}
	if r.next++; r.next == len(r.ring) {
		r.next, r.full = 0, true
	}
	return true
}

// Has reports whether id is in the set.
func (r *IDs) Has(id string) bool {
	_, ok := r.set[id]
	return ok
}

// Len is the number of IDs held.
func (r *IDs) Len() int { return len(r.set) }

// Cap is the most IDs held at once.
func (r *IDs) Cap() int { return len(r.ring) }
