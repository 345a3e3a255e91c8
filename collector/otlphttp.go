package collector

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

const (
	contentProtobuf = "application/x-protobuf"
	contentJSON     = "application/json"
)

// errBadPayload marks a body that cannot be decoded.
var errBadPayload = errors.New("bad payload")

// otlpHTTP serves OTLP/HTTP: POST /v1/traces, /v1/logs, /v1/metrics with
// protobuf or JSON bodies, optionally gzip-compressed.
type otlpHTTP struct {
	s        *ingestService
	keys     *keyring
	maxBytes int
}

func (h *otlpHTTP) routes(mux *http.ServeMux) {
	mux.HandleFunc("/v1/traces", func(w http.ResponseWriter, r *http.Request) {
		h.serve(w, r, &coltracepb.ExportTraceServiceRequest{}, func(m proto.Message) (proto.Message, error) {
			res, err := otlpTraces{s: h.s}.Export(r.Context(), m.(*coltracepb.ExportTraceServiceRequest))
			return res, err
		})
	})
	mux.HandleFunc("/v1/logs", func(w http.ResponseWriter, r *http.Request) {
		h.serve(w, r, &collogspb.ExportLogsServiceRequest{}, func(m proto.Message) (proto.Message, error) {
			res, err := otlpLogs{s: h.s}.Export(r.Context(), m.(*collogspb.ExportLogsServiceRequest))
			return res, err
		})
	})
	mux.HandleFunc("/v1/metrics", func(w http.ResponseWriter, r *http.Request) {
		h.serve(w, r, &colmetricspb.ExportMetricsServiceRequest{}, func(m proto.Message) (proto.Message, error) {
			res, err := otlpMetrics{s: h.s}.Export(r.Context(), m.(*colmetricspb.ExportMetricsServiceRequest))
			return res, err
		})
	})
}

func (h *otlpHTTP) serve(w http.ResponseWriter, r *http.Request, in proto.Message, export func(proto.Message) (proto.Message, error)) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != contentJSON {
		ct = contentProtobuf
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeHTTPError(w, ct, http.StatusMethodNotAllowed, codes.InvalidArgument, "only POST is allowed")
		return
	}
	if err := h.keys.checkValues(r.Header.Values("Authorization")); err != nil {
		writeHTTPError(w, ct, http.StatusUnauthorized, codes.Unauthenticated, status.Convert(err).Message())
		return
	}
	body, err := readBody(r, h.maxBytes)
	if err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, errTooLarge) {
			code = http.StatusRequestEntityTooLarge
		}
		h.s.p.m.batches.WithLabelValues("rejected").Inc()
		writeHTTPError(w, ct, code, codes.InvalidArgument, err.Error())
		return
	}
	if err := decodeOTLP(body, ct, in); err != nil {
		h.s.p.m.batches.WithLabelValues("rejected").Inc()
		h.s.log.Warn("rejected request", "via", "OTLP/HTTP", "path", r.URL.Path, "err", err)
		writeHTTPError(w, ct, http.StatusBadRequest, codes.InvalidArgument, err.Error())
		return
	}
	out, err := export(in)
	if err != nil {
		st := status.Convert(err)
		writeHTTPError(w, ct, httpStatus(st.Code()), st.Code(), st.Message())
		return
	}
	writeMessage(w, ct, http.StatusOK, out)
}

var errTooLarge = errors.New("request body too large")

// readBody reads at most maxBytes of decompressed body.
func readBody(r *http.Request, maxBytes int) ([]byte, error) {
	var src io.Reader = http.MaxBytesReader(nil, r.Body, int64(maxBytes)+1)
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, fmt.Errorf("%w: gzip body: %v", errBadPayload, err)
		}
		defer zr.Close()
		src = zr
	default:
		return nil, fmt.Errorf("%w: Content-Encoding %q is not supported (use gzip)", errBadPayload, enc)
	}
	body, err := io.ReadAll(io.LimitReader(src, int64(maxBytes)+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fmt.Errorf("%w: more than %d bytes (max_message_bytes)", errTooLarge, maxBytes)
		}
		return nil, fmt.Errorf("%w: read body: %v", errBadPayload, err)
	}
	if len(body) > maxBytes {
		return nil, fmt.Errorf("%w: more than %d bytes (max_message_bytes)", errTooLarge, maxBytes)
	}
	return body, nil
}

// decodeOTLP decodes a protobuf or OTLP JSON body. OTLP JSON spells trace
// and span IDs in hex, where protojson expects base64, so those fields are
// rewritten first.
func decodeOTLP(body []byte, contentType string, into proto.Message) error {
	if contentType == contentProtobuf {
		if err := proto.Unmarshal(body, into); err != nil {
			return fmt.Errorf("%w: decode protobuf: %v", errBadPayload, err)
		}
		return nil
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("%w: decode JSON: %v", errBadPayload, err)
	}
	if err := hexIDsToBase64(doc); err != nil {
		return fmt.Errorf("%w: %v", errBadPayload, err)
	}
	fixed, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("%w: re-encode JSON: %v", errBadPayload, err)
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(fixed, into); err != nil {
		return fmt.Errorf("%w: decode OTLP JSON: %v", errBadPayload, err)
	}
	return nil
}

var idFields = map[string]bool{"traceId": true, "spanId": true, "parentSpanId": true, "trace_id": true, "span_id": true, "parent_span_id": true}

func hexIDsToBase64(v any) error {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && idFields[k] {
				b, err := hex.DecodeString(s)
				if err != nil {
					return fmt.Errorf("%s %q must be hex", k, s)
				}
				x[k] = base64.StdEncoding.EncodeToString(b)
				continue
			}
			if err := hexIDsToBase64(e); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := hexIDsToBase64(e); err != nil {
				return err
			}
		}
	}
	return nil
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
