package eventsource

import (
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

//go:embed samples/sns-event.json
var snsSample []byte

// Notification is an SNS message as a topic delivers it to a Lambda
// subscription.
type Notification struct {
	// ID is the message ID (default a new one, NewMessageID).
	ID string
	// Subject is optional; Message is the message itself.
	Subject, Message string
	// Attributes are the message attributes, of data type String,
	// String.Array, Number or Binary: a traceparent attribute carries the
	// publisher's trace context.
	Attributes map[string]MessageAttribute
	// PublishedAt is when the topic accepted the message; default now.
	PublishedAt time.Time
}

// SNS is the event of a Lambda subscription to the topic topicARN
// (arn:aws:sns:region:account:name): one record, as SNS invokes a
// function once per message. subscriptionID is the subscription's own ID,
// the last part of its ARN.
func SNS(topicARN, subscriptionID string, n Notification) ([]byte, error) {
	parts := strings.Split(topicARN, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sns" || parts[5] == "" {
		return nil, fmt.Errorf("topic ARN %q is not arn:aws:sns:region:account:name", topicARN)
	}
	if subscriptionID == "" {
		return nil, fmt.Errorf("topic %s: the subscription needs an ID", topicARN)
	}
	var ev struct {
		Records []map[string]any `json:"Records"`
	}
	if err := json.Unmarshal(snsSample, &ev); err != nil || len(ev.Records) == 0 {
		return nil, fmt.Errorf("decode SNS sample: %v", err)
	}
	rec := ev.Records[0]
	msg, ok := rec["Sns"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("decode SNS sample: no Sns object")
	}
	if n.ID == "" {
		n.ID = NewMessageID()
	}
	if n.PublishedAt.IsZero() {
		n.PublishedAt = time.Now()
	}
	region, subscription := parts[3], topicARN+":"+subscriptionID
	endpoint := "https://sns." + region + ".amazonaws.com"
	sig := make([]byte, 256)
	_, _ = rand.Read(sig)
	rec["EventSubscriptionArn"] = subscription
	msg["MessageId"], msg["TopicArn"], msg["Message"] = n.ID, topicARN, n.Message
	msg["Subject"] = nil
	if n.Subject != "" {
		msg["Subject"] = n.Subject
	}
	msg["Timestamp"] = n.PublishedAt.UTC().Format("2006-01-02T15:04:05.000Z")
	msg["Signature"] = base64.StdEncoding.EncodeToString(sig)
	msg["SigningCertUrl"] = endpoint + "/SimpleNotificationService-" + randomID(32) + ".pem"
	msg["UnsubscribeUrl"] = endpoint + "/?Action=Unsubscribe&SubscriptionArn=" + subscription
	attrs := map[string]any{}
	for name, a := range n.Attributes {
		v := a.StringValue
		if isBinary(a.DataType) {
			v = base64.StdEncoding.EncodeToString(a.BinaryValue)
		}
		attrs[name] = map[string]string{"Type": a.DataType, "Value": v}
	}
	msg["MessageAttributes"] = attrs
	return json.Marshal(map[string]any{"Records": []map[string]any{rec}})
}
