package shipper

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/collectortest"
)

// TestCallAcrossFreezeRetriedOnNewConnection: a call in flight while the
// extension waited on /event/next never gets an answer (its connection died
// during the freeze); after the thaw grace it is abandoned and the batch is
// sent again, with the same batch ID, on a new connection.
func TestCallAcrossFreezeRetriedOnNewConnection(t *testing.T) {
	srv := collectortest.Start(t)
	srv.Hang(1)
	s, buf := newShipper(t, srv.Addr, func(c *Config) {
		c.ThawGrace = 50 * time.Millisecond
		c.LongWait = 0
		c.RPCTimeout = time.Minute // only the thaw may end the hung call
	})
	addWork(buf, "req-frozen")
	flushed := make(chan error, 1)
	go func() { flushed <- s.Flush(t.Context()) }()
	select {
	case <-srv.Called():
	case <-time.After(10 * time.Second):
		t.Fatal("no call reached the collector")
	}
	// The extension went back to /event/next, was frozen, and is resumed.
	s.Resumed(time.Now())
	select {
	case err := <-flushed:
		if err != nil {
			t.Fatalf("Flush: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the hung call was not abandoned after the thaw")
	}
	calls := srv.Calls()
	if len(calls) != 2 {
		t.Fatalf("%d calls, want the hung one and its retry", len(calls))
	}
	if !bytes.Equal(calls[0].Request.GetBatchId(), calls[1].Request.GetBatchId()) {
		t.Error("the retry has a new batch ID")
	}
	if got := len(srv.Accepted()); got != 1 {
		t.Errorf("%d batches accepted, want 1", got)
	}
	if s.Reconnects() != 1 {
		t.Errorf("%d reconnects, want 1", s.Reconnects())
	}
	if st := buf.Stats(); st.Sent != (buffer.Counts{buffer.Invocations: 1, buffer.Spans: 1}) {
		t.Errorf("sent %v", st.Sent)
	}
}

// TestCallAfterWaitNotAbandoned: a call that started after the wait ended
// (after Resumed) is left alone, however long the wait was.
func TestCallAfterWaitNotAbandoned(t *testing.T) {
	srv := collectortest.Start(t)
	s, buf := newShipper(t, srv.Addr, func(c *Config) { c.ThawGrace, c.LongWait = time.Millisecond, 0 })
	waitStarted := time.Now()
	addWork(buf, "req-1")
	s.Resumed(waitStarted)
	if err := s.Flush(t.Context()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if n := len(srv.Calls()); n != 1 || s.Reconnects() != 0 {
		t.Errorf("%d calls, %d reconnects; want 1 and 0", n, s.Reconnects())
	}
}

// TestShortWaitNotSuspected: between the back-to-back invocations of a busy
// function the extension waits on /event/next only briefly; calls in
// flight then are left alone.
func TestShortWaitNotSuspected(t *testing.T) {
	srv := collectortest.Start(t)
	srv.Hang(1)
	s, buf := newShipper(t, srv.Addr, func(c *Config) {
		c.ThawGrace = time.Millisecond
		c.LongWait = time.Hour
		c.RPCTimeout = time.Minute
	})
	addWork(buf, "req-busy")
	ctx, cancel := context.WithCancel(t.Context())
	flushed := make(chan error, 1)
	go func() { flushed <- s.Flush(ctx) }()
	select {
	case <-srv.Called():
	case <-time.After(10 * time.Second):
		t.Fatal("no call reached the collector")
	}
	s.Resumed(time.Now())
	select {
	case err := <-flushed:
		t.Fatalf("the call ended after a short wait: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	<-flushed
	if n := len(srv.Calls()); n != 1 || s.Reconnects() != 0 {
		t.Errorf("%d calls, %d reconnects; want 1 and 0", n, s.Reconnects())
	}
}

// flushAndDrainHung starts a flush whose call the collector never answers
// and, beside it, a Drain whose call it never answers either (two batches,
// req-flush and req-drain), and returns when both calls reached the
// collector, with what Flush and Drain returned once they end.
func flushAndDrainHung(t *testing.T, srv *collectortest.Server, s *Shipper, buf *buffer.Buffer) (flushed, drained chan error) {
	t.Helper()
	srv.Hang(2)
	addWork(buf, "req-flush")
	flushed, drained = make(chan error, 1), make(chan error, 1)
	go func() { flushed <- s.Flush(t.Context()) }()
	select {
	case <-srv.Called():
	case <-time.After(10 * time.Second):
		t.Fatal("the flush's call did not reach the collector")
	}
	addWork(buf, "req-drain")
	go func() { drained <- s.Drain(t.Context()) }()
	select {
	case <-srv.Called():
	case <-time.After(10 * time.Second):
		t.Fatal("the call beside the flush did not reach the collector")
	}
	return flushed, drained
}

// assertBothIn waits for Flush and Drain to end without error and checks
// that the collector took both batches and nothing was dropped.
func assertBothIn(t *testing.T, srv *collectortest.Server, buf *buffer.Buffer, flushed, drained chan error, what string) {
	t.Helper()
	for name, ch := range map[string]chan error{"Flush": flushed, "Drain": drained} {
		select {
		case err := <-ch:
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s's hung call was not retried after %s", name, what)
		}
	}
	var got []string
	for _, req := range srv.Accepted() {
		for _, inv := range req.GetInvocations() {
			got = append(got, inv.GetRequestId())
		}
	}
	slices.Sort(got)
	if want := []string{"req-drain", "req-flush"}; !slices.Equal(got, want) {
		t.Errorf("the collector took %v, want %v", got, want)
	}
	st := buf.Stats()
	if st.Sent != (buffer.Counts{buffer.Invocations: 2, buffer.Spans: 2}) || st.Dropped != (buffer.Counts{}) {
		t.Errorf("sent %v, dropped %v; want both batches sent, none dropped", st.Sent, st.Dropped)
	}
}

// TestBesideCallAcrossFreezeRetried: at an invocation's end Drain sends
// what is buffered beside a background flush still in flight. When the
// environment is frozen with both calls unanswered and their connection
// dies, both are suspected after the thaw, not only the flush's own, and
// both batches are sent again on a new connection; neither waits out its
// RPC timeout.
func TestBesideCallAcrossFreezeRetried(t *testing.T) {
	srv := collectortest.Start(t)
	s, buf := newShipper(t, srv.Addr, func(c *Config) {
		c.ThawGrace = 50 * time.Millisecond
		c.LongWait = 0
		c.RPCTimeout = time.Minute // only the thaw may end the hung calls
	})
	flushed, drained := flushAndDrainHung(t, srv, s, buf)
	s.Resumed(time.Now())
	assertBothIn(t, srv, buf, flushed, drained, "the thaw")
	if n := s.Reconnects(); n != 1 {
		t.Errorf("%d reconnects, want 1: both calls were on the same connection", n)
	}
}

// TestCallStartedDuringWaitSuspected: a call started while the extension
// waited on /event/next (a background batch sent just before the freeze)
// was in flight during the freeze as much as one started before the wait:
// after the thaw it is abandoned and retried.
func TestCallStartedDuringWaitSuspected(t *testing.T) {
	srv := collectortest.Start(t)
	srv.Hang(1)
	s, buf := newShipper(t, srv.Addr, func(c *Config) {
		c.ThawGrace = 50 * time.Millisecond
		c.LongWait = 0
		c.RPCTimeout = time.Minute
	})
	waitStarted := time.Now()
	addWork(buf, "req-during")
	flushed := make(chan error, 1)
	go func() { flushed <- s.Flush(t.Context()) }()
	select {
	case <-srv.Called():
	case <-time.After(10 * time.Second):
		t.Fatal("no call reached the collector")
	}
	s.Resumed(waitStarted)
	select {
	case err := <-flushed:
		if err != nil {
			t.Fatalf("Flush: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the call started during the wait was not abandoned after the thaw")
	}
	if n := len(srv.Accepted()); n != 1 {
		t.Errorf("%d batches accepted, want 1", n)
	}
}

// TestCallOnReplacedConnectionRetried: when one call replaces the
// connection (it outlived a freeze or ran out of time), closing the old
// connection ends the other calls on it; that is no answer of the
// collector's, so their batches are sent again on the new connection,
// not dropped.
func TestCallOnReplacedConnectionRetried(t *testing.T) {
	srv := collectortest.Start(t)
	s, buf := newShipper(t, srv.Addr, func(c *Config) { c.RPCTimeout = time.Minute })
	flushed, drained := flushAndDrainHung(t, srv, s, buf)
	s.reconnect()
	assertBothIn(t, srv, buf, flushed, drained, "their connection was replaced")
}
