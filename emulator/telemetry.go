package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Telemetry API buffering defaults and limits, as AWS documents them.
const (
	defaultMaxItems  = 10000
	minMaxItems      = 1000
	maxMaxItems      = 10000
	defaultMaxBytes  = 256 * 1024
	minMaxBytes      = 256 * 1024
	maxMaxBytes      = 1024 * 1024
	defaultTimeoutMs = 1000
	minTimeoutMs     = 25
	maxTimeoutMs     = 30000

	telemetryPostTimeout = 5 * time.Second

	// schemaManagedInstances is the only schema version Lambda Managed
	// Instances accept.
	schemaManagedInstances = "2025-01-29"
)

// Telemetry event categories a subscriber can ask for.
const (
	categoryPlatform  = "platform"
	categoryFunction  = "function"
	categoryExtension = "extension"
)

// telemetryTime formats t as the Telemetry API does.
func telemetryTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// telemetryEvent is one item of a Telemetry API batch.
type telemetryEvent struct {
	Time   string `json:"time"`
	Type   string `json:"type"`
	Record any    `json:"record"`
}

func categoryOf(eventType string) string {
	if strings.HasPrefix(eventType, "platform.") {
		return categoryPlatform
	}
	return eventType
}

// subscribeRequest is the body of PUT /2022-07-01/telemetry.
type subscribeRequest struct {
	SchemaVersion string   `json:"schemaVersion"`
	Types         []string `json:"types"`
	Buffering     *struct {
		MaxItems  *int `json:"maxItems"`
		MaxBytes  *int `json:"maxBytes"`
		TimeoutMs *int `json:"timeoutMs"`
	} `json:"buffering"`
	Destination struct {
		Protocol string `json:"protocol"`
		URI      string `json:"URI"`
	} `json:"destination"`
}

// subscriptionConfig is a validated subscribe request.
type subscriptionConfig struct {
	types    map[string]bool
	uri      string
	maxItems int
	maxBytes int
	timeout  time.Duration
}

func (r subscribeRequest) validate() (subscriptionConfig, error) {
	cfg := subscriptionConfig{
		types:    map[string]bool{},
		maxItems: defaultMaxItems,
		maxBytes: defaultMaxBytes,
		timeout:  defaultTimeoutMs * time.Millisecond,
	}
	switch r.SchemaVersion {
	case "2022-07-01", "2022-12-13", "2025-01-29":
	default:
		return cfg, fmt.Errorf("schemaVersion %q is not supported", r.SchemaVersion)
	}
	if len(r.Types) == 0 {
		return cfg, fmt.Errorf("types must not be empty")
	}
	for _, t := range r.Types {
		if t != categoryPlatform && t != categoryFunction && t != categoryExtension {
			return cfg, fmt.Errorf("types: %q is not one of platform, function, extension", t)
		}
		cfg.types[t] = true
	}
	if r.Destination.Protocol != "HTTP" {
		return cfg, fmt.Errorf("destination.protocol %q is not supported (only HTTP)", r.Destination.Protocol)
	}
	u, err := url.Parse(r.Destination.URI)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return cfg, fmt.Errorf("destination.URI %q must be an http URI", r.Destination.URI)
	}
	switch u.Hostname() {
	case "sandbox.localdomain", "sandbox":
		u.Host = "127.0.0.1:" + u.Port()
	}
	cfg.uri = u.String()
	if b := r.Buffering; b != nil {
		if b.MaxItems != nil {
			if *b.MaxItems < minMaxItems || *b.MaxItems > maxMaxItems {
				return cfg, fmt.Errorf("buffering.maxItems must be between %d and %d", minMaxItems, maxMaxItems)
			}
			cfg.maxItems = *b.MaxItems
		}
		if b.MaxBytes != nil {
			if *b.MaxBytes < minMaxBytes || *b.MaxBytes > maxMaxBytes {
				return cfg, fmt.Errorf("buffering.maxBytes must be between %d and %d", minMaxBytes, maxMaxBytes)
			}
			cfg.maxBytes = *b.MaxBytes
		}
		if b.TimeoutMs != nil {
			if *b.TimeoutMs < minTimeoutMs || *b.TimeoutMs > maxTimeoutMs {
				return cfg, fmt.Errorf("buffering.timeoutMs must be between %d and %d", minTimeoutMs, maxTimeoutMs)
			}
			cfg.timeout = time.Duration(*b.TimeoutMs) * time.Millisecond
		}
	}
	return cfg, nil
}

// subscription pushes one extension's telemetry to its destination, batched
// per its buffering. Its goroutine is started by start and ends in stop.
type subscription struct {
	extension string
	client    *http.Client
	log       *slog.Logger

	mu      sync.Mutex
	cfg     subscriptionConfig
	queue   [][]byte
	bytes   int
	first   time.Time
	urgent  bool // deliver without waiting for the buffering timeout
	dropped int

	wake    chan struct{}
	flushCh chan chan struct{}
	stopCh  chan struct{}
	done    chan struct{}
	// awake blocks delivery while the environment is frozen; the returned
	// func ends the post.
	awake func(ctx context.Context) (func(), error)
}

func newSubscription(ext string, cfg subscriptionConfig, client *http.Client, log *slog.Logger, awake func(context.Context) (func(), error)) *subscription {
	return &subscription{
		extension: ext,
		client:    client,
		log:       log,
		cfg:       cfg,
		wake:      make(chan struct{}, 1),
		flushCh:   make(chan chan struct{}),
		stopCh:    make(chan struct{}),
		done:      make(chan struct{}),
		awake:     awake,
	}
}

func (s *subscription) wants(category string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.types[category]
}

func (s *subscription) update(cfg subscriptionConfig) {
	s.mu.Lock()
	s.cfg = cfg
	s.mu.Unlock()
	s.poke()
}

func (s *subscription) enqueue(raw []byte) { s.enqueueAt(raw, time.Now()) }

// enqueueAt queues an event that entered the platform's buffer at at; the
// buffering timeout runs from the oldest event held.
func (s *subscription) enqueueAt(raw []byte, at time.Time) {
	s.mu.Lock()
	if len(s.queue) == 0 || at.Before(s.first) {
		s.first = at
	}
	s.queue = append(s.queue, raw)
	s.bytes += len(raw)
	s.mu.Unlock()
	s.poke()
}

func (s *subscription) setUrgent() {
	s.mu.Lock()
	s.urgent = true
	s.mu.Unlock()
	s.poke()
}

func (s *subscription) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// flush delivers everything queued now and returns when done or when ctx
// ends.
func (s *subscription) flush(ctx context.Context) {
	ack := make(chan struct{})
	select {
	case s.flushCh <- ack:
	case <-s.done:
		return
	case <-ctx.Done():
		return
	}
	select {
	case <-ack:
	case <-ctx.Done():
	}
}

// stop delivers what is queued (once, without retries) and ends the
// goroutine.
func (s *subscription) stop() {
	select {
	case <-s.stopCh:
	default:
		close(s.stopCh)
	}
	<-s.done
}

// stopping says whether stop was called.
func (s *subscription) stopping() bool {
	select {
	case <-s.stopCh:
		return true
	default:
		return false
	}
}

func (s *subscription) run() {
	defer close(s.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stopCh:
			cancel()
		case <-s.done:
		}
	}()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		s.mu.Lock()
		n, b, first, cfg, urgent := len(s.queue), s.bytes, s.first, s.cfg, s.urgent
		s.mu.Unlock()
		if n > 0 {
			if urgent || n >= cfg.maxItems || b >= cfg.maxBytes || time.Since(first) >= cfg.timeout {
				s.deliver(ctx, true)
				continue
			}
			timer.Reset(time.Until(first.Add(cfg.timeout)))
		}
		select {
		case <-s.wake:
		case <-timer.C:
		case ack := <-s.flushCh:
			s.deliver(ctx, true)
			close(ack)
		case <-s.stopCh:
			s.deliver(context.Background(), false)
			return
		}
		timer.Stop()
	}
}

// deliver sends the queue in batches of at most maxItems events and about
// maxBytes bytes.
func (s *subscription) deliver(ctx context.Context, retry bool) {
	s.mu.Lock()
	queue, cfg := s.queue, s.cfg
	s.queue, s.bytes = nil, 0
	s.mu.Unlock()
	for len(queue) > 0 {
		n, size := 0, 2
		for n < len(queue) && n < cfg.maxItems && (n == 0 || size+len(queue[n])+1 <= cfg.maxBytes) {
			size += len(queue[n]) + 1
			n++
		}
		batch := queue[:n]
		queue = queue[n:]
		if err := s.post(ctx, cfg.uri, batch, retry); err != nil {
			s.mu.Lock()
			s.dropped += len(batch)
			s.mu.Unlock()
			if s.stopping() && errors.Is(err, context.Canceled) {
				// The environment shut down with the batch on its way, as
				// Lambda stops delivering once an environment is gone.
				s.log.Info("telemetry batch not delivered: the environment shut down", "extension", s.extension, "events", len(batch), "types", eventTypes(batch))
				continue
			}
			s.log.Warn("telemetry batch dropped", "extension", s.extension, "events", len(batch), "types", eventTypes(batch), "err", err)
		}
	}
}

func (s *subscription) post(ctx context.Context, uri string, batch [][]byte, retry bool) error {
	var body bytes.Buffer
	body.WriteByte('[')
	body.Write(bytes.Join(batch, []byte{','}))
	body.WriteByte(']')
	attempts := 1
	if retry {
		attempts = 3
	}
	var err error
	for i := range attempts {
		if i > 0 {
			select {
			case <-time.After(time.Duration(i) * 50 * time.Millisecond):
			case <-ctx.Done():
				return fmt.Errorf("post telemetry: %w", ctx.Err())
			}
		}
		release, werr := s.awake(ctx)
		if werr != nil {
			return fmt.Errorf("post telemetry: %w", werr)
		}
		err = s.postOnce(ctx, uri, body.Bytes())
		release()
		if err == nil {
			return nil
		}
	}
	return err
}

func (s *subscription) postOnce(ctx context.Context, uri string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, telemetryPostTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("post telemetry: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("post telemetry: %w", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("post telemetry: status %d", resp.StatusCode)
	}
	return nil
}

// encodeEvent marshals one event; records are built from plain maps and
// strings, so this cannot fail in practice.
func encodeEvent(now time.Time, eventType string, record any) []byte {
	raw, err := json.Marshal(telemetryEvent{Time: telemetryTime(now), Type: eventType, Record: record})
	if err != nil {
		raw, _ = json.Marshal(telemetryEvent{Time: telemetryTime(now), Type: eventType, Record: err.Error()})
	}
	return raw
}

// eventTypes names the types of the events in a batch, for log lines.
func eventTypes(batch [][]byte) []string {
	seen := map[string]bool{}
	var types []string
	for _, raw := range batch {
		var ev struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(raw, &ev) == nil && !seen[ev.Type] {
			seen[ev.Type] = true
			types = append(types, ev.Type)
		}
	}
	return types
}
