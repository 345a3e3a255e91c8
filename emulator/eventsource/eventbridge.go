package eventsource

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

//go:embed samples/eventbridge-event.json
var eventBridgeSample []byte

// BusEvent is an event put on an EventBridge bus, as a rule's Lambda
// target receives it.
type BusEvent struct {
	// ID is the event's ID (default a new one).
	ID string
	// Source and DetailType say what the event is ("orders",
	// "OrderPlaced"); both are required.
	Source, DetailType string
	// Detail is the event's JSON object; default {}.
	Detail json.RawMessage
	// Resources are ARNs the event concerns.
	Resources []string
	// Time is when the event happened; default now. EventBridge gives it
	// to the second.
	Time time.Time
	// Account and Region default to 123456789012 and us-east-1.
	Account, Region string
}

// EventBridge is the event a rule's Lambda target receives for ev.
func EventBridge(ev BusEvent) ([]byte, error) {
	if ev.Source == "" || ev.DetailType == "" {
		return nil, errors.New("an EventBridge event needs a source and a detail type")
	}
	var out events.EventBridgeEvent
	if err := json.Unmarshal(eventBridgeSample, &out); err != nil {
		return nil, fmt.Errorf("decode EventBridge sample: %w", err)
	}
	detail := ev.Detail
	if len(detail) == 0 {
		detail = json.RawMessage("{}")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(detail, &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("the detail of an EventBridge event must be a JSON object: %s", detail)
	}
	if ev.ID == "" {
		ev.ID = uuid()
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	if ev.Account == "" {
		ev.Account = "123456789012"
	}
	if ev.Region == "" {
		ev.Region = "us-east-1"
	}
	out.ID, out.Source, out.DetailType, out.Detail = ev.ID, ev.Source, ev.DetailType, detail
	out.AccountID, out.Region, out.Time = ev.Account, ev.Region, ev.Time.UTC().Truncate(time.Second)
	out.Resources = ev.Resources
	if out.Resources == nil {
		out.Resources = []string{}
	}
	return json.Marshal(out)
}
