package trigger

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// StatusCode reads the statusCode of a proxy integration's answer (API
// Gateway, ALB, Function URL): the top-level "statusCode" of the JSON
// response or, for a streamed Function URL response, of its JSON prelude
// (which ends at eight NUL bytes). ok is false when there is none.
func StatusCode(body []byte) (code int, ok bool) {
	if i := bytes.Index(body, make([]byte, 8)); i >= 0 {
		body = body[:i]
	}
	if len(body) > MaxDecode {
		return 0, false
	}
	var r struct {
		StatusCode *json.Number `json:"statusCode"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.StatusCode == nil {
		return 0, false
	}
	n, err := r.StatusCode.Int64()
	if err != nil || n < 100 || n > 999 {
		return 0, false
	}
	return int(n), true
}

// ImpliedStatus is the status a trigger's HTTP front answers with when the
// function's answer names none: HTTP APIs (payload 2.0) and Function URLs
// take any answer as a 200; REST APIs and ALB refuse it as a malformed
// proxy response, 502. ok is false for the others.
func ImpliedStatus(k Kind) (code int, ok bool) {
	switch k {
	case APIGatewayHTTP, FunctionURL:
		return 200, true
	case APIGatewayREST, ALB:
		return 502, true
	}
	return 0, false
}

// ErrorOf reads the errorType and errorMessage of a runtime's /error body
// (or of the Lambda-Runtime-Function-Error-Body trailer of a streamed
// response that failed, once decoded): the JSON object every runtime sends,
// {"errorMessage": ..., "errorType": ..., "stackTrace": ...}. Each is cut to
// max bytes at a character boundary; cut says one was longer. A member
// that is not a string is read as empty, the other is still read; a body
// that is not a JSON object, or is longer than MaxDecode, gives neither.
func ErrorOf(body []byte, max int) (typ, msg string, cut bool) {
	if len(body) > MaxDecode {
		return "", "", false
	}
	var e struct {
		ErrorType    json.RawMessage `json:"errorType"`
		ErrorMessage json.RawMessage `json:"errorMessage"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		return "", "", false
	}
	typ, c1 := jsonText(e.ErrorType, max)
	msg, c2 := jsonText(e.ErrorMessage, max)
	return typ, msg, c1 || c2
}

// jsonText is the JSON string raw cut to max bytes at a character
// boundary, empty when raw is not a string.
func jsonText(raw json.RawMessage, max int) (s string, cut bool) {
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	if len(s) <= max {
		return s, false
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], true
}
