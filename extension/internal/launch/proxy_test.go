package launch

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/extension/internal/handoff"
)

// announcement reads the proxy's announcement: address and process ID.
func announcement(t *testing.T, path string) (addr string, pid int, ok bool) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		return "", 0, false
	}
	f := strings.Fields(string(data))
	if len(f) != 2 || !strings.HasSuffix(string(data), "\n") {
		t.Fatalf("announcement %q; want \"<addr> <pid>\\n\"", data)
	}
	pid, err = strconv.Atoi(f[1])
	if err != nil {
		t.Fatalf("announcement %q: %v", data, err)
	}
	return f[0], pid, true
}

// TestProxyBoundAndAnnouncedBeforeRegistering: Lambda starts the runtime
// once every extension has registered, so the proxy's port must be bound
// and announced by the time register reaches the API, in this process's
// name (the agent's after the exec), and handed over.
func TestProxyBoundAndAnnouncedBeforeRegistering(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lambdascope-runtime-api")
	var atRegister string
	f := &fakeAPI{}
	f.onRegister = func() {
		addr, pid, ok := announcement(t, path)
		switch {
		case !ok:
			atRegister = "not announced"
		case pid != os.Getpid():
			atRegister = "announced for process " + strconv.Itoa(pid)
		default:
			atRegister = addr
		}
	}
	l, err := Start(Options{RuntimeAPI: startAPI(t, f), Name: "lambdascope", ListenHost: "127.0.0.1",
		RuntimeProxy: true, AnnounceFile: path})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer l.Close()
	if l.State.ProxyError != "" {
		t.Fatalf("ProxyError = %q", l.State.ProxyError)
	}
	got := listenerAddr(t, l.State.ProxyFD)
	if atRegister != got {
		t.Errorf("at register the announcement said %q; want the handed-over listener %s", atRegister, got)
	}
	if !strings.HasPrefix(got, "127.0.0.1:") {
		t.Errorf("proxy bound on %s; want a loopback port", got)
	}
	st, err := handoff.Decode(l.State.Encode())
	if err != nil || st.ProxyFD != l.State.ProxyFD {
		t.Errorf("handed over as %d (%v); want %d", st.ProxyFD, err, l.State.ProxyFD)
	}
}

// TestProxyOffOrUnannounced: with the proxy off nothing is bound or
// written; when the announcement cannot be written the port is closed and
// the agent told why.
func TestProxyOffOrUnannounced(t *testing.T) {
	tests := []struct {
		name    string
		on      bool
		path    string
		wantErr string
	}{
		{"off", false, filepath.Join(t.TempDir(), "lambdascope-runtime-api"), ""},
		{"directory missing", true, filepath.Join(t.TempDir(), "gone", "lambdascope-runtime-api"), "announce the runtime API proxy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Start(Options{RuntimeAPI: startAPI(t, &fakeAPI{}), Name: "lambdascope", ListenHost: "127.0.0.1",
				RuntimeProxy: tt.on, AnnounceFile: tt.path})
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			defer l.Close()
			if l.State.ProxyFD != handoff.NoFD {
				t.Errorf("proxy descriptor %d handed over; want none", l.State.ProxyFD)
			}
			if !strings.Contains(l.State.ProxyError, tt.wantErr) || (tt.wantErr == "") != (l.State.ProxyError == "") {
				t.Errorf("ProxyError = %q; want %q", l.State.ProxyError, tt.wantErr)
			}
			if _, err := os.Stat(tt.path); !os.IsNotExist(err) {
				t.Errorf("announcement %s: %v; want none", tt.path, err)
			}
			for _, fd := range l.listeners {
				if fd != l.State.TelemetryFD {
					t.Errorf("descriptor %d left open; want only the telemetry listener's", fd)
				}
			}
		})
	}
}

// TestRelayWhenTheAgentCannotStart: the runtime was pointed at the
// proxy's port and the agent cannot be started: the launcher relays the
// port to the real Runtime API byte for byte, keep-alive and large bodies
// alike, while it answers events.
func TestRelayWhenTheAgentCannotStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lambdascope-runtime-api")
	f := &fakeAPI{events: []string{`{"eventType":"INVOKE","requestId":"r-1"}`}}
	l, err := Start(Options{RuntimeAPI: startAPI(t, f), Name: "lambdascope", ListenHost: "127.0.0.1",
		RuntimeProxy: true, AnnounceFile: path})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer l.Close()
	addr, _, ok := announcement(t, path)
	if !ok {
		t.Fatal("proxy not announced")
	}
	if _, err := l.Spawn(filepath.Join(t.TempDir(), "missing"), nil, os.Environ()); err == nil {
		t.Fatal("Spawn of a missing agent succeeded")
	}
	if err := l.RelayProxy(); err != nil {
		t.Fatalf("RelayProxy: %v", err)
	}
	idle := make(chan error, 1)
	go func() { idle <- l.Idle() }()

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	t.Cleanup(client.CloseIdleConnections)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	for i, body := range [][]byte{nil, []byte(`{"ok":true}`), big} {
		method, p := http.MethodGet, "/2018-06-01/runtime/invocation/next"
		if body != nil {
			method, p = http.MethodPost, "/2018-06-01/runtime/invocation/r-1/response"
		}
		req, err := http.NewRequestWithContext(t.Context(), method, "http://"+addr+p, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("call %d through the relay: %v", i, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := method + " " + p + " " + strconv.Itoa(len(body)) + ":" + string(body)
		if err != nil || string(got) != want || resp.Header.Get("Lambda-Runtime-Aws-Request-Id") != "r-1" {
			t.Errorf("call %d: %d bytes (%v), header %q; want the API's echo of %d bytes", i, len(got), err,
				resp.Header.Get("Lambda-Runtime-Aws-Request-Id"), len(want))
		}
	}
	select {
	case err := <-idle:
		if err != nil {
			t.Fatalf("Idle: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Idle did not return at SHUTDOWN")
	}
}

// TestEventCounter: the relay counts the Runtime API's answers that hand
// the runtime an invocation, however the stream is cut into reads, and
// never mistakes a body for a head; a chunked answer stops the count.
func TestEventCounter(t *testing.T) {
	next := func(id, body string) string {
		return "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: " + id + "\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	for _, tc := range []struct {
		name, stream string
		want         int64
	}{
		{"two invocations and an accepted answer",
			next("r-1", "{}") + "HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n" + next("r-2", `{"a":1}`), 2},
		{"a body that looks like a head",
			next("r-1", "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: fake\r\nContent-Length: 0\r\n\r\n"), 1},
		{"a chunked answer stops the count",
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n" + next("x", "") + "\r\n0\r\n\r\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, size := range []int{1, 2, 3, 7, 64, len(tc.stream)} {
				var n atomic.Int64
				c := &eventCounter{n: &n}
				for p := tc.stream; len(p) > 0; {
					k := min(size, len(p))
					if m, err := c.Write([]byte(p[:k])); m != k || err != nil {
						t.Fatalf("Write = %d, %v", m, err)
					}
					p = p[k:]
				}
				if n.Load() != tc.want {
					t.Errorf("reads of %d bytes: counted %d, want %d", size, n.Load(), tc.want)
				}
			}
		})
	}
}
