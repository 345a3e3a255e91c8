//go:build !linux

package rtproxy

// waker wakes the goroutine making the Observer calls through the
// queue's channel (see wake_linux.go for why Linux does otherwise).
type waker struct{ q chan observation }

func newWaker(q chan observation) *waker { return &waker{q: q} }

// next returns the next observation, waiting for one; false once the
// queue is closed and empty.
func (w *waker) next() (observation, bool) {
	o, ok := <-w.q
	return o, ok
}

// signal does nothing: the channel wakes the goroutine.
func (w *waker) signal() {}

// closeQueue closes the queue.
func (w *waker) closeQueue() { close(w.q) }

// release does nothing.
func (w *waker) release() {}
