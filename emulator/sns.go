package emulator

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lambdascope/lambdascope/emulator/eventsource"
)

// TopicConfig is an SNS standard topic and its Lambda subscriptions.
type TopicConfig struct {
	// Name is the topic name (letters, digits, hyphens and underscores).
	Name string
	// Subscribers are the functions subscribed; each message invokes
	// every one of them once, asynchronously.
	Subscribers []string
}

type topic struct {
	cfg   TopicConfig
	arn   string
	subs  []string // subscription IDs, one per subscriber
	mu    sync.Mutex
	stats NotifyStats
}

// maxSNSMessageBytes is the largest SNS message, attributes included.
const maxSNSMessageBytes = 256 * 1024

func validateTopics(ts []TopicConfig, fns map[string]bool) []error {
	var errs []error
	seen := map[string]bool{}
	for i, tc := range ts {
		key := fmt.Sprintf("topics[%d]", i)
		if !functionNameRE.MatchString(tc.Name) || len(tc.Name) > 256 {
			errs = append(errs, fmt.Errorf("%s.name %q must be 1-256 letters, digits, hyphens or underscores", key, tc.Name))
		}
		if seen[tc.Name] {
			errs = append(errs, fmt.Errorf("%s.name %q is used twice", key, tc.Name))
		}
		seen[tc.Name] = true
		for j, s := range tc.Subscribers {
			if !fns[s] {
				errs = append(errs, fmt.Errorf("%s.subscribers[%d] %q is not a configured function", key, j, s))
			}
		}
	}
	return errs
}

// TopicARN is the ARN of the named topic.
func (e *Emulator) TopicARN(name string) string {
	return fmt.Sprintf("arn:aws:sns:%s:%s:%s", e.cfg.Region, e.cfg.AccountID, name)
}

// TopicStats returns what the named topic did so far.
func (e *Emulator) TopicStats(name string) (NotifyStats, error) {
	t, ok := e.topics[name]
	if !ok {
		return NotifyStats{}, fmt.Errorf("topic %s: %w", name, ErrTopicNotFound)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stats, nil
}

// Publish puts a message on the named topic, as SNS's Publish does, and
// returns its message ID. traceHeader is the publisher's X-Ray trace
// header ("" for none), which the subscribers' invocations continue.
func (e *Emulator) Publish(name string, n eventsource.Notification, traceHeader string) (string, error) {
	t, ok := e.topics[name]
	if !ok {
		return "", fmt.Errorf("publish to %s: %w", name, ErrTopicNotFound)
	}
	if err := checkNotification(n); err != nil {
		return "", fmt.Errorf("publish to %s: %w", name, err)
	}
	n.ID, n.PublishedAt = eventsource.NewMessageID(), time.Now()
	trace := traceOf(traceHeader)
	t.mu.Lock()
	t.stats.Received++
	t.mu.Unlock()
	for i, fn := range t.cfg.Subscribers {
		payload, err := eventsource.SNS(t.arn, t.subs[i], n)
		if err == nil && !e.invokeAsync(fn, payload, trace, func(_ *InvokeResult, err error) { t.delivered(e, fn, err) }) {
			err = ErrShutdown
		}
		if err != nil {
			t.delivered(e, fn, err)
		}
	}
	return n.ID, nil
}

// delivered counts one invocation of a subscriber.
func (t *topic) delivered(e *Emulator, fn string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.stats.Failed++
		e.log.Warn("SNS message not delivered to its subscriber; it is dropped", "topic", t.cfg.Name, "function", fn, "err", err)
		return
	}
	t.stats.Delivered++
}

func checkNotification(n eventsource.Notification) error {
	if n.Message == "" {
		return errors.New("the message must not be empty")
	}
	if len(n.Attributes) > maxMessageAttributes {
		return fmt.Errorf("a message takes at most %d attributes, not %d", maxMessageAttributes, len(n.Attributes))
	}
	size := len(n.Message) + len(n.Subject)
	for name, a := range n.Attributes {
		base, _, _ := strings.Cut(a.DataType, ".")
		switch {
		case name == "":
			return errors.New("a message attribute needs a name")
		case base != "Binary" && base != "String" && base != "Number":
			return fmt.Errorf("message attribute %q: data type %q is not String, String.Array, Number or Binary", name, a.DataType)
		case base == "Binary" && len(a.BinaryValue) == 0, base != "Binary" && a.StringValue == "":
			return fmt.Errorf("message attribute %q has no value", name)
		}
		size += len(name) + len(a.DataType) + len(a.StringValue) + len(a.BinaryValue)
	}
	if size > maxSNSMessageBytes {
		return fmt.Errorf("the message of %d bytes exceeds %d", size, maxSNSMessageBytes)
	}
	return nil
}

// handleSNS serves Publish of the SNS query protocol (a form-encoded
// body, an XML answer), as the AWS SDKs speak it. The publisher's X-Ray
// header comes in X-Amzn-Trace-Id.
func (e *Emulator) handleSNS(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 2*maxSNSMessageBytes)
	if err := r.ParseForm(); err != nil {
		writeSNSError(w, http.StatusBadRequest, "InvalidParameter", "read request: "+err.Error())
		return
	}
	if a := r.PostForm.Get("Action"); a != "Publish" {
		writeSNSError(w, http.StatusBadRequest, "InvalidAction", fmt.Sprintf("the emulator's SNS serves Publish, not %q", a))
		return
	}
	arn := r.PostForm.Get("TopicArn")
	name := arn[strings.LastIndexByte(arn, ':')+1:]
	if _, ok := e.topics[name]; !ok || arn != e.TopicARN(name) {
		writeSNSError(w, http.StatusNotFound, "NotFound", "Topic does not exist")
		return
	}
	n := eventsource.Notification{Message: r.PostForm.Get("Message"), Subject: r.PostForm.Get("Subject")}
	for i := 1; ; i++ {
		p := "MessageAttributes.entry." + strconv.Itoa(i) + "."
		attr := r.PostForm.Get(p + "Name")
		if attr == "" {
			break
		}
		if n.Attributes == nil {
			n.Attributes = map[string]eventsource.MessageAttribute{}
		}
		a := eventsource.MessageAttribute{DataType: r.PostForm.Get(p + "Value.DataType"), StringValue: r.PostForm.Get(p + "Value.StringValue")}
		if v := r.PostForm.Get(p + "Value.BinaryValue"); v != "" {
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				writeSNSError(w, http.StatusBadRequest, "InvalidParameterValue", fmt.Sprintf("message attribute %q: binary value is not base64", attr))
				return
			}
			a.BinaryValue = b
		}
		n.Attributes[attr] = a
	}
	id, err := e.Publish(name, n, r.Header.Get("X-Amzn-Trace-Id"))
	if err != nil {
		writeSNSError(w, http.StatusBadRequest, "InvalidParameter", err.Error())
		return
	}
	type result struct {
		MessageID string `xml:"MessageId"`
	}
	writeXML(w, http.StatusOK, struct {
		XMLName   xml.Name `xml:"PublishResponse"`
		Namespace string   `xml:"xmlns,attr"`
		Result    result   `xml:"PublishResult"`
		RequestID string   `xml:"ResponseMetadata>RequestId"`
	}{Namespace: snsNamespace, Result: result{MessageID: id}, RequestID: newUUID()})
}

const snsNamespace = "http://sns.amazonaws.com/doc/2010-03-31/"

func writeSNSError(w http.ResponseWriter, status int, code, msg string) {
	type detail struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	writeXML(w, status, struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		Namespace string   `xml:"xmlns,attr"`
		Error     detail   `xml:"Error"`
		RequestID string   `xml:"RequestId"`
	}{Namespace: snsNamespace, Error: detail{Type: "Sender", Code: code, Message: msg}, RequestID: newUUID()})
}

func writeXML(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(v)
}
