package query

import "errors"

var (
	// ErrTraceNotFound reports that no span of the requested trace is stored.
	ErrTraceNotFound = errors.New("trace not found")
	// ErrInvalidTraceID reports a trace ID that is neither 32 hex digits nor
	// an X-Ray trace ID.
	ErrInvalidTraceID = errors.New("invalid trace ID")
	// ErrInvalidFilter reports a filter or query that cannot be run.
	ErrInvalidFilter = errors.New("invalid filter")
)
