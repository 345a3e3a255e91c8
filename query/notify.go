package query

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Alert states.
const (
	AlertFiring   = "firing"
	AlertResolved = "resolved"
)

// AlertName is the alertname label of error-spike alerts.
const AlertName = "LambdaErrorSpike"

// Alert is one function's spike, firing or resolved.
type Alert struct {
	Status   string      `json:"status"`
	Spike    SpikeStatus `json:"spike"`
	StartsAt time.Time   `json:"startsAt"`
	// EndsAt is set on resolved alerts.
	EndsAt time.Time `json:"endsAt,omitzero"`
	// Changed is true when the status differs from the last evaluation.
	Changed bool `json:"changed"`
}

// Notifier delivers alerts somewhere.
type Notifier interface {
	// Notify delivers the alerts of one evaluation.
	Notify(ctx context.Context, alerts []Alert) error
	// Name says where the alerts go, for logs.
	Name() string
}

// AlertmanagerNotifier posts alerts to Alertmanager's v2 API. Firing
// alerts are posted on every evaluation so that Alertmanager keeps them
// active; resolved ones carry their end time.
type AlertmanagerNotifier struct {
	// URL is Alertmanager's base address, such as http://am:9093.
	URL    string
	Client *http.Client
	// GeneratorURL is linked from each alert; optional.
	GeneratorURL string
}

type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Name returns the Alertmanager address.
func (n *AlertmanagerNotifier) Name() string { return "alertmanager " + n.URL }

// Notify posts the alerts to /api/v2/alerts.
func (n *AlertmanagerNotifier) Notify(ctx context.Context, alerts []Alert) error {
	body := make([]amAlert, 0, len(alerts))
	for _, a := range alerts {
		body = append(body, amAlert{
			Labels: map[string]string{"alertname": AlertName, "function": a.Spike.FunctionName, "severity": "warning"},
			Annotations: map[string]string{
				"summary":     fmt.Sprintf("error spike in %s", a.Spike.FunctionName),
				"description": a.Spike.Reason,
			},
			StartsAt: a.StartsAt, EndsAt: a.EndsAt, GeneratorURL: n.GeneratorURL,
		})
	}
	if len(body) == 0 {
		return nil
	}
	u, err := url.JoinPath(n.URL, "/api/v2/alerts")
	if err != nil {
		return fmt.Errorf("alertmanager url: %w", err)
	}
	return postJSON(ctx, n.Client, u, body)
}

// WebhookNotifier posts changes (newly firing and resolved alerts) as JSON
// to a URL: {"alerts": [...]}.
type WebhookNotifier struct {
	URL    string
	Client *http.Client
}

// Name returns the webhook address.
func (n *WebhookNotifier) Name() string { return "webhook " + n.URL }

// Notify posts the alerts whose status changed.
func (n *WebhookNotifier) Notify(ctx context.Context, alerts []Alert) error {
	var changed []Alert
	for _, a := range alerts {
		if a.Changed {
			changed = append(changed, a)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	return postJSON(ctx, n.Client, n.URL, map[string]any{"alerts": changed})
}

func postJSON(ctx context.Context, client *http.Client, u string, v any) error {
	if client == nil {
		client = http.DefaultClient
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode alerts: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("build alert request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("post alerts: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("post alerts: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// WatcherConfig tunes the spike watcher.
type WatcherConfig struct {
	Interval time.Duration `json:"interval" yaml:"interval"`
	Spike    SpikeConfig   `json:"spike" yaml:"spike"`
}

// DefaultWatcherConfig evaluates every minute.
func DefaultWatcherConfig() WatcherConfig {
	return WatcherConfig{Interval: time.Minute, Spike: DefaultSpikeConfig()}
}

// Validate reports what makes the configuration unusable, naming the key.
func (c *WatcherConfig) Validate() error {
	var errs []error
	if c.Interval <= 0 {
		errs = append(errs, fmt.Errorf("interval must be positive, got %s", c.Interval))
	}
	if err := c.Spike.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("spike: %w", err))
	}
	return errors.Join(errs...)
}

// EvaluateFunc judges every function at now.
type EvaluateFunc func(ctx context.Context, now time.Time) ([]SpikeStatus, error)

// Watcher evaluates spikes on an interval and notifies on every
// evaluation. Its one goroutine runs between Start and Shutdown.
type Watcher struct {
	cfg       WatcherConfig
	evaluate  EvaluateFunc
	notifiers []Notifier
	log       *slog.Logger
	now       func() time.Time

	mu      sync.Mutex
	firing  map[string]time.Time // function -> startsAt
	started bool
	cancel  context.CancelFunc
	done    chan struct{}

	evaluations, failedEvaluations, failedNotifications atomic.Uint64
	// OnEvaluated, when set, is called after each evaluation with its
	// alerts (for the CLI's output).
	OnEvaluated func([]Alert)
}

// NewWatcher returns a watcher calling evaluate and the notifiers.
func NewWatcher(cfg WatcherConfig, evaluate EvaluateFunc, notifiers []Notifier, log *slog.Logger) (*Watcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("watcher config: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	return &Watcher{cfg: cfg, evaluate: evaluate, notifiers: notifiers, log: log, now: time.Now, firing: map[string]time.Time{}}, nil
}

// Start evaluates once at once and then every interval until Shutdown.
func (w *Watcher) Start(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return errors.New("start spike watcher: already started")
	}
	w.started = true
	ctx, w.cancel = context.WithCancel(context.WithoutCancel(ctx))
	w.done = make(chan struct{})
	go w.run(ctx)
	return nil
}

func (w *Watcher) run(ctx context.Context) {
	defer close(w.done)
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		w.Evaluate(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Shutdown stops the watcher and waits for its goroutine. It is safe to
// call more than once and before Start.
func (w *Watcher) Shutdown(ctx context.Context) error {
	w.mu.Lock()
	cancel, done := w.cancel, w.done
	w.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("shut down spike watcher: %w", ctx.Err())
	}
}

// Stats are the watcher's counters.
type WatcherStats struct {
	Evaluations, FailedEvaluations, FailedNotifications uint64
}

// Stats returns the counters so far.
func (w *Watcher) Stats() WatcherStats {
	return WatcherStats{w.evaluations.Load(), w.failedEvaluations.Load(), w.failedNotifications.Load()}
}

// Evaluate runs one evaluation and notifies; errors are counted and
// logged, and the alerts of a failed notification are dropped (the next
// evaluation posts the firing ones again).
func (w *Watcher) Evaluate(ctx context.Context) []Alert {
	now := w.now()
	w.evaluations.Add(1)
	statuses, err := w.evaluate(ctx, now)
	if err != nil && ctx.Err() != nil {
		// Stopped part way (Shutdown): not a failure of the evaluation.
		w.evaluations.Add(^uint64(0))
		return nil
	}
	if err != nil {
		w.failedEvaluations.Add(1)
		w.log.Warn("spike evaluation failed", "err", err)
		return nil
	}
	w.mu.Lock()
	var alerts []Alert
	seen := map[string]bool{}
	for _, st := range statuses {
		seen[st.FunctionName] = true
		startsAt, was := w.firing[st.FunctionName]
		switch {
		case st.Firing:
			if !was {
				startsAt = now
				w.firing[st.FunctionName] = now
			}
			alerts = append(alerts, Alert{Status: AlertFiring, Spike: st, StartsAt: startsAt, Changed: !was})
		case was:
			delete(w.firing, st.FunctionName)
			alerts = append(alerts, Alert{Status: AlertResolved, Spike: st, StartsAt: startsAt, EndsAt: now, Changed: true})
		}
	}
	for fn, startsAt := range w.firing {
		if !seen[fn] { // no traffic at all any more
			delete(w.firing, fn)
			alerts = append(alerts, Alert{Status: AlertResolved, Spike: SpikeStatus{FunctionName: fn, At: now, Reason: "no invocations"},
				StartsAt: startsAt, EndsAt: now, Changed: true})
		}
	}
	w.mu.Unlock()
	for _, n := range w.notifiers {
		if err := n.Notify(ctx, alerts); err != nil {
			w.failedNotifications.Add(1)
			w.log.Warn("spike notification dropped", "to", n.Name(), "alerts", len(alerts), "err", err)
		}
	}
	if w.OnEvaluated != nil {
		w.OnEvaluated(alerts)
	}
	return alerts
}
