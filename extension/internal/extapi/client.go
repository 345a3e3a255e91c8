// Package extapi is the client of the Lambda Extensions API (register, the
// event loop, init and exit errors) and of the Telemetry API subscription,
// both served by Lambda at AWS_LAMBDA_RUNTIME_API.
package extapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/lambdascope/lambdascope/extension/internal/extapi/apiwire"
)

// Header names of the Extensions API.
const (
	headerName          = apiwire.HeaderName
	headerIdentifier    = apiwire.HeaderIdentifier
	headerAcceptFeature = apiwire.HeaderAcceptFeature
	headerErrorType     = apiwire.HeaderErrorType
)

// EventType is the type of a lifecycle event.
type EventType string

// Lifecycle events an extension can register for.
const (
	Invoke   EventType = "INVOKE"
	Shutdown EventType = "SHUTDOWN"
)

// ShutdownReason says why the environment is shutting down.
type ShutdownReason string

// Shutdown reasons Lambda documents; others are passed through lowercased.
const (
	ReasonSpindown ShutdownReason = "spindown"
	ReasonTimeout  ShutdownReason = "timeout"
	ReasonFailure  ShutdownReason = "failure"
)

// Tracing is the X-Ray tracing header of an invocation.
type Tracing struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Event is one lifecycle event returned by /event/next.
type Event struct {
	EventType          EventType      `json:"eventType"`
	DeadlineMs         int64          `json:"deadlineMs"`
	RequestID          string         `json:"requestId,omitempty"`
	InvokedFunctionArn string         `json:"invokedFunctionArn,omitempty"`
	Tracing            *Tracing       `json:"tracing,omitempty"`
	ShutdownReason     ShutdownReason `json:"shutdownReason,omitempty"`
}

// Deadline is DeadlineMs as a time.
func (e Event) Deadline() time.Time { return time.UnixMilli(e.DeadlineMs) }

// Registration is what Lambda answered to register.
type Registration struct {
	ExtensionID     string
	FunctionName    string `json:"functionName"`
	FunctionVersion string `json:"functionVersion"`
	Handler         string `json:"handler"`
	AccountID       string `json:"accountId"`
}

// Client talks to the Extensions and Telemetry APIs.
type Client struct {
	base string
	name string
	http *http.Client
	id   string
}

// New returns a client for the API at runtimeAPI (host:port, the value of
// AWS_LAMBDA_RUNTIME_API) registering under the given extension name.
func New(runtimeAPI, name string) *Client {
	return &Client{
		base: "http://" + runtimeAPI,
		name: name,
		// No timeout: /event/next blocks until the next event, which may be
		// hours away (the environment is frozen meanwhile).
		http: &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConns: 2}},
	}
}

// ExtensionID is the identifier returned by Register.
func (c *Client) ExtensionID() string { return c.id }

// Register registers the extension for the given events.
func (c *Client) Register(ctx context.Context, events ...EventType) (Registration, error) {
	names := make([]string, len(events))
	for i, e := range events {
		names[i] = string(e)
	}
	body := apiwire.RegisterBody(names...)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+apiwire.PathRegister, bytes.NewReader(body))
	if err != nil {
		return Registration{}, fmt.Errorf("register extension: %w", err)
	}
	req.Header.Set(headerName, c.name)
	req.Header.Set(headerAcceptFeature, apiwire.AcceptFeatures)
	req.Header.Set("Content-Type", "application/json")
	var reg Registration
	resp, err := c.do(req, &reg)
	if err != nil {
		return Registration{}, fmt.Errorf("register extension: %w", err)
	}
	reg.ExtensionID = resp.Header.Get(headerIdentifier)
	if reg.ExtensionID == "" {
		return Registration{}, errors.New("register extension: response has no " + headerIdentifier)
	}
	c.id = reg.ExtensionID
	return reg, nil
}

// Next blocks until the next lifecycle event.
func (c *Client) Next(ctx context.Context) (Event, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+apiwire.PathNext, nil)
	if err != nil {
		return Event{}, fmt.Errorf("get next event: %w", err)
	}
	req.Header.Set(headerIdentifier, c.id)
	var ev Event
	if _, err := c.do(req, &ev); err != nil {
		return Event{}, fmt.Errorf("get next event: %w", err)
	}
	return ev.normalized(), nil
}

// NextOn reads the answer to a GET /event/next that was already sent on
// conn (by the launcher, before it became the agent) and closes conn. The
// read ends early when ctx is cancelled.
func (c *Client) NextOn(ctx context.Context, conn net.Conn) (Event, error) {
	defer func() { _ = conn.Close() }()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return Event{}, fmt.Errorf("get next event: %w", err)
	}
	var ev Event
	if err := decodeResponse(resp, &ev); err != nil {
		return Event{}, fmt.Errorf("get next event: %w", err)
	}
	return ev.normalized(), nil
}

// normalized upper-cases the event type and lower-cases the shutdown
// reason: Lambda's spelling of them is not guaranteed.
func (e Event) normalized() Event {
	e.EventType = EventType(strings.ToUpper(string(e.EventType)))
	e.ShutdownReason = ShutdownReason(strings.ToLower(string(e.ShutdownReason)))
	return e
}

// InitError reports a failure during init; Lambda then fails the init phase.
func (c *Client) InitError(ctx context.Context, errorType string, cause error) error {
	return c.reportError(ctx, "init", errorType, cause)
}

// ExitError reports a failure before the extension exits.
func (c *Client) ExitError(ctx context.Context, errorType string, cause error) error {
	return c.reportError(ctx, "exit", errorType, cause)
}

func (c *Client) reportError(ctx context.Context, phase, errorType string, cause error) error {
	msg := ""
	if cause != nil {
		msg = cause.Error()
	}
	body, err := json.Marshal(map[string]any{"errorMessage": msg, "errorType": errorType, "stackTrace": []string{}})
	if err != nil {
		return fmt.Errorf("report %s error: %w", phase, err)
	}
	path := apiwire.PathExitError
	if phase == "init" {
		path = apiwire.PathInitError
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("report %s error: %w", phase, err)
	}
	req.Header.Set(headerIdentifier, c.id)
	req.Header.Set(headerErrorType, errorType)
	req.Header.Set("Content-Type", "application/json")
	if _, err := c.do(req, nil); err != nil {
		return fmt.Errorf("report %s error: %w", phase, err)
	}
	return nil
}

// Buffering is the Telemetry API's batching configuration.
type Buffering = apiwire.Buffering

// DefaultBuffering is the batching the extension asks for.
var DefaultBuffering = apiwire.DefaultBuffering

// ManagedBuffering is the batching asked for on Lambda Managed Instances.
var ManagedBuffering = apiwire.ManagedBuffering

// Telemetry API schema versions. Lambda Managed Instances accept only
// SchemaV2.
const (
	SchemaV1 = apiwire.SchemaV1
	SchemaV2 = apiwire.SchemaV2
)

// SubscribeTelemetry subscribes the listener at uri to the given event
// types (platform, function, extension) with the given schema version.
func (c *Client) SubscribeTelemetry(ctx context.Context, uri, schema string, types []string, buf Buffering) error {
	body := apiwire.SubscriptionBody(uri, schema, types, buf)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.base+apiwire.PathTelemetry, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("subscribe to telemetry: %w", err)
	}
	req.Header.Set(headerIdentifier, c.id)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("subscribe to telemetry: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("subscribe to telemetry: read response: %w", err)
	}
	if err := SubscriptionAnswer(resp.StatusCode, data); err != nil {
		return fmt.Errorf("subscribe to telemetry: %w", err)
	}
	return nil
}

// ErrTelemetryNotSupported marks a Telemetry API that answered that it is
// not supported (errorType Telemetry.NotSupported), as AWS's Runtime
// Interface Emulator does: the extension then runs without telemetry.
var ErrTelemetryNotSupported = errors.New("the Telemetry API is not supported here")

// SubscriptionAnswer judges the Telemetry API's answer to a subscription:
// nil when it took it. A 2xx status is not enough: an answer whose body
// holds an errorType is a refusal whatever its status (AWS's emulator
// answers 202 with Telemetry.NotSupported). Refusals are StatusErrors;
// Telemetry.NotSupported also matches ErrTelemetryNotSupported.
func SubscriptionAnswer(status int, body []byte) error {
	errType := apiwire.ErrorType(body)
	if status/100 == 2 && errType == "" {
		return nil
	}
	err := &StatusError{StatusCode: status, Body: strings.TrimSpace(string(body))}
	if errType == apiwire.ErrorTypeTelemetryNotSupported {
		return fmt.Errorf("%w: %w", ErrTelemetryNotSupported, err)
	}
	return err
}

// StatusError is a non-2xx answer of the API.
type StatusError struct {
	StatusCode int
	Body       string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("status %d: %s", e.StatusCode, e.Body)
}

// do sends req and decodes a JSON answer into out (when not nil).
func (c *Client) do(req *http.Request, out any) (*http.Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if err := decodeResponse(resp, out); err != nil {
		return nil, err
	}
	return resp, nil
}

// decodeResponse reads resp's body (and closes it), turns a non-2xx status
// into a StatusError and decodes a JSON answer into out (when not nil).
func decodeResponse(resp *http.Response, out any) error {
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return &StatusError{StatusCode: resp.StatusCode, Body: strings.TrimSpace(string(data))}
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode response: %w", err)
		}
	}
	return nil
}

// CloseIdle closes idle connections (used at exit).
func (c *Client) CloseIdle() { c.http.CloseIdleConnections() }

// AdoptRegistration makes the client act for an extension that another
// process image (the launcher) registered: id is the identifier Lambda
// returned and body the register response's body.
func (c *Client) AdoptRegistration(id string, body []byte) (Registration, error) {
	if id == "" {
		return Registration{}, errors.New("adopt registration: no extension identifier")
	}
	var reg Registration
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &reg); err != nil {
			return Registration{}, fmt.Errorf("adopt registration: decode register response: %w", err)
		}
	}
	reg.ExtensionID = id
	c.id = id
	return reg, nil
}
