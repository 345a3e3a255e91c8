// Package trigger tells, from an invocation's event, what invoked a Lambda
// function (API Gateway, a queue, a stream, a schedule, ...), when the
// upstream hop began by the event's own timestamps, its attributes in
// OpenTelemetry's FaaS, HTTP and messaging semantic conventions, and the
// trace context the event carries. It reads the event only: nothing of it
// is kept but the few values named here, and no body or header outside an
// allow-list.
//
// Detection is bounded and fast: events up to MaxDecode bytes are read in
// one pass by a small scanner that keeps only the values named here
// (unknown fields are skipped, never stored); a bigger event (a large
// batch) is classified from its first bytes only, without attributes.
package trigger

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxDecode is the largest event decoded whole.
const MaxDecode = 1 << 20

// Kind is a kind of trigger.
type Kind string

// Kinds of trigger.
const (
	APIGatewayREST      Kind = "apigateway-rest"
	APIGatewayHTTP      Kind = "apigateway-http"
	APIGatewayWebSocket Kind = "apigateway-websocket"
	ALB                 Kind = "alb"
	FunctionURL         Kind = "function-url"
	SQS                 Kind = "sqs"
	SNS                 Kind = "sns"
	EventBridge         Kind = "eventbridge"
	Schedule            Kind = "schedule"
	S3                  Kind = "s3"
	DynamoDB            Kind = "dynamodb"
	Kinesis             Kind = "kinesis"
	CloudWatchLogs      Kind = "cloudwatch-logs"
	StepFunctions       Kind = "stepfunctions"
	// DurableExecution is an invocation of a Lambda durable function: the
	// first of its execution or a replay.
	DurableExecution Kind = "durable-execution"
	// Direct is an invocation whose event names no AWS source (an SDK's
	// Invoke, the console, another function).
	Direct Kind = "direct"
)

// HTTP says whether the trigger is an HTTP request whose answer is a proxy
// integration response (statusCode, headers, body).
func (k Kind) HTTP() bool {
	switch k {
	case APIGatewayREST, APIGatewayHTTP, ALB, FunctionURL, APIGatewayWebSocket:
		return true
	}
	return false
}

// Messaging says whether the trigger delivers messages or records.
func (k Kind) Messaging() bool {
	switch k {
	case SQS, SNS, Kinesis, DynamoDB, S3, EventBridge:
		return true
	}
	return false
}

// Attr is one span attribute: a string or, when IsInt, an integer, or,
// when IsBool, a boolean.
type Attr struct {
	Key    string
	Str    string
	Int    int64
	IsInt  bool
	Bool   bool
	IsBool bool
}

func str(k, v string) Attr          { return Attr{Key: k, Str: v} }
func num(k string, v int64) Attr    { return Attr{Key: k, Int: v, IsInt: true} }
func boolean(k string, v bool) Attr { return Attr{Key: k, Bool: v, IsBool: true} }

// Context is a trace context found in the event.
type Context struct {
	// Traceparent and Tracestate are W3C Trace Context headers (from HTTP
	// headers or message attributes), Baggage the W3C baggage header.
	Traceparent, Tracestate, Baggage string
	// XRay is an X-Ray trace header (X-Amzn-Trace-Id, AWSTraceHeader).
	XRay string
}

// Trigger is what an event says about its invocation's upstream hop.
type Trigger struct {
	Kind Kind
	// Name is the inferred span's name ("GET /orders/{id}", "my-queue
	// process").
	Name string
	// Start is the earliest timestamp of the event (request time, message
	// sent time, record arrival time); zero when it has none.
	Start time.Time
	// Records is the batch size of SQS, SNS, S3, DynamoDB and Kinesis
	// events.
	Records int
	Attrs   []Attr
	// Context is the trace context of the event (the first record's for a
	// batch).
	Context Context
	// Linked lists, for a batch (SQS, SNS), each record that carries a
	// trace context of its own, up to MaxLinks: the inferred span links
	// to each.
	Linked []Record
	// Durable names the durable execution of a DurableExecution trigger.
	Durable *Durable
}

// Durable is what the event of a durable function says of its execution.
type Durable struct {
	// ARN is the execution's ARN
	// (arn:aws:lambda:REGION:ACCOUNT:function:NAME:QUALIFIER/durable-execution/EXECUTION_NAME/EXECUTION_ID),
	// Name and ID its last two parts.
	ARN, Name, ID string
	// Replay says the invocation resumes the execution: the state it is
	// given holds operations checkpointed before (its handler replays
	// them), not the execution's start alone.
	Replay bool
	// Operations counts the checkpointed operations handed to the
	// invocation, the execution's own aside.
	Operations int
}

// MaxLinks bounds the records of a batch that are linked.
const MaxLinks = 128

// Record is one record of a batch with its own trace context.
type Record struct {
	MessageID string
	Context   Context
}

// Options are what detection keeps beyond the trigger's own attributes.
type Options struct {
	// Headers names, in lower case, the request headers of an HTTP
	// trigger kept as attributes (http.request.header.<name>); no other
	// header is kept.
	Headers []string
}

// Detect tells what event is. It never fails: an event it cannot read is
// a direct invocation.
func Detect(event []byte) Trigger { return DetectWith(event, Options{}) }

// DetectWith is Detect keeping what o names.
func DetectWith(event []byte, o Options) Trigger {
	if len(event) > MaxDecode {
		return sniff(event[:SniffLen])
	}
	rs := recordsPool.Get().(*[]record)
	ev, ok := scan(event, (*rs)[:0], o.Headers)
	t := Trigger{Kind: Direct, Name: "invoke"}
	if ok {
		t = classify(&ev)
		if t.Kind.HTTP() {
			for i, name := range o.Headers {
				c := &ev.headers.capture[i]
				switch {
				case c.hasSingle:
					t.Attrs = append(t.Attrs, str("http.request.header."+name, c.single))
				case c.hasMul:
					t.Attrs = append(t.Attrs, str("http.request.header."+name, c.multi))
				}
			}
		}
	}
	if cap(ev.records) <= 1024 {
		// The records kept for the next event hold none of this one's
		// strings.
		clear(ev.records)
		*rs = ev.records
		recordsPool.Put(rs)
	}
	return t
}

// recordsPool keeps the records of a batch between events.
var recordsPool = sync.Pool{New: func() any { return new([]record) }}

// classify tells what a read event is.
func classify(p *event) Trigger {
	switch {
	case strings.Contains(p.durableArn, durableMarker):
		return durable(p)
	case p.hasRC && (p.httpMethod != "" || p.rc.hasHTTP || p.rc.eventType != "" || p.rc.hasELB):
		return httpTrigger(p)
	case len(p.records) > 0:
		return records(p.records)
	case p.detailType != "" && p.source != "":
		t := Trigger{Kind: EventBridge, Name: p.source + " " + p.detailType}
		if p.detailType == "Scheduled Event" && p.source == "aws.events" {
			t.Kind, t.Name = Schedule, "schedule"
			if p.resources > 0 {
				t.Name = "schedule " + lastPart(p.resource0, "/")
				t.Attrs = append(t.Attrs, str("aws.eventbridge.rule", p.resource0))
			}
		}
		t.Start = parseTime(p.time)
		t.Context = p.detail.context()
		t.Attrs = append(t.Attrs, str("messaging.system", "aws_eventbridge"), str("aws.eventbridge.source", p.source),
			str("aws.eventbridge.detail_type", p.detailType))
		if t.Kind == Schedule {
			t.Attrs = append(t.Attrs, str("faas.trigger", "timer"))
		} else {
			t.Attrs = append(t.Attrs, str("faas.trigger", "pubsub"))
		}
		return t
	case p.hasLogs && p.logsData != "":
		return Trigger{Kind: CloudWatchLogs, Name: "cloudwatch logs subscription", Attrs: []Attr{str("faas.trigger", "pubsub")}}
	case p.hasExec && strings.HasPrefix(p.execID, "arn:aws:states:"):
		t := Trigger{Kind: StepFunctions, Name: "stepfunctions task", Attrs: []Attr{str("faas.trigger", "other"),
			str("aws.stepfunctions.execution.arn", p.execID)}}
		if p.hasSM {
			t.Name = "stepfunctions " + p.smName
			t.Attrs = append(t.Attrs, str("aws.stepfunctions.state_machine.arn", p.smID))
		}
		return t
	}
	return Trigger{Kind: Direct, Name: "invoke", Attrs: []Attr{str("faas.trigger", "other")}}
}

// context is the W3C trace context of an EventBridge event's detail: its
// own traceparent (with its tracestate) when valid, else the one under
// _datadog; the baggage is the detail's own.
func (d *eventDetail) context() Context {
	c := Context{Baggage: d.baggage}
	switch {
	case validTraceparent(d.traceparent):
		c.Traceparent, c.Tracestate = d.traceparent, d.tracestate
	case validTraceparent(d.ddTraceparent):
		c.Traceparent, c.Tracestate = d.ddTraceparent, d.ddTracestate
	}
	return c
}

// context is the W3C trace context of a message's attributes, whose
// values are vals (SQS's stringValue, SNS's Value): its own traceparent
// (with its tracestate) when valid, else the one in its _datadog
// attribute (with that one's tracestate), as an EventBridge event's
// detail is read; the baggage is the message's own.
func (a *msgAttrs) context(vals *[nHeaders]string) Context {
	c := Context{Traceparent: vals[hTraceparent], Tracestate: vals[hTracestate], Baggage: vals[hBaggage]}
	if !validTraceparent(c.Traceparent) {
		if tp, ts := a.dd.context(); validTraceparent(tp) {
			c.Traceparent, c.Tracestate = tp, ts
		}
	}
	return c
}

// context reads the traceparent and tracestate of a _datadog attribute:
// the JSON object its text holds, or its base64 when its type is Binary
// (SNS sends Datadog's context so, for the sake of subscription filter
// policies). Anything else, or no JSON object, gives none.
func (d *ddAttr) context() (traceparent, tracestate string) {
	text := d.stringValue
	if text == "" {
		text = d.value
	}
	if d.dataType == "Binary" || d.typ == "Binary" {
		enc := d.binaryValue
		if enc == "" {
			enc = d.value
		}
		b, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return "", ""
		}
		text = string(b)
	}
	if !strings.HasPrefix(strings.TrimLeft(text, " \t\r\n"), "{") {
		return "", ""
	}
	var v struct {
		Traceparent any `json:"traceparent"`
		Tracestate  any `json:"tracestate"`
	}
	if json.Unmarshal([]byte(text), &v) != nil {
		return "", ""
	}
	traceparent, _ = v.Traceparent.(string)
	tracestate, _ = v.Tracestate.(string)
	return traceparent, tracestate
}

func validTraceparent(s string) bool {
	if s == "" {
		return false
	}
	_, err := ParseTraceparent(s)
	return err == nil
}

// durableMarker is the part of a durable execution's ARN after the
// function's.
const durableMarker = "/durable-execution/"

// durable is the trigger of a durable function's invocation. The first
// invocation of an execution is handed the execution's own operation
// (type EXECUTION) alone; a replay also the operations checkpointed
// before. The hop starts at the execution's start for the first, at the
// latest end of a checkpointed operation (the wait or callback that let
// it resume) for a replay.
func durable(p *event) Trigger {
	d := &Durable{ARN: p.durableArn}
	_, rest, _ := strings.Cut(p.durableArn, durableMarker)
	d.Name, d.ID, _ = strings.Cut(rest, "/")
	var start, latest time.Time
	for _, op := range p.ops {
		if op.typ == "EXECUTION" {
			start = op.start
			continue
		}
		d.Operations++
		if op.end.After(latest) {
			latest = op.end
		}
	}
	d.Replay = d.Operations > 0 || p.nextMarker != ""
	t := Trigger{Kind: DurableExecution, Name: "durable execution", Durable: d, Start: start}
	if d.Name != "" {
		t.Name += " " + d.Name
	}
	if d.Replay {
		t.Start = latest
	}
	t.Attrs = append(t.Attrs, str("faas.trigger", "other"), str("aws.lambda.durable.execution.arn", d.ARN),
		str("aws.lambda.durable.execution.name", d.Name), str("aws.lambda.durable.execution.id", d.ID),
		boolean("aws.lambda.durable.replay", d.Replay), num("aws.lambda.durable.operations", int64(d.Operations)))
	return t
}

// DurableTrace is the trace a durable execution's invocations share when
// their events carry no trace context: its ID and the span ID of the
// execution's first inferred span (the parent of the replays'), both
// derived from the execution's ARN, so that every environment that runs
// one of its invocations finds the same.
func DurableTrace(arn string) (traceID [16]byte, root [8]byte) {
	sum := sha256.Sum256([]byte("lambdascope durable execution\x00" + arn))
	copy(traceID[:], sum[:16])
	copy(root[:], sum[16:24])
	if root == ([8]byte{}) {
		root[7] = 1
	}
	return traceID, root
}

// SniffLen is how much of an event too big to decode is read to classify
// it.
const SniffLen = 4096

// Sniff classifies an event from its first bytes only (at most SniffLen
// are read), as Detect does an event too big to decode: for an event of
// which only the first bytes were kept.
func Sniff(head []byte) Trigger { return sniff(head[:min(len(head), SniffLen)]) }

// sniff classifies an event too big to decode from its first bytes.
func sniff(head []byte) Trigger {
	for _, m := range []struct {
		marker string
		kind   Kind
	}{
		{`"aws:sqs"`, SQS}, {`"aws:sns"`, SNS}, {`"aws:kinesis"`, Kinesis}, {`"aws:dynamodb"`, DynamoDB}, {`"aws:s3"`, S3},
		{`"routeKey"`, APIGatewayHTTP}, {`"httpMethod"`, APIGatewayREST}, {`"awslogs"`, CloudWatchLogs},
	} {
		if bytes.Contains(head, []byte(m.marker)) {
			return Trigger{Kind: m.kind, Name: string(m.kind)}
		}
	}
	return Trigger{Kind: Direct, Name: "invoke"}
}

func httpTrigger(p *event) Trigger {
	rc := &p.rc
	// At most eight attributes: room for them at once.
	t := Trigger{Attrs: make([]Attr, 0, 8)}
	method, route, path := p.httpMethod, p.resource, p.path
	switch {
	case rc.eventType != "" && rc.connectionID != "":
		t.Kind = APIGatewayWebSocket
		route = rc.routeKey
		t.Name = "websocket " + rc.routeKey
		t.Start = millis(rc.requestTimeEpoch)
		t.Attrs = append(t.Attrs, str("aws.apigateway.websocket.event_type", rc.eventType))
	case rc.hasELB:
		t.Kind = ALB
		t.Attrs = append(t.Attrs, str("aws.elb.target_group_arn", rc.targetGroupArn))
	case rc.hasHTTP:
		method, path = rc.method, p.rawPath
		t.Start = millis(rc.timeEpoch)
		if strings.Contains(rc.domainName, ".lambda-url.") {
			t.Kind, route = FunctionURL, ""
		} else {
			t.Kind = APIGatewayHTTP
			route = p.routeKey
			if _, r, ok := strings.Cut(route, " "); ok {
				route = r
			}
		}
	default:
		t.Kind = APIGatewayREST
		if rc.resourcePath != "" {
			route = rc.resourcePath
		}
		t.Start = millis(rc.requestTimeEpoch)
	}
	if route == "$default" {
		route = ""
	}
	if t.Name == "" {
		t.Name = method
		if route != "" {
			t.Name += " " + route
		}
	}
	if strings.TrimSpace(t.Name) == "" {
		t.Name = string(t.Kind)
	}
	t.Attrs = append(t.Attrs, str("faas.trigger", "http"))
	if method != "" {
		t.Attrs = append(t.Attrs, str("http.request.method", method))
	}
	if route != "" {
		t.Attrs = append(t.Attrs, str("http.route", route))
	}
	if path != "" {
		t.Attrs = append(t.Attrs, str("url.path", path))
	}
	if rc.domainName != "" {
		t.Attrs = append(t.Attrs, str("server.address", rc.domainName))
	}
	if rc.apiID != "" {
		t.Attrs = append(t.Attrs, str("aws.apigateway.api_id", rc.apiID))
	}
	if rc.stage != "" {
		t.Attrs = append(t.Attrs, str("aws.apigateway.stage", rc.stage))
	}
	h := &p.headers
	t.Context = Context{Traceparent: h.get(hTraceparent), Tracestate: h.get(hTracestate),
		Baggage: h.get(hBaggage), XRay: h.get(hXRay)}
	return t
}

func records(rs []record) Trigger {
	r := &rs[0]
	// At most seven attributes: room for them at once.
	t := Trigger{Records: len(rs), Attrs: make([]Attr, 0, 8)}
	src := r.eventSource
	if src == "" {
		src = r.eventSourceSNS
	}
	var destination, system string
	switch src {
	case "aws:sqs":
		t.Kind, system, destination = SQS, "aws_sqs", lastPart(r.eventSourceARN, ":")
		for i := range rs {
			if ms, err := strconv.ParseInt(rs[i].sentTimestamp, 10, 64); err == nil {
				if s := time.UnixMilli(ms); t.Start.IsZero() || s.Before(t.Start) {
					t.Start = s
				}
			}
		}
		for i := range rs {
			c := rs[i].attrs.context(&rs[i].attrs.stringValue)
			c.XRay = rs[i].awsTraceHeader
			if b := &rs[i].body; b.Traceparent != "" && !validTraceparent(c.Traceparent) {
				// A message an SNS topic or an EventBridge bus delivered
				// carries its producer's context in its envelope.
				c.Traceparent, c.Tracestate = b.Traceparent, b.Tracestate
				if c.Baggage == "" {
					c.Baggage = b.Baggage
				}
			}
			if i == 0 {
				t.Context = c
			}
			t.link(rs[i].messageID, c)
		}
		if r.messageID != "" && len(rs) == 1 {
			t.Attrs = append(t.Attrs, str("messaging.message.id", r.messageID))
		}
	case "aws:sns":
		t.Kind, system = SNS, "aws_sns"
		if r.hasSNS {
			destination = lastPart(r.topicArn, ":")
			t.Start = parseTime(r.snsTime)
			for i := range rs {
				if s := &rs[i]; s.hasSNS {
					c := s.snsAttrs.context(&s.snsAttrs.value)
					if i == 0 {
						t.Context = c
					}
					t.link(s.snsMessageID, c)
				}
			}
			if len(rs) == 1 {
				t.Attrs = append(t.Attrs, str("messaging.message.id", r.snsMessageID))
			}
		}
	case "aws:s3":
		t.Kind, system = S3, "aws_s3"
		if r.hasS3 {
			destination = r.bucket
		}
		t.Start = parseTime(r.eventTime)
		t.Attrs = append(t.Attrs, str("faas.document.operation", r.eventName))
	case "aws:dynamodb":
		t.Kind, system, destination = DynamoDB, "aws_dynamodb", tableName(r.eventSourceARN)
		for i := range rs {
			if d := &rs[i]; d.hasDynamoDB && d.created > 0 {
				if s := seconds(d.created); t.Start.IsZero() || s.Before(t.Start) {
					t.Start = s
				}
			}
		}
	case "aws:kinesis":
		t.Kind, system, destination = Kinesis, "aws_kinesis", lastPart(r.eventSourceARN, "/")
		for i := range rs {
			if k := &rs[i]; k.hasKinesis && k.arrived > 0 {
				if s := seconds(k.arrived); t.Start.IsZero() || s.Before(t.Start) {
					t.Start = s
				}
			}
		}
	default:
		return Trigger{Kind: Direct, Name: "invoke", Attrs: []Attr{str("faas.trigger", "other")}}
	}
	trig := "pubsub"
	if t.Kind == S3 || t.Kind == DynamoDB {
		trig = "datasource"
	}
	t.Name = destination + " process"
	t.Attrs = append(t.Attrs, str("faas.trigger", trig), str("messaging.system", system),
		str("messaging.operation.type", "process"), str("messaging.destination.name", destination),
		num("messaging.batch.message_count", int64(len(rs))))
	if r.awsRegion != "" {
		t.Attrs = append(t.Attrs, str("cloud.region", r.awsRegion))
	}
	return t
}

// link notes a record with a trace context of its own.
func (t *Trigger) link(messageID string, c Context) {
	if (c.Traceparent != "" || c.XRay != "") && len(t.Linked) < MaxLinks {
		if t.Linked == nil {
			t.Linked = make([]Record, 0, min(t.Records, MaxLinks))
		}
		t.Linked = append(t.Linked, Record{MessageID: messageID, Context: c})
	}
}

// tableName is the table of a DynamoDB stream ARN
// (arn:aws:dynamodb:region:account:table/NAME/stream/LABEL).
func tableName(arn string) string {
	_, rest, ok := strings.Cut(arn, ":table/")
	if !ok {
		return arn
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

func lastPart(s, sep string) string {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[i+len(sep):]
	}
	return s
}

func millis(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// epoch reads a number since the epoch in seconds or, from 10^11 on (the
// year 5138 in seconds, 1973 in milliseconds), in milliseconds: the Lambda
// API writes a durable operation's timestamps in seconds, and payloads
// said to be Lambda's carry them in milliseconds.
func epoch(n float64) time.Time {
	if n >= 1e11 {
		return time.UnixMilli(int64(n))
	}
	return seconds(n)
}

func seconds(s float64) time.Time {
	return time.UnixMilli(int64(s * 1000))
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
