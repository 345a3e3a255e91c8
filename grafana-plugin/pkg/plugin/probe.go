package plugin

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"time"
)

// probeTLS opens one TLS connection to each address and reports the first
// that fails, so that the health check can name a TLS problem instead of
// the ClickHouse client's generic error.
func probeTLS(ctx context.Context, s *Settings) (addr string, err error) {
	cfg, err := s.TLSConfig()
	if err != nil {
		return "", err
	}
	for _, a := range s.Addresses {
		// An empty server name is each address's host, as when the store
		// connects.
		d := tls.Dialer{NetDialer: &net.Dialer{Timeout: time.Duration(s.DialTimeoutSeconds) * time.Second}, Config: cfg}
		c, err := d.DialContext(ctx, "tcp", a)
		if err != nil {
			return a, err
		}
		_ = c.Close()
	}
	return "", nil
}

// httpProbeTimeout bounds the question probeHTTP asks.
const httpProbeTimeout = 2 * time.Second

// probeHTTP reports whether addr answers a plain HTTP request, as
// ClickHouse's HTTP interface does and its native port does not. It is
// asked only after the native protocol failed, so that a working native
// port never sees it.
func probeHTTP(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, httpProbeTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	_ = c.SetDeadline(deadline)
	if _, err := c.Write([]byte("GET /ping HTTP/1.0\r\n\r\n")); err != nil {
		return false
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil {
		return false
	}
	return string(buf) == "HTTP/"
}

// httpPortError is the error for settings whose address is ClickHouse's
// HTTP port, or nil when no address answers HTTP.
func httpPortError(ctx context.Context, s *Settings) error {
	if s.TLS {
		return nil
	}
	for _, a := range s.Addresses {
		if probeHTTP(ctx, a) {
			return fmt.Errorf("%w: address %s is ClickHouse's HTTP port; give its native protocol port (tcp_port, usually 9000)", ErrInvalidSettings, a)
		}
	}
	return nil
}
