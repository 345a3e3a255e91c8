package chtest

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy is a TCP proxy that tests put between a client and ClickHouse to
// break the connection the ways networks do, without touching either
// side:
//
//   - Cut closes every connection and refuses new ones until Resume;
//   - DropAll closes the connections open now, as a server closing idle
//     connections would, and keeps accepting;
//   - CutAfter closes each connection once its client has sent a number
//     of bytes more, so that a request is cut inside or before its data;
//   - MuteAfter passes everything the clients send but stops passing the
//     server's answers once they have sent a number of bytes more, so that
//     an insert reaches ClickHouse and its acknowledgement is lost.
type Proxy struct {
	lis net.Listener
	wg  sync.WaitGroup

	mu     sync.Mutex
	target string
	down   bool
	conns  map[net.Conn]struct{}

	cutAfter  atomic.Int64 // 0: connections are never cut
	muteAfter atomic.Int64 // < 0: answers are never muted
	sent      atomic.Int64 // client bytes since MuteAfter
}

// NewProxy starts a proxy to target (host:port) on a free loopback port;
// it stops at the end of the test.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("start proxy: %v", err)
	}
	p := &Proxy{lis: lis, target: target, conns: map[net.Conn]struct{}{}}
	p.muteAfter.Store(-1)
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		_ = lis.Close()
		p.DropAll()
		p.wg.Wait()
	})
	return p
}

// Addr is the proxy's address (host:port).
func (p *Proxy) Addr() string { return p.lis.Addr().String() }

// Cut closes every connection and refuses new ones until Resume.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
	p.DropAll()
}

// Resume accepts connections again and forwards them to target ("" keeps
// the current one).
func (p *Proxy) Resume(target string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
	if target != "" {
		p.target = target
	}
}

// DropAll closes every connection open through the proxy.
func (p *Proxy) DropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
}

// CutAfter makes the proxy close each connection once its client has
// sent n more bytes (the first n are passed); 0 stops cutting.
func (p *Proxy) CutAfter(n int64) { p.cutAfter.Store(n) }

// MuteAfter makes the proxy stop passing the server's answers once the
// clients have sent n more bytes in all; a negative n stops muting.
func (p *Proxy) MuteAfter(n int64) {
	p.sent.Store(0)
	p.muteAfter.Store(n)
}

func (p *Proxy) accept() {
	for {
		c, err := p.lis.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down, target := p.down, p.target
		p.mu.Unlock()
		if down {
			_ = c.Close()
			continue
		}
		up, err := net.Dial("tcp", target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		closeBoth := func() {
			_ = c.Close()
			_ = up.Close()
			p.mu.Lock()
			delete(p.conns, c)
			delete(p.conns, up)
			p.mu.Unlock()
		}
		p.wg.Go(func() {
			defer closeBoth()
			p.forwardRequests(c, up)
		})
		p.wg.Go(func() {
			defer closeBoth()
			p.forwardAnswers(up, c)
		})
	}
}

// forwardRequests copies the client's bytes to the server, counting them
// for CutAfter and MuteAfter.
func (p *Proxy) forwardRequests(client, server net.Conn) {
	buf := make([]byte, 32<<10)
	var counted int64 // bytes of this connection while CutAfter was set
	for {
		n, err := client.Read(buf)
		if limit := p.cutAfter.Load(); limit > 0 && n > 0 {
			if counted+int64(n) > limit {
				_, _ = server.Write(buf[:limit-counted])
				return
			}
			counted += int64(n)
		}
		if n > 0 {
			if p.muteAfter.Load() >= 0 {
				p.sent.Add(int64(n))
			}
			if _, werr := server.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// forwardAnswers copies the server's bytes to the client unless muted.
func (p *Proxy) forwardAnswers(server, client net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			if mute := p.muteAfter.Load(); mute < 0 || p.sent.Load() <= mute {
				if _, werr := client.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}
