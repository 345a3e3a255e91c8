package local_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/deploy/local"
	"github.com/lambdascope/lambdascope/storage"
)

// TestFreezeMidFlush freezes the environment while the extension's flush
// is in flight and kills its connection during the freeze, the way a
// connection dies while Lambda keeps an environment frozen: the
// extensions reach the collector through a proxy that first holds the
// collector's answers (so every flush is still waiting when the emulator
// stops the processes at the end of the invocation) and then, while the
// environments are frozen, silently drops every connection it carries.
// After the thaw the extensions must notice, send the same batches again
// on new connections, and every invocation record, span and function log
// line must be stored exactly once.
func TestFreezeMidFlush(t *testing.T) {
	ctx := testContext(t)
	proxy := startFreezeProxy(t)
	// orders sends nothing to the queue: the flushes held are orders' and
	// inventory's.
	stack := startStack(t, ctx, map[string]string{"LAMBDASCOPE_ENDPOINT": proxy.addr(), "ORDERS_QUEUE": ""})
	proxy.setUpstream(stack.CollectorAddr)

	// Warm environments, shipping normally.
	calls := run(t, ctx, stack, local.Workload{Invocations: 3})
	// Every flush from now on waits for an answer that does not come
	// before the environment is frozen.
	proxy.holdAnswers()
	calls = append(calls, run(t, ctx, stack, local.Workload{Invocations: 6})...)
	// The environments are frozen now (idle after the burst) with their
	// flushes in flight. On a loaded machine the collector may take a
	// while to answer them (it answers once ClickHouse has the rows): wait
	// until an answer is held here, so that the flush is known to be in
	// flight. Then their connections die.
	wctx, cancel := recordsWait(ctx)
	for proxy.heldAnswers() == 0 && wctx.Err() == nil {
		select {
		case <-wctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	before := proxy.newConnections()
	held := proxy.killConnections()
	if held == 0 {
		t.Fatal("no collector answer was held after waiting for one: no flush was in flight when the environments froze")
	}
	t.Logf("%d collector answers held back when the connections died", held)
	// Connections die in long freezes (idle timeouts); stay frozen a
	// while. This is the fault's length, not a wait for an event.
	time.Sleep(2 * time.Second)
	// Thaw and go on; then SHUTDOWN.
	calls = append(calls, run(t, ctx, stack, local.Workload{Invocations: 4})...)
	if err := stack.StopFunctions(ctx); err != nil {
		t.Fatalf("stop functions: %v", err)
	}
	for _, c := range calls {
		if c.RequestID == "" || c.FunctionError != "" || c.StatusCode != 200 {
			t.Fatalf("orders call %d: request %q, function error %q, status %d", c.Index, c.RequestID, c.FunctionError, c.StatusCode)
		}
	}
	if proxy.newConnections() == before {
		t.Error("no extension opened a new connection after its connection died")
	}

	store, err := storage.Open(ctx, stack.DSN)
	if err != nil {
		t.Fatalf("open storage: %v", err)
	}
	defer store.Close()
	reports := stack.Emulator.Reports()
	for _, fn := range local.SampleFunctions {
		assertRecordsOnce(ctx, t, store, fn, reports)
	}
	for _, c := range calls {
		assertWholeTrace(ctx, t, store, c.RequestID)
		assertLogOnce(ctx, t, store, c.RequestID, "orders: order=")
	}
}

// assertLogOnce checks that the function log line of one orders
// invocation that contains marker is stored exactly once, under that
// invocation's request ID, as a function log.
func assertLogOnce(ctx context.Context, t *testing.T, store *storage.Store, requestID, marker string) {
	t.Helper()
	// The records being stored does not mean the lines are: a batch the
	// collector was still writing when an extension gave up on it at
	// SHUTDOWN ("being written; retry later") lands a moment later. Wait
	// for the line as for the records, for recordsWait at most.
	wctx, cancel := recordsWait(ctx)
	defer cancel()
	var logs []storage.LogRecord
	for {
		var err error
		logs, err = store.Logs(ctx, storage.LogFilter{
			FunctionName: "orders",
			RequestID:    requestID,
			Since:        time.Now().Add(-time.Hour),
			Until:        time.Now().Add(time.Hour),
		})
		if err != nil {
			t.Fatalf("read logs of %s: %v", requestID, err)
		}
		if slices.ContainsFunc(logs, func(l storage.LogRecord) bool { return strings.Contains(l.Body, marker) }) {
			break
		}
		select {
		case <-wctx.Done():
		case <-time.After(200 * time.Millisecond):
			continue
		}
		break
	}
	n := 0
	for _, l := range logs {
		if strings.Contains(l.Body, marker) {
			n++
			if l.LogType != "function" {
				t.Errorf("orders %s: log line stored as log type %q, want function", requestID, l.LogType)
			}
		}
	}
	if n != 1 {
		t.Errorf("orders %s: %d function log lines containing %q stored, want 1", requestID, n, marker)
	}
}

// freezeProxy is a TCP proxy between the extensions and the collector. It
// forwards requests at once; holdAnswers makes it keep the collector's
// answers back, and killConnections makes every connection it carries die
// silently: the collector's side is closed, the extension's side stays
// open and swallows whatever is written to it, as a peer that vanished
// during a freeze would. New connections are forwarded normally.
type freezeProxy struct {
	ln net.Listener
	wg sync.WaitGroup

	mu       sync.Mutex
	cond     *sync.Cond
	upstream string
	hold     bool
	held     int
	conns    []*proxiedConn
	accepted int
	closed   bool
}

type proxiedConn struct {
	client, server net.Conn
	dead           bool
}

func startFreezeProxy(t *testing.T) *freezeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	p := &freezeProxy{ln: ln}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

func (p *freezeProxy) addr() string { return p.ln.Addr().String() }

func (p *freezeProxy) setUpstream(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.upstream = addr
}

func (p *freezeProxy) holdAnswers() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hold = true
}

// heldAnswers is how many collector answers are being held back.
func (p *freezeProxy) heldAnswers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held
}

func (p *freezeProxy) newConnections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// killConnections kills every connection carried so far, stops holding
// answers, and returns how many answers were held back.
func (p *freezeProxy) killConnections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		if !c.dead {
			c.dead = true
			_ = c.server.Close()
		}
	}
	p.hold = false
	p.cond.Broadcast()
	return p.held
}

func (p *freezeProxy) close() {
	p.mu.Lock()
	p.closed = true
	for _, c := range p.conns {
		_ = c.client.Close()
		_ = c.server.Close()
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	_ = p.ln.Close()
	p.wg.Wait()
}

func (p *freezeProxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		upstream := p.upstream
		p.mu.Unlock()
		server, err := net.DialTimeout("tcp", upstream, 5*time.Second)
		if err != nil {
			_ = client.Close()
			continue
		}
		c := &proxiedConn{client: client, server: server}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = client.Close()
			_ = server.Close()
			return
		}
		p.conns = append(p.conns, c)
		p.accepted++
		p.mu.Unlock()
		p.wg.Go(func() { p.forwardRequests(c) })
		p.wg.Go(func() { p.forwardAnswers(c) })
	}
}

// forwardRequests copies the extension's bytes to the collector until the
// connection is killed, then swallows them.
func (p *freezeProxy) forwardRequests(c *proxiedConn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := c.client.Read(buf)
		if n > 0 && !p.isDead(c) {
			if _, werr := c.server.Write(buf[:n]); werr != nil && !p.isDead(c) {
				_ = c.client.Close()
				return
			}
		}
		if err != nil {
			if !p.isDead(c) {
				_ = c.server.Close()
			}
			return
		}
	}
}

// forwardAnswers copies the collector's bytes to the extension, holding
// them back while answers are held; a killed connection's answers are
// dropped.
func (p *freezeProxy) forwardAnswers(c *proxiedConn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := c.server.Read(buf)
		if n > 0 {
			p.mu.Lock()
			counted := false
			for p.hold && !c.dead && !p.closed {
				if !counted {
					p.held++
					counted = true
				}
				p.cond.Wait()
			}
			dead := c.dead || p.closed
			p.mu.Unlock()
			if dead {
				return
			}
			if _, werr := c.client.Write(buf[:n]); werr != nil {
				_ = c.server.Close()
				return
			}
		}
		if err != nil {
			if !p.isDead(c) && !errors.Is(err, net.ErrClosed) {
				_ = c.client.Close()
			}
			return
		}
	}
}

func (p *freezeProxy) isDead(c *proxiedConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return c.dead
}
