package shipper

import (
	"bytes"
	"context"
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

// TestCallAfterWaitNotAbandoned: a call that started after the wait began
// is left alone.
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

// TestCallOnReplacedConnectionRetried: a call still on a connection the
// shipper replaced (after another call outlived a freeze) ends with
// "the client connection is closing". That is this side's doing, not the
// collector's answer: the batch is sent again on the new connection, not
// dropped.
func TestCallOnReplacedConnectionRetried(t *testing.T) {
	srv := collectortest.Start(t)
	srv.Hang(1)
	s, buf := newShipper(t, srv.Addr, func(c *Config) { c.RPCTimeout = time.Minute })
	addWork(buf, "req-1")
	flushed := make(chan error, 1)
	go func() { flushed <- s.Flush(t.Context()) }()
	select {
	case <-srv.Called():
	case <-time.After(10 * time.Second):
		t.Fatal("no call reached the collector")
	}
	s.reconnect()
	select {
	case err := <-flushed:
		if err != nil {
			t.Fatalf("Flush: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the call on the closed connection was not retried")
	}
	if got := len(srv.Accepted()); got != 1 {
		t.Errorf("%d batches accepted, want the retry", got)
	}
	st := buf.Stats()
	if !st.Dropped.IsZero() || st.Sent != (buffer.Counts{buffer.Invocations: 1, buffer.Spans: 1}) {
		t.Errorf("sent %v, dropped %v; want everything sent, nothing dropped", st.Sent, st.Dropped)
	}
}
