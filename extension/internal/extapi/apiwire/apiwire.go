// Package apiwire holds what the Lambda Extensions and Telemetry APIs
// expect on the wire — paths, header names, request bodies — shared by the
// agent's client (package extapi, over net/http) and the launcher (package
// launch, which avoids net/http to start sooner). It writes the two JSON
// request bodies itself, without encoding/json: its reflection is code
// the launcher would otherwise run, and fault in, before its first
// /event/next (a fuzz test holds the bodies to encoding/json's reading).
package apiwire

import (
	"strconv"
	"unicode/utf8"
)

// Paths of the Extensions and Telemetry APIs.
const (
	PathRegister  = "/2020-01-01/extension/register"
	PathNext      = "/2020-01-01/extension/event/next"
	PathInitError = "/2020-01-01/extension/init/error"
	PathExitError = "/2020-01-01/extension/exit/error"
	PathTelemetry = "/2022-07-01/telemetry"
)

// Header names of the Extensions API.
const (
	HeaderName          = "Lambda-Extension-Name"
	HeaderIdentifier    = "Lambda-Extension-Identifier"
	HeaderAcceptFeature = "Lambda-Extension-Accept-Feature"
	HeaderErrorType     = "Lambda-Extension-Function-Error-Type"
)

// AcceptFeatures is what register asks for: the account ID in the answer.
const AcceptFeatures = "accountId"

// Telemetry API schema versions. Lambda Managed Instances accept only
// SchemaV2.
const (
	SchemaV1 = "2022-12-13"
	SchemaV2 = "2025-01-29"
)

// TelemetryTypes are the streams the extension subscribes to.
var TelemetryTypes = []string{"platform", "function", "extension"}

// Buffering is the Telemetry API's batching configuration.
type Buffering struct {
	MaxItems  int `json:"maxItems"`
	MaxBytes  int `json:"maxBytes"`
	TimeoutMs int `json:"timeoutMs"`
}

// DefaultBuffering is the batching the extension asks for: small batches,
// delivered within 25 ms (Lambda's minimum), so runtimeDone reaches the
// extension quickly.
var DefaultBuffering = Buffering{MaxItems: 1000, MaxBytes: 262144, TimeoutMs: 25}

// ManagedBuffering is the batching asked for on Lambda Managed Instances,
// where nothing waits on telemetry per invocation: batches within 1 s.
// A batch falling due before the extension has answered the previous one
// is dropped, and AWS's Runtime Interface Emulator then hangs its
// Telemetry API; a wider window leaves the extension time to answer.
var ManagedBuffering = Buffering{MaxItems: 1000, MaxBytes: 262144, TimeoutMs: 1000}

// BufferingFor is the batching asked for: ManagedBuffering on Lambda
// Managed Instances, DefaultBuffering otherwise.
func BufferingFor(managed bool) Buffering {
	if managed {
		return ManagedBuffering
	}
	return DefaultBuffering
}

// RegisterBody is the body of a register request for the given events
// (INVOKE, SHUTDOWN).
func RegisterBody(events ...string) []byte {
	b := append(make([]byte, 0, 64), `{"events":`...)
	b = appendStrings(b, events)
	return append(b, '}')
}

// SubscriptionBody is the body of a Telemetry API subscription of the
// listener at uri.
func SubscriptionBody(uri, schema string, types []string, buf Buffering) []byte {
	b := append(make([]byte, 0, 256), `{"schemaVersion":`...)
	b = appendString(b, schema)
	b = append(b, `,"types":`...)
	b = appendStrings(b, types)
	b = append(b, `,"buffering":{"maxItems":`...)
	b = strconv.AppendInt(b, int64(buf.MaxItems), 10)
	b = append(b, `,"maxBytes":`...)
	b = strconv.AppendInt(b, int64(buf.MaxBytes), 10)
	b = append(b, `,"timeoutMs":`...)
	b = strconv.AppendInt(b, int64(buf.TimeoutMs), 10)
	b = append(b, `},"destination":{"protocol":"HTTP","URI":`...)
	b = appendString(b, uri)
	return append(b, "}}"...)
}

// appendStrings appends a JSON array of strings; nil is the empty array.
func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as encoding/json writes it.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			// Valid JSON, but escaped as encoding/json does, for readers
			// that take the body for JavaScript.
			b = append(b, `\u202`...)
			b = append(b, hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// ErrorTypeTelemetryNotSupported is the errorType of a Telemetry API that
// is not there. AWS's Runtime Interface Emulator answers a subscription
// with it, under status 202.
const ErrorTypeTelemetryNotSupported = "Telemetry.NotSupported"

// ErrorType returns the errorType of an API answer whose body is a JSON
// object holding one ({"errorMessage":"...","errorType":"..."}), or ""
// for any other body ("OK", an empty body, an object without it). It
// scans instead of decoding, so the launcher does not link encoding/json;
// the type's escapes, if any, are kept as written.
func ErrorType(body []byte) string {
	const key = `"errorType"`
	b := trimSpace(body)
	if len(b) == 0 || b[0] != '{' {
		return ""
	}
	for i := 1; i+len(key) <= len(b); i++ {
		if string(b[i:i+len(key)]) != key {
			continue
		}
		// A key follows '{' or ',' (and white space); "errorType" inside
		// a string value does not.
		j := i - 1
		for j > 0 && isSpace(b[j]) {
			j--
		}
		if b[j] != '{' && b[j] != ',' {
			continue
		}
		rest := trimSpace(b[i+len(key):])
		if len(rest) == 0 || rest[0] != ':' {
			continue
		}
		rest = trimSpace(rest[1:])
		if len(rest) == 0 || rest[0] != '"' {
			return ""
		}
		for k := 1; k < len(rest); k++ {
			switch rest[k] {
			case '\\':
				k++
			case '"':
				return string(rest[1:k])
			}
		}
		return ""
	}
	return ""
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}
