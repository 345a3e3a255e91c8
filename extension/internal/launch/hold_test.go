package launch

import (
	"bytes"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// awaitNeed runs l.AwaitNeed(d) and returns where its answer will come.
func awaitNeed(l *Launch, d time.Duration) <-chan string {
	why := make(chan string, 1)
	go func() { why <- l.AwaitNeed(d) }()
	return why
}

// waitNeed returns AwaitNeed's answer, failing the test after 10 s.
func waitNeed(t *testing.T, why <-chan string) string {
	t.Helper()
	select {
	case w := <-why:
		return w
	case <-time.After(10 * time.Second):
		t.Fatal("AwaitNeed did not return within 10s")
		return ""
	}
}

// TestAwaitNeedAnswersExportsUntilAnEvent: while the agent is held back,
// the function's exports are answered by the launcher and do not end the
// wait; the first event does.
func TestAwaitNeedAnswersExportsUntilAnEvent(t *testing.T) {
	f := &fakeAPI{beforeShutdown: make(chan struct{})}
	httpAddr := freeAddr(t)
	l, err := Start(Options{RuntimeAPI: startAPI(t, f), Name: "lambdascope", ListenHost: "127.0.0.1", OTLPHTTPAddr: httpAddr})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(l.Close)
	why := awaitNeed(l, time.Minute)

	client := &http.Client{Timeout: 10 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	for range 2 {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+httpAddr+"/v1/traces", bytes.NewReader([]byte{0x0a, 0x00}))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-protobuf")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("export while the agent is held back: %v", err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("export while the agent is held back: status %d; want 200", resp.StatusCode)
		}
	}
	select {
	case w := <-why:
		t.Fatalf("AwaitNeed returned %q after exports alone; want it to wait for an event or the proxy", w)
	default:
	}
	close(f.beforeShutdown) // the SHUTDOWN answers the first /event/next
	if w := waitNeed(t, why); w != NeedEvent {
		t.Errorf("AwaitNeed = %q after an event; want %q", w, NeedEvent)
	}
	if got := readFirstEvent(t, l); !bytes.Contains([]byte(got), []byte("SHUTDOWN")) {
		t.Errorf("the event left for the agent: %q; want the SHUTDOWN", got)
	}
}

// TestAwaitNeedEventAlreadyThere: an event that came before the wait (read
// with the subscription's answer, or waiting on the connection) ends it at
// once.
func TestAwaitNeedEventAlreadyThere(t *testing.T) {
	f := &fakeAPI{events: []string{`{"eventType":"INVOKE","requestId":"r-1"}`}}
	l, err := Start(Options{RuntimeAPI: startAPI(t, f), Name: "lambdascope", ListenHost: "127.0.0.1"})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(l.Close)
	if w := waitNeed(t, awaitNeed(l, time.Minute)); w != NeedEvent {
		t.Errorf("AwaitNeed = %q with an INVOKE waiting; want %q", w, NeedEvent)
	}
	if got := readFirstEvent(t, l); !bytes.Contains([]byte(got), []byte("r-1")) {
		t.Errorf("the event left for the agent: %q; want the INVOKE", got)
	}
}

// TestAwaitNeedProxy: the runtime's first call to the Runtime API proxy
// waits for the agent, so it ends the wait.
func TestAwaitNeedProxy(t *testing.T) {
	f := &fakeAPI{beforeShutdown: make(chan struct{})}
	l, err := Start(Options{RuntimeAPI: startAPI(t, f), Name: "lambdascope", ListenHost: "127.0.0.1",
		RuntimeProxy: true, AnnounceFile: filepath.Join(t.TempDir(), "runtime-api")})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(l.Close)
	// Before the API's server stops, which waits for the held answer.
	t.Cleanup(func() { close(f.beforeShutdown) })
	why := awaitNeed(l, time.Minute)
	c, err := net.DialTimeout("tcp", listenerAddr(t, l.State.ProxyFD), 5*time.Second)
	if err != nil {
		t.Fatalf("connect to the proxy's port: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if w := waitNeed(t, why); w != NeedProxy {
		t.Errorf("AwaitNeed = %q after the runtime called the proxy; want %q", w, NeedProxy)
	}
}

// TestAwaitNeedTime: with nothing that needs the agent, the wait ends
// when the hold runs out.
func TestAwaitNeedTime(t *testing.T) {
	f := &fakeAPI{beforeShutdown: make(chan struct{})}
	l, err := Start(Options{RuntimeAPI: startAPI(t, f), Name: "lambdascope", ListenHost: "127.0.0.1",
		OTLPHTTPAddr: freeAddr(t), RuntimeProxy: true, AnnounceFile: filepath.Join(t.TempDir(), "runtime-api")})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(l.Close)
	t.Cleanup(func() { close(f.beforeShutdown) })
	if w := waitNeed(t, awaitNeed(l, 20*time.Millisecond)); w != NeedTime {
		t.Errorf("AwaitNeed = %q with nothing waiting; want %q", w, NeedTime)
	}
}

// TestHoldByRegistration: registered for INVOKE, the agent is held until
// the INVOKE (AgentHoldInvoke at most); under Managed Instances, where
// only SHUTDOWN is registered, AgentHold.
func TestHoldByRegistration(t *testing.T) {
	for _, tc := range []struct {
		managed bool
		want    time.Duration
	}{
		{false, AgentHoldInvoke},
		{true, AgentHold},
	} {
		f := &fakeAPI{beforeShutdown: make(chan struct{})}
		l, err := Start(Options{RuntimeAPI: startAPI(t, f), Name: "lambdascope", ListenHost: "127.0.0.1", Managed: tc.managed})
		if err != nil {
			t.Fatalf("Start (managed %v): %v", tc.managed, err)
		}
		if got := l.Hold(); got != tc.want {
			t.Errorf("Hold() = %v with Managed %v; want %v", got, tc.managed, tc.want)
		}
		l.Close()
		close(f.beforeShutdown)
	}
	if AgentHoldInvoke <= AgentHold {
		t.Errorf("AgentHoldInvoke %v is not longer than AgentHold %v", AgentHoldInvoke, AgentHold)
	}
}
