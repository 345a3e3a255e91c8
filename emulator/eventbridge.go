package emulator

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lambdascope/lambdascope/emulator/eventsource"
)

// DefaultBus is the event bus of an account that a rule or an event
// names none.
const DefaultBus = "default"

// maxPutEntries is the most entries one PutEvents call takes, and
// maxPutBytes the most bytes they hold.
const (
	maxPutEntries = 10
	maxPutBytes   = 256 * 1024
)

// RuleConfig is an EventBridge rule with Lambda targets. Its event
// pattern matches on the source and the detail type alone.
type RuleConfig struct {
	// Name is the rule name (letters, digits, hyphens and underscores).
	Name string
	// Bus is the event bus the rule is on; default "default".
	Bus string
	// Sources and DetailTypes are the values the pattern accepts; empty
	// accepts any.
	Sources, DetailTypes []string
	// Targets are the functions invoked, asynchronously, with each event
	// the rule matches.
	Targets []string
}

func (c RuleConfig) withDefaults() RuleConfig {
	if c.Bus == "" {
		c.Bus = DefaultBus
	}
	return c
}

// matches says whether the rule's pattern accepts ev put on bus.
func (c RuleConfig) matches(bus string, ev eventsource.BusEvent) bool {
	return c.Bus == bus && (len(c.Sources) == 0 || slices.Contains(c.Sources, ev.Source)) &&
		(len(c.DetailTypes) == 0 || slices.Contains(c.DetailTypes, ev.DetailType))
}

type rule struct {
	cfg   RuleConfig
	mu    sync.Mutex
	stats NotifyStats
}

func validateRules(rs []RuleConfig, fns map[string]bool) []error {
	var errs []error
	seen := map[string]bool{}
	for i, rc := range rs {
		key := fmt.Sprintf("rules[%d]", i)
		if !functionNameRE.MatchString(rc.Name) {
			errs = append(errs, fmt.Errorf("%s.name %q must be 1-64 letters, digits, hyphens or underscores", key, rc.Name))
		}
		if seen[rc.Bus+"/"+rc.Name] {
			errs = append(errs, fmt.Errorf("%s.name %q is used twice on bus %s", key, rc.Name, rc.Bus))
		}
		seen[rc.Bus+"/"+rc.Name] = true
		if !functionNameRE.MatchString(rc.Bus) {
			errs = append(errs, fmt.Errorf("%s.bus %q must be 1-64 letters, digits, hyphens or underscores", key, rc.Bus))
		}
		if len(rc.Targets) == 0 {
			errs = append(errs, fmt.Errorf("%s.targets must name at least one function", key))
		}
		for j, fn := range rc.Targets {
			if !fns[fn] {
				errs = append(errs, fmt.Errorf("%s.targets[%d] %q is not a configured function", key, j, fn))
			}
		}
	}
	return errs
}

// BusEntry is one entry of a PutEvents call.
type BusEntry struct {
	eventsource.BusEvent
	// Bus is the event bus, by name or ARN; default "default".
	Bus string
	// TraceHeader is the X-Ray trace header of the event's sender, which
	// the targets' invocations continue.
	TraceHeader string
}

// RuleStats returns what the named rule (on any bus) did so far.
func (e *Emulator) RuleStats(name string) (NotifyStats, error) {
	for _, r := range e.rules {
		if r.cfg.Name == name {
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.stats, nil
		}
	}
	return NotifyStats{}, fmt.Errorf("rule %s: %w", name, ErrRuleNotFound)
}

// PutEvents puts events on their buses, as EventBridge's PutEvents does:
// each rule that matches an event invokes its targets with it. ids[i]
// and errs[i] are entry i's: its event's ID, or "" and why it was
// refused.
func (e *Emulator) PutEvents(entries []BusEntry) ([]string, []error) {
	ids := make([]string, len(entries))
	errs := make([]error, len(entries))
	for i, en := range entries {
		ids[i], errs[i] = e.putEvent(en)
	}
	return ids, errs
}

func (e *Emulator) putEvent(en BusEntry) (string, error) {
	bus := en.Bus
	if bus == "" {
		bus = DefaultBus
	}
	bus = bus[strings.LastIndexByte(bus, '/')+1:] // an ARN ends in event-bus/NAME
	ev := en.BusEvent
	ev.ID, ev.Account, ev.Region = eventsource.NewMessageID(), e.cfg.AccountID, e.cfg.Region
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	payload, err := eventsource.EventBridge(ev)
	if err != nil {
		return "", err
	}
	trace := traceOf(en.TraceHeader)
	for _, r := range e.rules {
		if !r.cfg.matches(bus, ev) {
			continue
		}
		r.mu.Lock()
		r.stats.Received++
		r.mu.Unlock()
		for _, fn := range r.cfg.Targets {
			if !e.invokeAsync(fn, payload, trace, func(_ *InvokeResult, err error) { r.delivered(e, fn, err) }) {
				r.delivered(e, fn, ErrShutdown)
			}
		}
	}
	return ev.ID, nil
}

// delivered counts one invocation of a target.
func (r *rule) delivered(e *Emulator, fn string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.stats.Failed++
		e.log.Warn("EventBridge event not delivered to its target; it is dropped", "rule", r.cfg.Name, "function", fn, "err", err)
		return
	}
	r.stats.Delivered++
}

// putEventsRequest is the body of PutEvents in the JSON protocol
// (application/x-amz-json-1.1) the AWS SDKs speak.
type putEventsRequest struct {
	Entries []struct {
		Source       string   `json:"Source"`
		DetailType   string   `json:"DetailType"`
		Detail       string   `json:"Detail"`
		Resources    []string `json:"Resources"`
		EventBusName string   `json:"EventBusName"`
		// Time is in epoch seconds.
		Time        float64 `json:"Time"`
		TraceHeader string  `json:"TraceHeader"`
	} `json:"Entries"`
}

// handleEventBridge serves PutEvents of the EventBridge JSON protocol.
func (e *Emulator) handleEventBridge(w http.ResponseWriter, r *http.Request) {
	if a := r.Header.Get("X-Amz-Target"); a != "AWSEvents.PutEvents" {
		writeEventsError(w, "UnsupportedOperation", fmt.Sprintf("the emulator's EventBridge serves PutEvents, not %q", a))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 2*maxPutBytes))
	if err != nil {
		writeEventsError(w, "ValidationException", "read request: "+err.Error())
		return
	}
	var req putEventsRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeEventsError(w, "SerializationException", "decode request: "+err.Error())
		return
	}
	if len(req.Entries) == 0 || len(req.Entries) > maxPutEntries {
		writeEventsError(w, "ValidationException", fmt.Sprintf("a PutEvents call holds 1 to %d entries", maxPutEntries))
		return
	}
	entries := make([]BusEntry, len(req.Entries))
	for i, en := range req.Entries {
		entries[i] = BusEntry{BusEvent: eventsource.BusEvent{Source: en.Source, DetailType: en.DetailType,
			Detail: json.RawMessage(en.Detail), Resources: en.Resources}, Bus: en.EventBusName, TraceHeader: en.TraceHeader}
		if en.Time > 0 {
			entries[i].Time = time.Unix(0, int64(en.Time*1e9))
		}
		if en.Detail == "" {
			entries[i].Detail = nil
		}
	}
	if h := r.Header.Get("X-Amzn-Trace-Id"); h != "" {
		for i := range entries {
			if entries[i].TraceHeader == "" {
				entries[i].TraceHeader = h
			}
		}
	}
	ids, errs := e.PutEvents(entries)
	out := make([]map[string]string, len(ids))
	failed := 0
	for i := range ids {
		if errs[i] != nil {
			failed++
			out[i] = map[string]string{"ErrorCode": "InvalidArgument", "ErrorMessage": errs[i].Error()}
			continue
		}
		out[i] = map[string]string{"EventId": ids[i]}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(map[string]any{"FailedEntryCount": failed, "Entries": out})
}

func writeEventsError(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}
