package otlpreceiver

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
	"sync"

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

// Errors the HTTP receiver maps to status codes.
var (
	ErrUnsupportedMediaType = errors.New("unsupported content type")
	ErrUnsupportedEncoding  = errors.New("unsupported content encoding")
	ErrTooLarge             = errors.New("request body too large")
	ErrBadBody              = errors.New("bad request body")
)

// ParseContentType maps a Content-Type header to an Encoding.
func ParseContentType(ct string) Encoding {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return EncodingUnknown
	}
	switch mt {
	case "application/x-protobuf", "application/protobuf":
		return EncodingProtobuf
	case "application/json":
		return EncodingJSON
	}
	return EncodingUnknown
}

// ReadBody reads a request body of at most limit bytes after
// decompression. contentEncoding may be "", "identity" or "gzip".
func ReadBody(r io.Reader, contentEncoding string, limit int) ([]byte, error) {
	var buf bytes.Buffer
	if err := readBodyInto(&buf, r, contentEncoding, limit); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// readBodyInto is ReadBody into dst, whose capacity is reused.
func readBodyInto(dst *bytes.Buffer, r io.Reader, contentEncoding string, limit int) error {
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
	_, err := dst.ReadFrom(io.LimitReader(r, int64(limit)+1))
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

// bodies recycles request body buffers: a function sends a request of
// about the same size every invocation, and reading it into a fresh,
// growing slice each time costs more than decoding it.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody bounds the buffers kept for reuse.
const maxPooledBody = 4 << 20

// Decode decodes an OTLP export request body into msg.
func Decode(data []byte, enc Encoding, msg proto.Message) error {
	switch enc {
	case EncodingProtobuf:
		if err := proto.Unmarshal(data, msg); err != nil {
			return fmt.Errorf("%w: %w", ErrBadBody, err)
		}
		return nil
	case EncodingJSON:
		fixed, err := hexIDsToBase64(data)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBadBody, err)
		}
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(fixed, msg); err != nil {
			return fmt.Errorf("%w: %w", ErrBadBody, err)
		}
		return nil
	}
	return ErrUnsupportedMediaType
}

// Encode encodes a response message in the request's encoding.
func Encode(msg proto.Message, enc Encoding) ([]byte, error) {
	if enc == EncodingJSON {
		return protojson.Marshal(msg)
	}
	return proto.Marshal(msg)
}

// idKeys are the OTLP/JSON fields that carry hex-encoded IDs instead of the
// base64 protojson expects for bytes.
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
		return nil, fmt.Errorf("parse JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("parse JSON: data after the top-level value")
	}
	if err := rewriteIDs(v, 0); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func rewriteIDs(v any, depth int) error {
	if depth > 64 {
		return errors.New("JSON nested too deeply")
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
