package collector_test

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/lambdascope/lambdascope/proto/ingestv1"
	"github.com/lambdascope/lambdascope/storage/chtest"
)

// TestConcurrentRequestsKeepTheirOwnBytes sends many requests at once,
// each span naming its request and place in its name, an attribute and a
// resource attribute. The spans' strings are views of the request's
// bytes, held in a buffer from gRPC's pool until the request is written:
// a buffer handed to the next request too early would store one request's
// spans with another's strings.
func TestConcurrentRequestsKeepTheirOwnBytes(t *testing.T) {
	h := start(t)
	const senders, perSender, spansPerReq = 16, 8, 200
	var wg sync.WaitGroup
	errs := make(chan error, senders*perSender)
	for s := range senders {
		wg.Go(func() {
			for r := range perSender {
				req := taggedRequest(s*perSender+r, spansPerReq)
				if _, err := h.client.Export(withKey(t.Context(), apiKey), req); err != nil {
					errs <- fmt.Errorf("request %d: %w", s*perSender+r, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var total, wrong uint64
	row := chtest.Conn(t).QueryRow(t.Context(), fmt.Sprintf(`
		SELECT count(), countIf(
			name != concat('span ', attributes.value[indexOf(attributes.key, 'tag')])
			OR resource_attributes.value[indexOf(resource_attributes.key, 'request')]
				!= splitByChar('/', attributes.value[indexOf(attributes.key, 'tag')])[1])
		FROM %s.spans`, h.store.Database()))
	if err := row.Scan(&total, &wrong); err != nil {
		t.Fatalf("read spans: %v", err)
	}
	if want := uint64(senders * perSender * spansPerReq); total != want {
		t.Fatalf("%d spans stored, want %d", total, want)
	}
	if wrong != 0 {
		t.Fatalf("%d of %d spans stored with another request's strings", wrong, total)
	}
}

// taggedRequest is request n of spans spans, each tagged "n/i" in its
// name and an attribute, with n in its resource.
func taggedRequest(n, spans int) *ingestv1.ExportRequest {
	str := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	now := time.Now()
	ss := make([]*tracepb.Span, spans)
	for i := range ss {
		tag := strconv.Itoa(n) + "/" + strconv.Itoa(i)
		ss[i] = &tracepb.Span{
			TraceId:           []byte{0xc0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, byte(n >> 8), byte(n), 1},
			SpanId:            []byte{1, 2, 3, 4, byte(n >> 8), byte(n), byte(i >> 8), byte(i)},
			Name:              "span " + tag,
			StartTimeUnixNano: uint64(now.UnixNano()),
			EndTimeUnixNano:   uint64(now.Add(time.Millisecond).UnixNano()),
			Attributes:        []*commonpb.KeyValue{str("tag", tag)},
		}
	}
	id := make([]byte, 16)
	id[0], id[1], id[2] = 0xba, byte(n>>8), byte(n)
	return &ingestv1.ExportRequest{
		BatchId:  id,
		Function: &ingestv1.FunctionIdentity{Name: "orders", Region: "us-east-1", AccountId: "123456789012"},
		ResourceSpans: []*tracepb.ResourceSpans{{
			Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("request", strconv.Itoa(n))}},
			ScopeSpans: []*tracepb.ScopeSpans{{Spans: ss}},
		}},
	}
}
