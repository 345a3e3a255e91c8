package eventsource_test

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambdascope/lambdascope/emulator/eventsource"
)

// sameKeys fails when got lacks a key AWS's sample has: at its top
// (inRecord ""), in its first record ("."), or in that record's object
// inRecord.
func sameKeys(t *testing.T, sample string, got []byte, inRecord string) {
	t.Helper()
	b, err := os.ReadFile("samples/" + sample)
	if err != nil {
		t.Fatal(err)
	}
	keys := func(b []byte) map[string]json.RawMessage {
		var top map[string]json.RawMessage
		_ = json.Unmarshal(b, &top)
		if inRecord == "" {
			return top
		}
		var recs []map[string]json.RawMessage
		_ = json.Unmarshal(top["Records"], &recs)
		if len(recs) == 0 {
			return nil
		}
		if inRecord == "." {
			return recs[0]
		}
		var inner map[string]json.RawMessage
		_ = json.Unmarshal(recs[0][inRecord], &inner)
		return inner
	}
	want, have := keys(b), keys(got)
	if len(want) == 0 {
		t.Fatalf("sample %s read as empty", sample)
	}
	for k := range want {
		if _, ok := have[k]; !ok {
			t.Errorf("no %q, AWS's sample %s has it: %s", k, sample, got)
		}
	}
}

func TestSNSNotification(t *testing.T) {
	at := time.Date(2026, 12, 6, 4, 30, 15, 120e6, time.UTC)
	const topic = "arn:aws:sns:eu-west-1:123456789012:orders-placed"
	b, err := eventsource.SNS(topic, "0b5d4f5e-1c1d-4b7e-9d35-5ab2c1c5f001", eventsource.Notification{ID: "m1", Message: `{"order":"o-1"}`,
		PublishedAt: at, Attributes: map[string]eventsource.MessageAttribute{
			"traceparent": {DataType: "String", StringValue: traceparent},
			"blob":        {DataType: "Binary", BinaryValue: []byte{1, 2, 3}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	var ev events.SNSEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Records) != 1 {
		t.Fatalf("%d records, want one: SNS invokes once per message", len(ev.Records))
	}
	r, m := ev.Records[0], ev.Records[0].SNS
	if r.EventSource != "aws:sns" || r.EventSubscriptionArn != topic+":0b5d4f5e-1c1d-4b7e-9d35-5ab2c1c5f001" {
		t.Errorf("record: %+v", r)
	}
	if m.MessageID != "m1" || m.TopicArn != topic || m.Message != `{"order":"o-1"}` || m.Type != "Notification" || !m.Timestamp.Equal(at) {
		t.Errorf("message: %+v", m)
	}
	if a, _ := m.MessageAttributes["traceparent"].(map[string]any); a["Type"] != "String" || a["Value"] != traceparent {
		t.Errorf("traceparent attribute: %v", m.MessageAttributes)
	}
	if a, _ := m.MessageAttributes["blob"].(map[string]any); a["Value"] != base64.StdEncoding.EncodeToString([]byte{1, 2, 3}) {
		t.Errorf("binary attribute: %v", m.MessageAttributes)
	}
	var raw struct {
		Records []struct{ Sns map[string]any }
	}
	_ = json.Unmarshal(b, &raw)
	if got := raw.Records[0].Sns["Timestamp"]; got != "2026-12-06T04:30:15.120Z" {
		t.Errorf("Timestamp %v, want milliseconds as SNS writes them", got)
	}
	if got, ok := raw.Records[0].Sns["Subject"]; !ok || got != nil {
		t.Errorf("Subject %v, want null for a message without one", got)
	}
	sameKeys(t, "sns-event.json", b, ".")
	sameKeys(t, "sns-event.json", b, "Sns")
	for _, bad := range []string{"orders-placed", "arn:aws:sqs:eu-west-1:123456789012:orders-placed"} {
		if _, err := eventsource.SNS(bad, "x", eventsource.Notification{Message: "m"}); err == nil {
			t.Errorf("topic %q was taken", bad)
		}
	}
}

func TestEventBridgeEvent(t *testing.T) {
	at := time.Date(2026, 12, 6, 4, 30, 15, 987e6, time.UTC)
	b, err := eventsource.EventBridge(eventsource.BusEvent{Source: "orders", DetailType: "OrderPlaced",
		Detail: json.RawMessage(`{"order":"o-1","traceparent":"` + traceparent + `"}`), Time: at, Region: "eu-west-1",
		Resources: []string{"arn:aws:events:eu-west-1:123456789012:event-bus/orders"}})
	if err != nil {
		t.Fatal(err)
	}
	var ev events.EventBridgeEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Source != "orders" || ev.DetailType != "OrderPlaced" || ev.ID == "" || ev.Version != "0" || ev.AccountID != "123456789012" ||
		ev.Region != "eu-west-1" || !ev.Time.Equal(at.Truncate(time.Second)) || len(ev.Resources) != 1 {
		t.Errorf("event: %+v", ev)
	}
	if string(ev.Detail) != `{"order":"o-1","traceparent":"`+traceparent+`"}` {
		t.Errorf("detail %s", ev.Detail)
	}
	sameKeys(t, "eventbridge-event.json", b, "")
	for _, bad := range []eventsource.BusEvent{{DetailType: "x"}, {Source: "x"}, {Source: "x", DetailType: "y", Detail: json.RawMessage(`[1]`)}} {
		if _, err := eventsource.EventBridge(bad); err == nil {
			t.Errorf("%+v was taken", bad)
		}
	}
}
