package agent

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/maphash"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/invocation"
	"github.com/lambdascope/lambdascope/extension/internal/otlpwire"
	"github.com/lambdascope/lambdascope/extension/internal/recent"
	"github.com/lambdascope/lambdascope/extension/internal/redact"
	"github.com/lambdascope/lambdascope/extension/internal/rtproxy"
	"github.com/lambdascope/lambdascope/extension/internal/trigger"
)

// EventsScope is the instrumentation scope of the spans inferred from
// invocation events.
const EventsScope = "lambdascope/events"

// maxErrorMessage bounds the error message taken from /error, on the
// inferred span and the invocation's record, once redacted.
const maxErrorMessage = invocation.MaxErrorMessage

// maxErrorType bounds the function's error type taken from /error, on the
// invocation's record, once redacted.
const maxErrorType = invocation.MaxFunctionErrorType

// maxErrorScan bounds the error message and type read from /error before
// they are redacted and cut to maxErrorMessage and maxErrorType: a secret
// is looked for in more than is kept, so that one cut at the bound is not
// left half shown.
const maxErrorScan = 16 << 10

// maxPending bounds the invocations remembered between their event and
// their answer (and the answers remembered for the end-of-invocation
// wait).
const maxPending = 256

// maxForgotten bounds the invocations remembered as forgotten (see
// eventObserver.forgotten).
const maxForgotten = 1024

// maxHeld bounds the inferred spans held for the function's invocation
// span (see holdLocked): as many as a Managed Instances environment runs
// invocations at once.
const maxHeld = 64

// eventObserver is the Runtime API proxy's Observer: from each event it
// derives the trigger and the trace context the invocation joins, from
// each answer the outcome; it adds the inferred span of the upstream hop
// and tells the end-of-invocation wait that the answer was given. Bodies
// are read here and never kept.
type eventObserver struct {
	ready <-chan struct{}
	order []trigger.Source
	// sink gives the buffer and tracker once set up (nil before).
	sink func() (*buffer.Buffer, *invocation.Tracker, *resourcepb.Resource)

	// detect is what detection keeps beyond the trigger (the headers
	// allowed), redact hides secrets in what is kept; both are set before
	// the first event.
	detect trigger.Options
	redact *redact.Redactor
	// waitInvoked, when set (the proxy's WaitInvoked), waits, bounded,
	// for Invoked of an event the proxy relayed and has not yet handed
	// over; set before the first event.
	waitInvoked func(id string)

	// lost counts the invocations forgotten before their answer came
	// whose inferred span is not made: beyond maxPending, and at SHUTDOWN
	// the answers whose event was never seen; log reports it.
	lost atomic.Uint64
	// unansweredSpans counts the inferred spans made for invocations that
	// never answered (endUnanswered).
	unansweredSpans atomic.Uint64
	// lateAnswers counts the answers seen after their invocation's
	// inferred span was made without one: the span does not have them.
	lateAnswers atomic.Uint64
	log         *slog.Logger

	// adopted counts the function's invocation spans made children of
	// their inferred span; apart those that started a trace of their own
	// after their inferred span, in another trace, was made (two trees).
	adopted atomic.Uint64
	apart   atomic.Uint64
	// heldInVain counts inferred spans held for the function's invocation
	// span (see holdLocked) and sent without it, in a trace of their own.
	heldInVain atomic.Uint64
	// tooLate counts the function's invocation spans that came after what
	// was decided for their invocation was forgotten (rememberLocked):
	// they stay as they are, apart from their inferred span.
	tooLate atomic.Uint64
	// errorTextsCut counts the answers to /error (and streamed responses'
	// error trailers) whose error message or type was cut to its bound.
	errorTextsCut atomic.Uint64
	// errorBodiesTooLarge counts the errors whose body was too large to
	// read (an /error body over trigger.MaxDecode, a streamed response's
	// error-body trailer whose beginning kept holds not both the type and
	// the message): their message is not known (see readError).
	errorBodiesTooLarge atomic.Uint64

	mu      sync.Mutex
	pending map[string]*pendingInvocation
	// ended says, by request ID, that the runtime's answer was relayed.
	ended signals
	// recent are the inferred spans made, by invocation, for the
	// function's spans that come after them.
	recent  map[string]inferredRef
	recentQ []string
	// forgotten are hashes of the invocations whose inferred span was
	// forgotten from recent, the last len(forgotten), in a ring at
	// forgottenAt: what tells a span that comes too late (tooLate) from
	// one of an invocation that had no inferred span.
	forgotten   [maxForgotten]uint64
	forgottenAt int
	// sdkRoots says the function's SDK was seen starting traces of its
	// own for its invocation spans: from then on the inferred span of an
	// event without context waits for the SDK's span (held).
	sdkRoots bool
	// sdkSeen says a function's invocation span was seen; answered that
	// an answer was. With coldSDK (the function's environment configures
	// an OpenTelemetry SDK, sdkConfigured), until either, the inferred
	// span of an event without context waits too: at a cold start the
	// SDK may export its first spans after the answer (see holdLocked).
	sdkSeen, answered, coldSDK bool
	// taken says, by request ID, that the runtime took the invocation
	// through the proxy (Invoked).
	taken signals
	// invoked numbers the events in the order they came.
	invoked uint64
	// held are the inferred spans answered but waiting for the function's
	// invocation span, oldest first in heldQ.
	held  map[string]*pendingInvocation
	heldQ []string
	// shutdownReason is the SHUTDOWN's reason, lower case
	// (setShutdownReason).
	shutdownReason string
	// unansweredIDs remembers the invocations whose inferred span was
	// made without an answer, the last maxPending: an answer that comes
	// after is counted (lateAnswers), not kept waiting for an event that
	// came already.
	unansweredIDs *recent.IDs
}

// inferredRef is an inferred span and the span it is a child of.
type inferredRef struct {
	traceID [16]byte
	parent  [8]byte
	spanID  [8]byte
	// noContext: the event carried no context (see pendingInvocation).
	noContext bool
}

// FunctionTrace is lambdascope.trace_context.source of an inferred span
// that took the trace the function's SDK started, the event carrying no
// context.
const FunctionTrace trigger.Source = "function"

type pendingInvocation struct {
	trig trigger.Trigger
	// lambda is the invocation's Lambda-Runtime-Trace-Id.
	lambda string
	sc     trigger.SpanContext
	spanID [8]byte
	// noContext says the event carried no trace context: sc is Lambda's
	// header's or made up, and the inferred span takes the trace the
	// function's SDK starts, if one does before the answer.
	noContext bool
	// trigSource is the trigger's source (triggerSource), redacted.
	trigSource string
	// seq is the event's number (eventObserver.invoked); heldAfter, for a
	// held span, the number of the last event seen when it was held.
	seq, heldAfter uint64
	// deferred says the invocation's record waits (Tracker.DeferReport)
	// until the inferred span is sent; joined that the function's
	// invocation span was made its child before the answer; cold that it
	// waits only because nothing was known yet of the function's SDK.
	deferred, joined, cold bool
	received               time.Time
	invoked                bool
	// set once the answer was seen
	end     *outcome
	emitted bool
	// platform is what the platform said of the invocation's end
	// (platform.runtimeDone or platform.report) before its answer was
	// seen, nil until then.
	platform *platformEnd
}

// platformEnd is the end of an invocation as the platform reported it.
type platformEnd struct {
	status, errType string
	at              time.Time
}

// outcome is what the runtime answered.
type outcome struct {
	kind      rtproxy.Kind
	at        time.Time
	size      int64
	status    int
	hasStatus bool
	// errType is the error type of the inferred span: the
	// Lambda-Runtime-Function-Error-Type header (or trailer), else the
	// body's errorType.
	errType string
	// errMsg is the body's errorMessage, funcErrType its errorType (else
	// the header's): the record's error_message and function_error_type,
	// redacted and bounded.
	errMsg      string
	funcErrType string
	// endedBy, when set, says no answer was seen: what ended the
	// invocation instead (endedByPlatform, endedByNextInvoke,
	// endedByShutdown). errType is then the platform's status or the
	// SHUTDOWN's reason ("timeout", "failure"), or "unanswered" when
	// nothing says more; errMsg the platform's error type; atFound says
	// at is when the invocation was found unanswered, not the end the
	// platform reported.
	endedBy string
	atFound bool
}

// What ended an invocation whose answer was not seen (outcome.endedBy).
const (
	endedByPlatform   = "platform"
	endedByNextInvoke = "next_invoke"
	endedByShutdown   = "shutdown"
)

// unansweredType is the error.type of the inferred span of an invocation
// that never answered when neither the platform nor the SHUTDOWN's reason
// says how it ended.
const unansweredType = "unanswered"

func newEventObserver(ready <-chan struct{}, order []trigger.Source,
	sink func() (*buffer.Buffer, *invocation.Tracker, *resourcepb.Resource), log *slog.Logger) *eventObserver {
	return &eventObserver{ready: ready, order: order, sink: sink, log: log,
		pending: map[string]*pendingInvocation{}, recent: map[string]inferredRef{},
		held: map[string]*pendingInvocation{}, unansweredIDs: recent.New(maxPending)}
}

// Invoked reads an event the runtime received.
func (o *eventObserver) Invoked(ev rtproxy.Event) {
	if ev.RequestID == "" {
		return
	}
	o.markTaken(ev.RequestID)
	var trig trigger.Trigger
	if ev.Truncated {
		// Too big to decode: only its first bytes were kept.
		trig = trigger.Sniff(ev.Body)
	} else {
		trig = trigger.DetectWith(ev.Body, o.detect)
	}
	var spanID [8]byte
	binary.LittleEndian.PutUint64(spanID[:], rand.Uint64()|1)
	var sc trigger.SpanContext
	var ok bool
	if d := trig.Durable; d != nil {
		// The invocations of a durable execution share one trace, that
		// of its ARN, unless the event carries a context of its own:
		// Lambda's header differs for each. The first invocation's span
		// is the trace's root, the replays' its children.
		if sc, ok = trigger.Resolve(trig.Context, "", o.order); !ok {
			traceID, root := trigger.DurableTrace(d.ARN)
			sc = trigger.SpanContext{TraceID: traceID, Sampled: true, Source: trigger.DurableARN}
			if d.Replay {
				sc.SpanID = root
			} else {
				spanID = root
			}
			ok = true
		}
	} else {
		sc, ok = trigger.Resolve(trig.Context, ev.TraceID, o.order)
	}
	if !ok {
		binary.LittleEndian.PutUint64(sc.TraceID[:8], rand.Uint64()|1)
		binary.LittleEndian.PutUint64(sc.TraceID[8:], rand.Uint64()|1)
		sc.Sampled = true
	}
	p := &pendingInvocation{trig: trig, lambda: ev.TraceID, sc: sc, spanID: spanID, received: ev.Received, invoked: true,
		noContext: trig.Durable == nil && (!ok || sc.Source == trigger.Lambda), trigSource: triggerSource(trig, o.redact)}
	if p.noContext && trig.Kind != trigger.Direct {
		// The SDK, seen starting traces of its own, may export its
		// invocation span after the answer: the record waits with the
		// inferred span for it (see holdLocked).
		// Before the first answer nothing is known of the SDK yet: the
		// cold start's events wait as well when the environment says
		// there is one.
		o.mu.Lock()
		sdkRoots, cold := o.sdkRoots, o.coldSDK && !o.sdkRoots && !o.sdkSeen && !o.answered
		o.mu.Unlock()
		if _, tracker, _ := o.wait(); sdkRoots || cold {
			p.deferred = tracker == nil || tracker.DeferReport(ev.RequestID)
			p.cold = cold
		}
	}

	o.mu.Lock()
	o.invoked++
	p.seq = o.invoked
	if prev, ok := o.pending[ev.RequestID]; ok && prev.end != nil {
		p.end = prev.end // the answer was read first
	}
	answered := p.end != nil
	o.putLocked(ev.RequestID, p)
	o.mu.Unlock()

	if _, tracker, _ := o.wait(); tracker != nil {
		// The trigger and the trace context go on the invocation's record
		// now, not only with the answer: an invocation that never answers
		// (timed out, crashed) has them too.
		tracker.ObserveEvent(ev.RequestID, ev.Received, invocation.Response{Trigger: string(trig.Kind),
			TriggerSource: p.trigSource, TraceContextSource: contextSource(sc)})
		if trig.Kind != trigger.Direct {
			// The platform spans of the invocation (lambda.invoke) hang
			// under the inferred span, in the caller's trace; a SERVER
			// span of the function's own takes precedence.
			tracker.ObserveInvocationSpans([]otlpwire.InvocationSpan{{InvocationID: ev.RequestID,
				TraceID: sc.TraceID[:], SpanID: p.spanID[:]}})
		}
	}
	if answered {
		o.emit(ev.RequestID, p)
	}
}

// Ended reads the runtime's answer: the outcome goes on the inferred span,
// which is added to the buffer before the end is announced, so that a
// flush at the end of the invocation ships it.
func (o *eventObserver) Ended(e rtproxy.End) {
	out := &outcome{kind: e.Kind, at: e.Ended, size: e.Size, errType: e.ErrorType}
	if e.Kind == rtproxy.Error || e.ErrorType != "" {
		o.readError(out, e)
	}
	o.mu.Lock()
	p, ok := o.pending[e.RequestID]
	if !ok && o.unansweredIDs.Has(e.RequestID) {
		// Its inferred span was made without an answer already.
		o.mu.Unlock()
		if n := o.lateAnswers.Add(1); n&(n-1) == 0 {
			o.log.Warn("an answer came after its invocation's inferred span was made without one; the span does not have it",
				"request_id", e.RequestID, "total", n)
		}
		o.markEnded(e.RequestID)
		return
	}
	if !ok {
		p = &pendingInvocation{}
		o.putLocked(e.RequestID, p)
	}
	if p.invoked && p.trig.Kind.HTTP() && e.Kind == rtproxy.Response {
		out.status, out.hasStatus = trigger.StatusCode(e.Body)
		if !out.hasStatus && !e.Streamed && !e.Truncated && len(e.Body) <= trigger.MaxDecode {
			// An answer without a status: what the front makes of it.
			out.status, out.hasStatus = trigger.ImpliedStatus(p.trig.Kind)
		}
	}
	p.end = out
	invoked := p.invoked
	o.answered = o.answered || invoked
	o.mu.Unlock()
	if invoked {
		o.emit(e.RequestID, p)
	}
	o.markEnded(e.RequestID)
}

// putLocked remembers p, forgetting the oldest beyond maxPending.
// The records that wait with the invocations forgotten (DeferReport) are
// released.
func (o *eventObserver) putLocked(id string, p *pendingInvocation) {
	if len(o.pending) >= maxPending {
		// A runtime that takes events and never answers: start over.
		n := o.lost.Add(uint64(len(o.pending)))
		o.log.Warn("forgetting invocations whose answer never came; their inferred spans are not made",
			"count", len(o.pending), "why", "more than the bound waited for their answer", "bound", maxPending, "total", n)
		if _, tracker, _ := o.sink(); tracker != nil {
			for fid, f := range o.pending {
				if f.deferred {
					tracker.ReleaseReport(fid)
				}
			}
		}
		clear(o.pending)
	}
	o.pending[id] = p
}

// wait returns the buffer and tracker once the agent is set up.
func (o *eventObserver) wait() (*buffer.Buffer, *invocation.Tracker, *resourcepb.Resource) {
	<-o.ready
	return o.sink()
}

// emit adds the inferred span of an invocation, once, or holds it (see
// hold); an answer also sends the held spans whose wait it ends.
func (o *eventObserver) emit(id string, p *pendingInvocation) {
	o.mu.Lock()
	if p.emitted || p.end == nil || !p.invoked {
		o.mu.Unlock()
		return
	}
	p.emitted = true
	delete(o.pending, id)
	inferred := p.trig.Kind != trigger.Direct
	hold := inferred && p.deferred && !p.joined
	due := o.dueLocked(p.seq)
	var pushed []heldSpan
	if hold {
		pushed = o.holdLocked(id, p)
	} else if inferred {
		o.rememberLocked(id, p)
	}
	o.mu.Unlock()
	buf, tracker, res := o.wait()
	if tracker != nil {
		o.observe(tracker, id, p)
		// The end, for a record built from the extension's own view.
		tracker.ObserveEnd(id, p.received, p.end.at, p.end.kind == rtproxy.Error, p.end.errType)
	}
	o.sendHeld(due, "the function's invocation span did not come before the next answer")
	o.sendHeld(pushed, "more inferred spans waited than the bound")
	if inferred && !hold && buf != nil {
		o.send(buf, res, id, p)
	}
	if p.deferred && !hold && tracker != nil {
		tracker.ReleaseReport(id)
	}
}

// readError reads the error of a runtime's answer to /error (or of a
// streamed response that failed: its Lambda-Runtime-Function-Error-Body
// trailer, base64-encoded) into out: its message and the function's error
// type, redacted and cut to their bounds (an answer with a cut is counted
// in errorTextsCut and logged).
//
// The function's error type is the body's errorType, which the runtime
// takes from the error the function raised or returned ("errorString" or
// the error's Go type for aws-lambda-go, "TypeError" for Node.js,
// "ValueError" for Python); the Lambda-Runtime-Function-Error-Type header
// (or trailer) is taken only when the body names none: AWS suggests a
// category for it ("Runtime.NoSuchHandler"), and the record's error_type
// is already what the platform's report says ("Runtime.Unknown" for
// aws-lambda-go, which sends no header). The inferred span's error.type
// keeps the header first.
//
// An /error body is read up to trigger.MaxDecode. Of the error-body
// trailer, only its first rtproxy.MaxErrorBodyKept bytes are kept (the
// whole is relayed): when it is longer, that beginning is decoded and read
// up to where it is cut, which finds the type and message every runtime
// writes before the stack trace (errorOfPrefix).
//
// A body too large to read (an /error body over trigger.MaxDecode, an
// error-body trailer whose type and message are not both within its
// beginning kept) gives no message (what was found of the type is kept),
// and the type from the header (or trailer) when it has none; it is
// counted in errorBodiesTooLarge and logged (the 1st, 2nd, 4th, ... time).
func (o *eventObserver) readError(out *outcome, e rtproxy.End) {
	body := e.Body
	var tooLarge string // what was too large to read
	var size, bound int64
	var t, m string
	var cut bool
	switch {
	case e.Kind == rtproxy.Error:
		if e.Truncated || len(body) > trigger.MaxDecode {
			body, tooLarge, size, bound = nil, "/error body", e.Size, trigger.MaxDecode
		}
		t, m, cut = trigger.ErrorOf(body, maxErrorScan)
	case e.ErrorBodySize > int64(len(e.ErrorBody)):
		// Only the trailer's beginning: decoded up to its last whole
		// group of 4.
		b, _ := base64.StdEncoding.DecodeString(e.ErrorBody[:len(e.ErrorBody)/4*4])
		var ok bool
		if t, m, cut, ok = errorOfPrefix(b, maxErrorScan); !ok {
			m, tooLarge, size, bound = "", rtproxy.HeaderErrorBody+" trailer", e.ErrorBodySize, int64(rtproxy.MaxErrorBodyKept)
		}
	default:
		if e.ErrorBody != "" {
			b, _ := base64.StdEncoding.DecodeString(e.ErrorBody)
			t, m, cut = trigger.ErrorOf(b, maxErrorScan)
		}
	}
	if tooLarge != "" {
		if k := o.errorBodiesTooLarge.Add(1); k&(k-1) == 0 {
			o.log.Warn("an error the runtime reported has a body too large to read: its message is left out, its type taken from the "+
				rtproxy.HeaderErrorType+" header or trailer when the body's was not read", "request_id", e.RequestID, "what", tooLarge,
				"bytes", size, "bound", bound, "type_from_header", e.ErrorType != "", "total", k)
		}
	}
	if t = strings.TrimSpace(t); t == "" {
		t = e.ErrorType
	}
	if out.errType == "" {
		out.errType = t
	}
	m, t = o.redact.String(m), o.redact.String(t)
	// The inferred span's error.type, redacted and cut like the
	// record's.
	st := o.redact.String(out.errType)
	out.errType = invocation.CutText(st, maxErrorType)
	out.errMsg = invocation.CutText(m, maxErrorMessage)
	out.funcErrType = invocation.CutText(t, maxErrorType)
	if cut || len(out.errMsg) < len(m) || len(out.funcErrType) < len(t) || len(out.errType) < len(st) {
		if k := o.errorTextsCut.Add(1); k&(k-1) == 0 {
			o.log.Info("an error the runtime reported has its message or type cut to its bound",
				"request_id", e.RequestID, "message_bytes", len(m), "message_bound", maxErrorMessage,
				"type_bytes", max(len(t), len(st)), "type_bound", maxErrorType, "total", k)
		}
	}
}

// errorOfPrefix reads the errorType and errorMessage of the beginning of
// an error's JSON body, cut anywhere, as trigger.ErrorOf reads a whole
// one: the members of its object are read in order until both are found
// or the cut is reached. ok says both were found (each a string or not).
// Every runtime writes them before the stack trace: Node.js's
// {"errorType", "errorMessage", "trace"}, Python's {"errorMessage",
// "errorType", "requestId", "stackTrace"}, aws-lambda-go's
// {"errorMessage", "errorType", "stackTrace"}.
func errorOfPrefix(b []byte, max int) (typ, msg string, cut, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", "", false, false
	}
	var haveType, haveMsg bool
	for !haveType || !haveMsg {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		key, isKey := tok.(string)
		if !isKey {
			break // the object's end
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			break // cut within the value
		}
		var c bool
		switch key {
		case "errorType":
			typ, c = prefixText(raw, max)
			haveType = true
		case "errorMessage":
			msg, c = prefixText(raw, max)
			haveMsg = true
		}
		cut = cut || c
	}
	return typ, msg, cut, haveType && haveMsg
}

// prefixText is the JSON string raw cut to max bytes at a character
// boundary, empty when raw is not a string.
func prefixText(raw json.RawMessage, max int) (s string, cut bool) {
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	c := invocation.CutText(s, max)
	return c, len(c) < len(s)
}

// observe gives the tracker what the proxy saw of invocation id, for its
// record.
func (o *eventObserver) observe(tracker *invocation.Tracker, id string, p *pendingInvocation) {
	o.mu.Lock()
	src := contextSource(p.sc)
	o.mu.Unlock()
	tracker.ObserveResponse(id, invocation.Response{Trigger: string(p.trig.Kind), TriggerSource: p.trigSource,
		TraceContextSource: src, HTTPStatus: p.end.status, Size: p.end.size, ErrorMessage: p.end.errMsg,
		FunctionErrorType: p.end.funcErrType})
}

// send adds the inferred span of p to buf.
func (o *eventObserver) send(buf *buffer.Buffer, res *resourcepb.Resource, id string, p *pendingInvocation) {
	buf.AddSpans([]*tracepb.ResourceSpans{{Resource: res, ScopeSpans: []*tracepb.ScopeSpans{{
		Scope: &commonpb.InstrumentationScope{Name: EventsScope},
		Spans: []*tracepb.Span{inferredSpan(id, p, o.order, o.redact)},
	}}}})
}

// rememberLocked keeps the context an inferred span was made in, for the
// function's spans that come after it, the last maxPending invocations'.
func (o *eventObserver) rememberLocked(id string, p *pendingInvocation) {
	if _, ok := o.recent[id]; !ok {
		o.recentQ = append(o.recentQ, id)
	}
	o.recent[id] = inferredRef{traceID: p.sc.TraceID, parent: p.sc.SpanID, spanID: p.spanID, noContext: p.noContext}
	for len(o.recentQ) > maxPending {
		delete(o.recent, o.recentQ[0])
		o.forgotten[o.forgottenAt] = idHash(o.recentQ[0])
		o.forgottenAt = (o.forgottenAt + 1) % maxForgotten
		o.recentQ = o.recentQ[1:]
	}
}

// hashSeed keys idHash.
var hashSeed = maphash.MakeSeed()

// idHash is an invocation ID's hash, never 0 (the ring's empty slot).
func idHash(id string) uint64 { return maphash.String(hashSeed, id) | 1 }

// knownLocked says whether anything is known of invocation id: pending,
// held or remembered.
func (o *eventObserver) knownLocked(id string) bool {
	_, p := o.pending[id]
	_, h := o.held[id]
	_, r := o.recent[id]
	return p || h || r
}

// tooLateLocked counts the function's invocation span s when what was
// decided for its invocation was forgotten already, and logs it (the
// 1st, 2nd, 4th, ... time).
func (o *eventObserver) tooLateLocked(s otlpwire.InvocationSpan) {
	if s.InvocationID == "" || o.knownLocked(s.InvocationID) {
		return
	}
	h := idHash(s.InvocationID)
	for _, f := range o.forgotten {
		if f != h {
			continue
		}
		if n := o.tooLate.Add(1); n&(n-1) == 0 {
			o.log.Warn("the function's invocation span came after its inferred span was forgotten; the two stay apart",
				"invocation", s.InvocationID, "remembered", maxPending, "total", n)
		}
		return
	}
}

// heldSpan is an inferred span whose wait has ended.
type heldSpan struct {
	id string
	p  *pendingInvocation
}

// holdLocked keeps the inferred span of an event without context, once
// the function has shown that its SDK starts traces of its own: the span
// is to take the trace of the SDK's invocation span, which an SDK that
// exports after the answer (a batch span processor) sends later. It
// waits, with the invocation's record (Tracker.DeferReport), until that
// span comes (adoptRoot), until the answer of an invocation whose event
// came after this answer, or until SHUTDOWN (sendAllHeld); at most
// maxHeld spans wait, the oldest going first. It returns the spans
// pushed out.
func (o *eventObserver) holdLocked(id string, p *pendingInvocation) []heldSpan {
	var out []heldSpan
	for len(o.heldQ) >= maxHeld {
		out = append(out, o.unholdLocked(o.heldQ[0])...)
	}
	p.heldAfter = o.invoked
	o.held[id] = p
	o.heldQ = append(o.heldQ, id)
	return out
}

// dueLocked takes the held spans whose wait the answer to event seq ends.
func (o *eventObserver) dueLocked(seq uint64) []heldSpan {
	var out []heldSpan
	for _, id := range slices.Clone(o.heldQ) {
		if p := o.held[id]; p != nil && seq > p.heldAfter {
			out = append(out, o.unholdLocked(id)...)
		}
	}
	return out
}

// unholdLocked takes the held span of id, remembering its context.
func (o *eventObserver) unholdLocked(id string) []heldSpan {
	p, ok := o.held[id]
	if !ok {
		return nil
	}
	delete(o.held, id)
	o.heldQ = slices.DeleteFunc(o.heldQ, func(h string) bool { return h == id })
	o.rememberLocked(id, p)
	return []heldSpan{{id: id, p: p}}
}

// sendHeld sends held spans as they are, in a trace of their own, and
// lets their records be built; why says why the wait ended.
// Spans held at a cold start (pendingInvocation.cold) were held on the
// chance of an SDK: without one they are not counted, and logged at debug
// level only.
func (o *eventObserver) sendHeld(spans []heldSpan, why string) {
	if len(spans) == 0 {
		return
	}
	buf, tracker, res := o.wait()
	cold := 0
	for _, h := range spans {
		if tracker != nil {
			tracker.ReleaseReport(h.id)
		}
		if buf != nil {
			o.send(buf, res, h.id, h.p)
		}
		if h.p.cold {
			cold++
		}
	}
	if cold > 0 {
		o.log.Debug("inferred spans of the cold start sent without a function's invocation span; the function shows no SDK starting traces",
			"why", why, "count", cold)
	}
	if len(spans) == cold {
		return
	}
	n := o.heldInVain.Add(uint64(len(spans) - cold))
	o.log.Warn("inferred spans sent without the function's invocation span they waited for; each stays in a trace of its own",
		"why", why, "count", len(spans)-cold, "total", n)
}

// sendAllHeld sends every held span: at SHUTDOWN, once the function's
// last spans were taken.
func (o *eventObserver) sendAllHeld() {
	if o == nil {
		return
	}
	o.mu.Lock()
	var all []heldSpan
	for len(o.heldQ) > 0 {
		all = append(all, o.unholdLocked(o.heldQ[0])...)
	}
	o.mu.Unlock()
	o.sendHeld(all, "shutdown")
}

// inferredSpan is the upstream hop of an invocation: from the event's own
// timestamp (or its arrival) to the answer for an HTTP request, to the
// event's arrival for a message or record. The values taken from the
// event and the answer pass the redaction rules.
func inferredSpan(id string, p *pendingInvocation, order []trigger.Source, red *redact.Redactor) *tracepb.Span {
	start, end := p.trig.Start, p.received
	if p.trig.Kind.HTTP() {
		end = p.end.at
	}
	if start.IsZero() || start.After(end) {
		start = p.received
		if end.Before(start) {
			start = end
		}
	}
	kind := tracepb.Span_SPAN_KIND_INTERNAL
	switch {
	case p.trig.Kind.HTTP():
		kind = tracepb.Span_SPAN_KIND_SERVER
	case p.trig.Kind.Messaging():
		kind = tracepb.Span_SPAN_KIND_CONSUMER
	}
	attrs := make([]*commonpb.KeyValue, 0, len(p.trig.Attrs)+6)
	for _, a := range p.trig.Attrs {
		switch {
		case a.IsInt:
			attrs = append(attrs, intAttr(a.Key, a.Int))
		case a.IsBool:
			attrs = append(attrs, &commonpb.KeyValue{Key: a.Key, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: a.Bool}}})
		case red.Key(strings.TrimPrefix(a.Key, "http.request.header.")):
			attrs = append(attrs, strAttr(a.Key, red.Hide(a.Str)))
		default:
			attrs = append(attrs, strAttr(a.Key, red.String(a.Str)))
		}
	}
	attrs = append(attrs, strAttr("lambdascope.trigger", string(p.trig.Kind)), strAttr("lambdascope.invocation_id", id),
		strAttr("lambdascope.trace_context.source", contextSource(p.sc)))
	if by := p.end.endedBy; by != "" {
		// No answer: no response, no size; what ended it instead.
		attrs = append(attrs, strAttr("lambdascope.unanswered.ended_by", by))
		if p.end.atFound {
			attrs = append(attrs, boolKV("lambdascope.end_time.estimated", true))
		}
		status := &tracepb.Status{}
		if p.end.errType != "" {
			status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: p.end.errMsg}
			attrs = append(attrs, strAttr("error.type", p.end.errType))
		}
		return spanOf(id, p, order, kind, start, end, attrs, status)
	}
	attrs = append(attrs, intAttr("aws.lambda.response.size", p.end.size))
	status := &tracepb.Status{}
	if p.end.hasStatus {
		attrs = append(attrs, intAttr("http.response.status_code", int64(p.end.status)))
		if p.end.status >= 500 && p.end.kind != rtproxy.Error && p.end.errType == "" {
			status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR}
			attrs = append(attrs, strAttr("error.type", itoa(p.end.status)))
		}
	}
	if p.end.kind == rtproxy.Error || p.end.errType != "" {
		// The message and the type were redacted and cut when they were
		// read (Ended).
		status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: p.end.errMsg}
		attrs = append(attrs, strAttr("error.type", p.end.errType))
	}
	return spanOf(id, p, order, kind, start, end, attrs, status)
}

// spanOf is the inferred span of p with its attributes and status.
func spanOf(id string, p *pendingInvocation, order []trigger.Source, kind tracepb.Span_SpanKind, start, end time.Time,
	attrs []*commonpb.KeyValue, status *tracepb.Status) *tracepb.Span {
	var parent []byte
	if p.sc.SpanID != ([8]byte{}) {
		parent = p.sc.SpanID[:]
	}
	return &tracepb.Span{
		Links:   links(p.trig.Linked, order),
		TraceId: p.sc.TraceID[:], SpanId: p.spanID[:], ParentSpanId: parent, TraceState: p.sc.Tracestate,
		Name: p.trig.Name, Kind: kind,
		StartTimeUnixNano: uint64(start.UnixNano()), EndTimeUnixNano: uint64(end.UnixNano()),
		Attributes: attrs, Status: status,
	}
}

// links are the span links of a batch: one per record with a trace
// context of its own (taken in order, Lambda's own header aside), with the
// record's message ID.
func links(recs []trigger.Record, order []trigger.Source) []*tracepb.Span_Link {
	var out []*tracepb.Span_Link
	for _, r := range recs {
		sc, ok := trigger.Resolve(r.Context, "", order)
		if !ok {
			continue
		}
		l := &tracepb.Span_Link{TraceId: sc.TraceID[:], SpanId: sc.SpanID[:], TraceState: sc.Tracestate}
		if r.MessageID != "" {
			l.Attributes = []*commonpb.KeyValue{strAttr("messaging.message.id", r.MessageID)}
		}
		out = append(out, l)
	}
	return out
}

// adopt makes the inferred span of an invocation the parent of the
// function's own invocation span (the SERVER span with faas.invocation_id
// that an OpenTelemetry SDK, e.g. otellambda, makes) when the SDK took its
// parent from a context the event carried, so that the two form one tree:
// caller, inferred span, the function's span, its children. The SDK's
// span is re-parented where it is kept to be shipped (spans[i].Parent).
//
// When the SDK's parent is the context the inferred span joined, only the
// SDK's span changes. When it is another context of the event (the SDK
// read Lambda's X-Ray header where the precedence chose the event's
// traceparent, say), the inferred span joins the SDK's context instead,
// if it is not made yet: the SDK's choice is what the function's own
// downstream calls carry. A SDK span with another parent is left as it is.
//
// A SDK span with no parent (the SDK started a trace) gets the inferred
// span as its parent, through setParent(i, parent), when the event
// carried no context and the inferred span is not made yet: the inferred
// span then is the root of the SDK's trace. Made already (an SDK that
// exports after the answer), the two stay apart, which is counted; with
// a context of the event, the SDK's trace is left alone.
func (o *eventObserver) adopt(spans []otlpwire.InvocationSpan, setParent func(i int, parent [8]byte) bool) {
	if o == nil {
		return
	}
	// setParent may refresh the spans after i: each is read in turn.
	for i := range spans {
		s := spans[i]
		if !s.Server || len(s.TraceID) != 16 {
			continue
		}
		o.mu.Lock()
		o.sdkSeen = true
		known := o.knownLocked(s.InvocationID)
		o.mu.Unlock()
		if !known && o.waitInvoked != nil {
			// The function's span came before Invoked read its event
			// (a goroutine of its own, which a busy machine may run
			// late): the span waits for it, as the answer does.
			o.waitInvoked(s.InvocationID)
		}
		if s.Parent == nil {
			o.adoptRoot(i, s, setParent)
			continue
		}
		if len(s.Parent) != 8 {
			continue
		}
		traceID, parent := [16]byte(s.TraceID), [8]byte(s.Parent)
		var child [8]byte
		found := false
		var held *pendingInvocation
		o.mu.Lock()
		if p, ok := o.pending[s.InvocationID]; ok && p.invoked && !p.emitted && p.trig.Kind != trigger.Direct {
			switch {
			case p.sc.TraceID == traceID && p.sc.SpanID == parent:
				child, found = p.spanID, true
			case p.trig.Durable == nil:
				// A durable execution keeps the trace of its ARN.
				if sc, ok := sameAs(p, traceID, parent); ok {
					p.sc, child, found = sc, p.spanID, true
				}
			}
			if found {
				o.joinLocked(p, s)
			}
		} else if h, ok := o.held[s.InvocationID]; ok && h.sc.TraceID == traceID && h.sc.SpanID == parent {
			// Held for a trace of the SDK's own; the SDK took the
			// context the inferred span joined.
			child, found, held = h.spanID, true, h
			o.unholdLocked(s.InvocationID)
		} else if r, ok := o.recent[s.InvocationID]; ok && r.traceID == traceID && r.parent == parent {
			child, found = r.spanID, true
		} else {
			o.tooLateLocked(s)
		}
		o.mu.Unlock()
		if found {
			copy(s.Parent, child[:])
			o.adopted.Add(1)
		}
		if held != nil {
			o.sendAdopted(s, held)
		}
	}
}

// adoptRoot makes the inferred span the parent of spans[i], an SDK's
// invocation span without a parent, when the event carried no context:
// the inferred span, not made yet or held for it, takes the SDK's trace.
// Made already in that trace, the span goes under it again (an SDK that
// exports a span twice); made in another, the two stay apart, which is
// counted.
func (o *eventObserver) adoptRoot(i int, s otlpwire.InvocationSpan, setParent func(int, [8]byte) bool) {
	traceID := [16]byte(s.TraceID)
	o.mu.Lock()
	o.sdkRoots = true
	p, ok := o.pending[s.InvocationID]
	if ok && p.invoked && !p.emitted && p.trig.Kind != trigger.Direct && p.noContext &&
		(p.sc.Source != FunctionTrace || p.sc.TraceID == traceID) && setParent(i, p.spanID) {
		p.sc = trigger.SpanContext{TraceID: traceID, Sampled: true, Source: FunctionTrace}
		o.joinLocked(p, s)
		o.mu.Unlock()
		o.adopted.Add(1)
		return
	}
	if h, ok := o.held[s.InvocationID]; ok && setParent(i, h.spanID) {
		h.sc = trigger.SpanContext{TraceID: traceID, Sampled: true, Source: FunctionTrace}
		o.unholdLocked(s.InvocationID)
		o.mu.Unlock()
		o.adopted.Add(1)
		o.sendAdopted(s, h)
		return
	}
	r, late := o.recent[s.InvocationID]
	again := late && r.noContext && r.traceID == traceID && setParent(i, r.spanID)
	o.tooLateLocked(s)
	o.mu.Unlock()
	switch {
	case again:
		o.adopted.Add(1)
	case late && r.noContext && r.traceID != traceID:
		if n := o.apart.Add(1); n&(n-1) == 0 { // 1, 2, 4, ...
			o.log.Warn("the function's invocation span started a trace after its inferred span was made in another; the two stay apart",
				"invocation", s.InvocationID, "total", n)
		}
	}
}

// joinLocked notes that the function's invocation span s was made the
// child of p's inferred span before the answer: the span is not held, and
// a record waiting for it follows s, named to the tracker now, before the
// answer can let the record be built.
func (o *eventObserver) joinLocked(p *pendingInvocation, s otlpwire.InvocationSpan) {
	p.joined = true
	if _, tracker, _ := o.sink(); p.deferred && tracker != nil {
		tracker.ObserveInvocationSpans([]otlpwire.InvocationSpan{{InvocationID: s.InvocationID, TraceID: s.TraceID,
			SpanID: s.SpanID, Server: true}})
	}
}

// sendAdopted sends the held inferred span h, now the parent of the
// function's invocation span s; the record and the platform spans of the
// invocation follow s.
func (o *eventObserver) sendAdopted(s otlpwire.InvocationSpan, h *pendingInvocation) {
	buf, tracker, res := o.wait()
	if tracker != nil {
		tracker.ObserveInvocationSpans([]otlpwire.InvocationSpan{{InvocationID: s.InvocationID, TraceID: s.TraceID,
			SpanID: s.SpanID, Server: true}})
		// The span took the SDK's trace after its answer was observed.
		o.observe(tracker, s.InvocationID, h)
		tracker.ReleaseReport(s.InvocationID)
	}
	if buf != nil {
		o.send(buf, res, s.InvocationID, h)
	}
}

// sdkEnv are the variables that configure an OpenTelemetry SDK's traces
// (OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, which the extension
// reads for itself, are not among them).
var sdkEnv = []string{"OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_PROPAGATORS", "OTEL_TRACES_SAMPLER"}

// sdkConfigured says whether the function's environment configures an
// OpenTelemetry SDK's traces: one of sdkEnv is set, and
// OTEL_TRACES_EXPORTER is not none. OTEL_TRACES_EXPORTER=otlp, every
// SDK's default, says so without changing the SDK.
func sdkConfigured(env func(string) (string, bool)) bool {
	if env == nil {
		return false
	}
	if v, ok := env("OTEL_TRACES_EXPORTER"); ok && strings.EqualFold(strings.TrimSpace(v), "none") {
		return false
	}
	for _, k := range sdkEnv {
		if v, ok := env(k); ok && strings.TrimSpace(v) != "" {
			return true
		}
	}
	return false
}

// sameAs returns the context of the event (or Lambda's header) that names
// the span parent of trace traceID.
func sameAs(p *pendingInvocation, traceID [16]byte, parent [8]byte) (trigger.SpanContext, bool) {
	for _, src := range trigger.DefaultPrecedence {
		if sc, ok := trigger.Resolve(p.trig.Context, p.lambda, []trigger.Source{src}); ok && sc.TraceID == traceID && sc.SpanID == parent {
			return sc, true
		}
	}
	return trigger.SpanContext{}, false
}

// invocationSpans are the SERVER invocation spans among decoded spans,
// their Parent the decoded span's own bytes (nil for none), and the spans
// they are.
func invocationSpans(rss []*tracepb.ResourceSpans) ([]otlpwire.InvocationSpan, []*tracepb.Span) {
	var out []otlpwire.InvocationSpan
	var decoded []*tracepb.Span
	for _, rs := range rss {
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				parent := sp.GetParentSpanId()
				if sp.GetKind() != tracepb.Span_SPAN_KIND_SERVER || (len(parent) != 8 && len(parent) != 0) {
					continue
				}
				if len(parent) == 0 {
					parent = nil
				}
				for _, kv := range sp.GetAttributes() {
					if kv.GetKey() == invocation.AttrInvocationID {
						out = append(out, otlpwire.InvocationSpan{InvocationID: kv.GetValue().GetStringValue(), TraceID: sp.GetTraceId(),
							SpanID: sp.GetSpanId(), Server: true, Parent: parent})
						decoded = append(decoded, sp)
						break
					}
				}
			}
		}
	}
	return out, decoded
}

// adoptDecoded is adopt on decoded spans.
func (o *eventObserver) adoptDecoded(rss []*tracepb.ResourceSpans) {
	if o == nil {
		return
	}
	inv, decoded := invocationSpans(rss)
	o.adopt(inv, func(i int, parent [8]byte) bool {
		decoded[i].ParentSpanId = append([]byte(nil), parent[:]...)
		return true
	})
}

// signals are channels closed once something happened to an invocation,
// by request ID, the last maxPending of them; the observer's mutex guards
// them.
type signals struct {
	ch    map[string]chan struct{}
	order []string
}

// get returns id's channel, made when it is first asked for.
func (s *signals) get(id string) chan struct{} {
	ch, ok := s.ch[id]
	if !ok {
		if s.ch == nil {
			s.ch = map[string]chan struct{}{}
		}
		ch = make(chan struct{})
		s.ch[id] = ch
		s.order = append(s.order, id)
		for len(s.order) > maxPending {
			delete(s.ch, s.order[0])
			s.order = s.order[1:]
		}
	}
	return ch
}

// set closes id's channel, once.
func (s *signals) set(id string) {
	ch := s.get(id)
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// endedChan returns the channel closed once the answer of id was relayed.
func (o *eventObserver) endedChan(id string) <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.ended.get(id)
}

func (o *eventObserver) markEnded(id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ended.set(id)
}

// unanswered returns the invocations the runtime took whose answer was
// not seen yet (at most maxPending), nil for a nil observer.
func (o *eventObserver) unanswered() []string {
	if o == nil {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	var ids []string
	for id, p := range o.pending {
		if p.invoked && p.end == nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// takenChan returns a channel closed once the runtime took the invocation
// id through the proxy.
func (o *eventObserver) takenChan(id string) <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.taken.get(id)
}

func (o *eventObserver) markTaken(id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.taken.set(id)
}

// untilEnded returns a context that is done when ctx is or when the
// answer of id was relayed, and whether the latter happened first.
func (o *eventObserver) untilEnded(ctx context.Context, id string) (context.Context, func() bool, context.CancelFunc) {
	ch := o.endedChan(id)
	ectx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-ch:
			cancel()
		case <-ectx.Done():
		}
	}()
	ended := func() bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	return ectx, ended, cancel
}

func strAttr(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func boolKV(k string, v bool) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v}}}
}

func intAttr(k string, v int64) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
