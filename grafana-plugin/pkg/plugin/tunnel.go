package plugin

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// tlsTunnel takes plain connections on a loopback port and forwards each
// over TLS to one ClickHouse address. It lets the connection verify the
// server with the datasource's CA certificate, which the ClickHouse client
// cannot take in a DSN: the client connects to the tunnel in plain text on
// the loopback interface. Other processes on the host can reach that port
// too, but what they reach is ClickHouse, which still asks for
// credentials; the tunnel holds none.
type tlsTunnel struct {
	ln      net.Listener
	target  string
	cfg     *tls.Config
	timeout time.Duration
	logger  *slog.Logger
	// ctx ends when the tunnel closes, ending dials in progress.
	ctx  context.Context
	stop context.CancelFunc

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// startTLSTunnel listens on a free loopback port and serves until Close.
func startTLSTunnel(target string, cfg *tls.Config, timeout time.Duration, logger *slog.Logger) (*tlsTunnel, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for tls tunnel to %s: %w", target, err)
	}
	t := &tlsTunnel{ln: ln, target: target, cfg: cfg, timeout: timeout, logger: logger, conns: map[net.Conn]struct{}{}}
	t.ctx, t.stop = context.WithCancel(context.Background())
	t.wg.Add(1)
	go t.serve()
	return t, nil
}

// Addr is the tunnel's loopback host:port.
func (t *tlsTunnel) Addr() string { return t.ln.Addr().String() }

func (t *tlsTunnel) serve() {
	defer t.wg.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				t.logger.Warn("tls tunnel accept", "target", t.target, "error", err)
			}
			return
		}
		if !t.track(c) {
			_ = c.Close()
			return
		}
		t.wg.Add(1)
		go t.forward(c)
	}
}

// track records an open connection so that Close can end it; it reports
// false once the tunnel is closed.
func (t *tlsTunnel) track(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.conns[c] = struct{}{}
	return true
}

func (t *tlsTunnel) untrack(cs ...net.Conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range cs {
		delete(t.conns, c)
		_ = c.Close()
	}
}

func (t *tlsTunnel) forward(plain net.Conn) {
	defer t.wg.Done()
	ctx, cancel := context.WithTimeout(t.ctx, t.timeout)
	defer cancel()
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: t.timeout}, Config: t.cfg}
	up, err := d.DialContext(ctx, "tcp", t.target)
	if err != nil {
		t.logger.Warn("tls tunnel to clickhouse", "target", t.target, "error", err)
		t.untrack(plain)
		return
	}
	if !t.track(up) {
		t.untrack(plain, up)
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(up, plain)
	go pipe(plain, up)
	<-done
	// One side ended: end both, which ends the other copy.
	t.untrack(plain, up)
	<-done
}

// Close stops listening, ends the open connections and waits for the
// tunnel's goroutines. It is safe to call more than once.
func (t *tlsTunnel) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.stop()
	for c := range t.conns {
		_ = c.Close()
	}
	t.mu.Unlock()
	err := t.ln.Close()
	t.wg.Wait()
	return err
}

// probeTLS opens one TLS connection to each address and reports the first
// that fails, so that the health check can name a TLS problem instead of
// the ClickHouse client's generic error.
func probeTLS(ctx context.Context, s *Settings) (addr string, err error) {
	for _, a := range s.Addresses {
		d := tls.Dialer{NetDialer: &net.Dialer{Timeout: time.Duration(s.DialTimeoutSeconds) * time.Second}, Config: s.TLSConfig(a)}
		c, err := d.DialContext(ctx, "tcp", a)
		if err != nil {
			return a, err
		}
		_ = c.Close()
	}
	return "", nil
}
