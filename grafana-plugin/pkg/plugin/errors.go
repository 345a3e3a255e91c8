package plugin

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"syscall"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/lambdascope/lambdascope/query"
	"github.com/lambdascope/lambdascope/storage"
)

var (
	// ErrUnknownQueryType reports a query type this datasource does not
	// answer.
	ErrUnknownQueryType = errors.New("unknown query type")
	// ErrInvalidQuery reports a query whose JSON or fields cannot be run.
	ErrInvalidQuery = errors.New("invalid query")
	// ErrInvalidSettings reports datasource settings that cannot be used:
	// the user's to fix in the datasource's configuration.
	ErrInvalidSettings = errors.New("datasource settings")
)

// isUnreachable reports whether the server could not be reached at all.
func isUnreachable(err error) bool {
	var netErr net.Error
	var opErr *net.OpError
	return errors.As(err, &opErr) || errors.As(err, &netErr) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, context.DeadlineExceeded)
}

// isUserError reports errors caused by what the user typed: they are the
// user's to fix, not the plugin's.
func isUserError(err error) bool {
	return errors.Is(err, ErrUnknownQueryType) || errors.Is(err, ErrInvalidQuery) ||
		errors.Is(err, query.ErrInvalidTraceID) || errors.Is(err, query.ErrInvalidFilter) ||
		errors.Is(err, query.ErrTraceNotFound)
}

// isDownstream reports errors that are not the plugin's failures: user
// input, the datasource's settings, a query Grafana cancelled, and the
// database.
func isDownstream(err error) bool {
	return isUserError(err) || errors.Is(err, ErrInvalidSettings) || errors.Is(err, context.Canceled) ||
		isUnreachable(err) || storage.IsServerError(err)
}

// errorResponse marks err's source for Grafana: user input, the settings,
// a cancelled query and the database are downstream; anything else is the
// plugin's own failure.
func errorResponse(err error) backend.DataResponse {
	switch {
	case errors.Is(err, query.ErrTraceNotFound):
		r := backend.ErrorResponseWithErrorSource(backend.DownstreamError(err))
		r.Status = backend.StatusNotFound
		return r
	case isUserError(err):
		r := backend.ErrorResponseWithErrorSource(backend.DownstreamError(err))
		r.Status = backend.StatusBadRequest
		return r
	case isDownstream(err):
		return backend.ErrorResponseWithErrorSource(backend.DownstreamError(err))
	default:
		return backend.ErrorResponseWithErrorSource(backend.PluginError(err))
	}
}

// describeTLSError says what went wrong in a TLS connection to addr, and
// what to change.
func describeTLSError(err error, addr string, s *Settings) string {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
		alert    tls.AlertError
	)
	trust := "the system's certificate authorities"
	if s.TLSCACert != "" {
		trust = "the CA certificate in the settings"
	}
	switch {
	case errors.As(err, &unknown):
		return fmt.Sprintf("The TLS certificate of ClickHouse at %s is not signed by %s: add the CA that signed it (TLS CA certificate) or check the address", addr, trust)
	case errors.As(err, &hostname):
		return fmt.Sprintf("The TLS certificate of ClickHouse at %s is not valid for %q: set the TLS server name to a name the certificate holds (%s)",
			addr, hostname.Host, strings.Join(certNames(hostname.Certificate), ", "))
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return fmt.Sprintf("The TLS certificate of ClickHouse at %s has expired or is not valid yet: %v", addr, invalid)
	case errors.As(err, &invalid):
		return fmt.Sprintf("The TLS certificate of ClickHouse at %s is not valid: %v", addr, invalid)
	case errors.As(err, &record):
		return fmt.Sprintf("ClickHouse at %s does not speak TLS on that port: turn TLS off, or use its secure native port (tcp_port_secure, usually 9440)", addr)
	case errors.As(err, &alert):
		return fmt.Sprintf("ClickHouse at %s refused the TLS handshake (%v): check that its TLS settings accept this client", addr, alert)
	case isUnreachable(err):
		return fmt.Sprintf("ClickHouse at %s is unreachable: %v", addr, err)
	default:
		return fmt.Sprintf("The TLS connection to ClickHouse at %s failed: %v", addr, err)
	}
}

// certNames are the names a certificate is valid for.
func certNames(c *x509.Certificate) []string {
	if c == nil {
		return nil
	}
	names := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 && c.Subject.CommonName != "" {
		names = append(names, c.Subject.CommonName)
	}
	return names
}
