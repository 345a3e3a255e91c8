package plugin

import (
	"context"
	"crypto/tls"
	"net"
	"time"
)

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
