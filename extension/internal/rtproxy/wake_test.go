package rtproxy

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestWakerLosesNoWakeUp hands observations to a goroutine waiting for
// them one at a time, from several goroutines, each waiting for its
// observation to be taken before it queues the next: the waiting
// goroutine is woken for almost every one, and a wake-up lost (an
// observation queued as it began to wait) stalls the exchange. Then the
// queue is closed, with and without observations left in it.
func TestWakerLosesNoWakeUp(t *testing.T) {
	for _, tt := range []struct{ procs, left int }{{2, 0}, {2, 3}, {1, 0}, {1, 3}} {
		withProcs(t, tt.procs)
		left := tt.left
		q := make(chan observation, queuedObservations)
		w := newWaker(q)
		taken := make(chan int64, queuedObservations)
		done := make(chan int)
		go func() {
			defer w.release()
			n := 0
			for {
				o, ok := w.next()
				if !ok {
					done <- n
					return
				}
				n++
				if o.end.Size >= 0 {
					taken <- o.end.Size
				}
			}
		}()
		const senders, each = 4, 2000
		var mu sync.Mutex // one exchange at a time: the goroutine waits before each
		var wg sync.WaitGroup
		for s := range senders {
			wg.Go(func() {
				for i := range each {
					mu.Lock()
					id := int64(s*each + i)
					q <- observation{end: End{Size: id}}
					w.signal()
					select {
					case got := <-taken:
						if got != id {
							t.Errorf("took observation %d, want %d", got, id)
						}
					case <-time.After(5 * time.Second):
						t.Errorf("observation %d (of %d) was not taken within 5 s: a wake-up was lost", i, id)
					}
					mu.Unlock()
					if t.Failed() {
						return
					}
				}
			})
		}
		wg.Wait()
		for range left {
			q <- observation{end: End{Size: -1}}
			w.signal()
		}
		w.closeQueue()
		select {
		case n := <-done:
			if want := senders*each + left; n != want {
				t.Errorf("%d observations taken, want %d", n, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the waiting goroutine did not return within 5 s of the queue's closing")
		}
	}
}

// withProcs sets GOMAXPROCS to n, until the test ends (the waker looks at
// it before each wait).
func withProcs(t *testing.T, n int) {
	t.Helper()
	prev := runtime.GOMAXPROCS(n)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
}
