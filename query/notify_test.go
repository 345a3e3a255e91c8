package query_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/lambdascope/lambdascope/query"
)

// startAlertmanager runs Debian's prometheus-alertmanager on a free port
// with its own configuration and storage, stopped at cleanup, and returns
// its base URL.
func startAlertmanager(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)")
		}
		t.Skip("prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte("route:\n  receiver: none\nreceivers:\n  - name: none\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	logf, err := os.Create(filepath.Join(dir, "alertmanager.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start alertmanager: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = logf.Close()
	})
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "alertmanager.log"))
			t.Fatalf("alertmanager did not become ready: %v\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type amGot struct {
	Labels   map[string]string `json:"labels"`
	StartsAt time.Time         `json:"startsAt"`
	Status   struct {
		State string `json:"state"`
	} `json:"status"`
}

func activeAlerts(t *testing.T, base string) []amGot {
	t.Helper()
	resp, err := http.Get(base + "/api/v2/alerts")
	if err != nil {
		t.Fatalf("get alerts: %v", err)
	}
	defer resp.Body.Close()
	var got []amGot
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatalf("decode alerts: %v", err)
	}
	return got
}

func TestWatcherNotifiesAlertmanagerAndWebhook(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	base := startAlertmanager(t)

	var (
		mu       sync.Mutex
		received [][]query.Alert
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Alerts []query.Alert }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		received = append(received, body.Alerts)
		mu.Unlock()
	}))
	defer hook.Close()

	// The evaluation fires for "api" until told otherwise.
	var firing sync.Map
	firing.Store("api", true)
	evaluate := func(_ context.Context, now time.Time) ([]query.SpikeStatus, error) {
		f, _ := firing.Load("api")
		return []query.SpikeStatus{{FunctionName: "api", Firing: f.(bool), At: now, Reason: "test"},
			{FunctionName: "quiet", At: now, Reason: "too little traffic"}}, nil
	}
	cfg := query.DefaultWatcherConfig()
	cfg.Interval = 50 * time.Millisecond
	w, err := query.NewWatcher(cfg, evaluate, []query.Notifier{
		&query.AlertmanagerNotifier{URL: base},
		&query.WebhookNotifier{URL: hook.URL},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := w.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	}()

	waitFor(t, "alert in alertmanager", func() bool {
		for _, a := range activeAlerts(t, base) {
			if a.Labels["alertname"] == query.AlertName && a.Labels["function"] == "api" && a.Status.State == "active" {
				return true
			}
		}
		return false
	})
	firing.Store("api", false)
	waitFor(t, "resolved webhook", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(received) >= 2
	})
	mu.Lock()
	if got := received[0]; len(got) != 1 || got[0].Status != query.AlertFiring || got[0].Spike.FunctionName != "api" {
		t.Errorf("first webhook = %+v, want api firing", got)
	}
	if got := received[1]; len(got) != 1 || got[0].Status != query.AlertResolved || got[0].EndsAt.IsZero() {
		t.Errorf("second webhook = %+v, want api resolved", got)
	}
	mu.Unlock()
	waitFor(t, "alert resolved in alertmanager", func() bool {
		for _, a := range activeAlerts(t, base) {
			if a.Labels["function"] == "api" && a.Status.State == "active" {
				return false
			}
		}
		return true
	})
	if st := w.Stats(); st.FailedNotifications != 0 || st.Evaluations < 2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestWatcherCountsFailedNotifications(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	evaluate := func(_ context.Context, now time.Time) ([]query.SpikeStatus, error) {
		return []query.SpikeStatus{{FunctionName: "api", Firing: true, At: now}}, nil
	}
	w, err := query.NewWatcher(query.DefaultWatcherConfig(), evaluate, []query.Notifier{&query.AlertmanagerNotifier{URL: down.URL}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	alerts := w.Evaluate(t.Context())
	if len(alerts) != 1 || !alerts[0].Changed {
		t.Errorf("alerts = %+v", alerts)
	}
	if st := w.Stats(); st.FailedNotifications != 1 {
		t.Errorf("failed notifications = %d, want 1", st.FailedNotifications)
	}
	if err := w.Shutdown(t.Context()); err != nil {
		t.Errorf("Shutdown before Start: %v", err)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// An evaluation cut short by Shutdown is not a failed evaluation: a watch
// that ends while ClickHouse is answering reports nothing failed.
func TestWatcherShutdownMidEvaluationIsNoFailure(t *testing.T) {
	started := make(chan struct{})
	evaluate := func(ctx context.Context, _ time.Time) ([]query.SpikeStatus, error) {
		close(started)
		<-ctx.Done()
		return nil, fmt.Errorf("query spikes: %w", ctx.Err())
	}
	w, err := query.NewWatcher(query.DefaultWatcherConfig(), evaluate, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	<-started
	if err := w.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.FailedEvaluations != 0 || st.Evaluations != 0 {
		t.Errorf("stats %+v after a shutdown mid-evaluation, want no evaluation and no failure", st)
	}
}
