// Package trigger tells, from an invocation's event, what invoked a Lambda
// function (API Gateway, a queue, a stream, a schedule, ...), when the
// upstream hop began by the event's own timestamps, its attributes in
// OpenTelemetry's FaaS, HTTP and messaging semantic conventions, and the
// trace context the event carries. It reads the event only: nothing of it
// is kept but the few values named here, and no body or header outside an
// allow-list.
//
// Detection is bounded: events up to MaxDecode bytes are decoded into a
// narrow struct (unknown fields are skipped by the decoder, never stored);
// a bigger event (a large batch) is classified from its first bytes only,
// without attributes.
package trigger

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
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

// Attr is one span attribute: a string or, when IsInt, an integer.
type Attr struct {
	Key   string
	Str   string
	Int   int64
	IsInt bool
}

func str(k, v string) Attr       { return Attr{Key: k, Str: v} }
func num(k string, v int64) Attr { return Attr{Key: k, Int: v, IsInt: true} }

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
	// Records lists, for a batch (SQS, SNS), each record that carries a
	// trace context of its own, up to MaxLinks: the inferred span links
	// to each.
	Linked []Record
}

// MaxLinks bounds the records of a batch that are linked.
const MaxLinks = 128

// Record is one record of a batch with its own trace context.
type Record struct {
	MessageID string
	Context   Context
}

type httpContext struct {
	RequestTimeEpoch int64  `json:"requestTimeEpoch"`
	TimeEpoch        int64  `json:"timeEpoch"`
	APIID            string `json:"apiId"`
	DomainName       string `json:"domainName"`
	Stage            string `json:"stage"`
	ResourcePath     string `json:"resourcePath"`
	RouteKey         string `json:"routeKey"`
	EventType        string `json:"eventType"`
	ConnectionID     string `json:"connectionId"`
	HTTPMethod       string `json:"httpMethod"`
	ELB              *struct {
		TargetGroupArn string `json:"targetGroupArn"`
	} `json:"elb"`
	HTTP *struct {
		Method string `json:"method"`
		Path   string `json:"path"`
	} `json:"http"`
}

type attrValue struct {
	StringValue string `json:"stringValue"`
	// SNS
	Value string `json:"Value"`
}

type record struct {
	EventSource       string               `json:"eventSource"`
	EventSourceSNS    string               `json:"EventSource"`
	EventSourceARN    string               `json:"eventSourceARN"`
	EventName         string               `json:"eventName"`
	EventTime         string               `json:"eventTime"`
	MessageID         string               `json:"messageId"`
	AWSRegion         string               `json:"awsRegion"`
	Attributes        map[string]string    `json:"attributes"`
	MessageAttributes map[string]attrValue `json:"messageAttributes"`
	SNS               *struct {
		MessageID         string               `json:"MessageId"`
		TopicArn          string               `json:"TopicArn"`
		Timestamp         string               `json:"Timestamp"`
		MessageAttributes map[string]attrValue `json:"MessageAttributes"`
	} `json:"Sns"`
	S3 *struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
	} `json:"s3"`
	DynamoDB *struct {
		ApproximateCreationDateTime float64 `json:"ApproximateCreationDateTime"`
	} `json:"dynamodb"`
	Kinesis *struct {
		ApproximateArrivalTimestamp float64 `json:"approximateArrivalTimestamp"`
	} `json:"kinesis"`
}

type probe struct {
	Version           string              `json:"version"`
	Resource          string              `json:"resource"`
	Path              string              `json:"path"`
	HTTPMethod        string              `json:"httpMethod"`
	RouteKey          string              `json:"routeKey"`
	RawPath           string              `json:"rawPath"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	RequestContext    *httpContext        `json:"requestContext"`
	Records           []record            `json:"Records"`
	DetailType        string              `json:"detail-type"`
	Source            string              `json:"source"`
	Time              string              `json:"time"`
	Resources         []string            `json:"resources"`
	AWSLogs           *struct {
		Data string `json:"data"`
	} `json:"awslogs"`
	Execution *struct {
		ID string `json:"Id"`
	} `json:"Execution"`
	StateMachine *struct {
		ID   string `json:"Id"`
		Name string `json:"Name"`
	} `json:"StateMachine"`
}

// Detect tells what event is. It never fails: an event it cannot read is
// a direct invocation.
func Detect(event []byte) Trigger {
	if len(event) > MaxDecode {
		return sniff(event[:4096])
	}
	var p probe
	if err := json.Unmarshal(event, &p); err != nil {
		return Trigger{Kind: Direct, Name: "invoke"}
	}
	switch {
	case p.RequestContext != nil && (p.HTTPMethod != "" || p.RequestContext.HTTP != nil || p.RequestContext.EventType != "" || p.RequestContext.ELB != nil):
		return httpTrigger(&p)
	case len(p.Records) > 0:
		return records(p.Records)
	case p.DetailType != "" && p.Source != "":
		t := Trigger{Kind: EventBridge, Name: p.Source + " " + p.DetailType}
		if p.DetailType == "Scheduled Event" && p.Source == "aws.events" {
			t.Kind, t.Name = Schedule, "schedule"
			if len(p.Resources) > 0 {
				t.Name = "schedule " + lastPart(p.Resources[0], "/")
				t.Attrs = append(t.Attrs, str("aws.eventbridge.rule", p.Resources[0]))
			}
		}
		t.Start = parseTime(p.Time)
		t.Attrs = append(t.Attrs, str("messaging.system", "aws_eventbridge"), str("aws.eventbridge.source", p.Source),
			str("aws.eventbridge.detail_type", p.DetailType))
		if t.Kind == Schedule {
			t.Attrs = append(t.Attrs, str("faas.trigger", "timer"))
		} else {
			t.Attrs = append(t.Attrs, str("faas.trigger", "pubsub"))
		}
		return t
	case p.AWSLogs != nil && p.AWSLogs.Data != "":
		return Trigger{Kind: CloudWatchLogs, Name: "cloudwatch logs subscription", Attrs: []Attr{str("faas.trigger", "pubsub")}}
	case p.Execution != nil && strings.HasPrefix(p.Execution.ID, "arn:aws:states:"):
		t := Trigger{Kind: StepFunctions, Name: "stepfunctions task", Attrs: []Attr{str("faas.trigger", "other"),
			str("aws.stepfunctions.execution.arn", p.Execution.ID)}}
		if p.StateMachine != nil {
			t.Name = "stepfunctions " + p.StateMachine.Name
			t.Attrs = append(t.Attrs, str("aws.stepfunctions.state_machine.arn", p.StateMachine.ID))
		}
		return t
	}
	return Trigger{Kind: Direct, Name: "invoke", Attrs: []Attr{str("faas.trigger", "other")}}
}

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

// header looks a header up without regard to case, in both header maps.
func (p *probe) header(name string) string {
	for k, v := range p.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	for k, vv := range p.MultiValueHeaders {
		if strings.EqualFold(k, name) && len(vv) > 0 {
			return vv[0]
		}
	}
	return ""
}

func httpTrigger(p *probe) Trigger {
	rc := p.RequestContext
	var t Trigger
	method, route, path := p.HTTPMethod, p.Resource, p.Path
	switch {
	case rc.EventType != "" && rc.ConnectionID != "":
		t.Kind = APIGatewayWebSocket
		route = rc.RouteKey
		t.Name = "websocket " + rc.RouteKey
		t.Start = millis(rc.RequestTimeEpoch)
		t.Attrs = append(t.Attrs, str("aws.apigateway.websocket.event_type", rc.EventType))
	case rc.ELB != nil:
		t.Kind = ALB
		t.Attrs = append(t.Attrs, str("aws.elb.target_group_arn", rc.ELB.TargetGroupArn))
	case rc.HTTP != nil:
		method, path = rc.HTTP.Method, p.RawPath
		t.Start = millis(rc.TimeEpoch)
		if strings.Contains(rc.DomainName, ".lambda-url.") {
			t.Kind, route = FunctionURL, ""
		} else {
			t.Kind = APIGatewayHTTP
			route = p.RouteKey
			if _, r, ok := strings.Cut(route, " "); ok {
				route = r
			}
		}
	default:
		t.Kind = APIGatewayREST
		if rc.ResourcePath != "" {
			route = rc.ResourcePath
		}
		t.Start = millis(rc.RequestTimeEpoch)
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
	if rc.DomainName != "" {
		t.Attrs = append(t.Attrs, str("server.address", rc.DomainName))
	}
	if rc.APIID != "" {
		t.Attrs = append(t.Attrs, str("aws.apigateway.api_id", rc.APIID))
	}
	if rc.Stage != "" {
		t.Attrs = append(t.Attrs, str("aws.apigateway.stage", rc.Stage))
	}
	t.Context = Context{Traceparent: p.header("traceparent"), Tracestate: p.header("tracestate"),
		Baggage: p.header("baggage"), XRay: p.header("x-amzn-trace-id")}
	return t
}

func records(rs []record) Trigger {
	r := &rs[0]
	t := Trigger{Records: len(rs)}
	src := r.EventSource
	if src == "" {
		src = r.EventSourceSNS
	}
	var destination, system string
	switch src {
	case "aws:sqs":
		t.Kind, system, destination = SQS, "aws_sqs", lastPart(r.EventSourceARN, ":")
		for i := range rs {
			if ms, err := strconv.ParseInt(rs[i].Attributes["SentTimestamp"], 10, 64); err == nil {
				if s := time.UnixMilli(ms); t.Start.IsZero() || s.Before(t.Start) {
					t.Start = s
				}
			}
		}
		for i := range rs {
			c := Context{XRay: rs[i].Attributes["AWSTraceHeader"], Traceparent: rs[i].MessageAttributes["traceparent"].StringValue,
				Tracestate: rs[i].MessageAttributes["tracestate"].StringValue, Baggage: rs[i].MessageAttributes["baggage"].StringValue}
			if i == 0 {
				t.Context = c
			}
			t.link(rs[i].MessageID, c)
		}
		if r.MessageID != "" && len(rs) == 1 {
			t.Attrs = append(t.Attrs, str("messaging.message.id", r.MessageID))
		}
	case "aws:sns":
		t.Kind, system = SNS, "aws_sns"
		if r.SNS != nil {
			destination = lastPart(r.SNS.TopicArn, ":")
			t.Start = parseTime(r.SNS.Timestamp)
			for i := range rs {
				if s := rs[i].SNS; s != nil {
					c := Context{Traceparent: s.MessageAttributes["traceparent"].Value,
						Tracestate: s.MessageAttributes["tracestate"].Value, Baggage: s.MessageAttributes["baggage"].Value}
					if i == 0 {
						t.Context = c
					}
					t.link(s.MessageID, c)
				}
			}
			if len(rs) == 1 {
				t.Attrs = append(t.Attrs, str("messaging.message.id", r.SNS.MessageID))
			}
		}
	case "aws:s3":
		t.Kind, system = S3, "aws_s3"
		if r.S3 != nil {
			destination = r.S3.Bucket.Name
		}
		t.Start = parseTime(r.EventTime)
		t.Attrs = append(t.Attrs, str("faas.document.operation", r.EventName))
	case "aws:dynamodb":
		t.Kind, system, destination = DynamoDB, "aws_dynamodb", tableName(r.EventSourceARN)
		for i := range rs {
			if d := rs[i].DynamoDB; d != nil && d.ApproximateCreationDateTime > 0 {
				if s := seconds(d.ApproximateCreationDateTime); t.Start.IsZero() || s.Before(t.Start) {
					t.Start = s
				}
			}
		}
	case "aws:kinesis":
		t.Kind, system, destination = Kinesis, "aws_kinesis", lastPart(r.EventSourceARN, "/")
		for i := range rs {
			if k := rs[i].Kinesis; k != nil && k.ApproximateArrivalTimestamp > 0 {
				if s := seconds(k.ApproximateArrivalTimestamp); t.Start.IsZero() || s.Before(t.Start) {
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
	if r.AWSRegion != "" {
		t.Attrs = append(t.Attrs, str("cloud.region", r.AWSRegion))
	}
	return t
}

// link notes a record with a trace context of its own.
func (t *Trigger) link(messageID string, c Context) {
	if (c.Traceparent != "" || c.XRay != "") && len(t.Linked) < MaxLinks {
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
