package recent

import (
	"fmt"
	"testing"
)

// held lists which of ids r holds.
func held(r *IDs, ids ...string) []string {
	var out []string
	for _, id := range ids {
		if r.Has(id) {
			out = append(out, id)
		}
	}
	return out
}

func TestIDsEvictOldestFirst(t *testing.T) {
	r := New(3)
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		if !r.Add(id) {
			t.Fatalf("Add(%q) = false on a new ID", id)
		}
	}
	if got := fmt.Sprint(held(r, "a", "b", "c", "d", "e")); got != "[c d e]" {
		t.Errorf("held %s, want [c d e]", got)
	}
	if r.Len() != 3 {
		t.Errorf("Len %d, want 3", r.Len())
	}
	r.Add("f")
	if got := fmt.Sprint(held(r, "c", "d", "e", "f")); got != "[d e f]" {
		t.Errorf("after f: held %s, want [d e f]", got)
	}
}

func TestIDsReAdd(t *testing.T) {
	t.Run("held keeps its place", func(t *testing.T) {
		r := New(3)
		r.Add("a")
		r.Add("b")
		r.Add("c")
		if r.Add("a") {
			t.Error("Add(a) again = true, want false")
		}
		// a is still the oldest: d forgets it, not b.
		r.Add("d")
		if got := fmt.Sprint(held(r, "a", "b", "c", "d")); got != "[b c d]" {
			t.Errorf("held %s, want [b c d]", got)
		}
		if r.Len() != 3 {
			t.Errorf("Len %d, want 3", r.Len())
		}
	})
	t.Run("forgotten comes back as the newest", func(t *testing.T) {
		r := New(2)
		r.Add("a")
		r.Add("b")
		r.Add("c") // forgets a
		if !r.Add("a") {
			t.Fatal("Add(a) after it was forgotten = false, want true")
		}
		if got := fmt.Sprint(held(r, "a", "b", "c")); got != "[a c]" {
			t.Errorf("held %s, want [a c]", got)
		}
		r.Add("d") // forgets c, the oldest now
		if got := fmt.Sprint(held(r, "a", "c", "d")); got != "[a d]" {
			t.Errorf("held %s, want [a d]", got)
		}
	})
}

func TestIDsBound(t *testing.T) {
	for _, n := range []int{-1, 0, 1, 7, 256} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			r := New(n)
			bound := max(n, 1)
			if r.Cap() != bound {
				t.Fatalf("Cap %d, want %d", r.Cap(), bound)
			}
			const total = 1000
			for i := range total {
				r.Add(fmt.Sprint(i))
				if want := min(i+1, bound); r.Len() != want {
					t.Fatalf("after %d adds: Len %d, want %d", i+1, r.Len(), want)
				}
				if len(r.ring) != bound || cap(r.ring) != bound {
					t.Fatalf("after %d adds: the ring holds %d of %d, want %d", i+1, len(r.ring), cap(r.ring), bound)
				}
			}
			// The last bound added are held, none before them.
			for i := range total {
				if want := i >= total-bound; r.Has(fmt.Sprint(i)) != want {
					t.Errorf("Has(%d) = %v, want %v", i, !want, want)
				}
			}
		})
	}
}

func TestIDsAddAllocatesNothing(t *testing.T) {
	r := New(4)
	ids := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	for _, id := range ids {
		r.Add(id)
	}
	// Once full, an add replaces one entry of the map and one slot of the
	// ring: the ring is never re-sliced or grown.
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		r.Add(ids[i%len(ids)])
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocations per Add on a full set, want 0", allocs)
	}
}
