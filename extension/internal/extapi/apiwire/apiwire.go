// Package apiwire holds what the Lambda Extensions and Telemetry APIs
// expect on the wire — paths, header names, request bodies — shared by the
// agent's client (package extapi, over net/http) and the launcher (package
// launch, which avoids net/http to start sooner). It links only
// encoding/json.
package apiwire

import (
	"encoding/json"
	"fmt"
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

// RegisterBody is the body of a register request for the given events
// (INVOKE, SHUTDOWN).
func RegisterBody(events ...string) ([]byte, error) {
	if events == nil {
		events = []string{}
	}
	b, err := json.Marshal(map[string][]string{"events": events})
	if err != nil {
		return nil, fmt.Errorf("encode register request: %w", err)
	}
	return b, nil
}

// SubscriptionBody is the body of a Telemetry API subscription of the
// listener at uri.
func SubscriptionBody(uri, schema string, types []string, buf Buffering) ([]byte, error) {
	b, err := json.Marshal(map[string]any{
		"schemaVersion": schema,
		"types":         types,
		"buffering":     buf,
		"destination":   map[string]string{"protocol": "HTTP", "URI": uri},
	})
	if err != nil {
		return nil, fmt.Errorf("encode telemetry subscription: %w", err)
	}
	return b, nil
}
