package otlphttp

import (
	"errors"
	"strings"
	"testing"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
)

const (
	traceHex = "0102030405060708090a0b0c0d0e0f10"
	spanHex  = "0102030405060708"
)

// nested is an OTLP/JSON log body whose record's body is an array value
// holding itself depth times.
func nested(depth int) string {
	v := `{"stringValue":"x"}`
	for range depth {
		v = `{"arrayValue":{"values":[` + v + `]}}`
	}
	return `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":` + v + `}]}]}]}`
}

func TestDecodeJSONIsStrict(t *testing.T) {
	logWith := func(field, id string) string {
		return `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"` + field + `":"` + id + `","body":{"stringValue":"x"}}]}]}]}`
	}
	spanWith := func(trace, span string) string {
		return `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"` + trace + `","spanId":"` + span + `","name":"x"}]}]}]}`
	}
	tests := []struct {
		name, body string
		logs       bool
		want       string // "" when the body decodes
	}{
		{"good span", spanWith(traceHex, spanHex), false, ""},
		{"good log", logWith("traceId", traceHex), true, ""},
		{"log without trace", `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":""}]}]}]}`, true, ""},
		{"3-byte log trace ID", logWith("traceId", "abcdef"), true, `traceId "abcdef" is not 16 hex-encoded bytes`},
		{"17-byte log trace ID", logWith("traceId", traceHex+"11"), true, "not 16 hex-encoded bytes"},
		{"short log span ID", logWith("spanId", "0102"), true, `spanId "0102" is not 8 hex-encoded bytes`},
		{"short span trace ID", spanWith("0102", spanHex), false, "traceId"},
		{"long span ID", spanWith(traceHex, traceHex), false, "spanId"},
		{"not hex", spanWith("zz", spanHex), false, "traceId"},
		{"trailing value", spanWith(traceHex, spanHex) + `{}`, false, "data after the top-level value"},
		{"trailing brace", spanWith(traceHex, spanHex) + `}`, false, "data after the top-level value"},
		{"trailing space", spanWith(traceHex, spanHex) + " \n", false, ""},
		{"nested to the bound", nested(MaxDepth/3 - 4), true, ""},
		{"nested too deep", nested(MaxDepth), true, "nested more than"},
		{"not JSON", `{"resourceSpans":`, false, "decode JSON"},
		{"not OTLP", `{"resourceSpans":5}`, false, "decode OTLP JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.logs {
				err = Decode([]byte(tt.body), EncodingJSON, &collogspb.ExportLogsServiceRequest{})
			} else {
				err = Decode([]byte(tt.body), EncodingJSON, &coltracepb.ExportTraceServiceRequest{})
			}
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Decode: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Decode error %v, want one containing %q", err, tt.want)
			case tt.want != "" && !errors.Is(err, ErrBadBody):
				t.Fatalf("Decode error %v is not ErrBadBody", err)
			}
		})
	}
}

func TestParseContentType(t *testing.T) {
	tests := []struct {
		header string
		want   Encoding
	}{
		{"application/x-protobuf", EncodingProtobuf},
		{"application/protobuf", EncodingProtobuf},
		{"application/json; charset=utf-8", EncodingJSON},
		{"Application/JSON", EncodingJSON},
		{"text/plain", EncodingUnknown},
		{"", EncodingUnknown},
		{"application/json;;", EncodingUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			if got := ParseContentType(tt.header); got != tt.want {
				t.Fatalf("ParseContentType(%q) = %v, want %v", tt.header, got, tt.want)
			}
		})
	}
	if err := Decode([]byte(`{}`), EncodingUnknown, &coltracepb.ExportTraceServiceRequest{}); !errors.Is(err, ErrUnsupportedMediaType) {
		t.Fatalf("Decode of an unknown encoding: %v, want ErrUnsupportedMediaType", err)
	}
}
