package chtest

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/lambdascope/lambdascope/internal/testca"
)

// NewTLSFront listens with TLS on a free loopback port, with a certificate
// for localhost and 127.0.0.1 signed by ca, and forwards what it receives
// in plain text to target: to a client it looks like ClickHouse's secure
// native port. It stops when the test ends. It returns its address.
func NewTLSFront(t testing.TB, ca testca.CA, target string) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{ca.ServerCert(t)}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("listen tls: %v", err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					t.Logf("tls front accept: %v", err)
				}
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				t.Logf("tls front dial %s: %v", target, err)
				_ = c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, up)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(up, c); _ = up.Close() }()
			go func() { defer wg.Done(); _, _ = io.Copy(c, up); _ = c.Close() }()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}
