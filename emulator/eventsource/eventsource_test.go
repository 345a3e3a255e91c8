package eventsource_test

import (
	"encoding/json"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambdascope/lambdascope/emulator/eventsource"
)

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestAPIGatewayEvents(t *testing.T) {
	at := time.Date(2026, 12, 6, 4, 30, 15, 123e6, time.UTC)
	req := eventsource.HTTPRequest{Method: "POST", Path: "/orders", Route: "/orders",
		Headers: map[string]string{"Content-Type": "application/json", "traceparent": traceparent},
		Body:    `{"sku":"a"}`, Time: at}

	t.Run("REST", func(t *testing.T) {
		b, err := eventsource.APIGatewayREST(req)
		if err != nil {
			t.Fatal(err)
		}
		var ev events.APIGatewayProxyRequest
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		rc := ev.RequestContext
		if ev.HTTPMethod != "POST" || ev.Path != "/orders" || ev.Resource != "/orders" || ev.Body != `{"sku":"a"}` {
			t.Errorf("request: %s %s %s %q", ev.HTTPMethod, ev.Path, ev.Resource, ev.Body)
		}
		if ev.Headers["traceparent"] != traceparent || ev.MultiValueHeaders["traceparent"][0] != traceparent {
			t.Errorf("traceparent header lost: %v", ev.Headers)
		}
		if rc.RequestTimeEpoch != at.UnixMilli() || rc.RequestTime != "06/Dec/2026:04:30:15 +0000" {
			t.Errorf("request time %d %q", rc.RequestTimeEpoch, rc.RequestTime)
		}
		if rc.Stage != "prod" || rc.HTTPMethod != "POST" || rc.ResourcePath != "/orders" || rc.RequestID == "" || rc.Identity.SourceIP == "" {
			t.Errorf("request context: %+v", rc)
		}
		// Shape from AWS's sample: fields the builder does not set remain.
		var raw map[string]any
		_ = json.Unmarshal(b, &raw)
		for _, k := range []string{"resource", "multiValueHeaders", "requestContext", "isBase64Encoded"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("no %q in %s", k, b)
			}
		}
	})
	t.Run("HTTP", func(t *testing.T) {
		b, err := eventsource.APIGatewayHTTP(req)
		if err != nil {
			t.Fatal(err)
		}
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		rc := ev.RequestContext
		if ev.Version != "2.0" || ev.RouteKey != "POST /orders" || ev.RawPath != "/orders" || rc.HTTP.Method != "POST" {
			t.Errorf("request: %+v", ev)
		}
		if ev.Headers["traceparent"] != traceparent || ev.Headers["content-type"] != "application/json" {
			t.Errorf("headers (lowercase, traceparent kept): %v", ev.Headers)
		}
		if rc.TimeEpoch != at.UnixMilli() || rc.Time != "06/Dec/2026:04:30:15 +0000" || rc.Stage != "$default" {
			t.Errorf("request context: %+v", rc)
		}
	})
}

func TestSQSBatch(t *testing.T) {
	sent := time.Date(2026, 12, 6, 4, 30, 15, 0, time.UTC)
	msgs := []eventsource.Message{
		{ID: "m1", Body: "Message Body", SentAt: sent, FirstReceivedAt: sent.Add(800 * time.Millisecond),
			Attributes: map[string]eventsource.MessageAttribute{"traceparent": {DataType: "String", StringValue: traceparent}}},
		{ID: "m2", Body: "second", SentAt: sent.Add(time.Second)},
	}
	b, err := eventsource.SQS("arn:aws:sqs:us-east-1:123456789012:orders-placed", msgs)
	if err != nil {
		t.Fatal(err)
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Records) != 2 {
		t.Fatalf("%d records", len(ev.Records))
	}
	r := ev.Records[0]
	// md5 -s "Message Body"
	if r.Md5OfBody != "77a3cf88eba293be44f5fd5c61835a43" {
		t.Errorf("md5OfBody %s", r.Md5OfBody)
	}
	// The record has the shape of AWS's sample: the same keys.
	sample, err := os.ReadFile("samples/sqs-event.json")
	if err != nil {
		t.Fatal(err)
	}
	var want, got struct{ Records []map[string]json.RawMessage }
	if err := json.Unmarshal(sample, &want); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(b, &got)
	for k := range want.Records[0] {
		if _, ok := got.Records[0][k]; !ok {
			t.Errorf("record has no %q, AWS's sample does", k)
		}
	}
	if r.MessageId != "m1" || r.EventSource != "aws:sqs" || r.AWSRegion != "us-east-1" || r.EventSourceARN != "arn:aws:sqs:us-east-1:123456789012:orders-placed" || r.ReceiptHandle == "" {
		t.Errorf("record: %+v", r)
	}
	if got := r.Attributes["SentTimestamp"]; got != strconv.FormatInt(sent.UnixMilli(), 10) {
		t.Errorf("SentTimestamp %s", got)
	}
	if got := r.Attributes["ApproximateFirstReceiveTimestamp"]; got != strconv.FormatInt(sent.Add(800*time.Millisecond).UnixMilli(), 10) {
		t.Errorf("ApproximateFirstReceiveTimestamp %s", got)
	}
	if a := r.MessageAttributes["traceparent"]; a.StringValue == nil || *a.StringValue != traceparent || a.DataType != "String" {
		t.Errorf("traceparent attribute: %+v", a)
	}
	if r.Md5OfMessageAttributes == "" || ev.Records[1].Md5OfMessageAttributes != "" {
		t.Errorf("md5OfMessageAttributes %q / %q", r.Md5OfMessageAttributes, ev.Records[1].Md5OfMessageAttributes)
	}
	var raw struct {
		Records []struct {
			MessageAttributes map[string]map[string]any `json:"messageAttributes"`
		}
	}
	_ = json.Unmarshal(b, &raw)
	if l, ok := raw.Records[0].MessageAttributes["traceparent"]["stringListValues"].([]any); !ok || len(l) != 0 {
		t.Errorf("stringListValues should be [] as SQS sends it: %s", b)
	}
	if _, err := eventsource.SQS("orders-placed", msgs); err == nil {
		t.Error("a queue name instead of an ARN was taken")
	}
}

func TestMD5OfMessageAttributes(t *testing.T) {
	a := map[string]eventsource.MessageAttribute{"b": {DataType: "String", StringValue: "x"}, "a": {DataType: "Binary", BinaryValue: []byte{1, 2}}}
	if eventsource.MD5OfMessageAttributes(a) != eventsource.MD5OfMessageAttributes(map[string]eventsource.MessageAttribute{"a": a["a"], "b": a["b"]}) {
		t.Error("digest depends on map order")
	}
	b := map[string]eventsource.MessageAttribute{"b": {DataType: "String", StringValue: "y"}, "a": a["a"]}
	if eventsource.MD5OfMessageAttributes(a) == eventsource.MD5OfMessageAttributes(b) {
		t.Error("digest ignores the value")
	}
}
