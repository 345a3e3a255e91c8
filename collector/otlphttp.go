package collector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/internal/otlphttp"
)

const (
	contentProtobuf = otlphttp.ContentProtobuf
	contentJSON     = otlphttp.ContentJSON
)

// errBadPayload marks a body that cannot be read or decoded; it is the
// shared OTLP/HTTP reader's error, so the reader's errors need no
// translation.
var errBadPayload = otlphttp.ErrBadBody

// otlpHTTP serves OTLP/HTTP: POST /v1/traces, /v1/logs, /v1/metrics with
// protobuf or JSON bodies, optionally gzip-compressed.
type otlpHTTP struct {
	s        *ingestService
	front    *front
	maxBytes int
}

func (h *otlpHTTP) routes(mux *http.ServeMux) {
	mux.HandleFunc("/v1/traces", func(w http.ResponseWriter, r *http.Request) {
		h.serve(w, r, &coltracepb.ExportTraceServiceRequest{}, func(ctx context.Context, m proto.Message) (proto.Message, error) {
			return otlpTraces{s: h.s}.Export(ctx, m.(*coltracepb.ExportTraceServiceRequest))
		})
	})
	mux.HandleFunc("/v1/logs", func(w http.ResponseWriter, r *http.Request) {
		h.serve(w, r, &collogspb.ExportLogsServiceRequest{}, func(ctx context.Context, m proto.Message) (proto.Message, error) {
			return otlpLogs{s: h.s}.Export(ctx, m.(*collogspb.ExportLogsServiceRequest))
		})
	})
	mux.HandleFunc("/v1/metrics", func(w http.ResponseWriter, r *http.Request) {
		h.serve(w, r, &colmetricspb.ExportMetricsServiceRequest{}, func(ctx context.Context, m proto.Message) (proto.Message, error) {
			return otlpMetrics{s: h.s}.Export(ctx, m.(*colmetricspb.ExportMetricsServiceRequest))
		})
	})
}

// mediaType returns the OTLP content type a Content-Type header names, or
// false for any other type.
func mediaType(header string) (string, bool) {
	enc := otlphttp.ParseContentType(header)
	return enc.ContentType(), enc != otlphttp.EncodingUnknown
}

func (h *otlpHTTP) serve(w http.ResponseWriter, r *http.Request, in proto.Message, export func(context.Context, proto.Message) (proto.Message, error)) {
	ct, known := mediaType(r.Header.Get("Content-Type"))
	respCT := ct
	if !known {
		respCT = contentProtobuf
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeHTTPError(w, respCT, http.StatusMethodNotAllowed, codes.InvalidArgument, "only POST is allowed")
		return
	}
	// The key is checked before a byte of the body is read. An answer
	// given before the body is read closes the connection, so that the
	// server does not read the body to reuse it either.
	if err := h.front.keys.checkValues(r.Header.Values("Authorization")); err != nil {
		h.front.refuse("unauthenticated", "via", "OTLP/HTTP", "path", r.URL.Path)
		w.Header().Set("Connection", "close")
		writeHTTPError(w, respCT, http.StatusUnauthorized, codes.Unauthenticated, status.Convert(err).Message())
		return
	}
	if !known {
		h.front.refuse("unsupported_media_type", "via", "OTLP/HTTP", "content_type", r.Header.Get("Content-Type"))
		w.Header().Set("Connection", "close")
		writeHTTPError(w, respCT, http.StatusUnsupportedMediaType, codes.InvalidArgument,
			fmt.Sprintf("Content-Type %q is not supported: send %s or %s", r.Header.Get("Content-Type"), contentProtobuf, contentJSON))
		return
	}
	hold := h.front.budget.newHold()
	defer hold.release()
	body, err := readBody(r, h.maxBytes, func(src io.Reader) io.Reader {
		return &budgetReader{r: src, h: hold, read: &h.front.httpRead, count: h.front.bytesRead.WithLabelValues("http")}
	})
	if err != nil {
		w.Header().Set("Connection", "close")
		var ne net.Error
		switch {
		case errors.Is(err, errOverBudget):
			h.front.refuse("over_budget", "via", "OTLP/HTTP", "max_inflight_bytes", h.front.budget.limit)
			w.Header().Set("Retry-After", retryAfterHeader(retryDelay))
			writeHTTPError(w, ct, http.StatusTooManyRequests, codes.ResourceExhausted, errOverBudget.Error())
		case errors.As(err, &ne) && ne.Timeout():
			h.front.refuse("read_timeout", "via", "OTLP/HTTP", "path", r.URL.Path, "http_limits.read_timeout", h.front.readTimeout)
			writeHTTPError(w, ct, http.StatusRequestTimeout, codes.InvalidArgument, "the body was not sent within http_limits.read_timeout")
		case errors.Is(err, errTooLarge):
			h.s.p.m.batches.WithLabelValues("rejected").Inc()
			writeHTTPError(w, ct, http.StatusRequestEntityTooLarge, codes.InvalidArgument, err.Error())
		default:
			h.s.p.m.batches.WithLabelValues("rejected").Inc()
			writeHTTPError(w, ct, http.StatusBadRequest, codes.InvalidArgument, err.Error())
		}
		return
	}
	rejected, err := decodeOTLP(body, ct, in)
	if err != nil {
		h.s.p.m.batches.WithLabelValues("rejected").Inc()
		h.front.refuse("undecodable", "via", "OTLP/HTTP", "path", r.URL.Path, "err", err)
		writeHTTPError(w, ct, http.StatusBadRequest, codes.InvalidArgument, err.Error())
		return
	}
	// The hold goes with the request: a batch acknowledged from the WAL
	// keeps its charge until its insert ends (keepHeld).
	ctx := withDecodeRejected(context.WithValue(context.WithValue(r.Context(), viaKey{}, "OTLP/HTTP"), holdKey{}, hold), rejected)
	out, err := export(ctx, in)
	if err != nil {
		st := status.Convert(err)
		if d, ok := retryAfter(st); ok {
			w.Header().Set("Retry-After", retryAfterHeader(d))
		}
		writeHTTPError(w, ct, httpStatus(st.Code()), st.Code(), st.Message())
		return
	}
	writeMessage(w, ct, http.StatusOK, out)
}

var errTooLarge = errors.New("request body too large")

// readBody reads at most maxBytes of decompressed body, through charge
// (which counts the decompressed bytes against the in-flight budget), with
// the reader the extension shares (internal/otlphttp). Content-Encoding is
// case-insensitive.
func readBody(r *http.Request, maxBytes int, charge func(io.Reader) io.Reader) ([]byte, error) {
	var buf bytes.Buffer
	enc := r.Header.Get("Content-Encoding")
	err := otlphttp.ReadBodyThrough(&buf, http.MaxBytesReader(nil, r.Body, int64(maxBytes)+1), enc, maxBytes, charge)
	switch {
	case err == nil:
		return buf.Bytes(), nil
	case errors.Is(err, otlphttp.ErrTooLarge):
		return nil, fmt.Errorf("%w: more than %d bytes (max_message_bytes)", errTooLarge, maxBytes)
	case errors.Is(err, otlphttp.ErrUnsupportedEncoding):
		return nil, fmt.Errorf("%w: Content-Encoding %q is not supported (use gzip)", errBadPayload, strings.ToLower(strings.TrimSpace(enc)))
	}
	return nil, err
}

// decodeOTLP decodes a protobuf or OTLP JSON body; JSON is decoded by the
// decoder the extension shares (internal/otlphttp), which refuses IDs of
// the wrong length, deep nesting and data after the body.
//
// A protobuf body whose strings are not all UTF-8 loses the items holding
// them (decodeLenient), and rejected counts them; JSON decoding replaces
// such bytes with U+FFFD.
func decodeOTLP(body []byte, contentType string, into proto.Message) (rejected int, err error) {
	if contentType == contentProtobuf {
		return decodeLenient(body, into)
	}
	if err := otlphttp.DecodeJSON(body, into); err != nil {
		return 0, fmt.Errorf("%w: %w", errBadPayload, err)
	}
	return 0, nil
}

func writeHTTPError(w http.ResponseWriter, ct string, httpCode int, code codes.Code, msg string) {
	writeMessage(w, ct, httpCode, &spb.Status{Code: int32(code), Message: msg})
}

func writeMessage(w http.ResponseWriter, ct string, httpCode int, m proto.Message) {
	var b []byte
	if ct == contentJSON {
		b, _ = protojson.Marshal(m)
	} else {
		b, _ = proto.Marshal(m)
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(httpCode)
	_, _ = w.Write(b)
}
