// Package otelfaas instruments the sample Lambda functions with the
// OpenTelemetry SDK: a tracer provider exporting OTLP/HTTP to the endpoint in
// OTEL_EXPORTER_OTLP_ENDPOINT, and a SERVER span per invocation carrying the
// FaaS semantic-convention attributes.
package otelfaas

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Provider owns the function's tracer provider.
type Provider struct {
	tp       *sdktrace.TracerProvider
	tracer   trace.Tracer
	coldDone atomic.Bool
}

// ServiceName is OTEL_SERVICE_NAME when set, otherwise the function name.
func ServiceName() string {
	if s := os.Getenv("OTEL_SERVICE_NAME"); s != "" {
		return s
	}
	return os.Getenv("AWS_LAMBDA_FUNCTION_NAME")
}

// New builds the tracer provider and installs it and the W3C propagators
// globally.
func New(ctx context.Context, scope string) (*Provider, error) {
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("create OTLP/HTTP exporter: %w", err)
	}
	attrs := []attribute.KeyValue{
		attribute.String("service.name", ServiceName()),
		attribute.String("cloud.provider", "aws"),
		attribute.String("cloud.platform", "aws_lambda"),
		attribute.String("cloud.region", os.Getenv("AWS_REGION")),
		attribute.String("faas.name", os.Getenv("AWS_LAMBDA_FUNCTION_NAME")),
		attribute.String("faas.version", os.Getenv("AWS_LAMBDA_FUNCTION_VERSION")),
		attribute.String("faas.instance", os.Getenv("AWS_LAMBDA_LOG_STREAM_NAME")),
		attribute.StringSlice("aws.log.group.names", []string{os.Getenv("AWS_LAMBDA_LOG_GROUP_NAME")}),
	}
	if mb, err := strconv.Atoi(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")); err == nil {
		attrs = append(attrs, attribute.Int64("faas.max_memory", int64(mb)*1024*1024))
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attrs...))
	if err != nil {
		return nil, fmt.Errorf("build resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return &Provider{tp: tp, tracer: tp.Tracer(scope)}, nil
}

// Tracer returns the function's tracer.
func (p *Provider) Tracer() trace.Tracer { return p.tracer }

// StartInvocation extracts the trace context from headers (traceparent) and
// starts the invocation's SERVER span.
func (p *Provider) StartInvocation(ctx context.Context, headers map[string]string, trigger string, extra ...attribute.KeyValue) (context.Context, trace.Span) {
	carrier := propagation.MapCarrier{}
	for k, v := range headers {
		carrier[strings.ToLower(k)] = v
	}
	ctx = otel.GetTextMapPropagator().Extract(ctx, carrier)
	attrs := []attribute.KeyValue{
		attribute.String("faas.trigger", trigger),
		attribute.Bool("faas.coldstart", !p.coldDone.Swap(true)),
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		attrs = append(attrs,
			attribute.String("faas.invocation_id", lc.AwsRequestID),
			attribute.String("cloud.resource_id", lc.InvokedFunctionArn),
		)
		if parts := strings.Split(lc.InvokedFunctionArn, ":"); len(parts) > 4 {
			attrs = append(attrs, attribute.String("cloud.account.id", parts[4]))
		}
	}
	attrs = append(attrs, extra...)
	return p.tracer.Start(ctx, os.Getenv("AWS_LAMBDA_FUNCTION_NAME"),
		trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
}

// Inject writes the current trace context into headers.
func Inject(ctx context.Context, headers map[string]string) {
	otel.GetTextMapPropagator().Inject(ctx, propagation.MapCarrier(headers))
}

// Flush exports every finished span before the invocation returns, so spans
// reach the extension while the environment is awake.
func (p *Provider) Flush(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := p.tp.ForceFlush(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "flush spans:", err)
	}
}
