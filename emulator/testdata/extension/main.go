// Command extension is a tiny external extension the emulator's tests run.
// It records what it sees as JSON lines in the file named by TESTEXT_OUT.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

var (
	outMu sync.Mutex
	out   *os.File

	// invokes counts the INVOKE events received; invoked is closed and
	// replaced at each.
	invokeMu sync.Mutex
	invokes  int
	invoked  = make(chan struct{})
)

// sawInvoke counts an INVOKE event and wakes the pushes held for it.
func sawInvoke() {
	invokeMu.Lock()
	defer invokeMu.Unlock()
	invokes++
	close(invoked)
	invoked = make(chan struct{})
}

// holdUntilInvokes delays the answer to a push that holds a platform.report
// until the extension has received n INVOKE events, for at most 3 s, and
// says which came first: "invoke" or "timeout".
func holdUntilInvokes(n int) string {
	deadline := time.After(3 * time.Second)
	for {
		invokeMu.Lock()
		got, ch := invokes, invoked
		invokeMu.Unlock()
		if got >= n {
			return "invoke"
		}
		select {
		case <-ch:
		case <-deadline:
			return "timeout"
		}
	}
}

func record(kind string, fields map[string]any) {
	if fields == nil {
		fields = map[string]any{}
	}
	fields["kind"] = kind
	fields["at"] = time.Now().UTC().Format(time.RFC3339Nano)
	line, _ := json.Marshal(fields)
	outMu.Lock()
	defer outMu.Unlock()
	_, _ = out.Write(append(line, '\n'))
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "test extension:", err)
	os.Exit(1)
}

func main() {
	var err error
	out, err = os.OpenFile(os.Getenv("TESTEXT_OUT"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fatal(err)
	}
	// TESTEXT_TMP_NOTE names a file under TMPDIR the extension appends
	// to at SHUTDOWN and reports at start.
	note := os.Getenv("TESTEXT_TMP_NOTE")
	started := map[string]any{"pid": os.Getpid(), "env": os.Environ()}
	if note != "" {
		if b, err := os.ReadFile(filepath.Join(os.TempDir(), note)); err == nil {
			started["tmp_note"] = string(b)
		}
	}
	record("start", started)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatal(err)
	}
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			var events []json.RawMessage
			if err := json.Unmarshal(body, &events); err != nil {
				record("bad-telemetry", map[string]any{"body": string(body)})
			}
			// TESTEXT_HOLD_REPORTS_UNTIL_INVOKES=N holds the answer to a
			// push with a platform.report until the Nth INVOKE came.
			if n, _ := strconv.Atoi(os.Getenv("TESTEXT_HOLD_REPORTS_UNTIL_INVOKES")); n > 0 && bytes.Contains(body, []byte(`"platform.report"`)) {
				record("telemetry-held", map[string]any{"released": holdUntilInvokes(n)})
			}
			record("telemetry", map[string]any{"events": events})
		}))
	}()

	api := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API")
	if os.Getenv("TESTEXT_PROBE_INVOKE") == "1" {
		// A registration for INVOKE first, to see whether it is refused.
		req, _ := http.NewRequest(http.MethodPost, api+"/2020-01-01/extension/register",
			strings.NewReader(`{"events":["INVOKE","SHUTDOWN"]}`))
		req.Header.Set("Lambda-Extension-Name", filepath.Base(os.Args[0]))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		record("register-probe", map[string]any{"status": resp.StatusCode, "body": json.RawMessage(body)})
	}
	events := `["INVOKE","SHUTDOWN"]`
	if v := os.Getenv("TESTEXT_EVENTS"); v != "" {
		events = v
	}
	req, _ := http.NewRequest(http.MethodPost, api+"/2020-01-01/extension/register",
		strings.NewReader(`{"events":`+events+`}`))
	req.Header.Set("Lambda-Extension-Name", filepath.Base(os.Args[0]))
	req.Header.Set("Lambda-Extension-Accept-Feature", "accountId")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fatal(err)
	}
	regBody, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	id := resp.Header.Get("Lambda-Extension-Identifier")
	record("register", map[string]any{"status": resp.StatusCode, "id": id, "body": json.RawMessage(regBody)})

	port := ln.Addr().(*net.TCPAddr).Port
	// TESTEXT_PROBES holds subscription bodies to try before the real one;
	// "PORT" in them stands for the listener's port.
	var probes []json.RawMessage
	_ = json.Unmarshal([]byte(os.Getenv("TESTEXT_PROBES")), &probes)
	for i, probe := range probes {
		body := strings.ReplaceAll(string(probe), "PORT", strconv.Itoa(port))
		req, _ := http.NewRequest(http.MethodPut, api+"/2022-07-01/telemetry", strings.NewReader(body))
		req.Header.Set("Lambda-Extension-Identifier", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fatal(err)
		}
		respBody, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		record("probe", map[string]any{"id": strconv.Itoa(i), "status": resp.StatusCode, "body": json.RawMessage(respBody)})
	}
	schema := "2022-12-13"
	if v := os.Getenv("TESTEXT_SCHEMA"); v != "" {
		schema = v
	}
	buffering := `{"maxItems":1000,"maxBytes":262144,"timeoutMs":25}`
	if v := os.Getenv("TESTEXT_BUFFERING"); v != "" {
		buffering = v
	}
	sub := fmt.Sprintf(`{"schemaVersion":%q,"types":["platform","function","extension"],`+
		`"buffering":%s,`+
		`"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:%d"}}`, schema, buffering, port)
	req, _ = http.NewRequest(http.MethodPut, api+"/2022-07-01/telemetry", bytes.NewReader([]byte(sub)))
	req.Header.Set("Lambda-Extension-Identifier", id)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		fatal(err)
	}
	_ = resp.Body.Close()
	record("subscribe", map[string]any{"status": resp.StatusCode})
	fmt.Println("test extension ready")

	delay, _ := strconv.Atoi(os.Getenv("TESTEXT_INVOKE_DELAY_MS"))
	for {
		req, _ := http.NewRequest(http.MethodGet, api+"/2020-01-01/extension/event/next", nil)
		req.Header.Set("Lambda-Extension-Identifier", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		var ev struct {
			EventType string `json:"eventType"`
			RequestID string `json:"requestId"`
		}
		_ = json.Unmarshal(body, &ev)
		record("event", map[string]any{"event": json.RawMessage(body), "event_id": resp.Header.Get("Lambda-Extension-Event-Identifier")})
		switch ev.EventType {
		case "INVOKE":
			sawInvoke()
			time.Sleep(time.Duration(delay) * time.Millisecond)
			record("next", map[string]any{"after": ev.RequestID})
		case "SHUTDOWN":
			if note != "" {
				var sd struct {
					Reason string `json:"shutdownReason"`
				}
				_ = json.Unmarshal(body, &sd)
				f, err := os.OpenFile(filepath.Join(os.TempDir(), note), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
				if err != nil {
					fatal(err)
				}
				_, _ = fmt.Fprintf(f, "shutdown %s\n", sd.Reason)
				_ = f.Close()
			}
			if os.Getenv("TESTEXT_HANG_ON_SHUTDOWN") == "1" {
				signal.Ignore(syscall.SIGTERM)
				record("hang", nil)
				select {}
			}
			record("exit", nil)
			os.Exit(0)
		default:
			fatal(fmt.Errorf("unexpected event %q", body))
		}
	}
}
