// Package eventsource builds the events AWS services pass to Lambda
// functions: API Gateway REST and HTTP API proxy events, SQS batches, SNS
// notifications and EventBridge events. Each starts from AWS's published
// sample event of its kind (samples/, see its README) and takes the
// request's or messages' own values and real timestamps, so a function and
// the Lambdascope extension see what the service would send.
package eventsource

import (
	"crypto/md5"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

var (
	//go:embed samples/apigw-request.json
	restSample []byte
	//go:embed samples/apigw-v2-request-no-authorizer.json
	httpSample []byte
	//go:embed samples/sqs-event.json
	sqsSample []byte
)

// HTTPRequest is a request API Gateway passes to a function.
type HTTPRequest struct {
	// Method and Path are the request's ("POST", "/orders").
	Method, Path string
	// Route is the resource (REST) or route (HTTP API) that matched
	// ("/orders/{id}"); default Path.
	Route string
	// Query holds the query string's parameters.
	Query   map[string]string
	Headers map[string]string
	Body    string
	// Time is when API Gateway received the request; default now.
	Time time.Time
	// SourceIP and UserAgent describe the caller; defaults 198.51.100.7
	// and the User-Agent header.
	SourceIP, UserAgent string
	// AccountID, Region, APIID and Stage name the API; defaults
	// 123456789012, us-east-1, a fixed ID and "prod" (REST) or
	// "$default" (HTTP API).
	AccountID, Region, APIID, Stage string
}

func (r *HTTPRequest) defaults(stage string) {
	if r.Route == "" {
		r.Route = r.Path
	}
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	if r.SourceIP == "" {
		r.SourceIP = "198.51.100.7"
	}
	if r.UserAgent == "" {
		for k, v := range r.Headers {
			if strings.EqualFold(k, "user-agent") {
				r.UserAgent = v
			}
		}
	}
	if r.AccountID == "" {
		r.AccountID = "123456789012"
	}
	if r.Region == "" {
		r.Region = "us-east-1"
	}
	if r.APIID == "" {
		r.APIID = "a1b2c3d4e5"
	}
	if r.Stage == "" {
		r.Stage = stage
	}
}

func (r *HTTPRequest) domain() string {
	return r.APIID + ".execute-api." + r.Region + ".amazonaws.com"
}

// APIGatewayREST is the event of a REST API's Lambda proxy integration
// (payload format 1.0).
func APIGatewayREST(r HTTPRequest) ([]byte, error) {
	r.defaults("prod")
	var ev events.APIGatewayProxyRequest
	if err := json.Unmarshal(restSample, &ev); err != nil {
		return nil, fmt.Errorf("decode REST API sample: %w", err)
	}
	headers := map[string]string{"Host": r.domain(), "X-Forwarded-For": r.SourceIP, "X-Forwarded-Port": "443",
		"X-Forwarded-Proto": "https", "X-Amzn-Trace-Id": xrayRoot(r.Time)}
	maps.Copy(headers, r.Headers)
	ev.Resource, ev.Path, ev.HTTPMethod = r.Route, r.Path, r.Method
	ev.Headers, ev.MultiValueHeaders = headers, multi(headers)
	ev.QueryStringParameters, ev.MultiValueQueryStringParameters = nilIfEmpty(r.Query), multi(nilIfEmpty(r.Query))
	ev.PathParameters, ev.StageVariables = nil, nil
	ev.Body, ev.IsBase64Encoded = r.Body, false
	rc := &ev.RequestContext
	rc.AccountID, rc.APIID, rc.Stage, rc.DomainName, rc.DomainPrefix = r.AccountID, r.APIID, r.Stage, r.domain(), r.APIID
	rc.ResourceID, rc.ResourcePath, rc.HTTPMethod, rc.Path = randomID(6), r.Route, r.Method, "/"+r.Stage+r.Path
	rc.RequestID, rc.ExtendedRequestID = uuid(), randomID(16)
	rc.RequestTime, rc.RequestTimeEpoch = r.Time.UTC().Format("02/Jan/2006:15:04:05 -0700"), r.Time.UnixMilli()
	rc.Identity = events.APIGatewayRequestIdentity{SourceIP: r.SourceIP, UserAgent: r.UserAgent}
	rc.Authorizer = nil
	// API Gateway always sends isBase64Encoded, which the type leaves out
	// when false.
	return json.Marshal(struct {
		events.APIGatewayProxyRequest
		IsBase64Encoded bool `json:"isBase64Encoded"`
	}{ev, false})
}

// APIGatewayHTTP is the event of an HTTP API's Lambda integration (payload
// format 2.0). Header names are lowercase, as HTTP APIs pass them.
func APIGatewayHTTP(r HTTPRequest) ([]byte, error) {
	r.defaults("$default")
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(httpSample, &ev); err != nil {
		return nil, fmt.Errorf("decode HTTP API sample: %w", err)
	}
	headers := map[string]string{"host": r.domain(), "x-forwarded-for": r.SourceIP, "x-forwarded-port": "443",
		"x-forwarded-proto": "https", "x-amzn-trace-id": xrayRoot(r.Time), "content-length": strconv.Itoa(len(r.Body))}
	for k, v := range r.Headers {
		headers[strings.ToLower(k)] = v
	}
	route := r.Method + " " + r.Route
	ev.RouteKey, ev.RawPath, ev.RawQueryString = route, r.Path, query(r.Query)
	ev.Headers, ev.QueryStringParameters, ev.Body, ev.IsBase64Encoded = headers, nilIfEmpty(r.Query), r.Body, false
	rc := &ev.RequestContext
	rc.AccountID, rc.APIID, rc.Stage, rc.DomainName, rc.DomainPrefix = r.AccountID, r.APIID, r.Stage, r.domain(), r.APIID
	rc.RouteKey, rc.RequestID = route, randomID(12)+"="
	rc.Authentication = events.APIGatewayV2HTTPRequestContextAuthentication{}
	rc.HTTP = events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: r.Method, Path: r.Path, Protocol: "HTTP/1.1",
		SourceIP: r.SourceIP, UserAgent: r.UserAgent}
	rc.Time, rc.TimeEpoch = r.Time.UTC().Format("02/Jan/2006:15:04:05 -0700"), r.Time.UnixMilli()
	return json.Marshal(ev)
}

// MessageAttribute is an SQS message attribute of type String (or
// Number) or Binary.
type MessageAttribute struct {
	DataType    string
	StringValue string
	BinaryValue []byte
}

// Message is an SQS message as a queue delivers it to Lambda.
type Message struct {
	ID         string
	Body       string
	Attributes map[string]MessageAttribute
	// SentAt is when the queue accepted the message, FirstReceivedAt when
	// it was first received (default SentAt), ReceiveCount how often
	// (default 1).
	SentAt, FirstReceivedAt time.Time
	ReceiveCount            int
	// SenderID is the sender's principal; AWSTraceHeader the X-Ray header
	// the sender's SDK passed, if any.
	SenderID, AWSTraceHeader string
}

// SQS is the event of an SQS event source mapping: one record per message
// of queueARN (arn:aws:sqs:region:account:name).
func SQS(queueARN string, msgs []Message) ([]byte, error) {
	parts := strings.Split(queueARN, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sqs" {
		return nil, fmt.Errorf("queue ARN %q is not arn:aws:sqs:region:account:name", queueARN)
	}
	var sample events.SQSEvent
	if err := json.Unmarshal(sqsSample, &sample); err != nil || len(sample.Records) == 0 {
		return nil, fmt.Errorf("decode SQS sample: %v", err)
	}
	ev := events.SQSEvent{Records: make([]events.SQSMessage, 0, len(msgs))}
	for _, m := range msgs {
		rec := sample.Records[0]
		first := m.FirstReceivedAt
		if first.IsZero() {
			first = m.SentAt
		}
		count := max(m.ReceiveCount, 1)
		sender := m.SenderID
		if sender == "" {
			sender = "AROAIWPX5BD2BHG722MW4:sender"
		}
		rec.MessageId, rec.ReceiptHandle, rec.Body = m.ID, receiptHandle(), m.Body
		rec.Md5OfBody = md5Hex([]byte(m.Body))
		rec.Md5OfMessageAttributes = MD5OfMessageAttributes(m.Attributes)
		rec.EventSourceARN, rec.AWSRegion = queueARN, parts[3]
		rec.Attributes = map[string]string{
			"ApproximateReceiveCount":          strconv.Itoa(count),
			"SentTimestamp":                    strconv.FormatInt(m.SentAt.UnixMilli(), 10),
			"SenderId":                         sender,
			"ApproximateFirstReceiveTimestamp": strconv.FormatInt(first.UnixMilli(), 10),
		}
		if m.AWSTraceHeader != "" {
			rec.Attributes["AWSTraceHeader"] = m.AWSTraceHeader
		}
		rec.MessageAttributes = map[string]events.SQSMessageAttribute{}
		for name, a := range m.Attributes {
			ma := events.SQSMessageAttribute{DataType: a.DataType, StringListValues: []string{}, BinaryListValues: [][]byte{}}
			if isBinary(a.DataType) {
				ma.BinaryValue = a.BinaryValue
			} else {
				ma.StringValue = &a.StringValue
			}
			rec.MessageAttributes[name] = ma
		}
		ev.Records = append(ev.Records, rec)
	}
	return json.Marshal(ev)
}

func isBinary(dataType string) bool {
	base, _, _ := strings.Cut(dataType, ".")
	return base == "Binary"
}

// MD5OfMessageAttributes is the digest SQS gives of a message's attributes
// (md5OfMessageAttributes): over the attributes sorted by name, each as
// its name, data type and value, every part preceded by its 4-byte
// big-endian length and the value by a transport byte (1 string, 2
// binary). Empty without attributes.
func MD5OfMessageAttributes(attrs map[string]MessageAttribute) string {
	if len(attrs) == 0 {
		return ""
	}
	h := md5.New()
	put := func(b []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	for _, name := range slices.Sorted(maps.Keys(attrs)) {
		a := attrs[name]
		put([]byte(name))
		put([]byte(a.DataType))
		if isBinary(a.DataType) {
			h.Write([]byte{2})
			put(a.BinaryValue)
		} else {
			h.Write([]byte{1})
			put([]byte(a.StringValue))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// MD5OfBody is the digest SQS gives of a message body.
func MD5OfBody(body string) string { return md5Hex([]byte(body)) }

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

func multi(m map[string]string) map[string][]string {
	if m == nil {
		return nil
	}
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = []string{v}
	}
	return out
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

func query(q map[string]string) string {
	v := url.Values{}
	for k, s := range q {
		v.Set(k, s)
	}
	return v.Encode()
}

// xrayRoot is the X-Amzn-Trace-Id API Gateway adds to a request.
func xrayRoot(t time.Time) string {
	return fmt.Sprintf("Root=1-%08x-%s", t.Unix(), randomID(12))
}

func randomID(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// NewMessageID is a message ID as SQS assigns them.
func NewMessageID() string { return uuid() }

func receiptHandle() string {
	b := make([]byte, 96)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
