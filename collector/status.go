package collector

import (
	"errors"
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// grpcStatus maps pipeline errors to gRPC statuses, in one place.
// InvalidArgument is permanent (the sender must not retry);
// ResourceExhausted and Unavailable are retryable.
func grpcStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(grpcCode(err), err.Error())
}

func grpcCode(err error) codes.Code {
	switch {
	case errors.Is(err, errInvalidBatch), errors.Is(err, errTooManyItems):
		return codes.InvalidArgument
	case errors.Is(err, errWALFull), errors.Is(err, errBusy):
		return codes.ResourceExhausted
	default:
		return codes.Unavailable
	}
}

// httpStatus maps a gRPC code to the OTLP/HTTP status: 400 permanent,
// 429/503 retryable.
func httpStatus(c codes.Code) int {
	switch c {
	case codes.InvalidArgument:
		return http.StatusBadRequest
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	default:
		return http.StatusServiceUnavailable
	}
}
