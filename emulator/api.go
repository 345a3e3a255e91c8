package emulator

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Headers of the Runtime and Extensions APIs.
const (
	hdrRequestID     = "Lambda-Runtime-Aws-Request-Id"
	hdrDeadline      = "Lambda-Runtime-Deadline-Ms"
	hdrFunctionArn   = "Lambda-Runtime-Invoked-Function-Arn"
	hdrTraceID       = "Lambda-Runtime-Trace-Id"
	hdrErrorType     = "Lambda-Runtime-Function-Error-Type"
	hdrExtName       = "Lambda-Extension-Name"
	hdrExtID         = "Lambda-Extension-Identifier"
	hdrExtEventID    = "Lambda-Extension-Event-Identifier"
	hdrExtErrorType  = "Lambda-Extension-Function-Error-Type"
	hdrExtAccept     = "Lambda-Extension-Accept-Feature"
	contentTypeJSON  = "application/json"
	statusOKResponse = `{"status":"OK"}`
)

func (e *environment) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", e.handleRuntimeNext)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", e.handleRuntimeResponse)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", e.handleRuntimeError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", e.handleRuntimeInitError)
	mux.HandleFunc("POST /2020-01-01/extension/register", e.handleExtRegister)
	mux.HandleFunc("GET /2020-01-01/extension/event/next", e.handleExtNext)
	mux.HandleFunc("POST /2020-01-01/extension/init/error", e.handleExtError(true))
	mux.HandleFunc("POST /2020-01-01/extension/exit/error", e.handleExtError(false))
	mux.HandleFunc("PUT /2022-07-01/telemetry", e.handleTelemetrySubscribe)
	mux.HandleFunc("PUT /2022-07-01/telemetry/", e.handleTelemetrySubscribe)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeAPIError(w, http.StatusNotFound, "InvalidRequest", "unknown path "+r.Method+" "+r.URL.Path)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		if e.apiClosed {
			e.mu.Unlock()
			writeAPIError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "environment is shutting down")
			return
		}
		e.handlers.Add(1)
		e.mu.Unlock()
		defer e.handlers.Done()
		mux.ServeHTTP(w, r)
	})
}

func writeAPIError(w http.ResponseWriter, status int, errorType, msg string) {
	w.Header().Set("Content-Type", contentTypeJSON)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"errorMessage": msg, "errorType": errorType})
}

func writeAccepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", contentTypeJSON)
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, statusOKResponse)
}

func (e *environment) handleRuntimeNext(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	first := !e.runtimeReady
	e.mu.Unlock()
	if first {
		// Emitted before init is told the runtime is ready, so that it always
		// precedes platform.initReport.
		e.emit("platform.initRuntimeDone", map[string]any{
			"initializationType": e.initType(), "phase": "init", "status": "success",
		})
	}
	e.mu.Lock()
	e.runtimeWaiting = true
	e.runtimeNextAt = time.Now()
	e.runtimeReady = true
	e.notifyLocked()
	e.mu.Unlock()
	select {
	case inv := <-e.runtimeNext:
		h := w.Header()
		h.Set(hdrRequestID, inv.id)
		h.Set(hdrDeadline, strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set(hdrFunctionArn, e.functionARN())
		h.Set(hdrTraceID, inv.trace.header())
		h.Set("Content-Type", contentTypeJSON)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(inv.payload)
		if inv.killRuntime {
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			e.mu.Lock()
			rt := e.runtime
			e.mu.Unlock()
			if rt != nil {
				e.log.Info("killing the runtime during the invocation, as requested", "request_id", inv.id)
				rt.kill()
			}
		}
	case <-r.Context().Done():
	case <-e.closing:
	}
}

// currentFor returns the invocation a runtime post refers to, or writes the
// error response.
func (e *environment) currentFor(w http.ResponseWriter, id string) *invocation {
	e.mu.Lock()
	defer e.mu.Unlock()
	inv := e.inflight[id]
	if inv == nil {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequestID", "Invalid request ID")
		return nil
	}
	if inv.responded {
		writeAPIError(w, http.StatusBadRequest, "InvalidStateTransition", "a response or error was already posted for "+id)
		return nil
	}
	return inv
}

// readPayload reads at most the 6 MB Lambda allows.
func readPayload(r *http.Request) ([]byte, bool, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayloadBytes+1))
	if err != nil {
		return nil, false, fmt.Errorf("read payload: %w", err)
	}
	return body, len(body) > maxPayloadBytes, nil
}

func (e *environment) complete(inv *invocation, start time.Time, payload []byte, isError bool, errorType string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if inv.responded {
		return
	}
	inv.responded = true
	inv.respStart, inv.respEnd = start, time.Now()
	inv.response, inv.isError, inv.errorType = payload, isError, errorType
	e.notifyLocked()
}

func (e *environment) handleRuntimeResponse(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	inv := e.currentFor(w, r.PathValue("id"))
	if inv == nil {
		return
	}
	body, tooLarge, err := readPayload(r)
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	if tooLarge {
		msg := fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", maxPayloadBytes)
		e.complete(inv, start, errorPayload("Function.ResponseSizeTooLarge", msg), true, "Function.ResponseSizeTooLarge")
		writeAPIError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", msg)
		return
	}
	if errType := r.Trailer.Get(hdrErrorType); errType != "" {
		// A streaming runtime reports a failure mid-body in trailers.
		e.complete(inv, start, errorPayload(errType, "response stream failed"), true, platformErrorType(errType))
		writeAccepted(w)
		return
	}
	e.complete(inv, start, body, false, "")
	writeAccepted(w)
}

func (e *environment) handleRuntimeError(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	inv := e.currentFor(w, r.PathValue("id"))
	if inv == nil {
		return
	}
	body, _, err := readPayload(r)
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	_, payload := parseFunctionError(r.Header.Get(hdrErrorType), body)
	e.complete(inv, start, payload, true, platformErrorType(r.Header.Get(hdrErrorType)))
	writeAccepted(w)
}

// errorTypePattern is what Lambda takes as a runtime's error type.
var errorTypePattern = regexp.MustCompile(`^(Runtime|Function)\.[A-Z][a-zA-Z]+$`)

// platformErrorType is the error type Lambda reports in its telemetry for
// the Lambda-Runtime-Function-Error-Type a runtime sent, as AWS's Runtime
// Interface Emulator, which shares Lambda's code, does: a Runtime.X or
// Function.X as given, any other Function.* as Function.Unknown, anything
// else (an absent header too: aws-lambda-go sends none) as
// Runtime.Unknown. The errorType of the error body is the function's word
// to its caller and plays no part.
func platformErrorType(header string) string {
	switch {
	case errorTypePattern.MatchString(header):
		return header
	case strings.HasPrefix(header, "Function."):
		return "Function.Unknown"
	default:
		return "Runtime.Unknown"
	}
}

// parseFunctionError returns the error type and the payload to hand back
// for a function error body, which should be {errorMessage, errorType}.
func parseFunctionError(headerType string, body []byte) (string, []byte) {
	var fe struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if err := json.Unmarshal(body, &fe); err != nil || (fe.ErrorType == "" && fe.ErrorMessage == "") {
		t := headerType
		if t == "" {
			t = "Unknown"
		}
		return t, errorPayload(t, strings.TrimSpace(string(body)))
	}
	t := fe.ErrorType
	if t == "" {
		t = headerType
	}
	if t == "" {
		t = "Unknown"
	}
	return t, body
}

func (e *environment) handleRuntimeInitError(w http.ResponseWriter, r *http.Request) {
	body, _, _ := readPayload(r)
	errType := platformErrorType(r.Header.Get(hdrErrorType))
	e.mu.Lock()
	done := e.initDone
	e.mu.Unlock()
	if done {
		writeAPIError(w, http.StatusForbidden, "InvalidStateTransition", "init/error is only allowed during init")
		return
	}
	e.fail(errType, fmt.Errorf("runtime reported an init error: %s", strings.TrimSpace(string(body))))
	writeAccepted(w)
}

func (e *environment) handleExtRegister(w http.ResponseWriter, r *http.Request) {
	name := r.Header.Get(hdrExtName)
	if name == "" {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequest", "missing "+hdrExtName+" header")
		return
	}
	var body struct {
		Events []string `json:"events"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 64*1024)).Decode(&body); err != nil {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequest", "decode register body: "+err.Error())
		return
	}
	events := map[string]bool{}
	for _, ev := range body.Events {
		if ev != "INVOKE" && ev != "SHUTDOWN" {
			writeAPIError(w, http.StatusBadRequest, "InvalidEventType", fmt.Sprintf("event %q is not INVOKE or SHUTDOWN", ev))
			return
		}
		events[ev] = true
	}
	if e.fn.cfg.ManagedInstances && events["INVOKE"] {
		writeAPIError(w, http.StatusBadRequest, "InvalidEventType",
			"INVOKE event is not supported on Lambda Managed Instances; register for SHUTDOWN only")
		return
	}
	e.mu.Lock()
	if e.initDone {
		e.mu.Unlock()
		writeAPIError(w, http.StatusForbidden, "Extension.InvalidRegistration", "extensions register only during init")
		return
	}
	for _, x := range e.extensions {
		if x.name == name {
			e.mu.Unlock()
			writeAPIError(w, http.StatusConflict, "Extension.AlreadyRegistered", "extension "+name+" is already registered")
			return
		}
	}
	x := &extension{id: newUUID(), name: name, events: events, eventCh: make(chan []byte, 1)}
	for _, p := range e.extProcs {
		if filepath.Base(p.name) == name {
			x.proc = p
		}
	}
	if x.proc == nil {
		e.log.Warn("registered extension name matches no extension executable", "extension", name)
	}
	e.extensions = append(e.extensions, x)
	e.extByID[x.id] = x
	e.notifyLocked()
	e.mu.Unlock()

	resp := map[string]string{
		"functionName":    e.fn.cfg.Name,
		"functionVersion": e.fn.cfg.Version,
		"handler":         e.handlerName(),
	}
	for _, f := range strings.Split(r.Header.Get(hdrExtAccept), ",") {
		if strings.TrimSpace(f) == "accountId" {
			resp["accountId"] = e.em.cfg.AccountID
		}
	}
	w.Header().Set(hdrExtID, x.id)
	w.Header().Set("Content-Type", contentTypeJSON)
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(resp)
}

// extensionFor returns the registered extension a request identifies, or
// writes the error response.
func (e *environment) extensionFor(w http.ResponseWriter, r *http.Request) *extension {
	id := r.Header.Get(hdrExtID)
	if id == "" {
		writeAPIError(w, http.StatusForbidden, "Extension.MissingExtensionIdentifier", "missing "+hdrExtID+" header")
		return nil
	}
	e.mu.Lock()
	x := e.extByID[id]
	e.mu.Unlock()
	if x == nil {
		writeAPIError(w, http.StatusForbidden, "Extension.UnknownExtensionIdentifier", "unknown extension identifier "+id)
		return nil
	}
	return x
}

func (e *environment) handleExtNext(w http.ResponseWriter, r *http.Request) {
	x := e.extensionFor(w, r)
	if x == nil {
		return
	}
	e.mu.Lock()
	x.waiting = true
	first := !x.ready
	x.ready = true
	events := make([]string, 0, 2)
	for _, ev := range []string{"INVOKE", "SHUTDOWN"} {
		if x.events[ev] {
			events = append(events, ev)
		}
	}
	e.notifyLocked()
	e.mu.Unlock()
	if first {
		e.emit("platform.extension", map[string]any{"name": x.name, "state": "Ready", "events": events})
	}
	select {
	case ev := <-x.eventCh:
		w.Header().Set(hdrExtEventID, newUUID())
		w.Header().Set("Content-Type", contentTypeJSON)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(ev)
	case <-r.Context().Done():
	case <-e.closing:
	}
}

func (e *environment) handleExtError(initPhase bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		x := e.extensionFor(w, r)
		if x == nil {
			return
		}
		errType := r.Header.Get(hdrExtErrorType)
		if errType == "" {
			writeAPIError(w, http.StatusBadRequest, "InvalidRequest", "missing "+hdrExtErrorType+" header")
			return
		}
		body, _, _ := readPayload(r)
		phase := "exit"
		if initPhase {
			phase = "init"
		}
		e.fail(errType, fmt.Errorf("extension %s reported an %s error: %s %s", x.name, phase, errType, strings.TrimSpace(string(body))))
		writeAccepted(w)
	}
}

func (e *environment) handleTelemetrySubscribe(w http.ResponseWriter, r *http.Request) {
	x := e.extensionFor(w, r)
	if x == nil {
		return
	}
	if e.fn.cfg.RefuseTelemetry {
		writeAPIError(w, http.StatusInternalServerError, "ServiceException", "telemetry subscription refused (the function's RefuseTelemetry fault)")
		return
	}
	var req subscribeRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64*1024)).Decode(&req); err != nil {
		writeAPIError(w, http.StatusBadRequest, "ValidationError", "decode subscription: "+err.Error())
		return
	}
	cfg, err := req.validate()
	if err == nil && e.fn.cfg.ManagedInstances && req.SchemaVersion != schemaManagedInstances {
		err = fmt.Errorf("schemaVersion %q is not supported on Lambda Managed Instances; use %s", req.SchemaVersion, schemaManagedInstances)
	}
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "ValidationError", err.Error())
		return
	}
	e.mu.Lock()
	if e.shuttingDown {
		e.mu.Unlock()
		writeAPIError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "environment is shutting down")
		return
	}
	s, existed := e.subs[x.id]
	if existed {
		s.update(cfg)
	} else {
		s = newSubscription(x.name, cfg, e.client, e.log, e.awake)
		e.subs[x.id] = s
		e.goroutines.Go(s.run)
		for _, raw := range e.backlog {
			var head struct {
				Type string `json:"type"`
			}
			if json.Unmarshal(raw, &head) == nil && cfg.types[categoryOf(head.Type)] {
				s.enqueue(raw)
			}
		}
	}
	e.mu.Unlock()
	types := make([]string, 0, len(req.Types))
	types = append(types, req.Types...)
	e.emit("platform.telemetrySubscription", map[string]any{"name": x.name, "state": "Subscribed", "types": types})
	w.Header().Set("Content-Type", contentTypeJSON)
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, `"OK"`)
}
