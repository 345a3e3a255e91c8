package query

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// TraceID is a W3C trace ID. It is printed and marshalled as 32 lowercase
// hex digits.
type TraceID [16]byte

// SpanID is a W3C span ID. It is printed and marshalled as 16 lowercase hex
// digits.
type SpanID [8]byte

// IsZero reports whether the ID is all zeros (not a valid trace ID).
func (id TraceID) IsZero() bool { return id == TraceID{} }

// String returns the 32 hex digits of the ID.
func (id TraceID) String() string { return hex.EncodeToString(id[:]) }

// MarshalText encodes the ID as hex.
func (id TraceID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText reads what MarshalText wrote, so that the JSON the CLI
// prints reads back into the same types.
func (id *TraceID) UnmarshalText(b []byte) error { return unhexID(id[:], b, "trace") }

// IsZero reports whether the ID is all zeros (no span, no parent).
func (id SpanID) IsZero() bool { return id == SpanID{} }

// String returns the 16 hex digits of the ID.
func (id SpanID) String() string { return hex.EncodeToString(id[:]) }

// MarshalText encodes the ID as hex.
func (id SpanID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText reads what MarshalText wrote.
func (id *SpanID) UnmarshalText(b []byte) error { return unhexID(id[:], b, "span") }

// unhexID decodes an ID of len(dst) bytes from exactly twice as many hex
// digits into dst; on an error dst is left as it was.
// An error quotes at most the first 64 bytes of the value.
func unhexID(dst, b []byte, kind string) error {
	shown := b[:min(len(b), 64)]
	if len(b) != 2*len(dst) {
		return fmt.Errorf("%s ID %q: want %d hex digits, got %d characters", kind, shown, 2*len(dst), len(b))
	}
	var buf [16]byte
	if _, err := hex.Decode(buf[:len(dst)], b); err != nil {
		return fmt.Errorf("%s ID %q: not hexadecimal", kind, shown)
	}
	copy(dst, buf[:len(dst)])
	return nil
}

// ParseTraceID accepts a trace ID as 32 hex digits
// (0af7651916cd43dd8448eb211c80319c) or in the AWS X-Ray form
// (1-5759e988-bd862e3fe1be46a994272793, optionally as Root=... of an X-Ray
// trace header). Both forms give the same 16 bytes the OpenTelemetry X-Ray
// propagator produces: the 8 epoch digits followed by the 24 unique digits.
func ParseTraceID(s string) (TraceID, error) {
	var id TraceID
	in := strings.TrimSpace(s)
	hexDigits := in
	if root, ok := xrayRoot(in); ok {
		parts := strings.Split(root, "-")
		if len(parts) != 3 || parts[0] != "1" || len(parts[1]) != 8 || len(parts[2]) != 24 {
			return id, fmt.Errorf("%w %q: an X-Ray trace ID looks like 1-5759e988-bd862e3fe1be46a994272793", ErrInvalidTraceID, s)
		}
		hexDigits = parts[1] + parts[2]
	}
	if len(hexDigits) != 32 {
		return id, fmt.Errorf("%w %q: want 32 hex digits (or an X-Ray ID like 1-5759e988-bd862e3fe1be46a994272793), got %d characters", ErrInvalidTraceID, s, len(hexDigits))
	}
	if _, err := hex.Decode(id[:], []byte(hexDigits)); err != nil {
		return TraceID{}, fmt.Errorf("%w %q: not hexadecimal", ErrInvalidTraceID, s)
	}
	if id.IsZero() {
		return id, fmt.Errorf("%w %q: all zeros", ErrInvalidTraceID, s)
	}
	return id, nil
}

// xrayRoot returns the "1-xxxxxxxx-yyyy…" part of an X-Ray trace ID or trace
// header, and whether the input is in X-Ray form at all.
func xrayRoot(s string) (string, bool) {
	if strings.Contains(s, "=") {
		for field := range strings.SplitSeq(s, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(field), "=")
			if ok && strings.EqualFold(k, "Root") {
				return v, true
			}
		}
		return s, true
	}
	return s, strings.Contains(s, "-")
}
