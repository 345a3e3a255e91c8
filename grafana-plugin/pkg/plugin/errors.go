package plugin

import (
	"context"
	"errors"
	"net"
	"syscall"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/lambdascope/lambdascope/query"
)

var (
	// ErrUnknownQueryType reports a query type this datasource does not
	// answer.
	ErrUnknownQueryType = errors.New("unknown query type")
	// ErrInvalidQuery reports a query whose JSON or fields cannot be run.
	ErrInvalidQuery = errors.New("invalid query")
)

// ClickHouse exception codes the health check explains.
const (
	chUnknownDatabase      int32 = 81
	chUnknownUser          int32 = 192
	chWrongPassword        int32 = 193
	chRequiredPassword     int32 = 194
	chIPAddressNotAllowed  int32 = 195
	chAuthenticationFailed int32 = 516
)

// isAuthError reports whether ClickHouse refused the credentials.
func isAuthError(err error) bool {
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) {
		return false
	}
	switch ex.Code {
	case chUnknownUser, chWrongPassword, chRequiredPassword, chIPAddressNotAllowed, chAuthenticationFailed:
		return true
	}
	return false
}

// isUnknownDatabase reports whether ClickHouse does not know the database.
func isUnknownDatabase(err error) bool {
	var ex *clickhouse.Exception
	return errors.As(err, &ex) && ex.Code == chUnknownDatabase
}

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

// errorResponse marks err's source for Grafana: user input and the
// database are downstream; anything else is the plugin's own failure.
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
	case isUnreachable(err), isAuthError(err), isClickHouseError(err):
		return backend.ErrorResponseWithErrorSource(backend.DownstreamError(err))
	default:
		return backend.ErrorResponseWithErrorSource(backend.PluginError(err))
	}
}

func isClickHouseError(err error) bool {
	var ex *clickhouse.Exception
	return errors.As(err, &ex)
}
