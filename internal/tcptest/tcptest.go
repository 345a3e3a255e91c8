// Package tcptest serves raw TCP connections in tests: a listener on the
// loopback whose every connection goes to the test's own handler, for fakes
// that must see or write bytes net/http would not (a Runtime API's
// trailers, a reset without an answer).
package tcptest

import (
	"net"
	"sync"
	"testing"
)

// Serve listens on a free loopback port and hands each connection to
// handle, on a goroutine of its own, until the test ends: the listener is
// closed then and every handler waited for. handle closes its connection.
func Serve(t testing.TB, handle func(net.Conn)) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on the loopback: %v", err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { handle(nc) })
		}
	})
	return ln
}
