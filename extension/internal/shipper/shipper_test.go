package shipper

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/collectortest"
	"github.com/lambdascope/lambdascope/extension/internal/spool"
	"github.com/lambdascope/lambdascope/proto/ingestv1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var identity = &ingestv1.FunctionIdentity{AccountId: "123456789012", Region: "eu-west-1", Name: "checkout", Architecture: "arm64"}

func newShipper(t *testing.T, endpoint string, mutate func(*Config)) (*Shipper, *buffer.Buffer) {
	t.Helper()
	buf := buffer.New(1<<20, 1<<20, nil)
	cfg := DefaultConfig()
	cfg.Endpoint = endpoint
	cfg.APIKey = "k3y"
	cfg.Identity = identity
	cfg.MinBackoff = time.Millisecond
	cfg.MaxBackoff = 5 * time.Millisecond
	cfg.Interval = 0
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg, buf, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s, buf
}

func addWork(buf *buffer.Buffer, requestID string) {
	buf.AddInvocation(&ingestv1.Invocation{RequestId: requestID, DurationMs: 12.5})
	buf.AddSpans([]*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{
		{Name: "handler", TraceId: bytes.Repeat([]byte{7}, 16), SpanId: bytes.Repeat([]byte{8}, 8)},
	}}}}})
}

func TestFlushStatusHandling(t *testing.T) {
	tests := []struct {
		name        string
		script      []codes.Code
		wantErr     error
		wantCalls   int
		wantSent    buffer.Counts
		wantDropped buffer.Counts
	}{
		{"accepted", nil, nil, 1, buffer.Counts{buffer.Invocations: 1, buffer.Spans: 1}, buffer.Counts{}},
		{"retried on unavailable with the same batch", []codes.Code{codes.Unavailable, codes.ResourceExhausted, codes.Unavailable}, nil, 4,
			buffer.Counts{buffer.Invocations: 1, buffer.Spans: 1}, buffer.Counts{}},
		{"dropped on invalid argument", []codes.Code{codes.InvalidArgument}, nil, 1, buffer.Counts{}, buffer.Counts{buffer.Invocations: 1, buffer.Spans: 1}},
		{"stopped on unauthenticated", []codes.Code{codes.Unauthenticated}, ErrStopped, 1, buffer.Counts{}, buffer.Counts{buffer.Invocations: 1, buffer.Spans: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := collectortest.Start(t)
			srv.Script(tt.script...)
			s, buf := newShipper(t, srv.Addr, nil)
			addWork(buf, "req-1")
			err := s.Flush(t.Context())
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Flush = %v, want %v", err, tt.wantErr)
			}
			calls := srv.Calls()
			if len(calls) != tt.wantCalls {
				t.Fatalf("%d calls, want %d", len(calls), tt.wantCalls)
			}
			for i, c := range calls {
				if !bytes.Equal(c.Request.GetBatchId(), calls[0].Request.GetBatchId()) || len(c.Request.GetBatchId()) != 16 {
					t.Errorf("call %d batch id %x, first %x", i, c.Request.GetBatchId(), calls[0].Request.GetBatchId())
				}
				if c.Compression != "zstd" {
					t.Errorf("call %d compression %q, want zstd", i, c.Compression)
				}
				if got := c.Metadata.Get("authorization"); len(got) != 1 || got[0] != "Bearer k3y" {
					t.Errorf("call %d authorization %q", i, got)
				}
				if c.Request.GetSentTimeUnixNano() != calls[0].Request.GetSentTimeUnixNano() {
					t.Errorf("call %d sent time %d, first %d: a retry must carry the same request", i, c.Request.GetSentTimeUnixNano(), calls[0].Request.GetSentTimeUnixNano())
				}
				if c.Request.GetFunction().GetName() != "checkout" || c.Request.GetSentTimeUnixNano() == 0 {
					t.Errorf("call %d identity/sent time missing: %v", i, c.Request.GetFunction())
				}
				if len(c.Request.GetInvocations()) != 1 || len(c.Request.GetResourceSpans()) != 1 {
					t.Errorf("call %d carries %d invocations, %d resource spans", i, len(c.Request.GetInvocations()), len(c.Request.GetResourceSpans()))
				}
			}
			st := buf.Stats()
			if st.Sent != tt.wantSent || st.Dropped != tt.wantDropped {
				t.Errorf("sent %v dropped %v, want %v and %v", st.Sent, st.Dropped, tt.wantSent, tt.wantDropped)
			}
			// What the collector refused is told apart from what the
			// extension dropped for reasons of its own.
			wantRefused := buffer.Counts{}
			if len(tt.script) > 0 && tt.script[0] == codes.InvalidArgument {
				wantRefused = tt.wantDropped
			}
			if st.Refused != wantRefused {
				t.Errorf("refused %v, want %v", st.Refused, wantRefused)
			}
		})
	}
}

func TestStoppedShipperDropsLaterData(t *testing.T) {
	srv := collectortest.Start(t)
	srv.Script(codes.Unauthenticated)
	s, buf := newShipper(t, srv.Addr, nil)
	addWork(buf, "req-1")
	if err := s.Flush(t.Context()); !errors.Is(err, ErrStopped) {
		t.Fatalf("Flush = %v", err)
	}
	addWork(buf, "req-2")
	if err := s.Flush(t.Context()); !errors.Is(err, ErrStopped) {
		t.Fatalf("second Flush = %v", err)
	}
	if n := len(srv.Calls()); n != 1 {
		t.Errorf("%d calls after stop, want 1", n)
	}
	if st := buf.Stats(); st.Dropped[buffer.Invocations] != 2 || st.Buffered != (buffer.Counts{}) {
		t.Errorf("stats after stop = %+v", st)
	}
}

func TestBatchKeptAcrossFlushes(t *testing.T) {
	srv := collectortest.Start(t)
	// Enough failures that the first flush runs out of time.
	fails := make([]codes.Code, 1000)
	for i := range fails {
		fails[i] = codes.Unavailable
	}
	srv.Script(fails...)
	s, buf := newShipper(t, srv.Addr, func(c *Config) {
		c.MinBackoff, c.MaxBackoff = 5*time.Millisecond, 5*time.Millisecond
		c.MaxAttempts = 0
	})
	addWork(buf, "req-1")
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := s.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush = %v, want deadline exceeded", err)
	}
	if p := s.Pending(); p[buffer.Invocations] != 1 {
		t.Fatalf("pending = %v, want the batch kept", p)
	}
	srv.ClearScript()
	if err := s.Flush(t.Context()); err != nil {
		t.Fatalf("Flush after recovery: %v", err)
	}
	acc := srv.Accepted()
	if len(acc) != 1 || !bytes.Equal(acc[0].GetBatchId(), srv.Calls()[0].Request.GetBatchId()) {
		t.Errorf("recovered batch id differs from the first attempt")
	}
	if st := buf.Stats(); st.Sent[buffer.Invocations] != 1 {
		t.Errorf("sent = %v", st.Sent)
	}
}

func TestDisabledCountsDrops(t *testing.T) {
	s, buf := newShipper(t, "", nil)
	addWork(buf, "req-1")
	if err := s.Flush(t.Context()); !errors.Is(err, ErrDisabled) {
		t.Fatalf("Flush = %v, want ErrDisabled", err)
	}
	if st := buf.Stats(); st.Dropped != (buffer.Counts{buffer.Invocations: 1, buffer.Spans: 1}) || st.Bytes != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestBackgroundLoopShipsOnKick(t *testing.T) {
	srv := collectortest.Start(t)
	s, buf := newShipper(t, srv.Addr, nil)
	if err := s.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	addWork(buf, "req-1")
	s.Kick()
	select {
	case <-srv.Called():
	case <-time.After(10 * time.Second):
		t.Fatal("no export after Kick")
	}
	if got := srv.Accepted(); len(got) != 1 || got[0].GetInvocations()[0].GetRequestId() != "req-1" {
		t.Errorf("accepted %v", got)
	}
}

func unavailable(n int) []codes.Code {
	c := make([]codes.Code, n)
	for i := range c {
		c[i] = codes.Unavailable
	}
	return c
}

func openSpool(t *testing.T, dir string) *spool.Spool {
	t.Helper()
	sp, err := spool.Open(spool.Config{Dir: dir, MaxBytes: 1 << 20}, nil)
	if err != nil {
		t.Fatalf("open spool: %v", err)
	}
	t.Cleanup(func() { _ = sp.Close() })
	return sp
}

func TestRetryBudgetSpoolsAndReplaysWithSameID(t *testing.T) {
	srv := collectortest.Start(t)
	srv.Script(unavailable(3)...)
	sp := openSpool(t, t.TempDir())
	s, buf := newShipper(t, srv.Addr, func(c *Config) { c.MaxAttempts, c.Spool = 3, sp })
	addWork(buf, "req-1")
	if err := s.Flush(t.Context()); !errors.Is(err, ErrSpooled) {
		t.Fatalf("Flush = %v, want ErrSpooled", err)
	}
	firstID := srv.Calls()[0].Request.GetBatchId()
	if st := sp.Stats(); st.Files != 1 || st.Spooled[buffer.Invocations] != 1 {
		t.Fatalf("spool stats = %+v, want one batch", st)
	}
	if p := s.Pending(); !p.IsZero() {
		t.Errorf("pending = %v, want nothing (the batch is on disk)", p)
	}
	addWork(buf, "req-2")
	if err := s.Flush(t.Context()); err != nil {
		t.Fatalf("Flush after recovery: %v", err)
	}
	acc := srv.Accepted()
	if len(acc) != 2 {
		t.Fatalf("%d batches accepted, want 2", len(acc))
	}
	if !bytes.Equal(acc[0].GetBatchId(), firstID) || acc[0].GetInvocations()[0].GetRequestId() != "req-1" {
		t.Errorf("first accepted batch = %x %v, want the spooled one with id %x", acc[0].GetBatchId(), acc[0].GetInvocations(), firstID)
	}
	if acc[1].GetInvocations()[0].GetRequestId() != "req-2" {
		t.Errorf("second accepted batch = %v, want req-2", acc[1].GetInvocations())
	}
	if st := sp.Stats(); st.Files != 0 || st.Replayed[buffer.Invocations] != 1 {
		t.Errorf("spool stats after replay = %+v", st)
	}
}

func TestSpooledBatchesReplayedOnStart(t *testing.T) {
	dir := t.TempDir()
	sp := openSpool(t, dir)
	req := &ingestv1.ExportRequest{BatchId: bytes.Repeat([]byte{5}, 16), Invocations: []*ingestv1.Invocation{{RequestId: "old"}}}
	if err := sp.Put(req, buffer.Counts{buffer.Invocations: 1}); err != nil {
		t.Fatal(err)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	srv := collectortest.Start(t)
	s, _ := newShipper(t, srv.Addr, func(c *Config) { c.Spool = openSpool(t, dir) })
	if err := s.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	select {
	case <-srv.Called():
	case <-time.After(10 * time.Second):
		t.Fatal("spooled batch not replayed on start")
	}
	if got := srv.Accepted(); len(got) != 1 || !bytes.Equal(got[0].GetBatchId(), req.GetBatchId()) {
		t.Errorf("accepted %v, want the spooled batch with its id", got)
	}
}

func TestSpoolRemaining(t *testing.T) {
	tests := []struct {
		name        string
		spool       bool
		wantSpooled uint64
		wantDropped uint64
	}{
		{"with spool", true, 2, 0},
		{"without spool", false, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := collectortest.Start(t)
			srv.Script(unavailable(1000)...)
			var sp *spool.Spool
			if tt.spool {
				sp = openSpool(t, t.TempDir())
			}
			s, buf := newShipper(t, srv.Addr, func(c *Config) { c.MaxAttempts, c.Spool = 0, sp })
			addWork(buf, "req-1")
			// The flush gives up once the collector has refused the batch
			// at least once.
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			flushed := make(chan error, 1)
			go func() { flushed <- s.Flush(ctx) }()
			select {
			case <-srv.Called():
			case <-time.After(10 * time.Second):
				t.Fatal("no call reached the collector")
			}
			cancel()
			if err := <-flushed; err == nil {
				t.Fatal("Flush succeeded against a failing collector")
			}
			addWork(buf, "req-2") // still buffered
			spooled, dropped, err := s.SpoolRemaining(t.Context())
			if err != nil {
				t.Fatalf("SpoolRemaining: %v", err)
			}
			if spooled[buffer.Invocations] != tt.wantSpooled || dropped[buffer.Invocations] != tt.wantDropped {
				t.Errorf("spooled %v dropped %v, want %d and %d invocations", spooled, dropped, tt.wantSpooled, tt.wantDropped)
			}
			if !s.Pending().IsZero() || buf.Bytes() != 0 {
				t.Errorf("pending %v, buffered %d bytes after SpoolRemaining", s.Pending(), buf.Bytes())
			}
			if sp != nil {
				e, ok := sp.Oldest()
				if !ok || !bytes.Equal(e.Request.GetBatchId(), srv.Calls()[0].Request.GetBatchId()) {
					t.Errorf("oldest spooled batch does not keep the id of the batch being retried")
				}
			}
		})
	}
}

func TestFullBufferSpillsOldestToSpool(t *testing.T) {
	sp := openSpool(t, t.TempDir())
	buf := buffer.New(300, 300, nil)
	cfg := DefaultConfig()
	cfg.Endpoint, cfg.Spool = "127.0.0.1:1", sp
	s, err := New(cfg, buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	for i := range 20 {
		if !buf.AddInvocation(&ingestv1.Invocation{RequestId: "request-" + string(rune('a'+i)), DurationMs: 1}) {
			t.Fatalf("invocation %d dropped instead of spilled", i)
		}
	}
	st := buf.Stats()
	spooled := sp.Stats().Spooled[buffer.Invocations]
	if st.Dropped[buffer.Invocations] != 0 || spooled == 0 || spooled+st.Buffered[buffer.Invocations] != 20 {
		t.Errorf("buffer %+v, spooled %d: want nothing dropped and 20 kept in all", st, spooled)
	}
	e, _ := sp.Oldest()
	if got := e.Request.GetInvocations()[0].GetRequestId(); got != "request-a" {
		t.Errorf("oldest spooled = %q, want request-a", got)
	}
}

// blackHole accepts connections and never answers, like a connection that
// died while the environment was frozen.
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

func TestTimedOutCallReconnectsAndKeepsBatchID(t *testing.T) {
	s, buf := newShipper(t, blackHole(t), func(c *Config) {
		c.RPCTimeout = 50 * time.Millisecond
		c.MaxAttempts = 2
	})
	addWork(buf, "req-1")
	err := s.Flush(t.Context())
	if !errors.Is(err, errBudget) {
		t.Fatalf("Flush = %v, want the retry budget spent", err)
	}
	if got := s.Reconnects(); got != 2 {
		t.Errorf("reconnects = %d, want one per timed-out call (2)", got)
	}
	s.mu.Lock()
	p := s.pending
	s.mu.Unlock()
	if p == nil || len(p.id) != 16 || p.Counts[buffer.Invocations] != 1 {
		t.Fatalf("pending batch = %+v, want it kept in memory with its id", p)
	}
	id := p.id
	// The collector is reachable again (as after a thaw): same batch, same id.
	srv := collectortest.Start(t)
	s.cfg.Endpoint = srv.Addr
	s.reconnect()
	if err := s.Flush(t.Context()); err != nil {
		t.Fatalf("Flush after thaw: %v", err)
	}
	if acc := srv.Accepted(); len(acc) != 1 || !bytes.Equal(acc[0].GetBatchId(), id) {
		t.Errorf("accepted %v, want the kept batch with id %x", acc, id)
	}
}
