package rtproxy_test

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/extension/internal/rtproxy"
)

// idObserver keeps the IDs of the last event and answer it was given,
// without allocating.
type idObserver struct {
	mu             sync.Mutex
	event, trace   string
	end            string
	invoked, ended atomic.Int64
}

func (o *idObserver) Invoked(e rtproxy.Event) {
	o.mu.Lock()
	o.event, o.trace = e.RequestID, e.TraceID
	o.mu.Unlock()
	o.invoked.Add(1)
}

func (o *idObserver) Ended(e rtproxy.End) {
	o.mu.Lock()
	o.end = e.RequestID
	o.mu.Unlock()
	o.ended.Add(1)
}

// TestRelayAllocations: relaying an invocation (its event from /next and
// its answer to /response, both observed) allocates nothing of its own
// once the connections and buffers are warm: no request or trace ID
// string, no invocation entry or channel per call. The runtime and the
// platform are played with raw connections and prepared bytes, which
// allocate nothing, so what the process allocates is the proxy's. The
// strings of the heads come out of blocks of a few KiB shared by about
// twenty invocations (see strArena): one allocation per block.
func TestRelayAllocations(t *testing.T) {
	if raceEnabled {
		t.Log("the race detector allocates on its own: the count below is not the relay's alone")
	}
	for _, chunked := range []bool{false, true} {
		for _, size := range []int{1 << 10, 256 << 10} {
			name := fmt.Sprintf("%dKiB", size>>10)
			if chunked {
				name += " chunked"
			}
			t.Run(name, func(t *testing.T) {
				relayAllocations(t, size, chunked)
			})
		}
	}
}

// relayAllocations relays invocations of size bytes each way, the event
// chunked (as the platform may send it, and net/http does when it was
// not told the length) or not, with the agent's capture and sniff limits.
func relayAllocations(t *testing.T, size int, chunked bool) {
	const ids = 4
	var reqID, traceID [ids]string
	var next, event, response, accepted [ids][]byte
	payload := strings.Repeat("x", size)
	for i := range ids {
		reqID[i] = fmt.Sprintf("8476a536-e9f4-11e8-9739-2dfe598c3f%02d", i)
		traceID[i] = fmt.Sprintf("Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e7%02d;Parent=9a9197af755a6419;Sampled=1", i)
		next[i] = []byte("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
		event[i] = []byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n%s: %s\r\n%s: %s\r\n%s: 1542409706888\r\nContent-Length: %d\r\n\r\n%s",
			"Lambda-Runtime-Aws-Request-Id", reqID[i], "Lambda-Runtime-Trace-Id", traceID[i], "Lambda-Runtime-Deadline-Ms", size, payload))
		if chunked {
			event[i] = []byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n%s: %s\r\n%s: %s\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n",
				"Lambda-Runtime-Aws-Request-Id", reqID[i], "Lambda-Runtime-Trace-Id", traceID[i], size, payload))
		}
		response[i] = []byte(fmt.Sprintf("POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", reqID[i], size, payload))
		accepted[i] = []byte("HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n")
	}

	// The platform: answers /next with event i, /response with 202, in
	// turn, reading exactly what the proxy must pass on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	apiErr := make(chan error, 1)
	go func() {
		apiErr <- func() error {
			c, err := ln.Accept()
			if err != nil {
				return err
			}
			defer c.Close()
			buf := make([]byte, len(response[0]))
			for i := 0; ; i = (i + 1) % ids {
				if _, err := io.ReadFull(c, buf[:len(next[i])]); err != nil {
					return nil // the proxy closed it
				}
				if string(buf[:len(next[i])]) != string(next[i]) {
					return fmt.Errorf("the platform got %q, want %q", buf[:len(next[i])], next[i])
				}
				if _, err := c.Write(event[i]); err != nil {
					return err
				}
				if _, err := io.ReadFull(c, buf[:len(response[i])]); err != nil {
					return err
				}
				if string(buf) != string(response[i]) {
					return fmt.Errorf("the platform got another answer than the runtime sent (%d bytes)", len(buf))
				}
				if _, err := c.Write(accepted[i]); err != nil {
					return err
				}
			}
		}()
	}()

	obs := &idObserver{}
	p := startProxy(t, ln.Addr().String(), obs, captureLimit)
	p.SetSniffLimit(sniffLimit)
	rc, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	_ = rc.SetDeadline(time.Now().Add(time.Minute))
	buf := make([]byte, len(event[0]))
	i := 0
	invoke := func() {
		if _, err := rc.Write(next[i]); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(rc, buf[:len(event[i])]); err != nil {
			t.Fatal(err)
		}
		if string(buf[:len(event[i])]) != string(event[i]) {
			t.Fatalf("the runtime got another event than the platform sent")
		}
		if _, err := rc.Write(response[i]); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(rc, buf[:len(accepted[i])]); err != nil {
			t.Fatal(err)
		}
		if string(buf[:len(accepted[i])]) != string(accepted[i]) {
			t.Fatalf("the runtime got %q, want %q", buf[:len(accepted[i])], accepted[i])
		}
		i = (i + 1) % ids
	}
	// Warm the connections, the captures and the relay buffers.
	for range 2 * ids {
		invoke()
	}
	const perRun = 100
	runs := 20
	if raceEnabled {
		runs = 2 // slow, and what it counts is not the relay's
	}
	allocs := testing.AllocsPerRun(runs, func() {
		for range perRun {
			invoke()
		}
	})
	t.Logf("%.0f allocations per %d invocations", allocs, perRun)
	// What the heads' strings take: about 36+90 bytes an event, a block
	// of 4 KiB for every twenty or so; a little room for the runtime.
	if max := 10.0; allocs > max && !raceEnabled {
		t.Errorf("%.0f allocations per %d invocations relayed, want at most %.0f", allocs, perRun, max)
	}

	// The Observer was given the right IDs, however their strings are made.
	last := (i + ids - 1) % ids
	total := int64(2*ids + (runs+1)*perRun)
	deadline := time.Now().Add(10 * time.Second)
	for obs.ended.Load() < total && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.invoked.Load() != total || obs.ended.Load() != total {
		t.Fatalf("observed %d events and %d answers, want %d", obs.invoked.Load(), obs.ended.Load(), total)
	}
	if obs.event != reqID[last] || obs.trace != traceID[last] || obs.end != reqID[last] {
		t.Fatalf("last observed %q %q %q, want %q %q", obs.event, obs.trace, obs.end, reqID[last], traceID[last])
	}
	select {
	case err := <-apiErr:
		if err != nil {
			t.Fatal(err)
		}
	default: // still serving the kept connection
	}
}
