package collector

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// retryDelay is how long a refused sender is asked to wait before it
// retries (gRPC RetryInfo, HTTP Retry-After).
const retryDelay = time.Second

// grpcStatus maps pipeline errors to gRPC statuses, in one place.
// InvalidArgument is permanent (the sender must not retry);
// ResourceExhausted and Unavailable are retryable and carry RetryInfo, as
// the OTLP specification asks: OpenTelemetry exporters treat a
// RESOURCE_EXHAUSTED without it as permanent and drop the data.
func grpcStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := grpcCode(err)
	if code == codes.ResourceExhausted || code == codes.Unavailable {
		return retryableStatus(code, err.Error())
	}
	return status.Error(code, err.Error())
}

// retryableStatus is a status error whose details say when to retry.
func retryableStatus(code codes.Code, msg string) error {
	st := status.New(code, msg)
	if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(retryDelay)}); err == nil {
		st = d
	}
	return st.Err()
}

// retryAfter returns the delay a status asks for in its RetryInfo.
func retryAfter(st *status.Status) (time.Duration, bool) {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}

// retryAfterHeader spells a delay as a Retry-After value: whole seconds,
// rounded up, at least 1.
func retryAfterHeader(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

func grpcCode(err error) codes.Code {
	switch {
	case errors.Is(err, errInvalidBatch), errors.Is(err, errTooManyItems), errors.Is(err, errBadPayload):
		return codes.InvalidArgument
	case errors.Is(err, errWALFull), errors.Is(err, errBusy), errors.Is(err, errOverBudget):
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
