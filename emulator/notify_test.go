package emulator_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambdascope/lambdascope/emulator"
)

// eventHandler logs each event it gets, with the trace header of its
// invocation, as one JSON line.
const eventHandler = `exports.handler = async (event) => {
  console.log('EVENT ' + JSON.stringify({trace: process.env._X_AMZN_TRACE_ID, event}));
  return {};
};
`

var eventRE = regexp.MustCompile(`EVENT (\{.*\})`)

// seenEvents are the events the handler logged, with their trace header.
func seenEvents(t *testing.T, out string) []struct {
	Trace string          `json:"trace"`
	Event json.RawMessage `json:"event"`
} {
	t.Helper()
	var evs []struct {
		Trace string          `json:"trace"`
		Event json.RawMessage `json:"event"`
	}
	for _, m := range eventRE.FindAllStringSubmatch(out, -1) {
		var ev struct {
			Trace string          `json:"trace"`
			Event json.RawMessage `json:"event"`
		}
		if err := json.Unmarshal([]byte(m[1]), &ev); err != nil {
			t.Fatalf("decode %s: %v", m[1], err)
		}
		evs = append(evs, ev)
	}
	return evs
}

func startNotified(t *testing.T) setup {
	t.Helper()
	code := t.TempDir()
	if err := os.WriteFile(filepath.Join(code, "index.js"), []byte(eventHandler), 0o644); err != nil {
		t.Fatal(err)
	}
	return start(t, func(c *emulator.Config) {
		c.Functions = []emulator.FunctionConfig{{Name: "listener", Runtime: "nodejs20.x", Handler: "index.handler",
			CodeDir: code, Timeout: 5 * time.Second}}
		c.Topics = []emulator.TopicConfig{{Name: "orders-placed", Subscribers: []string{"listener"}}}
		c.Rules = []emulator.RuleConfig{{Name: "orders-to-listener", Bus: "orders", Sources: []string{"shop.orders"}, Targets: []string{"listener"}}}
	})
}

const publisherTrace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

// TestSNSPublishReachesSubscriber publishes through the SNS query
// protocol, as an AWS SDK does, with a traceparent message attribute and
// the publisher's X-Ray header: the subscriber is invoked once with SNS's
// event, the attribute in it, and its invocation continues the
// publisher's trace.
func TestSNSPublishReachesSubscriber(t *testing.T) {
	s := startNotified(t)
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	form := url.Values{"Action": {"Publish"}, "TopicArn": {s.em.TopicARN("orders-placed")}, "Message": {`{"order":"o-1"}`},
		"MessageAttributes.entry.1.Name": {"traceparent"}, "MessageAttributes.entry.1.Value.DataType": {"String"},
		"MessageAttributes.entry.1.Value.StringValue": {tp}}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.em.InvokeURL()+"/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	req.Header.Set("X-Amzn-Trace-Id", publisherTrace)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	_ = resp.Body.Close()
	id := regexp.MustCompile(`<MessageId>([^<]+)</MessageId>`).FindStringSubmatch(buf.String())
	if resp.StatusCode != http.StatusOK || id == nil {
		t.Fatalf("Publish: %d %s", resp.StatusCode, buf.String())
	}
	eventually(t, "the message delivered", func() bool {
		st, _ := s.em.TopicStats("orders-placed")
		return st.Delivered == 1
	})
	evs := seenEvents(t, s.out.String())
	if len(evs) != 1 {
		t.Fatalf("subscriber got %d events:\n%s", len(evs), s.out.String())
	}
	var ev events.SNSEvent
	if err := json.Unmarshal(evs[0].Event, &ev); err != nil || len(ev.Records) != 1 {
		t.Fatalf("event %s: %v", evs[0].Event, err)
	}
	m := ev.Records[0].SNS
	if m.MessageID != id[1] || m.TopicArn != s.em.TopicARN("orders-placed") || m.Message != `{"order":"o-1"}` {
		t.Errorf("message %+v, want what was published (%s)", m, id[1])
	}
	if a, _ := m.MessageAttributes["traceparent"].(map[string]any); a["Value"] != tp {
		t.Errorf("traceparent attribute lost: %v", m.MessageAttributes)
	}
	if !strings.HasPrefix(evs[0].Trace, "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;") {
		t.Errorf("invocation trace %q does not continue the publisher's %q", evs[0].Trace, publisherTrace)
	}
}

// TestEventBridgeRuleInvokesTarget puts two events through the
// EventBridge JSON protocol: the rule's pattern takes the one from its
// source, whose target gets EventBridge's event, in the sender's trace
// (the entry's TraceHeader); the other matches no rule.
func TestEventBridgeRuleInvokesTarget(t *testing.T) {
	s := startNotified(t)
	body, _ := json.Marshal(map[string]any{"Entries": []map[string]any{
		{"Source": "shop.orders", "DetailType": "OrderPlaced", "Detail": `{"order":"o-1"}`, "EventBusName": "orders", "TraceHeader": publisherTrace},
		{"Source": "shop.billing", "DetailType": "InvoiceIssued", "Detail": `{}`, "EventBusName": "orders"},
	}})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.em.InvokeURL()+"/", bytes.NewReader(body))
	req.Header.Set("X-Amz-Target", "AWSEvents.PutEvents")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var put struct {
		FailedEntryCount int
		Entries          []struct {
			EventID string `json:"EventId"`
		}
	}
	_ = json.NewDecoder(resp.Body).Decode(&put)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || put.FailedEntryCount != 0 || len(put.Entries) != 2 || put.Entries[0].EventID == "" {
		t.Fatalf("PutEvents: %d %+v", resp.StatusCode, put)
	}
	eventually(t, "the event delivered", func() bool {
		st, _ := s.em.RuleStats("orders-to-listener")
		return st.Delivered == 1
	})
	if st, _ := s.em.RuleStats("orders-to-listener"); st != (emulator.NotifyStats{Received: 1, Delivered: 1}) {
		t.Errorf("rule stats %+v, want the one event of its source", st)
	}
	evs := seenEvents(t, s.out.String())
	if len(evs) != 1 {
		t.Fatalf("target got %d events:\n%s", len(evs), s.out.String())
	}
	var ev events.EventBridgeEvent
	if err := json.Unmarshal(evs[0].Event, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.ID != put.Entries[0].EventID || ev.Source != "shop.orders" || ev.DetailType != "OrderPlaced" || string(ev.Detail) != `{"order":"o-1"}` {
		t.Errorf("event %+v", ev)
	}
	if !strings.HasPrefix(evs[0].Trace, "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;") {
		t.Errorf("invocation trace %q does not continue the sender's %q", evs[0].Trace, publisherTrace)
	}
}

func TestNotifyErrors(t *testing.T) {
	s := startNotified(t)
	post := func(t *testing.T, target, ctype, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.em.InvokeURL()+"/", strings.NewReader(body))
		if target != "" {
			req.Header.Set("X-Amz-Target", target)
		}
		req.Header.Set("Content-Type", ctype)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode, buf.String()
	}
	const form = "application/x-www-form-urlencoded"
	arn := url.QueryEscape(s.em.TopicARN("orders-placed"))
	for _, tc := range []struct{ name, target, ctype, body, want string }{
		{"unknown topic", "", form, "Action=Publish&Message=x&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A123456789012%3Anope", "<Code>NotFound</Code>"},
		{"empty message", "", form, "Action=Publish&Message=&TopicArn=" + arn, "<Code>InvalidParameter</Code>"},
		{"other action", "", form, "Action=Subscribe&TopicArn=" + arn, "<Code>InvalidAction</Code>"},
		{"no source", "AWSEvents.PutEvents", "application/x-amz-json-1.1", `{"Entries":[{"DetailType":"x","Detail":"{}"}]}`, `"FailedEntryCount":1`},
		{"detail not an object", "AWSEvents.PutEvents", "application/x-amz-json-1.1", `{"Entries":[{"Source":"s","DetailType":"x","Detail":"[1]"}]}`, `"FailedEntryCount":1`},
		{"no entries", "AWSEvents.PutEvents", "application/x-amz-json-1.1", `{"Entries":[]}`, "ValidationException"},
		{"other operation", "AWSEvents.PutRule", "application/x-amz-json-1.1", `{}`, "UnsupportedOperation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, got := post(t, tc.target, tc.ctype, tc.body); !strings.Contains(got, tc.want) {
				t.Errorf("answer %s, want %s", got, tc.want)
			}
		})
	}
	if st, _ := s.em.TopicStats("orders-placed"); st.Received != 0 {
		t.Errorf("a refused message was published: %+v", st)
	}
	if _, err := emulator.New(emulator.Config{Topics: []emulator.TopicConfig{{Name: "t", Subscribers: []string{"nope"}}},
		Rules: []emulator.RuleConfig{{Name: "r"}}}); err == nil ||
		!strings.Contains(err.Error(), `topics[0].subscribers[0] "nope" is not a configured function`) ||
		!strings.Contains(err.Error(), "rules[0].targets must name at least one function") {
		t.Errorf("config error %v", err)
	}
}
