package rtproxy

import (
	"sync"
	"testing"
	"time"
)

// TestWakerSignalBeforeTheWait queues an observation and signals it just
// as the goroutine begins to wait on the eventfd (with two processors),
// after it looked at the queue, and lets the poller take the signal's
// readiness before the wait starts (the wait forgets it): the goroutine
// must still take the observation.
func TestWakerSignalBeforeTheWait(t *testing.T) {
	withProcs(t, 2)
	q := make(chan observation, queuedObservations)
	w := newWaker(q)
	if w.f == nil {
		t.Skip("no eventfd: the channel wakes the goroutine")
	}
	var once sync.Once
	w.beforeWait = func() {
		once.Do(func() {
			q <- observation{end: End{Size: 1}}
			w.signal()
			// This goroutine sleeps: its thread polls and takes the
			// eventfd's readiness meanwhile.
			time.Sleep(20 * time.Millisecond)
		})
	}
	got := make(chan int64, 1)
	go func() {
		defer w.release()
		o, ok := w.next()
		if ok {
			got <- o.end.Size
		}
		for ok {
			_, ok = w.next()
		}
	}()
	select {
	case n := <-got:
		if n != 1 {
			t.Errorf("took observation %d, want 1", n)
		}
	case <-time.After(5 * time.Second):
		t.Error("the observation queued as the wait began was not taken within 5 s")
	}
	w.closeQueue()
}
