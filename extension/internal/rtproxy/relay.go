package rtproxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// headTimeout bounds the reading of a request's head once its first byte
// came (an idle connection, a runtime frozen between invocations, has no
// bound).
var headTimeout = 10 * time.Second

// continueWait is how long a request announcing Expect: 100-continue
// waits for the platform's interim answer before its body is sent anyway.
const continueWait = time.Second

// bufSize is the size of each connection's read and write buffers: a
// small call's head and body cross in one system call; a larger body is
// read and written around them, through a relay buffer (see relayBufs).
const bufSize = 16 << 10

// maxIdleUpstream is how many connections to the platform are kept open
// between calls (Managed Instances make calls concurrently).
const maxIdleUpstream = 64

// runtimeConn is a connection from the runtime. Its calls are relayed one
// after the other, on the goroutine that reads it.
type runtimeConn struct {
	p  *Proxy
	nc net.Conn
	br *bufio.Reader
	bw *writeBuf
	// tr reads what came without waiting (nil: the connection cannot).
	tr tryReader
	// head and line are reused buffers for heads and chunk lines.
	head, line []byte
	// strs makes the strings of the heads read and relayed.
	strs strArena

	mu sync.Mutex
	// active says a call is being relayed; closed that Shutdown closed
	// the connection; up is the platform's connection of the call.
	active, closed bool
	up             *upstreamConn
	// unread says the runtime may still be sending a body that was not
	// read (it was answered before): see linger.
	unread bool
	// reset says the connection is to be closed abortively (RST), as the
	// platform closed the call's.
	reset bool
}

// lingerWait bounds how long a connection whose runtime may still send a
// body is read and dropped before it is closed.
const lingerWait = 500 * time.Millisecond

// linger ends a connection whose runtime may still be sending a body it
// was answered before: closed at once, the connection would be reset and
// the runtime could lose the answer. Its sending side is closed, and
// what the runtime sends is read and dropped, within lingerWait (as
// net/http's server does).
func (c *runtimeConn) linger() {
	tc, ok := c.nc.(*net.TCPConn)
	if !ok || tc.CloseWrite() != nil {
		return
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(lingerWait))
	_, _ = io.Copy(io.Discard, c.br)
}

// upstreamConn is a connection to the real Runtime API.
type upstreamConn struct {
	nc net.Conn
	br *bufio.Reader
	bw *writeBuf
	tr tryReader
	// hb is a reused buffer for answer heads.
	hb     []byte
	reused bool
	// pk looks whether the platform closed the connection, or answered
	// early.
	pk *peeker
}

var upstreamDialer = &net.Dialer{Timeout: 2 * time.Second, KeepAlive: -1}

// getUpstream takes a kept connection to the platform, or opens one.
// When look, a kept one is first looked at (one system call): one the
// platform closed while it was kept is not used. A call without a body
// does without the look: on such a connection it is made again on a new
// one (see relayCall), as net/http does.
func (p *Proxy) getUpstream(look bool) (*upstreamConn, error) {
	for {
		p.idleMu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.idleMu.Unlock()
			break
		}
		u := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.idleMu.Unlock()
		if !look || u.pk.alive() {
			u.reused = true
			return u, nil
		}
		_ = u.nc.Close() // the platform closed it while it was kept
	}
	nc, err := upstreamDialer.Dial("tcp", p.upstream)
	if err != nil {
		return nil, fmt.Errorf("connect to the runtime API: %w", err)
	}
	pk := newPeeker(nc)
	rw := newRawIO(nc)
	tr, _ := rw.(tryReader)
	return &upstreamConn{nc: nc, br: bufio.NewReaderSize(rw, bufSize), bw: newWriteBuf(&upstreamWriter{nc: nc, w: rw, pk: pk}, bufSize), tr: tr, pk: pk}, nil
}

// earlyAnswerPoll is how often a write to the platform that waits (the
// platform is not reading) looks whether the platform answered already.
const earlyAnswerPoll = 10 * time.Millisecond

// errAnsweredEarly says the platform answered before it took the whole
// body (a refusal): the rest is not sent.
var errAnsweredEarly = errors.New("the runtime API answered before it read the whole body")

// errNoAnswer says the platform closed the connection without a byte of
// answer.
var errNoAnswer = errors.New("the connection was closed before any answer")

// upstreamWriter writes to the platform, giving up on the rest of a body
// the platform answered before reading (as it may refuse one over its
// limit), as net/http's client does: the runtime gets the answer at once.
// A write the socket takes whole (every call whose platform reads, so all
// of a small body and most of a large one) sets no deadline: a deadline
// is a timer of the runtime's, and one left on a kept connection fires
// once the connection is idle, waking a thread of an idle process, and is
// armed again, waking the network poller, on the next call. Only a write
// that would wait polls for an early answer, with a deadline cleared once
// it is done.
type upstreamWriter struct {
	nc net.Conn
	w  io.Writer
	pk *peeker
}

// tryWriter writes what a connection takes without waiting (rawIO).
type tryWriter interface {
	tryWrite(p []byte) (int, error)
}

func (w *upstreamWriter) Write(p []byte) (int, error) {
	total := 0
	if tw, ok := w.w.(tryWriter); ok {
		n, err := tw.tryWrite(p)
		if total = n; err != nil || total == len(p) {
			return total, err
		}
	}
	defer func() { _ = w.nc.SetWriteDeadline(time.Time{}) }()
	for {
		_ = w.nc.SetWriteDeadline(time.Now().Add(earlyAnswerPoll))
		n, err := w.w.Write(p[total:])
		total += n
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return total, err
		}
		if w.pk.isReadable() {
			return total, errAnsweredEarly
		}
	}
}

// writev writes a and then b: in one system call when the socket takes
// them whole (all but a large body the platform is slow to read), the
// rest as Write does.
func (w *upstreamWriter) writev(a, b []byte) (int, error) {
	n := 0
	if tw, ok := w.w.(interface {
		tryWritev(a, b []byte) (int, error)
	}); ok {
		var err error
		if n, err = tw.tryWritev(a, b); err != nil || n == len(a)+len(b) {
			return n, err
		}
	}
	if n < len(a) {
		m, err := w.Write(a[n:])
		if n += m; err != nil {
			return n, err
		}
		m, err = w.Write(b)
		return n + m, err
	}
	m, err := w.Write(b[n-len(a):])
	return n + m, err
}

// putUpstream keeps u for a later call.
func (p *Proxy) putUpstream(u *upstreamConn) {
	p.idleMu.Lock()
	if !p.closing.Load() && len(p.idle) < maxIdleUpstream {
		p.idle = append(p.idle, u)
		u = nil
	}
	p.idleMu.Unlock()
	if u != nil {
		_ = u.nc.Close()
	}
}

// closeIdleUpstream closes the connections kept to the platform.
func (p *Proxy) closeIdleUpstream() {
	p.idleMu.Lock()
	idle := p.idle
	p.idle = nil
	p.idleMu.Unlock()
	for _, u := range idle {
		_ = u.nc.Close()
	}
}

// serveConn relays the calls made on nc until either side closes it.
func (p *Proxy) serveConn(nc net.Conn) {
	rw := newRawIO(nc)
	tr, _ := rw.(tryReader)
	c := &runtimeConn{p: p, nc: nc, br: bufio.NewReaderSize(rw, bufSize), bw: newWriteBuf(rw, bufSize), tr: tr}
	if !p.track(c, true) {
		_ = nc.Close()
		return
	}
	defer func() {
		p.track(c, false)
		if tc, ok := nc.(*net.TCPConn); ok && c.reset {
			_ = tc.SetLinger(0)
		} else if c.unread {
			c.linger()
		}
		_ = nc.Close()
	}()
	for {
		if _, err := c.br.Peek(1); err != nil {
			return // the runtime closed the connection, or Shutdown did
		}
		if !c.setActive(true) {
			return
		}
		// A head that came whole needs no bound.
		timed := !headBuffered(c.br)
		if timed {
			_ = nc.SetReadDeadline(time.Now().Add(headTimeout))
		}
		b, err := readHead(c.br, c.head)
		c.head = b
		if err == nil && timed {
			err = nc.SetReadDeadline(time.Time{})
		}
		if err != nil {
			p.refuse(c, err)
			return
		}
		h, err := parseRequestHead(b, &c.strs)
		if err != nil {
			p.refuse(c, err)
			return
		}
		keep := p.relayCall(c, h, b)
		if !c.setActive(false) || !keep {
			return
		}
	}
}

// refuse answers a request whose head could not be read.
func (p *Proxy) refuse(c *runtimeConn, err error) {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return // the runtime left between two calls
	}
	n := p.badRequests.Add(1)
	p.log.Warn("runtime API proxy: a request could not be read; it was refused", "err", err, "total", n)
	status := "400 Bad Request"
	if errors.Is(err, errHeadTooLarge) {
		status = "431 Request Header Fields Too Large"
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return // nobody is sending
	}
	_, _ = fmt.Fprintf(c.bw, "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n%s", status, status)
	_ = c.bw.Flush()
	c.unread = true // the rest of what the runtime sent is not read
}

// badGateway answers a call the platform could not be reached for (the
// runtime then fails as it would have against the unreachable API). The
// connection is closed after it.
func (p *Proxy) badGateway(c *runtimeConn, err error) {
	n := p.upstreamErrors.Add(1)
	p.log.Warn("runtime API proxy: the runtime API could not be reached", "err", err, "total", n)
	const body = "runtime API unreachable\n"
	_, _ = fmt.Fprintf(c.bw, "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	_ = c.bw.Flush()
}

// setActive marks the connection as relaying a call or not; false says
// Shutdown closed it (or is closing the proxy, after a call).
func (c *runtimeConn) setActive(active bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active = active
	if !active {
		c.up = nil
		if c.p.closing.Load() {
			c.closed = true
			_ = c.nc.Close()
		}
	}
	return !c.closed
}

// setUpstream notes u as the call's connection to the platform; false
// says Shutdown closed the runtime's connection (u is then closed too).
func (c *runtimeConn) setUpstream(u *upstreamConn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		_ = u.nc.Close()
		return false
	}
	c.up = u
	return true
}

// isClosed says Shutdown closed the connection.
func (c *runtimeConn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// closeIf closes the connection if it is idle (or whatever it does, when
// force), and its call's connection to the platform.
func (c *runtimeConn) closeIf(force bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.active && !force {
		return
	}
	c.closed = true
	_ = c.nc.Close()
	if c.up != nil {
		_ = c.up.nc.Close()
	}
}

// runtimeSideError is a failure of the runtime's side of a call (its
// request could not be read whole): nobody is left to answer.
type runtimeSideError struct{ err error }

func (e runtimeSideError) Error() string { return "runtime side: " + e.err.Error() }
func (e runtimeSideError) Unwrap() error { return e.err }

// relayCall relays one call whose head h (bytes b) was read, and says
// whether the runtime's connection stays open for the next.
func (p *Proxy) relayCall(c *runtimeConn, h head, b []byte) bool {
	p.calls.Add(1)
	started := time.Now()
	path, _, _ := strings.Cut(h.target, "?")
	id, kind := answer(path)
	isNext := path == pathNext && h.method == "GET"
	observe := p.obs != nil
	hasBody := h.chunked || h.contentLength > 0

	var capIn *capture
	if kind != 0 && observe {
		capIn = p.getCapture(h.contentLength)
	}
	var end *End
	if capIn != nil {
		end = &End{RequestID: id, Kind: kind, Streamed: h.chunked, ErrorType: h.errorType, Started: started}
	}
	report := func() {
		if end != nil {
			end.Ended = time.Now()
			end.Size, end.Body, end.Truncated = capIn.n, capIn.buf, capIn.truncated
			p.enqueueEnd(*end, capIn)
		} else {
			p.putCapture(capIn)
		}
	}

	var u *upstreamConn
	var rh head
	var rb []byte
	for attempt := 0; ; attempt++ {
		var err error
		if u, err = p.getUpstream(hasBody || attempt > 0); err != nil {
			c.unread = hasBody
			p.badGateway(c, err)
			if end != nil {
				end.Status, end.Failed = 502, true
			}
			report()
			return false
		}
		if !c.setUpstream(u) {
			p.putCapture(capIn)
			return false // the proxy is stopping
		}
		var sent bool
		rh, rb, sent, err = p.sendRequest(c, u, h, b, capIn, end)
		if err == nil {
			break
		}
		_ = u.nc.Close()
		var rs runtimeSideError
		switch {
		case c.isClosed():
			// Shutdown ended the call (its bound ran out).
			p.log.Debug("runtime API proxy: a call was cut by the proxy's shutdown", "path", path, "err", err)
			p.putCapture(capIn)
			return false
		case errors.As(err, &rs):
			// The runtime went away mid-call: nobody is left to answer.
			p.log.Debug("runtime API proxy: the runtime left during a call", "path", path, "err", err)
			p.putCapture(capIn)
			return false
		case u.reused && !hasBody && attempt == 0 && (!sent || errors.Is(err, errNoAnswer)):
			// A kept connection the platform had closed (it took the
			// call and closed without a byte of answer): once more on a
			// new one, as net/http does for a call without a body.
			continue
		case sent && errors.Is(err, errNoAnswer):
			// The platform took the call, or the start of it, and
			// closed the connection without a byte of answer (AWS's
			// emulator does so with a trailer section it refuses): the
			// runtime's is closed the same way, reset when the
			// platform's was, as the runtime would have seen it.
			n := p.upstreamErrors.Add(1)
			p.log.Warn("runtime API proxy: the runtime API closed the connection of a call without answering; the runtime's is closed the same way",
				"path", path, "err", err, "total", n)
			c.reset = errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
			if end != nil {
				end.Failed = true
			}
			report()
			return false
		}
		c.unread = hasBody
		p.badGateway(c, fmt.Errorf("call the runtime API: %w", err))
		if end != nil {
			end.Status, end.Failed = 502, true
		}
		report()
		return false
	}
	if end != nil {
		end.Status = rh.status
	}

	// The answer, passed on as it comes.
	var capOut *capture
	var eventID string
	if isNext && observe && rh.status == 200 {
		capOut = p.getCapture(rh.contentLength)
		if eventID = rh.requestID; eventID != "" {
			// Before the runtime has the event, and so before its answer.
			p.startInvoking(eventID)
		}
	}
	ok := p.relayAnswer(c, u, h, rh, rb, capOut)
	if capOut != nil {
		ev := Event{RequestID: rh.requestID, TraceID: rh.traceID, Received: started, Body: capOut.buf, Truncated: capOut.truncated}
		if ms, ok := parseMillis(rh.deadline); ok {
			ev.Deadline = time.UnixMilli(ms)
		}
		p.enqueueInvoked(ev, capOut)
	}
	report()
	return ok && !h.close && !rh.close
}

// sendRequest writes the call's head and body to the platform and reads
// the head of its final answer (interim 1xx answers are passed on to the
// runtime). sent says bytes were written; an error of the runtime's side
// is a runtimeSideError. An answer the platform gives before it took
// the whole body (a refusal) is read all the same.
func (p *Proxy) sendRequest(c *runtimeConn, u *upstreamConn, h head, b []byte, capIn *capture, end *End) (rh head, rb []byte, sent bool, err error) {
	if _, err = u.bw.Write(b); err != nil {
		return rh, nil, false, err
	}
	var k keeper
	if capIn != nil {
		k = capIn
	}
	if h.expectContinue && (h.chunked || h.contentLength > 0) {
		if err = u.bw.Flush(); err != nil {
			return rh, nil, false, err
		}
		_ = u.nc.SetReadDeadline(time.Now().Add(continueWait))
		_, perr := u.br.Peek(1)
		_ = u.nc.SetReadDeadline(time.Time{})
		if perr == nil {
			// The platform answered before the body was sent: a 100
			// (passed on, then the body), or a refusal.
			if rh, rb, err = p.readAnswerHead(c, u, true); err != nil {
				return rh, rb, true, err
			}
			if rh.status != 100 {
				rh.close = true // the body was never sent
				c.unread = true
				return rh, rb, true, nil
			}
		} else if !errors.Is(perr, os.ErrDeadlineExceeded) {
			return rh, nil, true, perr
		}
	}
	var rerr, werr error
	switch {
	case h.chunked:
		var tr trailers
		_, rerr, werr = copyChunked(u.bw, c.br, c.tr, k, &c.line, &tr)
		if end != nil && tr.errorType != "" {
			end.ErrorType, end.ErrorBody, end.ErrorBodySize = tr.errorType, tr.errorBody, tr.errorBodySize
		}
	case h.contentLength > 0:
		_, rerr, werr = copyBody(u.bw, c.br, c.tr, h.contentLength, k)
	}
	if rerr != nil {
		return rh, nil, true, runtimeSideError{rerr}
	}
	if werr == nil {
		werr = u.bw.Flush()
	}
	if werr != nil {
		// The platform may have answered before it read the whole body
		// (a refusal) and closed: its answer is still to be read.
		_ = u.nc.SetReadDeadline(time.Now().Add(continueWait))
		rh, rb, err = p.readAnswerHead(c, u, false)
		_ = u.nc.SetReadDeadline(time.Time{})
		if errors.Is(err, errNoAnswer) {
			return rh, rb, true, fmt.Errorf("send the body: %w (%w)", werr, errNoAnswer)
		}
		if err != nil {
			return rh, rb, true, fmt.Errorf("send the body: %w", werr)
		}
		rh.close = true
		c.unread = true
		return rh, rb, true, nil
	}
	rh, rb, err = p.readAnswerHead(c, u, false)
	return rh, rb, true, err
}

// readAnswerHead reads the platform's answer head, passing interim (1xx)
// answers on to the runtime, unless stopAtContinue and it is a 100.
func (p *Proxy) readAnswerHead(c *runtimeConn, u *upstreamConn, stopAtContinue bool) (head, []byte, error) {
	for {
		b, err := readHead(u.br, u.hb)
		u.hb = b
		if err != nil {
			if len(b) == 0 && errors.Is(err, io.EOF) {
				err = errNoAnswer
			} else if len(b) == 0 && errors.Is(err, syscall.ECONNRESET) {
				err = fmt.Errorf("%w (%w)", errNoAnswer, err)
			}
			return head{}, nil, fmt.Errorf("read the answer: %w", err)
		}
		rh, err := parseResponseHead(b, &c.strs)
		if err != nil {
			return head{}, nil, fmt.Errorf("read the answer: %w", err)
		}
		if rh.status >= 200 || rh.status == 101 {
			return rh, b, nil
		}
		if _, err := c.bw.Write(b); err == nil {
			err = c.bw.Flush()
			if err != nil {
				return head{}, nil, runtimeSideError{err}
			}
		}
		if stopAtContinue && rh.status == 100 {
			return rh, b, nil
		}
	}
}

// relayAnswer passes the platform's answer (head rh, bytes rb) on to the
// runtime, its body as it comes, keeping its first bytes in capOut (when
// not nil). It says whether both connections may serve another call; the
// platform's is kept when it may.
func (p *Proxy) relayAnswer(c *runtimeConn, u *upstreamConn, h head, rh head, rb []byte, capOut *capture) bool {
	var k keeper
	if capOut != nil {
		k = capOut
	}
	ok := true
	if _, err := c.bw.Write(rb); err != nil {
		ok = false
	}
	var rerr, werr error
	switch {
	case !ok:
	case h.method == "HEAD" || rh.status < 200 || rh.status == 204 || rh.status == 304:
	case rh.chunked:
		_, rerr, werr = copyChunked(c.bw, u.br, u.tr, k, &c.line, nil)
	case rh.contentLength >= 0:
		_, rerr, werr = copyBody(c.bw, u.br, u.tr, rh.contentLength, k)
	default:
		// Until the platform closes the connection.
		_, rerr, werr = copyBody(c.bw, u.br, u.tr, -1, k)
		rh.close = true
	}
	if werr == nil && ok {
		werr = c.bw.Flush()
	}
	ok = ok && rerr == nil && werr == nil
	if rerr != nil || werr != nil {
		p.log.Debug("runtime API proxy: relaying an answer to the runtime failed", "read", rerr, "write", werr)
	}
	if ok && !rh.close && !h.close && rh.status != 101 {
		p.putUpstream(u)
	} else {
		_ = u.nc.Close()
	}
	return ok && rh.status != 101
}

// trailers are the Runtime API's trailers of a streamed answer.
type trailers struct {
	// errorBody is the first bytes of the error-body trailer's value
	// (what of it fits in maxTrailerKept), errorBodySize its length.
	errorType, errorBody string
	errorBodySize        int64
}

// spliceMin is the least of a body, left to relay beyond what the
// Observer keeps of it, that is relayed with splice(2) rather than read
// and written: below it the copies cost less than the pipe's extra
// system calls.
const spliceMin = 64 << 10

// splicedBytes counts the body bytes relayed with splice(2) (read by the
// tests, which check the path is taken).
var splicedBytes atomic.Int64

// wants is how many more bytes k (nil: none) keeps.
func wants(k keeper) int64 {
	if k == nil {
		return 0
	}
	return int64(k.wants())
}

// copyBody copies n bytes (n < 0: until src ends) of a body from src to
// dst as they come, keeping the first in k (when not nil): read straight
// into it while it has room, so keeping them costs no copy of their own;
// the rest crosses a reused relay buffer (or goes straight from one
// buffered reader to the writer). dst is flushed whenever src has nothing
// buffered, before a read that may wait: a body is never held back. When
// tr (src's connection, read without waiting; may be nil) has already
// received more, that is read first and written with what dst holds
// (the head and the body's first bytes), in one write (see writeBuf).
// It returns the bytes copied, and the error of src or of dst.
func copyBody(dst bufWriter, src *bufio.Reader, tr tryReader, n int64, k keeper) (total int64, rerr, werr error) {
	var b *[256 << 10]byte
	defer func() {
		if b != nil {
			putRelayBuf(b)
		}
	}()
	canSplice := true
	for n < 0 || total < n {
		if canSplice && n-total-wants(k) >= spliceMin && src.Buffered() == 0 {
			// A large body's rest, as it comes, without copies (but for
			// what the Observer keeps of it: a body kept whole is read
			// into the capture and written from it, which costs fewer
			// system calls than a pipe and a copy from it).
			m, rerr, werr, ok := spliceBody(dst, tr, n-total, k)
			total += m
			if rerr != nil || werr != nil {
				return total, rerr, werr
			}
			if canSplice = ok; ok {
				continue
			}
		}
		var p []byte
		if k != nil {
			p = k.room()
		}
		inRoom := len(p) > 0
		if !inRoom {
			if b == nil {
				b = getRelayBuf()
			}
			p = b[:]
		}
		if n >= 0 && int64(len(p)) > n-total {
			p = p[:n-total]
		}
		var m int
		var err error
		if src.Buffered() == 0 && dst.Buffered() > 0 {
			if tr != nil {
				m, err = tr.tryRead(p)
			}
			if m == 0 && err == nil {
				if werr = dst.Flush(); werr != nil {
					if inRoom {
						k.kept(0)
					}
					return total, nil, werr
				}
			}
		}
		if m == 0 && err == nil {
			m, err = src.Read(p)
		}
		if m > 0 {
			if _, werr = dst.Write(p[:m]); werr != nil {
				m = 0 // the Observer sees only what was passed on
			}
		}
		switch {
		case inRoom:
			k.kept(m)
		case k != nil && m > 0:
			k.write(p[:m])
		}
		total += int64(m)
		if werr != nil {
			return total, nil, werr
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if n < 0 {
					return total, nil, nil
				}
				err = io.ErrUnexpectedEOF
			}
			return total, err, nil
		}
	}
	return total, nil, nil
}

// copyChunked copies a chunked body from src to dst as it comes, each
// chunk's framing as it was sent, keeping the first bytes of its content
// in k (when not nil) and reading its trailers into trl (when not nil).
// A chunk's content is copied as copyBody does (tr, src's connection read
// without waiting, may be nil). line is a reused buffer.
func copyChunked(dst bufWriter, src *bufio.Reader, tr tryReader, k keeper, line *[]byte, trl *trailers) (total int64, rerr, werr error) {
	for {
		if src.Buffered() == 0 && dst.Buffered() > 0 {
			if werr = dst.Flush(); werr != nil {
				return total, nil, werr
			}
		}
		l, err := readLine(src, *line, maxChunkLine, errLineTooLong)
		*line = l
		if err != nil {
			return total, unexpected(err), nil
		}
		size, err := parseChunkSize(l)
		if err != nil {
			return total, err, nil
		}
		if _, werr = dst.Write(l); werr != nil {
			return total, nil, werr
		}
		if size == 0 {
			// copyTrailers returns an errSrc as it is: asserted, not
			// found with errors.As (whose target would be allocated on
			// every chunked body).
			err := copyTrailers(dst, src, line, trl)
			if es, ok := err.(errSrc); ok {
				return total, es.err, nil
			}
			return total, nil, err
		}
		if k != nil {
			k.expect(size)
		}
		n, rerr, werr := copyBody(dst, src, tr, size, k)
		total += n
		if rerr != nil || werr != nil {
			return total, rerr, werr
		}
		// The line end after the chunk, read and written without a
		// buffer of its own (which would be allocated per chunk).
		for _, want := range "\r\n" {
			c, err := src.ReadByte()
			if err != nil {
				return total, unexpected(err), nil
			}
			if c != byte(want) {
				return total, errors.New("malformed chunked body: no line end after a chunk"), nil
			}
		}
		if _, werr = dst.Write(crlfBytes); werr != nil {
			return total, nil, werr
		}
	}
}

var crlfBytes = []byte("\r\n")

// maxTrailerKept is the most of a trailer line (its name and the first
// bytes of its value) read for the Observer: the rest of a longer one is
// relayed as it comes, unread.
const maxTrailerKept = 64 << 10

// copyTrailers copies the trailer section of a chunked body, up to its
// blank line, as it comes, reading the Runtime API's error trailers into
// tr (when not nil). A trailer section is relayed whatever its size or
// form, in bounded memory: a line's first maxTrailerKept bytes are kept in
// line to be read, the rest written piece by piece; a line that is not a
// field is passed on unread. What the platform makes of it (net/http's
// server, AWS's, refuses a trailer section over its 4 KiB read buffer, or
// a malformed one, with an error answer) is its answer, relayed to the
// runtime. An error of src is an errSrc; one of dst is returned as it is.
func copyTrailers(dst bufWriter, src *bufio.Reader, line *[]byte, tr *trailers) error {
	for {
		l := (*line)[:0]
		n := 0        // the line's bytes
		eol := 0      // its line end's ("\n" or "\r\n")
		var last byte // the byte before the last piece
		for {
			if src.Buffered() == 0 && dst.Buffered() > 0 {
				if err := dst.Flush(); err != nil {
					*line = l
					return err
				}
			}
			frag, err := src.ReadSlice('\n')
			if len(frag) > 0 {
				if _, werr := dst.Write(frag); werr != nil {
					*line = l
					return werr
				}
				if room := maxTrailerKept - len(l); room > 0 {
					l = append(l, frag[:min(room, len(frag))]...)
				}
				n += len(frag)
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				last = frag[len(frag)-1]
				continue
			}
			if err != nil {
				*line = l
				return errSrc{unexpected(err)}
			}
			if eol = 1; (len(frag) > 1 && frag[len(frag)-2] == '\r') || (len(frag) == 1 && last == '\r') {
				eol = 2
			}
			break
		}
		*line = l
		if n == eol {
			return nil
		}
		if tr == nil {
			continue
		}
		body := l[:min(len(l), n-eol)]
		i := bytes.IndexByte(body, ':')
		if i < 0 {
			continue // not a field: relayed, unread
		}
		name := body[:i]
		value := bytes.TrimLeft(body[i+1:], " \t")
		rest := n - eol - len(body) // of the value, beyond what was kept
		if rest == 0 {
			value = bytes.TrimRight(value, " \t")
		}
		switch {
		case bytes.EqualFold(name, headerErrorTypeBytes):
			tr.errorType = string(value)
		case bytes.EqualFold(name, headerErrorBodyBytes):
			tr.errorBody = string(value)
			tr.errorBodySize = int64(len(value) + rest)
		}
	}
}

var (
	headerErrorTypeBytes = []byte(HeaderErrorType)
	headerErrorBodyBytes = []byte(HeaderErrorBody)
)

// errSrc marks an error of the reading side in copyTrailers.
type errSrc struct{ err error }

func (e errSrc) Error() string { return e.err.Error() }
func (e errSrc) Unwrap() error { return e.err }

// unexpected turns the end of input within a message into an error.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
