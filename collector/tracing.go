package collector

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// setupTracing gives the pipeline a tracer: a no-op one unless tracing is
// enabled, then an OTel SDK provider exporting over OTLP/HTTP. It returns
// the provider's shutdown, or nil.
func setupTracing(ctx context.Context, cfg TracingConfig, p *pipeline) (func(context.Context) error, error) {
	if !cfg.Enabled {
		p.tracer = noop.NewTracerProvider().Tracer("")
		return nil, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(cfg.Endpoint))
	if err != nil {
		return nil, fmt.Errorf("set up tracing exporter: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
		sdktrace.WithResource(sdkresource.NewSchemaless(attribute.String("service.name", "lambdascope-collector"))),
	)
	p.tracer = tp.Tracer("github.com/lambdascope/lambdascope/collector")
	return tp.Shutdown, nil
}

// startSpan is a small helper so call sites stay one line.
func (p *pipeline) startSpan(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return p.tracer.Start(ctx, name, trace.WithAttributes(attrs...))
}
