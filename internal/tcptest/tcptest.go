// Package tcptest serves and makes raw TCP connections in tests: a
// listener on the loopback whose every connection goes to the test's own
// handler, and a call of raw bytes, for fakes and clients that must see or
// write bytes net/http would not (a Runtime API's trailers, a reset
// without an answer, header names in any case).
package tcptest

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
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

// Call writes req on a new connection to addr and returns every byte that
// comes back until the connection is closed, within 20 seconds; a failure
// to connect, write or read ends the test.
func Call(t testing.TB, addr, req string) string {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatalf("write the call: %v", err)
	}
	b, err := io.ReadAll(nc)
	if err != nil {
		t.Fatalf("read the answer: %v (%q so far)", err, b)
	}
	return string(b)
}
