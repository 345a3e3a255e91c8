package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambdascope/lambdascope/emulator"
	"github.com/lambdascope/lambdascope/emulator/eventsource"
)

// consumerHandler logs each batch it gets as one JSON line.
const consumerHandler = `exports.handler = async (event) => {
  console.log('BATCH ' + JSON.stringify(event));
  return { batchItemFailures: [] };
};
`

func startQueue(t *testing.T, window time.Duration) (*emulator.Emulator, *syncBuffer) {
	t.Helper()
	code := t.TempDir()
	if err := os.WriteFile(filepath.Join(code, "index.js"), []byte(consumerHandler), 0o644); err != nil {
		t.Fatal(err)
	}
	s := start(t, func(c *emulator.Config) {
		c.Functions = []emulator.FunctionConfig{{Name: "consumer", Runtime: "nodejs20.x", Handler: "index.handler",
			CodeDir: code, Timeout: 5 * time.Second}}
		c.Queues = []emulator.QueueConfig{{Name: "orders-placed", Consumer: "consumer", BatchWindow: window}}
	})
	return s.em, s.out
}

var batchRE = regexp.MustCompile(`BATCH (\{.*\})`)

func batches(t *testing.T, out string) []events.SQSEvent {
	t.Helper()
	var evs []events.SQSEvent
	for _, m := range batchRE.FindAllStringSubmatch(out, -1) {
		var ev events.SQSEvent
		if err := json.Unmarshal([]byte(m[1]), &ev); err != nil {
			t.Fatalf("decode batch %s: %v", m[1], err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// TestSQSBatchReachesConsumer sends three messages in one SendMessageBatch
// call of the SQS JSON protocol, as an AWS SDK does, with a traceparent
// message attribute; the event source mapping invokes the consumer once
// with the three, in SQS's event shape with their attributes and times.
func TestSQSBatchReachesConsumer(t *testing.T) {
	em, out := startQueue(t, 300*time.Millisecond)
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	var entries []map[string]any
	for _, id := range []string{"a", "b", "c"} {
		entries = append(entries, map[string]any{"Id": id, "MessageBody": `{"order":"` + id + `"}`,
			"MessageAttributes": map[string]any{"traceparent": map[string]string{"DataType": "String", "StringValue": tp}}})
	}
	body, _ := json.Marshal(map[string]any{"QueueUrl": em.QueueURL("orders-placed"), "Entries": entries})
	before := time.Now()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, em.QueueURL("orders-placed"), bytes.NewReader(body))
	req.Header.Set("X-Amz-Target", "AmazonSQS.SendMessageBatch")
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var sent struct {
		Successful []struct{ ID, MessageID, MD5OfMessageBody, MD5OfMessageAttributes string }
		Failed     []any
	}
	_ = json.NewDecoder(resp.Body).Decode(&sent)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(sent.Successful) != 3 || len(sent.Failed) != 0 {
		t.Fatalf("SendMessageBatch: %d %+v", resp.StatusCode, sent)
	}
	eventually(t, "the batch delivered", func() bool {
		st, _ := em.QueueStats("orders-placed")
		return st.Delivered == 3
	})
	st, _ := em.QueueStats("orders-placed")
	if st != (emulator.QueueStats{Sent: 3, Delivered: 3, Batches: 1}) {
		t.Errorf("stats %+v, want one batch of three", st)
	}
	evs := batches(t, out.String())
	if len(evs) != 1 || len(evs[0].Records) != 3 {
		t.Fatalf("consumer got %d batches: %s", len(evs), out.String())
	}
	for i, r := range evs[0].Records {
		if r.MessageId != sent.Successful[i].MessageID || r.Md5OfBody != sent.Successful[i].MD5OfMessageBody ||
			r.Md5OfMessageAttributes != sent.Successful[i].MD5OfMessageAttributes {
			t.Errorf("record %d %+v does not match what SendMessageBatch answered %+v", i, r, sent.Successful[i])
		}
		if a := r.MessageAttributes["traceparent"]; a.StringValue == nil || *a.StringValue != tp {
			t.Errorf("record %d lost its traceparent: %+v", i, r.MessageAttributes)
		}
		if r.EventSourceARN != "arn:aws:sqs:us-east-1:123456789012:orders-placed" {
			t.Errorf("record %d ARN %s", i, r.EventSourceARN)
		}
		sentAt, firstRecv := msAttr(t, r, "SentTimestamp"), msAttr(t, r, "ApproximateFirstReceiveTimestamp")
		if sentAt.Before(before.Truncate(time.Millisecond)) || firstRecv.Before(sentAt) || time.Since(sentAt) > time.Minute {
			t.Errorf("record %d times: sent %v, first received %v (test began %v)", i, sentAt, firstRecv, before)
		}
	}
}

func msAttr(t *testing.T, r events.SQSMessage, k string) time.Time {
	t.Helper()
	var ms int64
	if err := json.Unmarshal([]byte(r.Attributes[k]), &ms); err != nil {
		t.Fatalf("%s %q: %v", k, r.Attributes[k], err)
	}
	return time.UnixMilli(ms)
}

// TestSQSShutdownDeliversQueued: a message still in its batching window
// when Shutdown begins reaches the consumer before the environments go.
func TestSQSShutdownDeliversQueued(t *testing.T) {
	em, out := startQueue(t, time.Minute)
	if _, err := em.SendMessage("orders-placed", "last", map[string]eventsource.MessageAttribute{"k": {DataType: "String", StringValue: "v"}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	start := time.Now()
	if err := em.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 15*time.Second {
		t.Errorf("shutdown waited out the batching window: %v", time.Since(start))
	}
	if st, _ := em.QueueStats("orders-placed"); st.Delivered != 1 {
		t.Errorf("stats %+v: the queued message was not delivered", st)
	}
	if evs := batches(t, out.String()); len(evs) != 1 || evs[0].Records[0].Body != "last" {
		t.Errorf("consumer got %+v", evs)
	}
}

func TestSQSErrors(t *testing.T) {
	em, _ := startQueue(t, 0)
	for _, tc := range []struct{ name, target, body, want string }{
		{"unknown queue", "AmazonSQS.SendMessage", `{"QueueUrl":"http://x/123456789012/nope","MessageBody":"x"}`, "QueueDoesNotExist"},
		{"empty body", "AmazonSQS.SendMessage", `{"QueueUrl":"` + em.QueueURL("orders-placed") + `","MessageBody":""}`, "InvalidParameterValue"},
		{"attribute without a value", "AmazonSQS.SendMessage", `{"QueueUrl":"` + em.QueueURL("orders-placed") + `","MessageBody":"x","MessageAttributes":{"traceparent":{"DataType":"String"}}}`, "InvalidParameterValue"},
		{"attribute type", "AmazonSQS.SendMessage", `{"QueueUrl":"` + em.QueueURL("orders-placed") + `","MessageBody":"x","MessageAttributes":{"a":{"DataType":"Int","StringValue":"1"}}}`, "InvalidParameterValue"},
		{"unsupported", "AmazonSQS.PurgeQueue", `{"QueueUrl":"` + em.QueueURL("orders-placed") + `"}`, "UnsupportedOperation"},
		{"not JSON", "AmazonSQS.SendMessage", `nope`, "SerializationException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, em.InvokeURL()+"/", strings.NewReader(tc.body))
			req.Header.Set("X-Amz-Target", tc.target)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var e struct {
				Type string `json:"__type"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&e)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || !strings.HasSuffix(e.Type, "#"+tc.want) {
				t.Errorf("got %d %q, want 400 %s", resp.StatusCode, e.Type, tc.want)
			}
		})
	}
	if st, _ := em.QueueStats("orders-placed"); st.Sent != 0 {
		t.Errorf("a refused message was queued: %+v", st)
	}
}
