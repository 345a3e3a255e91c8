package trigger

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Source is where a trace context comes from.
type Source string

// Sources of a trace context, named in LAMBDASCOPE_TRACE_CONTEXT.
const (
	// W3C is a W3C traceparent (and tracestate) in the event: an HTTP
	// header, an SQS or SNS message attribute.
	W3C Source = "w3c"
	// XRay is an X-Ray header in the event: X-Amzn-Trace-Id of an HTTP
	// request, the AWSTraceHeader attribute of an SQS message.
	XRay Source = "xray"
	// Lambda is the Lambda-Runtime-Trace-Id header Lambda sends with the
	// event (the invocation's X-Ray context, present even with tracing
	// off, then not sampled).
	Lambda Source = "lambda"
	// DurableARN is the trace a durable execution's invocations share,
	// derived from its ARN (DurableTrace); it is not named in
	// LAMBDASCOPE_TRACE_CONTEXT: it stands in for Lambda's header, which
	// differs for each invocation of an execution.
	DurableARN Source = "durable"
)

// DefaultPrecedence is the order in which sources are tried: the caller's
// own W3C context first, then X-Ray's from the event, then Lambda's.
var DefaultPrecedence = []Source{W3C, XRay, Lambda}

// ParsePrecedence reads a comma-separated list of sources.
func ParsePrecedence(s string) ([]Source, error) {
	var out []Source
	seen := map[Source]bool{}
	for _, f := range strings.Split(s, ",") {
		src := Source(strings.ToLower(strings.TrimSpace(f)))
		switch src {
		case W3C, XRay, Lambda:
		default:
			return nil, fmt.Errorf("unknown trace context source %q (want w3c, xray or lambda)", f)
		}
		if seen[src] {
			return nil, fmt.Errorf("trace context source %q named twice", src)
		}
		seen[src] = true
		out = append(out, src)
	}
	return out, nil
}

// SpanContext is the caller's span an invocation joins.
type SpanContext struct {
	TraceID    [16]byte
	SpanID     [8]byte
	Sampled    bool
	Tracestate string
	Source     Source
}

// Resolve picks the first valid context in order from the event's
// contexts and Lambda's trace header.
func Resolve(c Context, lambdaHeader string, order []Source) (SpanContext, bool) {
	for _, src := range order {
		var sc SpanContext
		var err error
		switch src {
		case W3C:
			if c.Traceparent == "" {
				continue
			}
			sc, err = ParseTraceparent(c.Traceparent)
			sc.Tracestate = c.Tracestate
		case XRay:
			if c.XRay == "" {
				continue
			}
			sc, err = ParseXRay(c.XRay)
		case Lambda:
			if lambdaHeader == "" {
				continue
			}
			sc, err = ParseXRay(lambdaHeader)
		}
		if err == nil {
			sc.Source = src
			return sc, true
		}
	}
	return SpanContext{}, false
}

var errContext = errors.New("malformed trace context")

// ParseTraceparent reads a W3C traceparent header (version 00, or a later
// version read as 00 as the specification asks).
func ParseTraceparent(s string) (SpanContext, error) {
	var sc SpanContext
	s = strings.TrimSpace(s)
	if len(s) < 55 || s[2] != '-' || s[35] != '-' || s[52] != '-' || s[:2] == "ff" || (s[:2] == "00" && len(s) != 55) {
		return sc, errContext
	}
	var flags [1]byte
	if !decodeHex(sc.TraceID[:], s[3:35]) || !decodeHex(sc.SpanID[:], s[36:52]) || !decodeHex(flags[:], s[53:55]) {
		return sc, errContext
	}
	if sc.TraceID == ([16]byte{}) || sc.SpanID == ([8]byte{}) {
		return sc, errContext
	}
	sc.Sampled = flags[0]&1 == 1
	return sc, nil
}

// decodeHex decodes the hex digits of s (of either case), two for each
// byte of dst; false for a byte that is no hex digit.
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	var bad byte
	for i := range dst {
		hi, lo := hexValue[s[2*i]], hexValue[s[2*i+1]]
		bad |= hi | lo
		dst[i] = hi<<4 | lo&0xf
	}
	return bad&0x10 == 0
}

// hexValue is the value of a hex digit, 0x10 for a byte that is none.
var hexValue = func() (t [256]byte) {
	for c := range t {
		switch {
		case '0' <= c && c <= '9':
			t[c] = byte(c - '0')
		case 'a' <= c && c <= 'f':
			t[c] = byte(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			t[c] = byte(c - 'A' + 10)
		default:
			t[c] = 0x10
		}
	}
	return t
}()

// ParseXRay reads an X-Ray trace header
// (Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1);
// a header without Parent is refused: there is no span to join.
func ParseXRay(s string) (SpanContext, error) {
	var sc SpanContext
	var root, parent string
	for _, part := range strings.Split(s, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Root":
			root = v
		case "Parent":
			parent = v
		case "Sampled":
			sc.Sampled = v == "1"
		}
	}
	if len(root) != 35 || root[:2] != "1-" || root[10] != '-' || len(parent) != 16 {
		return sc, errContext
	}
	if !decodeHex(sc.TraceID[:4], root[2:10]) || !decodeHex(sc.TraceID[4:], root[11:]) || !decodeHex(sc.SpanID[:], parent) {
		return sc, errContext
	}
	if sc.TraceID == ([16]byte{}) || sc.SpanID == ([8]byte{}) {
		return sc, errContext
	}
	return sc, nil
}

// XRayHeader writes the X-Ray header of trace ID and parent span ID.
func XRayHeader(traceID [16]byte, parent [8]byte, sampled bool) string {
	t := hex.EncodeToString(traceID[:])
	s := "0"
	if sampled {
		s = "1"
	}
	return "Root=1-" + t[:8] + "-" + t[8:] + ";Parent=" + hex.EncodeToString(parent[:]) + ";Sampled=" + s
}
