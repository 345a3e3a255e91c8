package shipper

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"

	"github.com/lambdascope/lambdascope/extension/internal/buffer"
	"github.com/lambdascope/lambdascope/extension/internal/collectortest"
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
	s, buf := newShipper(t, srv.Addr, func(c *Config) { c.MinBackoff, c.MaxBackoff = 5*time.Millisecond, 5*time.Millisecond })
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
