package shipper

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/collectortest"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

// relay forwards TCP connections to a target, like the NAT or load balancer
// between a Lambda function and its collector. On command it turns the
// connections open at that moment into black holes: it goes on reading
// their bytes and drops them, closing nothing, as a NAT does with a flow it
// has timed out. Connections made later are forwarded.
type relay struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	pairs   []*relayPair
	dialed  int
	closing bool
	wg      sync.WaitGroup
}

// relayPair is one relayed connection; toServer and toClient, once set,
// drop the bytes of that direction.
type relayPair struct {
	client, server     net.Conn
	toServer, toClient atomic.Bool
}

func startRelay(t testing.TB, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	r := &relay{ln: ln, target: target}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(r.close)
	return r
}

func (r *relay) addr() string { return r.ln.Addr().String() }

func (r *relay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		sc, err := net.Dial("tcp", r.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p := &relayPair{client: c, server: sc}
		r.mu.Lock()
		if r.closing {
			r.mu.Unlock()
			_ = c.Close()
			_ = sc.Close()
			return
		}
		r.pairs = append(r.pairs, p)
		r.dialed++
		r.wg.Add(2)
		r.mu.Unlock()
		go r.pipe(sc, c, &p.toServer)
		go r.pipe(c, sc, &p.toClient)
	}
}

// pipe copies from src to dst until src ends, dropping what it reads while
// drop is set.
func (r *relay) pipe(dst, src net.Conn, drop *atomic.Bool) {
	defer r.wg.Done()
	b := make([]byte, 32<<10)
	for {
		n, err := src.Read(b)
		if n > 0 && !drop.Load() {
			if _, werr := dst.Write(b[:n]); werr != nil {
				_ = src.Close()
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				// Pass the half close on, as TCP would.
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
				return
			}
			_ = dst.Close()
			return
		}
	}
}

// blackHole drops, from now on, the bytes of the connections open now:
// both directions, or only the collector's answers.
func (r *relay) blackHole(answersOnly bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.pairs {
		p.toClient.Store(true)
		if !answersOnly {
			p.toServer.Store(true)
		}
	}
}

// connections is how many connections were relayed so far.
func (r *relay) connections() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dialed
}

func (r *relay) close() {
	_ = r.ln.Close()
	r.mu.Lock()
	r.closing = true
	for _, p := range r.pairs {
		_ = p.client.Close()
		_ = p.server.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// idleLonger is how long the idle tests leave the connection idle: past
// idlePing, after which gRPC pings with the next call.
const idleLonger = idlePing + time.Second

// TestCallAfterIdleOnDeadConnection: the environment was frozen long
// enough for a NAT to drop the connection's flow without a reset. The first
// flush after the thaw starts a call on that connection; it must not wait
// its RPCTimeout (30 s here) for an answer that cannot come: the unanswered
// keepalive ping gives the connection up after ThawGrace and the batch goes
// out on a new connection, once, with its batch ID. With only the answers
// lost the collector got the first call too and keeps the batch once by
// its ID.
func TestCallAfterIdleOnDeadConnection(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name        string
		answersOnly bool
		wantCalls   int // at the collector, after the first flush
	}{
		{"both directions lost", false, 1},
		{"answers lost", true, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := collectortest.Start(t)
			r := startRelay(t, srv.Addr)
			s, buf := newShipper(t, r.addr(), func(c *Config) {
				c.RPCTimeout = 30 * time.Second
				c.ThawGrace = 200 * time.Millisecond
			})
			addWork(buf, "req-before-freeze")
			if err := s.Flush(t.Context()); err != nil {
				t.Fatalf("first Flush: %v", err)
			}
			// Frozen and idle: the NAT drops the flow.
			waitStarted := time.Now()
			time.Sleep(idleLonger)
			r.blackHole(tt.answersOnly)
			s.Resumed(waitStarted)
			addWork(buf, "req-after-thaw")
			// Far below RPCTimeout: before the change this flush ends
			// here with the batch still pending.
			ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
			defer cancel()
			if err := s.Flush(ctx); err != nil {
				t.Fatalf("Flush after the thaw: %v (connection stats %+v)", err, s.ConnStats())
			}
			if got := r.connections(); got != 2 {
				t.Errorf("%d connections, want the dead one and its replacement", got)
			}
			if st := s.ConnStats(); st != (ConnStats{Connections: 2, DeadAfterIdle: 1, Reconnects: 1}) {
				t.Errorf("connection stats %+v, want one connection found dead after idling", st)
			}
			calls := srv.Calls()
			if len(calls) != 1+tt.wantCalls {
				t.Fatalf("%d calls at the collector, want %d", len(calls), 1+tt.wantCalls)
			}
			last := calls[len(calls)-1].Request
			if got := last.GetInvocations()[0].GetRequestId(); got != "req-after-thaw" {
				t.Errorf("last call carried %q", got)
			}
			if tt.wantCalls == 2 && string(calls[1].Request.GetBatchId()) != string(last.GetBatchId()) {
				t.Error("the retry has a new batch ID")
			}
			if got := len(srv.Accepted()); got != 2 {
				t.Errorf("%d batches kept by the collector, want 2 (each once)", got)
			}
			st := buf.Stats()
			if st.Sent != (buffer.Counts{buffer.Invocations: 2, buffer.Spans: 2}) || !st.Dropped.IsZero() || !s.Pending().IsZero() {
				t.Errorf("sent %v, dropped %v, pending %v; want both batches sent", st.Sent, st.Dropped, s.Pending())
			}
		})
	}
}

// TestFlushCutBeforeThePingTimesOut: the flush at an invocation's end has
// a budget (the agent's 150 ms) shorter than ThawGrace, so after idling on
// a dead connection it is cut before the ping's timeout and its batch kept.
// The unanswered ping still gives the connection up, with no call on it,
// and the next flush goes out at once on a new connection, not after its
// RPCTimeout (30 s here).
func TestFlushCutBeforeThePingTimesOut(t *testing.T) {
	t.Parallel()
	srv := collectortest.Start(t)
	r := startRelay(t, srv.Addr)
	s, buf := newShipper(t, r.addr(), func(c *Config) {
		c.RPCTimeout = 30 * time.Second
		c.ThawGrace = 300 * time.Millisecond
	})
	addWork(buf, "req-before-freeze")
	if err := s.Flush(t.Context()); err != nil {
		t.Fatalf("first Flush: %v", err)
	}
	time.Sleep(idleLonger)
	r.blackHole(false)
	addWork(buf, "req-after-thaw")
	cut, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	err := s.Flush(cut)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cut Flush = %v, want its deadline", err)
	}
	if s.Pending().IsZero() {
		t.Fatal("the cut flush's batch was not kept")
	}
	// The environment is frozen now; the ping's timeout passes with no
	// call on the connection and gRPC closes it. (Were the next flush to
	// come first, its call would be ended with the connection and retried
	// as in TestCallAfterIdleOnDeadConnection.)
	time.Sleep(time.Second)
	ctx, fcancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer fcancel()
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("next Flush: %v (connection stats %+v)", err, s.ConnStats())
	}
	if got := r.connections(); got != 2 {
		t.Errorf("%d connections, want the dead one and its replacement", got)
	}
	if st := s.ConnStats(); st.Connections != 2 || st.Timeouts != 0 || st.Stale != 0 {
		t.Errorf("connection stats %+v, want a second connection and no timeout", st)
	}
	if calls, acc := srv.Calls(), srv.Accepted(); len(calls) != 2 || len(acc) != 2 || acc[1].GetInvocations()[0].GetRequestId() != "req-after-thaw" {
		t.Errorf("%d calls, accepted %v; want the batch kept across the cut flush sent once", len(calls), acc)
	}
	if st := buf.Stats(); st.Sent != (buffer.Counts{buffer.Invocations: 2, buffer.Spans: 2}) || !st.Dropped.IsZero() {
		t.Errorf("sent %v, dropped %v", st.Sent, st.Dropped)
	}
}

// delayedCollector answers every Export after delay: a collector slow to
// insert but alive.
type delayedCollector struct {
	ingestv1.UnimplementedIngestServiceServer
	addr  string
	delay time.Duration
	calls atomic.Int32
}

func startDelayedCollector(t *testing.T, delay time.Duration) *delayedCollector {
	t.Helper()
	c := &delayedCollector{delay: delay}
	c.addr = collectortest.Serve(t, c)
	return c
}

func (c *delayedCollector) Export(ctx context.Context, req *ingestv1.ExportRequest) (*ingestv1.ExportResponse, error) {
	c.calls.Add(1)
	select {
	case <-time.After(c.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &ingestv1.ExportResponse{AcceptedInvocations: uint64(len(req.GetInvocations()))}, nil
}

// TestSlowCollectorAfterIdleKeepsItsCall: after a long idle the first call
// goes to a collector that is alive but slower than ThawGrace to answer.
// Its connection answers the ping, so the call is left to finish: one
// call, one connection, nothing given up.
func TestSlowCollectorAfterIdleKeepsItsCall(t *testing.T) {
	t.Parallel()
	col := startDelayedCollector(t, time.Second)
	r := startRelay(t, col.addr)
	s, buf := newShipper(t, r.addr(), func(c *Config) {
		c.RPCTimeout = 30 * time.Second
		c.ThawGrace = 100 * time.Millisecond // a tenth of the answer's time
	})
	addWork(buf, "req-1")
	if err := s.Flush(t.Context()); err != nil {
		t.Fatalf("first Flush: %v", err)
	}
	waitStarted := time.Now()
	time.Sleep(idleLonger)
	s.Resumed(waitStarted)
	addWork(buf, "req-2")
	if err := s.Flush(t.Context()); err != nil {
		t.Fatalf("Flush after idling: %v", err)
	}
	if n, conns, st := col.calls.Load(), r.connections(), s.ConnStats(); n != 2 || conns != 1 || st != (ConnStats{Connections: 1}) {
		t.Errorf("%d calls, %d connections, stats %+v; want 2, 1 and nothing given up", n, conns, st)
	}
}

// TestBusyFunctionNeverSuspected: back-to-back invocations wait on
// /event/next only briefly and their connection reads an answer every
// time; a collector slower than ThawGrace is left to answer each call on
// the one connection.
func TestBusyFunctionNeverSuspected(t *testing.T) {
	col := startDelayedCollector(t, 150*time.Millisecond)
	r := startRelay(t, col.addr)
	s, buf := newShipper(t, r.addr(), func(c *Config) {
		c.RPCTimeout = 30 * time.Second
		c.ThawGrace = 10 * time.Millisecond
		c.LongWait = time.Second
	})
	for i := range 5 {
		waitStarted := time.Now()
		time.Sleep(20 * time.Millisecond) // the short wait on /event/next
		s.Resumed(waitStarted)
		addWork(buf, "req")
		if err := s.Flush(t.Context()); err != nil {
			t.Fatalf("Flush %d: %v", i, err)
		}
	}
	if n, conns, st := col.calls.Load(), r.connections(), s.ConnStats(); n != 5 || conns != 1 || st != (ConnStats{Connections: 1}) || s.Reconnects() != 0 {
		t.Errorf("%d calls, %d connections, stats %+v; want 5, 1 and nothing given up", n, conns, st)
	}
}
