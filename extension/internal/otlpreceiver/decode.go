package otlpreceiver

import (
	"bytes"
	"io"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/lambdascope/lambdascope/internal/otlphttp"
)

// Encoding is the body format of an OTLP/HTTP request; the decoder is the
// one the collector uses (internal/otlphttp).
type Encoding = otlphttp.Encoding

// Encodings OTLP/HTTP allows.
const (
	EncodingUnknown  = otlphttp.EncodingUnknown
	EncodingProtobuf = otlphttp.EncodingProtobuf
	EncodingJSON     = otlphttp.EncodingJSON
)

// Errors the HTTP receiver maps to status codes.
var (
	ErrUnsupportedMediaType = otlphttp.ErrUnsupportedMediaType
	ErrUnsupportedEncoding  = otlphttp.ErrUnsupportedEncoding
	ErrTooLarge             = otlphttp.ErrTooLarge
	ErrBadBody              = otlphttp.ErrBadBody
)

// ParseContentType maps a Content-Type header to an Encoding.
func ParseContentType(ct string) Encoding { return otlphttp.ParseContentType(ct) }

// ReadBody reads a request body of at most limit bytes after
// decompression. contentEncoding may be "", "identity" or "gzip".
func ReadBody(r io.Reader, contentEncoding string, limit int) ([]byte, error) {
	return otlphttp.ReadBody(r, contentEncoding, limit)
}

// readBodyInto is ReadBody into dst, whose capacity is reused.
func readBodyInto(dst *bytes.Buffer, r io.Reader, contentEncoding string, limit int) error {
	return otlphttp.ReadBodyInto(dst, r, contentEncoding, limit)
}

// bodies recycles request body buffers: a function sends a request of
// about the same size every invocation, and reading it into a fresh,
// growing slice each time costs more than decoding it.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody bounds the buffers kept for reuse.
const maxPooledBody = 4 << 20

// Decode decodes an OTLP export request body into msg.
func Decode(data []byte, enc Encoding, msg proto.Message) error {
	return otlphttp.Decode(data, enc, msg)
}

// Encode encodes a response message in the request's encoding.
func Encode(msg proto.Message, enc Encoding) ([]byte, error) {
	return otlphttp.Encode(msg, enc)
}
