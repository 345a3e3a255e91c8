package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/lambdascope/lambdascope/emulator/eventsource"
)

// Limits of SQS and of Lambda's SQS event source mapping.
const (
	DefaultQueueBatchSize = 10
	maxQueueBatchSize     = 10000
	maxBatchWindow        = 300 * time.Second
	maxMessageBytes       = 256 * 1024
	maxBatchEntries       = 10
)

// QueueConfig is an SQS standard queue and, when Consumer is set, the
// event source mapping that invokes a function with its messages.
type QueueConfig struct {
	// Name is the queue name (letters, digits, hyphens and underscores).
	Name string
	// Consumer is the function the event source mapping invokes; empty
	// keeps the messages in the queue.
	Consumer string
	// BatchSize is the most messages in one invocation (default 10).
	BatchSize int
	// BatchWindow is how long the mapping gathers messages before it
	// invokes with fewer than BatchSize (MaximumBatchingWindowInSeconds;
	// default 0: at once).
	BatchWindow time.Duration
}

// QueueStats counts what a queue did.
type QueueStats struct {
	// Sent messages, Delivered in invocations that succeeded, Failed in
	// invocations that failed (those are dropped, not redriven).
	Sent, Delivered, Failed int
	// Batches is the number of invocations of the consumer.
	Batches int
}

type queue struct {
	cfg   QueueConfig
	arn   string
	mu    sync.Mutex
	msgs  []eventsource.Message
	busy  bool // a batch is being delivered
	stats QueueStats
	more  chan struct{} // signalled when a message arrives
}

func (c QueueConfig) withDefaults() QueueConfig {
	if c.BatchSize == 0 {
		c.BatchSize = DefaultQueueBatchSize
	}
	return c
}

func validateQueues(qs []QueueConfig, fns map[string]bool) []error {
	var errs []error
	seen := map[string]bool{}
	for i, q := range qs {
		key := fmt.Sprintf("queues[%d]", i)
		if !functionNameRE.MatchString(q.Name) || len(q.Name) > 80 {
			errs = append(errs, fmt.Errorf("%s.name %q must be 1-80 letters, digits, hyphens or underscores", key, q.Name))
		}
		if seen[q.Name] {
			errs = append(errs, fmt.Errorf("%s.name %q is used twice", key, q.Name))
		}
		seen[q.Name] = true
		if q.Consumer != "" && !fns[q.Consumer] {
			errs = append(errs, fmt.Errorf("%s.consumer %q is not a configured function", key, q.Consumer))
		}
		if q.BatchSize < 1 || q.BatchSize > maxQueueBatchSize {
			errs = append(errs, fmt.Errorf("%s.batch_size must be between 1 and %d", key, maxQueueBatchSize))
		}
		if q.BatchWindow < 0 || q.BatchWindow > maxBatchWindow {
			errs = append(errs, fmt.Errorf("%s.batch_window must be between 0 and %s", key, maxBatchWindow))
		}
	}
	return errs
}

// QueueURL is the URL of a queue, as SQS gives it
// (endpoint/account/name); empty before Start.
func (e *Emulator) QueueURL(name string) string {
	u := e.InvokeURL()
	if u == "" {
		return ""
	}
	return u + "/" + e.cfg.AccountID + "/" + name
}

// QueueStats returns what the named queue did so far.
func (e *Emulator) QueueStats(name string) (QueueStats, error) {
	q, ok := e.queues[name]
	if !ok {
		return QueueStats{}, fmt.Errorf("queue %s: %w", name, ErrQueueNotFound)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.stats, nil
}

// SendMessage puts a message on the named queue, as SQS's SendMessage
// does, and returns its message ID.
func (e *Emulator) SendMessage(name, body string, attrs map[string]eventsource.MessageAttribute) (string, error) {
	q, ok := e.queues[name]
	if !ok {
		return "", fmt.Errorf("send to %s: %w", name, ErrQueueNotFound)
	}
	m, err := newMessage(body, attrs, "")
	if err != nil {
		return "", fmt.Errorf("send to %s: %w", name, err)
	}
	q.put(m)
	return m.ID, nil
}

// maxMessageAttributes is the most attributes SQS takes on a message.
const maxMessageAttributes = 10

// senderID stands for the principal that sent a message.
const senderID = "AROAEMULATOR0000000000:lambda"

func newMessage(body string, attrs map[string]eventsource.MessageAttribute, traceHeader string) (eventsource.Message, error) {
	if body == "" {
		return eventsource.Message{}, errors.New("the message body must not be empty")
	}
	if len(attrs) > maxMessageAttributes {
		return eventsource.Message{}, fmt.Errorf("a message takes at most %d attributes, not %d", maxMessageAttributes, len(attrs))
	}
	size := len(body)
	for name, a := range attrs {
		base, _, _ := strings.Cut(a.DataType, ".")
		switch {
		case name == "":
			return eventsource.Message{}, errors.New("a message attribute needs a name")
		case base == "Binary" && len(a.BinaryValue) == 0, (base == "String" || base == "Number") && a.StringValue == "":
			return eventsource.Message{}, fmt.Errorf("message attribute %q has no value", name)
		case base != "Binary" && base != "String" && base != "Number":
			return eventsource.Message{}, fmt.Errorf("message attribute %q: data type %q is not String, Number or Binary", name, a.DataType)
		}
		size += len(name) + len(a.DataType) + len(a.StringValue) + len(a.BinaryValue)
	}
	if size > maxMessageBytes {
		return eventsource.Message{}, fmt.Errorf("the message of %d bytes exceeds %d", size, maxMessageBytes)
	}
	return eventsource.Message{ID: eventsource.NewMessageID(), Body: body, Attributes: attrs, SentAt: time.Now(),
		SenderID: senderID, AWSTraceHeader: traceHeader}, nil
}

func (q *queue) put(m eventsource.Message) {
	q.mu.Lock()
	q.msgs = append(q.msgs, m)
	q.stats.Sent++
	q.mu.Unlock()
	select {
	case q.more <- struct{}{}:
	default:
	}
}

// idle says whether the queue has nothing left to deliver.
func (q *queue) idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.cfg.Consumer == "" || (len(q.msgs) == 0 && !q.busy)
}

// poll is the event source mapping of q: it gathers up to BatchSize
// messages for at most BatchWindow, invokes the consumer with them and
// waits for the answer before it takes the next batch, until stop.
func (e *Emulator) poll(q *queue, flush, stop <-chan struct{}) {
	for {
		q.mu.Lock()
		n := len(q.msgs)
		q.mu.Unlock()
		if n == 0 {
			select {
			case <-q.more:
				continue
			case <-stop:
				return
			}
		}
		if q.cfg.BatchWindow > 0 && n < q.cfg.BatchSize {
			window := time.NewTimer(q.cfg.BatchWindow)
		gather:
			for {
				select {
				case <-q.more:
					q.mu.Lock()
					full := len(q.msgs) >= q.cfg.BatchSize
					q.mu.Unlock()
					if full {
						break gather
					}
				case <-window.C:
					break gather
				case <-flush:
					// Shutdown delivers what is queued: no more waiting.
					break gather
				}
			}
			window.Stop()
		}
		q.mu.Lock()
		take := min(len(q.msgs), q.cfg.BatchSize)
		batch := append([]eventsource.Message(nil), q.msgs[:take]...)
		q.msgs = q.msgs[take:]
		q.busy = true
		q.mu.Unlock()
		e.deliver(q, batch)
		q.mu.Lock()
		q.busy = false
		q.mu.Unlock()
	}
}

// deliver invokes the consumer with one batch.
func (e *Emulator) deliver(q *queue, batch []eventsource.Message) {
	now := time.Now()
	for i := range batch {
		batch[i].FirstReceivedAt, batch[i].ReceiveCount = now, 1
	}
	payload, err := eventsource.SQS(q.arn, batch)
	var res *InvokeResult
	if err == nil {
		res, err = e.Invoke(context.Background(), q.cfg.Consumer, payload)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.stats.Batches++
	switch {
	case err != nil:
		q.stats.Failed += len(batch)
		e.log.Warn("SQS batch not delivered; its messages are dropped", "queue", q.cfg.Name, "messages", len(batch), "err", err)
	case res.FunctionError != "":
		q.stats.Failed += len(batch)
		e.log.Warn("SQS batch failed; its messages are dropped", "queue", q.cfg.Name, "messages", len(batch),
			"request_id", res.RequestID, "error", string(res.Payload))
	default:
		q.stats.Delivered += len(batch)
	}
}

// drainQueues waits until every queue with a consumer has delivered what
// it holds and no invocation that could send more is running, or ctx is
// done.
func (e *Emulator) drainQueues(ctx context.Context) {
	if len(e.queues) == 0 {
		return
	}
	close(e.flushQueues)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		quiet := e.running.Load() == 0
		for _, q := range e.queues {
			quiet = quiet && q.idle()
		}
		if quiet {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// sqsRequest is the body of an SQS call in the JSON protocol
// (application/x-amz-json-1.0) the AWS SDKs speak.
type sqsRequest struct {
	QueueURL          string                  `json:"QueueUrl"`
	QueueName         string                  `json:"QueueName"`
	MessageBody       string                  `json:"MessageBody"`
	MessageAttributes map[string]sqsAttribute `json:"MessageAttributes"`
	SystemAttributes  map[string]sqsAttribute `json:"MessageSystemAttributes"`
	Entries           []sqsBatchEntry         `json:"Entries"`
}

type sqsBatchEntry struct {
	ID                string                  `json:"Id"`
	MessageBody       string                  `json:"MessageBody"`
	MessageAttributes map[string]sqsAttribute `json:"MessageAttributes"`
	SystemAttributes  map[string]sqsAttribute `json:"MessageSystemAttributes"`
}

type sqsAttribute struct {
	DataType    string `json:"DataType"`
	StringValue string `json:"StringValue,omitempty"`
	// BinaryValue is base64 in the JSON protocol.
	BinaryValue []byte `json:"BinaryValue,omitempty"`
}

func attrsOf(in map[string]sqsAttribute) map[string]eventsource.MessageAttribute {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]eventsource.MessageAttribute, len(in))
	for k, a := range in {
		out[k] = eventsource.MessageAttribute{DataType: a.DataType, StringValue: a.StringValue, BinaryValue: a.BinaryValue}
	}
	return out
}

// handleSQS serves SendMessage, SendMessageBatch and GetQueueUrl of the SQS
// JSON protocol, at the endpoint's root or at a queue URL.
func (e *Emulator) handleSQS(w http.ResponseWriter, r *http.Request) {
	action, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	if !ok {
		writeSQSError(w, http.StatusBadRequest, "InvalidAction", "X-Amz-Target must name an AmazonSQS action")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 2*maxMessageBytes*maxBatchEntries))
	if err != nil {
		writeSQSError(w, http.StatusBadRequest, "InvalidParameterValue", "read request: "+err.Error())
		return
	}
	var req sqsRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeSQSError(w, http.StatusBadRequest, "SerializationException", "decode request: "+err.Error())
		return
	}
	if action == "GetQueueUrl" {
		if _, ok := e.queues[req.QueueName]; !ok {
			writeSQSError(w, http.StatusBadRequest, "QueueDoesNotExist", "The specified queue does not exist.")
			return
		}
		writeJSON(w, map[string]string{"QueueUrl": e.QueueURL(req.QueueName)})
		return
	}
	url := req.QueueURL
	if url == "" {
		url = r.URL.Path
	}
	name := url[strings.LastIndexByte(url, '/')+1:]
	q, ok := e.queues[name]
	if !ok {
		writeSQSError(w, http.StatusBadRequest, "QueueDoesNotExist", "The specified queue does not exist.")
		return
	}
	switch action {
	case "SendMessage":
		m, err := newMessage(req.MessageBody, attrsOf(req.MessageAttributes), req.SystemAttributes["AWSTraceHeader"].StringValue)
		if err != nil {
			writeSQSError(w, http.StatusBadRequest, "InvalidParameterValue", err.Error())
			return
		}
		q.put(m)
		writeJSON(w, sendResult(m))
	case "SendMessageBatch":
		if len(req.Entries) == 0 || len(req.Entries) > maxBatchEntries {
			writeSQSError(w, http.StatusBadRequest, "TooManyEntriesInBatchRequest", fmt.Sprintf("a batch holds 1 to %d entries", maxBatchEntries))
			return
		}
		var ok, failed []map[string]any
		for _, en := range req.Entries {
			m, err := newMessage(en.MessageBody, attrsOf(en.MessageAttributes), en.SystemAttributes["AWSTraceHeader"].StringValue)
			if err != nil {
				failed = append(failed, map[string]any{"Id": en.ID, "Code": "InvalidParameterValue", "Message": err.Error(), "SenderFault": true})
				continue
			}
			q.put(m)
			res := sendResult(m)
			res["Id"] = en.ID
			ok = append(ok, res)
		}
		writeJSON(w, map[string]any{"Successful": ok, "Failed": failed})
	default:
		writeSQSError(w, http.StatusBadRequest, "UnsupportedOperation", "the emulator's SQS serves SendMessage, SendMessageBatch and GetQueueUrl")
	}
}

func sendResult(m eventsource.Message) map[string]any {
	res := map[string]any{"MessageId": m.ID, "MD5OfMessageBody": eventsource.MD5OfBody(m.Body)}
	if d := eventsource.MD5OfMessageAttributes(m.Attributes); d != "" {
		res["MD5OfMessageAttributes"] = d
	}
	return res
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(v)
}

func writeSQSError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("x-amzn-query-error", "AWS.SimpleQueueService."+code+";Sender")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.sqs#" + code, "message": msg})
}
