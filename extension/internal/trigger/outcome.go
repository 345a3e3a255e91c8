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

// ErrorOf reads the errorType and errorMessage of a runtime's /error body.
// The message is cut to maxMessage bytes.
func ErrorOf(body []byte, maxMessage int) (typ, msg string) {
	if len(body) > MaxDecode {
		return "", ""
	}
	var e struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		return "", ""
	}
	if len(e.ErrorMessage) > maxMessage {
		cut := maxMessage
		for cut > 0 && !utf8.RuneStart(e.ErrorMessage[cut]) {
			cut--
		}
		e.ErrorMessage = e.ErrorMessage[:cut]
	}
	return e.ErrorType, e.ErrorMessage
}
