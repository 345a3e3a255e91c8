package launch

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/extension/internal/extapi/apiwire"
	"github.com/lambdascope/lambdascope/extension/internal/handoff"
	"github.com/lambdascope/lambdascope/internal/freeport"
)

// fakeAPI records what the launcher asked of the Extensions and Telemetry
// APIs and answers like Lambda.
type fakeAPI struct {
	// registerStatus and subscribeStatus, when not 0, are answered instead
	// of 200; chunked makes register answer in chunked encoding; closing
	// closes the connection after every answer.
	registerStatus, subscribeStatus int
	// subscribeBody, when set, is the subscription's answer.
	subscribeBody    string
	chunked, closing bool
	events           []string // /event/next answers, in order
	// onRegister, when set, is called as register arrives.
	onRegister func()
	// refuseNext answers that many calls to /event/next after the first
	// with 403, as Lambda does while an earlier call is parked; then that
	// parked call takes the next event, which no caller sees.
	refuseNext int
	parkedTook bool
	// beforeShutdown, when set, holds the SHUTDOWN answer until closed;
	// shutdown, when set, is that answer.
	beforeShutdown chan struct{}
	shutdown       string

	mu       sync.Mutex
	requests []string // method, path and extension headers, in order
	register struct{ Events []string }
	sub      struct {
		SchemaVersion string
		Types         []string
		Buffering     apiwire.Buffering
		Destination   struct{ Protocol, URI string }
	}
	nexts, refused int
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if f.closing {
		w.Header().Set("Connection", "close")
	}
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path+" name="+r.Header.Get(apiwire.HeaderName)+
		" id="+r.Header.Get(apiwire.HeaderIdentifier)+" accept="+r.Header.Get(apiwire.HeaderAcceptFeature))
	f.mu.Unlock()
	switch r.Method + " " + r.URL.Path {
	case "POST " + apiwire.PathRegister:
		if f.onRegister != nil {
			f.onRegister()
		}
		if f.registerStatus != 0 {
			http.Error(w, `{"errorType":"Extension.Denied"}`, f.registerStatus)
			return
		}
		f.mu.Lock()
		_ = json.Unmarshal(body, &f.register)
		f.mu.Unlock()
		w.Header().Set(apiwire.HeaderIdentifier, "ext-42")
		_, _ = io.WriteString(w, `{"functionName":"checkout",`)
		if f.chunked {
			w.(http.Flusher).Flush() // the rest goes out chunked
		}
		_, _ = io.WriteString(w, `"functionVersion":"$LATEST","handler":"h","accountId":"123456789012"}`)
	case "PUT " + apiwire.PathTelemetry:
		if f.subscribeBody != "" {
			w.WriteHeader(cmp.Or(f.subscribeStatus, http.StatusOK))
			_, _ = io.WriteString(w, f.subscribeBody)
			return
		}
		if f.subscribeStatus != 0 {
			http.Error(w, `{"errorType":"Telemetry.Unavailable"}`, f.subscribeStatus)
			return
		}
		f.mu.Lock()
		_ = json.Unmarshal(body, &f.sub)
		f.mu.Unlock()
		_, _ = io.WriteString(w, "OK")
	case "GET " + apiwire.PathNext:
		f.mu.Lock()
		if f.nexts > 0 && f.refuseNext > 0 {
			f.refuseNext--
			f.refused++
			f.mu.Unlock()
			http.Error(w, `{"errorType":"Extension.InvalidStateTransition"}`, http.StatusForbidden)
			return
		}
		if f.refused > 0 && !f.parkedTook {
			// The refusals end as the parked call takes an event.
			f.parkedTook = true
			f.nexts++
		}
		n := f.nexts
		f.nexts++
		f.mu.Unlock()
		ev := cmp.Or(f.shutdown, `{"eventType":"SHUTDOWN","shutdownReason":"spindown"}`)
		if n < len(f.events) {
			ev = f.events[n]
		} else if f.beforeShutdown != nil {
			select {
			case <-f.beforeShutdown:
			case <-time.After(10 * time.Second):
			}
		}
		_, _ = io.WriteString(w, ev)
	default:
		if strings.HasPrefix(r.URL.Path, "/2018-06-01/runtime/") {
			// The Runtime API, for the proxy's relay: the request echoed.
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", "r-1")
			_, _ = fmt.Fprintf(w, "%s %s %d:", r.Method, r.URL.Path, len(body))
			_, _ = w.Write(body)
			return
		}
		http.NotFound(w, r)
	}
}

func startAPI(t *testing.T, f *fakeAPI) string {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// readFirstEvent reads the answer to the pending /event/next from the
// handed-over connection, as the agent does.
func readFirstEvent(t *testing.T, l *Launch) string {
	t.Helper()
	fd, err := syscall.Dup(l.State.NextFD)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "next")
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		t.Fatalf("the /event/next descriptor is not a connection: %v", err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(io.MultiReader(bytes.NewReader(l.State.NextRead), c)), nil)
	if err != nil {
		t.Fatalf("read the first event: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// listenerAddr returns the address of a handed-over listening socket.
func listenerAddr(t *testing.T, fd int) string {
	t.Helper()
	if fd == handoff.NoFD {
		t.Fatal("no descriptor handed over")
	}
	dup, err := syscall.Dup(fd)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(dup), "listener")
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		t.Fatalf("descriptor %d is not a listener: %v", fd, err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestStartRegistersSubscribesAndSendsNext(t *testing.T) {
	for _, tc := range []struct {
		name             string
		chunked, closing bool
	}{{"content-length", false, false}, {"chunked", true, false}, {"connection close", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAPI{chunked: tc.chunked, closing: tc.closing, events: []string{`{"eventType":"INVOKE","requestId":"r-1"}`}}
			api := startAPI(t, f)
			httpAddr, grpcAddr := freeAddr(t), freeAddr(t)
			l, err := Start(Options{RuntimeAPI: api, Name: "lambdascope", ListenHost: "127.0.0.1",
				OTLPHTTPAddr: httpAddr, OTLPGRPCAddr: grpcAddr, Started: time.Now()})
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			defer l.Close()
			st := l.State
			if st.ExtensionID != "ext-42" || !strings.Contains(string(st.Registration), `"accountId":"123456789012"`) {
				t.Errorf("registration = %q %s", st.ExtensionID, st.Registration)
			}
			if !st.Subscribed || st.SubscribeError != "" {
				t.Errorf("subscribed = %v (%s)", st.Subscribed, st.SubscribeError)
			}
			if got := listenerAddr(t, st.OTLPHTTPFD); got != httpAddr {
				t.Errorf("OTLP/HTTP listener on %s, want %s", got, httpAddr)
			}
			if got := listenerAddr(t, st.OTLPGRPCFD); got != grpcAddr {
				t.Errorf("OTLP/gRPC listener on %s, want %s", got, grpcAddr)
			}
			if got := "http://" + listenerAddr(t, st.TelemetryFD); got != st.TelemetryURI {
				t.Errorf("telemetry listener on %s, subscribed as %s", got, st.TelemetryURI)
			}
			if ev := readFirstEvent(t, l); !strings.Contains(ev, `"requestId":"r-1"`) {
				t.Errorf("first event = %s", ev)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			want := []string{
				"POST " + apiwire.PathRegister + " name=lambdascope id= accept=accountId",
				"PUT " + apiwire.PathTelemetry + " name= id=ext-42 accept=",
				"GET " + apiwire.PathNext + " name= id=ext-42 accept=",
			}
			if strings.Join(f.requests, "\n") != strings.Join(want, "\n") {
				t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(f.requests, "\n"), strings.Join(want, "\n"))
			}
			if strings.Join(f.register.Events, ",") != "INVOKE,SHUTDOWN" {
				t.Errorf("registered for %v", f.register.Events)
			}
			if f.sub.SchemaVersion != apiwire.SchemaV1 || f.sub.Destination.URI != st.TelemetryURI ||
				f.sub.Destination.Protocol != "HTTP" || f.sub.Buffering != apiwire.DefaultBuffering ||
				strings.Join(f.sub.Types, ",") != "platform,function,extension" {
				t.Errorf("subscription = %+v", f.sub)
			}
			if f.sub.Buffering.TimeoutMs != 25 {
				t.Errorf("subscribed with timeoutMs %d, want 25", f.sub.Buffering.TimeoutMs)
			}
			if st.NextSent.Before(st.Started) {
				t.Errorf("next sent at %v, before the start %v", st.NextSent, st.Started)
			}
		})
	}
}

func TestStartOnManagedInstances(t *testing.T) {
	f := &fakeAPI{}
	l, err := Start(Options{RuntimeAPI: startAPI(t, f), Name: "lambdascope", Managed: true, ListenHost: "127.0.0.1"})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer l.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.Join(f.register.Events, ",") != "SHUTDOWN" || f.sub.SchemaVersion != apiwire.SchemaV2 {
		t.Errorf("registered for %v with schema %s; want SHUTDOWN only and %s", f.register.Events, f.sub.SchemaVersion, apiwire.SchemaV2)
	}
	// Nothing waits on telemetry per invocation here: batches within 1 s,
	// so that one does not fall due before the last is answered.
	if f.sub.Buffering.TimeoutMs != 1000 {
		t.Errorf("subscribed with timeoutMs %d, want 1000", f.sub.Buffering.TimeoutMs)
	}
	if l.State.OTLPHTTPFD != handoff.NoFD || l.State.OTLPGRPCFD != handoff.NoFD {
		t.Errorf("OTLP descriptors %d %d handed over with no address to bind", l.State.OTLPHTTPFD, l.State.OTLPGRPCFD)
	}
}

func TestRefusedSubscriptionIsHandedOver(t *testing.T) {
	f := &fakeAPI{subscribeStatus: http.StatusServiceUnavailable}
	l, err := Start(Options{RuntimeAPI: startAPI(t, f), Name: "lambdascope", ListenHost: "127.0.0.1"})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer l.Close()
	if l.State.Subscribed || !strings.Contains(l.State.SubscribeError, "status 503") ||
		!strings.Contains(l.State.SubscribeError, "Telemetry.Unavailable") {
		t.Errorf("subscribed = %v, error %q; want the 503 and its body", l.State.Subscribed, l.State.SubscribeError)
	}
	if ev := readFirstEvent(t, l); !strings.Contains(ev, "SHUTDOWN") {
		t.Errorf("first event = %s; the extension must still be on /event/next", ev)
	}
}

// TestTelemetryNotSupportedIsHandedOver: AWS's emulator answers the
// subscription 202 with Telemetry.NotSupported; that is no subscription,
// and the agent is told the Telemetry API is unavailable.
func TestTelemetryNotSupportedIsHandedOver(t *testing.T) {
	const notSupported = `{"errorMessage":"Telemetry API is not supported","errorType":"Telemetry.NotSupported"}`
	tests := []struct {
		name            string
		status          int
		body            string
		wantUnavailable bool
	}{
		{"202", http.StatusAccepted, notSupported, true},
		{"400", http.StatusBadRequest, notSupported, true},
		{"other errorType under 200", http.StatusOK, `{"errorType":"Telemetry.Other"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAPI{subscribeStatus: tt.status, subscribeBody: tt.body}
			l, err := Start(Options{RuntimeAPI: startAPI(t, f), Name: "lambdascope", ListenHost: "127.0.0.1"})
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			defer l.Close()
			st := l.State
			if st.Subscribed || st.TelemetryUnavailable != tt.wantUnavailable ||
				!strings.Contains(st.SubscribeError, fmt.Sprintf("status %d", tt.status)) || !strings.Contains(st.SubscribeError, tt.body) {
				t.Errorf("subscribed %v, unavailable %v, error %q; want no subscription, unavailable %v, the status and the body",
					st.Subscribed, st.TelemetryUnavailable, st.SubscribeError, tt.wantUnavailable)
			}
			if ev := readFirstEvent(t, l); !strings.Contains(ev, "SHUTDOWN") {
				t.Errorf("first event = %s; the extension must still be on /event/next", ev)
			}
		})
	}
}

func TestPortTakenIsLeftToTheAgent(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	l, err := Start(Options{RuntimeAPI: startAPI(t, &fakeAPI{}), Name: "lambdascope", ListenHost: "127.0.0.1",
		OTLPHTTPAddr: taken.Addr().String(), OTLPGRPCAddr: freeAddr(t)})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer l.Close()
	if l.State.OTLPHTTPFD != handoff.NoFD || l.State.OTLPGRPCFD == handoff.NoFD {
		t.Errorf("descriptors %d %d; want none for the taken port and one for the free one", l.State.OTLPHTTPFD, l.State.OTLPGRPCFD)
	}
}

func TestRegisterFailureIsNotRegistered(t *testing.T) {
	_, err := Start(Options{RuntimeAPI: startAPI(t, &fakeAPI{registerStatus: http.StatusForbidden}), Name: "lambdascope", ListenHost: "127.0.0.1"})
	if !errors.Is(err, ErrNotRegistered) || !strings.Contains(err.Error(), "status 403") {
		t.Errorf("err = %v; want ErrNotRegistered with the status", err)
	}
	_, err = Start(Options{RuntimeAPI: freeAddr(t), Name: "lambdascope", ListenHost: "127.0.0.1"})
	if !errors.Is(err, ErrNotRegistered) {
		t.Errorf("err = %v with no API listening; want ErrNotRegistered", err)
	}
}

func TestIdleWhenTheAgentCannotStart(t *testing.T) {
	// The API closes its connection after every answer: each next event is
	// asked for on a new one.
	f := &fakeAPI{closing: true, events: []string{`{"eventType":"INVOKE","requestId":"r-1"}`, `{"eventType":"invoke","requestId":"r-2"}`}}
	l, err := Start(Options{RuntimeAPI: startAPI(t, f), Name: "lambdascope", ListenHost: "127.0.0.1"})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer l.Close()
	missing := filepath.Join(t.TempDir(), "lambdascope-extension")
	if _, err := l.Spawn(missing, nil, os.Environ()); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("Spawn of a missing agent = %v; want an error naming it", err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Idle() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Idle: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Idle did not return at SHUTDOWN")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.nexts != 3 {
		t.Errorf("%d calls to /event/next; want 3 (two invocations, then SHUTDOWN)", f.nexts)
	}
}

func TestFindAgent(t *testing.T) {
	root := t.TempDir()
	exe := filepath.Join(root, "extensions", "lambdascope")
	want := filepath.Join(root, "lambdascope", "lambdascope-extension")
	if _, err := FindAgent(exe); err == nil {
		t.Error("FindAgent found an agent in an empty layer")
	}
	if err := os.MkdirAll(filepath.Dir(want), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(want, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := FindAgent(exe); err == nil || !strings.Contains(err.Error(), "not an executable") {
		t.Errorf("FindAgent of a non-executable file = %v", err)
	}
	if err := os.Chmod(want, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := FindAgent(exe); err != nil || got != want {
		t.Errorf("FindAgent = %q, %v; want %q", got, err, want)
	}
}

func TestReadResponse(t *testing.T) {
	tests := []struct {
		name, in, body, err string
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "ok", ""},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n3;x=y\r\n!!!\r\n0\r\nTrailer: t\r\n\r\n", "ok!!!", ""},
		{"no content", "HTTP/1.1 204 No Content\r\n\r\n", "", ""},
		{"no content, whatever the length says", "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", "", ""},
		{"bad status", "HTTP/1.1 abc\r\n\r\n", "", "malformed status line"},
		{"not http", "SSH-2.0-OpenSSH\r\n\r\n", "", "malformed status line"},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "", "bad Content-Length"},
		{"too long", "HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n", "", "bad Content-Length"},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok", "", "read body"},
		{"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "", "malformed chunk size"},
		{"chunk without CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n", "", "CRLF"},
		{"unframed", "HTTP/1.1 200 OK\r\n\r\nbody", "", "neither Content-Length nor chunked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := readResponse(bufio.NewReader(strings.NewReader(tt.in)))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("err = %v, want it to mention %q", err, tt.err)
				}
				return
			}
			if err != nil || string(resp.body) != tt.body {
				t.Errorf("body = %q, %v; want %q", resp.body, err, tt.body)
			}
		})
	}
}

// FuzzReadResponse checks that no answer of the API makes the launcher
// panic or read a body beyond its bound.
func FuzzReadResponse(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	f.Add("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
	f.Add("HTTP/1.1 500 x\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n")
	f.Add("HTTP/1.1 200 OK\r\nLambda-Extension-Identifier: e\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		resp, err := readResponse(bufio.NewReader(strings.NewReader(in)))
		if err != nil {
			return
		}
		if len(resp.body) > maxBody {
			t.Errorf("body of %d bytes read, bound is %d", len(resp.body), maxBody)
		}
		// Where net/http reads the same bytes too, both must agree.
		ref, err := http.ReadResponse(bufio.NewReader(strings.NewReader(in)), nil)
		if err != nil {
			return
		}
		body, err := io.ReadAll(ref.Body)
		if err != nil {
			return
		}
		if ref.StatusCode != resp.status || !bytes.Equal(body, resp.body) {
			t.Errorf("read status %d body %q; net/http reads %d %q", resp.status, resp.body, ref.StatusCode, body)
		}
		if got, want := resp.get(apiwire.HeaderIdentifier), ref.Header.Get(apiwire.HeaderIdentifier); got != want {
			t.Errorf("%s = %q; net/http reads %q", apiwire.HeaderIdentifier, got, want)
		}
		if ref.Close && !resp.closes() {
			t.Errorf("net/http reads that the server closes the connection; the launcher would send on it")
		}
	})
}

// TestTelemetryListenerThatCannotBind leaves the subscription out, says
// why, and still sends the first /event/next.
func TestTelemetryListenerThatCannotBind(t *testing.T) {
	f := &fakeAPI{}
	// 192.0.2.1 (TEST-NET-1) is no address of this machine.
	l, err := Start(Options{RuntimeAPI: startAPI(t, f), Name: "lambdascope", ListenHost: "192.0.2.1"})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer l.Close()
	st := l.State
	if st.TelemetryFD != handoff.NoFD || st.Subscribed || !strings.Contains(st.ListenError, "start telemetry listener: listen on 192.0.2.1:0: bind") {
		t.Errorf("telemetry fd %d, subscribed %v, error %q; want no listener and the bind error", st.TelemetryFD, st.Subscribed, st.ListenError)
	}
	if ev := readFirstEvent(t, l); !strings.Contains(ev, "SHUTDOWN") {
		t.Errorf("first event = %s", ev)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.requests {
		if strings.HasPrefix(r, "PUT") {
			t.Errorf("subscribed without a listener: %s", r)
		}
	}
}

// TestAnswerReadAheadIsHandedOver: the subscription and the first
// /event/next go out together, so the first event's answer can arrive with
// the subscription's and be read with it. The launcher hands those bytes
// over; lost, the agent would wait for an event that already came.
func TestAnswerReadAheadIsHandedOver(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		served <- func() error {
			c, err := ln.Accept()
			if err != nil {
				return err
			}
			defer c.Close()
			r := bufio.NewReader(c)
			var paths []string
			for range 3 {
				req, err := http.ReadRequest(r)
				if err != nil {
					return err
				}
				_, _ = io.Copy(io.Discard, req.Body)
				paths = append(paths, req.Method+" "+req.URL.Path)
				if len(paths) == 1 {
					if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nLambda-Extension-Identifier: ext-7\r\nContent-Length: 2\r\n\r\n{}"); err != nil {
						return err
					}
				}
			}
			if want := []string{"POST " + apiwire.PathRegister, "PUT " + apiwire.PathTelemetry, "GET " + apiwire.PathNext}; strings.Join(paths, ",") != strings.Join(want, ",") {
				return fmt.Errorf("requests %v, want %v", paths, want)
			}
			// Both answers in one write: the event's follows the
			// subscription's in the same segment.
			_, err = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"+
				"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n{\"eventType\":\"INVOKE\",\"requestId\":\"r-9\"}")
			if err != nil {
				return err
			}
			time.Sleep(time.Second) // the connection stays open for the agent
			return nil
		}()
	}()
	l, err := Start(Options{RuntimeAPI: ln.Addr().String(), Name: "lambdascope", ListenHost: "127.0.0.1"})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer l.Close()
	if !l.State.Subscribed {
		t.Errorf("not subscribed: %s", l.State.SubscribeError)
	}
	if len(l.State.NextRead) == 0 {
		t.Errorf("nothing read ahead; the test server's two answers were not read together")
	}
	if ev := readFirstEvent(t, l); ev != `{"eventType":"INVOKE","requestId":"r-9"}` {
		t.Errorf("first event = %q", ev)
	}
	if err := <-served; err != nil {
		t.Error(err)
	}
}

// TestSandboxHostFromTheHostsFile: where the hosts file names
// sandbox.localdomain, as Lambda's does, the telemetry listener binds its
// address and is subscribed under the name, without a DNS lookup.
func TestSandboxHostFromTheHostsFile(t *testing.T) {
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost\n127.0.0.1 sandbox.localdomain sandbox\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &fakeAPI{}
	l, err := Start(Options{RuntimeAPI: startAPI(t, f), Name: "lambdascope", HostsFile: hosts, OTLPHTTPAddr: "localhost:0"})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer l.Close()
	addr := listenerAddr(t, l.State.TelemetryFD)
	_, port, _ := net.SplitHostPort(addr)
	if want := "http://sandbox.localdomain:" + port; l.State.TelemetryURI != want || !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Errorf("telemetry listener on %s subscribed as %s; want 127.0.0.1 subscribed as %s", addr, l.State.TelemetryURI, want)
	}
	if got := listenerAddr(t, l.State.OTLPHTTPFD); !strings.HasPrefix(got, "127.0.0.1:") {
		t.Errorf("OTLP/HTTP listener on %s; want localhost from the hosts file", got)
	}
	if !l.State.Subscribed {
		t.Errorf("not subscribed: %s", l.State.SubscribeError)
	}
}
