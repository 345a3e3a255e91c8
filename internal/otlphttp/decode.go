// Package otlphttp decodes OTLP/HTTP request bodies: it maps the content
// type to an encoding, reads a bounded, optionally gzip-compressed body, and
// decodes protobuf or OTLP/JSON strictly (trace and span IDs of the right
// length, a bounded nesting depth, nothing after the top-level value). The
// collector and the extension's local receiver both decode with it, so a
// body one of them refuses the other refuses too.
package otlphttp

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
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Encoding is the body format of an OTLP/HTTP request.
type Encoding int

// Encodings OTLP/HTTP allows.
const (
	EncodingUnknown Encoding = iota
	EncodingProtobuf
	EncodingJSON
)

// Content types of the encodings, as answers carry them.
const (
	ContentProtobuf = "application/x-protobuf"
	ContentJSON     = "application/json"
)

// ContentType is the Content-Type of an answer in enc; protobuf for an
// unknown encoding.
func (enc Encoding) ContentType() string {
	if enc == EncodingJSON {
		return ContentJSON
	}
	return ContentProtobuf
}

// Errors a receiver maps to status codes: ErrUnsupportedMediaType to 415,
// ErrTooLarge to 413, the others to 400.
var (
	ErrUnsupportedMediaType = errors.New("unsupported content type")
	ErrUnsupportedEncoding  = errors.New("unsupported content encoding")
	ErrTooLarge             = errors.New("request body too large")
	ErrBadBody              = errors.New("bad request body")
)

// MaxDepth bounds the nesting of an OTLP/JSON body (an attribute value
// holding a list holding a list...), so that a hostile body cannot make the
// decoder recurse without end.
const MaxDepth = 64

// ParseContentType maps a Content-Type header to an Encoding.
func ParseContentType(ct string) Encoding {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return EncodingUnknown
	}
	switch mt {
	case ContentProtobuf, "application/protobuf":
		return EncodingProtobuf
	case ContentJSON:
		return EncodingJSON
	}
	return EncodingUnknown
}

// ReadBody reads a request body of at most limit bytes after
// decompression. contentEncoding may be "", "identity" or "gzip".
func ReadBody(r io.Reader, contentEncoding string, limit int) ([]byte, error) {
	var buf bytes.Buffer
	if err := ReadBodyInto(&buf, r, contentEncoding, limit); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ReadBodyInto is ReadBody into dst, whose capacity is reused.
func ReadBodyInto(dst *bytes.Buffer, r io.Reader, contentEncoding string, limit int) error {
	return ReadBodyThrough(dst, r, contentEncoding, limit, nil)
}

// ReadBodyThrough is ReadBodyInto reading the decompressed body through
// through (when not nil), which may count or refuse it; its errors come
// back wrapped in ErrBadBody, so that errors.Is and errors.As find them.
func ReadBodyThrough(dst *bytes.Buffer, r io.Reader, contentEncoding string, limit int, through func(io.Reader) io.Reader) error {
	switch strings.ToLower(strings.TrimSpace(contentEncoding)) {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("%w: gzip: %w", ErrBadBody, err)
		}
		defer func() { _ = zr.Close() }()
		r = zr
	default:
		return fmt.Errorf("%w %q", ErrUnsupportedEncoding, contentEncoding)
	}
	r = io.LimitReader(r, int64(limit)+1)
	if through != nil {
		r = through(r)
	}
	_, err := dst.ReadFrom(r)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return ErrTooLarge
		}
		return fmt.Errorf("%w: %w", ErrBadBody, err)
	}
	if dst.Len() > limit {
		return ErrTooLarge
	}
	return nil
}

// Decode decodes an OTLP export request body into msg. Its errors are
// ErrBadBody, or ErrUnsupportedMediaType for EncodingUnknown.
func Decode(data []byte, enc Encoding, msg proto.Message) error {
	switch enc {
	case EncodingProtobuf:
		if err := proto.Unmarshal(data, msg); err != nil {
			return fmt.Errorf("%w: decode protobuf: %w", ErrBadBody, err)
		}
		return nil
	case EncodingJSON:
		if err := DecodeJSON(data, msg); err != nil {
			return fmt.Errorf("%w: %w", ErrBadBody, err)
		}
		return nil
	}
	return ErrUnsupportedMediaType
}

// DecodeJSON decodes an OTLP/JSON body into msg. OTLP/JSON spells trace and
// span IDs in hex, where protojson expects base64, so those fields are
// rewritten first; an ID that is not hex, or not 16 (trace) or 8 (span)
// bytes, refuses the body, as does data after the top-level value or
// nesting deeper than MaxDepth. Unknown fields are ignored.
func DecodeJSON(data []byte, msg proto.Message) error {
	fixed, err := hexIDsToBase64(data)
	if err != nil {
		return err
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(fixed, msg); err != nil {
		proto.Reset(msg)
		return fmt.Errorf("decode OTLP JSON: %w", err)
	}
	return nil
}

// Encode encodes a response message in the request's encoding.
func Encode(msg proto.Message, enc Encoding) ([]byte, error) {
	if enc == EncodingJSON {
		return protojson.Marshal(msg)
	}
	return proto.Marshal(msg)
}

// idKeys are the OTLP/JSON fields that carry hex-encoded IDs instead of the
// base64 protojson expects for bytes, with their length in bytes.
var idKeys = map[string]int{
	"traceId": 16, "trace_id": 16,
	"spanId": 8, "span_id": 8,
	"parentSpanId": 8, "parent_span_id": 8,
}

// hexIDsToBase64 rewrites the hex trace and span IDs of an OTLP/JSON body
// into base64 so protojson can decode it.
func hexIDsToBase64(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("decode JSON: data after the top-level value")
	}
	if err := rewriteIDs(v, 0); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func rewriteIDs(v any, depth int) error {
	if depth > MaxDepth {
		return fmt.Errorf("decode JSON: nested more than %d deep", MaxDepth)
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if n, ok := idKeys[k]; ok {
				if s, ok := e.(string); ok && s != "" {
					b, err := hex.DecodeString(s)
					if err != nil || len(b) != n {
						return fmt.Errorf("%s %q is not %d hex-encoded bytes", k, s, n)
					}
					x[k] = base64.StdEncoding.EncodeToString(b)
					continue
				}
			}
			if err := rewriteIDs(e, depth+1); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := rewriteIDs(e, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}
