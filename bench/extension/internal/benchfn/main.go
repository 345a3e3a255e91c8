// Command benchfn is the function of the extension benchmarks: a Go
// custom-runtime bootstrap that, for an event {"spans": n}, sends one OTLP/HTTP
// protobuf export of n spans to $OTEL_EXPORTER_OTLP_ENDPOINT (the
// extension's receiver) and answers {"ok": true} (with "reply", a string of
// the event's "reply" bytes, when that is positive). With n = 0 it does nothing
// but answer, so it measures the platform and the extension alone. With
// BENCHFN_INIT_MS=n it spends n ms of CPU before it starts, as a function's
// init would. With "waitMs": n in the event it waits n ms after its export
// and writes a line before it answers, as a handler waiting on a
// downstream call and logging its result does.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	collectortracev1 "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	resourcev1 "go.opentelemetry.io/proto/otlp/resource/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

type event struct {
	Spans int `json:"spans"`
	// Reply, when positive, is the size of a string answered back (a
	// large response).
	Reply int `json:"reply"`
	// WaitMs, when positive, is how long the handler waits after its
	// export before it answers.
	WaitMs int `json:"waitMs"`
}

var client = &http.Client{Timeout: 5 * time.Second}

func handle(ctx context.Context, ev event) (map[string]any, error) {
	if ev.Spans > 0 {
		if err := export(ctx, ev.Spans); err != nil {
			return nil, err
		}
	}
	if ev.WaitMs > 0 {
		time.Sleep(time.Duration(ev.WaitMs) * time.Millisecond)
		// A line, as a handler logging its result writes: the telemetry
		// stream is not silent for the whole wait.
		fmt.Printf("waited %d ms\n", ev.WaitMs)
	}
	if ev.Reply > 0 {
		return map[string]any{"ok": true, "reply": strings.Repeat("r", ev.Reply)}, nil
	}
	return map[string]any{"ok": true}, nil
}

func export(ctx context.Context, n int) error {
	body, err := proto.Marshal(spans(n))
	if err != nil {
		return fmt.Errorf("marshal spans: %w", err)
	}
	endpoint := os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/v1/traces", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build export request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("export spans: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("export spans: status %s", resp.Status)
	}
	return nil
}

// spans builds one trace of n spans: a root and n-1 children, each with a
// few attributes, as an instrumented handler would produce.
func spans(n int) *collectortracev1.ExportTraceServiceRequest {
	traceID := make([]byte, 16)
	_, _ = rand.Read(traceID)
	now := time.Now()
	out := make([]*tracev1.Span, n)
	var rootID []byte
	for i := range out {
		id := make([]byte, 8)
		_, _ = rand.Read(id)
		s := &tracev1.Span{
			TraceId:           traceID,
			SpanId:            id,
			Name:              "db.query " + strconv.Itoa(i),
			Kind:              tracev1.Span_SPAN_KIND_CLIENT,
			StartTimeUnixNano: uint64(now.Add(time.Duration(i) * time.Microsecond).UnixNano()),
			EndTimeUnixNano:   uint64(now.Add(time.Duration(i+1) * time.Microsecond).UnixNano()),
			Attributes: []*commonv1.KeyValue{
				strAttr("db.system", "dynamodb"),
				strAttr("db.operation", "GetItem"),
				strAttr("aws.dynamodb.table_names", "orders"),
			},
		}
		if i == 0 {
			rootID = id
			s.Kind = tracev1.Span_SPAN_KIND_SERVER
		} else {
			s.ParentSpanId = rootID
		}
		out[i] = s
	}
	return &collectortracev1.ExportTraceServiceRequest{ResourceSpans: []*tracev1.ResourceSpans{{
		Resource: &resourcev1.Resource{Attributes: []*commonv1.KeyValue{
			strAttr("service.name", os.Getenv("AWS_LAMBDA_FUNCTION_NAME")),
			strAttr("cloud.provider", "aws"),
		}},
		ScopeSpans: []*tracev1.ScopeSpans{{Spans: out}},
	}}}
}

func strAttr(k, v string) *commonv1.KeyValue {
	return &commonv1.KeyValue{Key: k, Value: &commonv1.AnyValue{Value: &commonv1.AnyValue_StringValue{StringValue: v}}}
}

func main() {
	// BENCHFN_INIT_MS keeps a core busy that long before the runtime loop
	// starts, as a runtime and an SDK loading their code would.
	if ms, err := strconv.Atoi(os.Getenv("BENCHFN_INIT_MS")); err == nil && ms > 0 {
		for end := time.Now().Add(time.Duration(ms) * time.Millisecond); time.Now().Before(end); {
		}
	}
	lambda.Start(handle)
}
