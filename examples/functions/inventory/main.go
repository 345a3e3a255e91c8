// Command inventory is a sample Lambda function (custom-runtime bootstrap)
// that reserves stock for an order. The orders function invokes it directly
// (the Lambda Invoke API, no API Gateway in between) with the reservation as
// the event and the W3C trace context beside it; it answers with the
// reservation made, and fails with a real error when the event asks it to.
package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/lambdascope/lambdascope/examples/functions/internal/otelfaas"
)

// reservation is the event: a direct invocation's, the caller's trace
// context in traceparent and tracestate.
type reservation struct {
	SKU           string `json:"sku"`
	Qty           int    `json:"qty"`
	FailInventory bool   `json:"fail_inventory"`
	Traceparent   string `json:"traceparent"`
	Tracestate    string `json:"tracestate"`
}

// reserved is the answer.
type reserved struct {
	SKU       string `json:"sku"`
	Reserved  int    `json:"reserved"`
	Remaining int    `json:"remaining"`
}

type function struct {
	otel *otelfaas.Provider
}

func (f *function) handle(ctx context.Context, r reservation) (_ reserved, err error) {
	defer f.otel.Flush(ctx)
	// A direct invocation: OpenTelemetry's faas.trigger "other".
	ctx, span := f.otel.StartInvocation(ctx, map[string]string{"traceparent": r.Traceparent, "tracestate": r.Tracestate}, "other")
	defer func() {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()
	if r.SKU == "" {
		return reserved{}, fmt.Errorf("invalid reservation: no sku")
	}
	left, err := f.reserve(ctx, r)
	fmt.Printf("inventory: sku=%s qty=%d ok=%t trace_id=%s\n", r.SKU, r.Qty, err == nil, span.SpanContext().TraceID())
	if err != nil {
		return reserved{}, err
	}
	return reserved{SKU: r.SKU, Reserved: r.Qty, Remaining: left}, nil
}

// reserve pretends to take stock from a warehouse table.
func (f *function) reserve(ctx context.Context, r reservation) (int, error) {
	_, span := f.otel.Tracer().Start(ctx, "reserve stock", trace.WithAttributes(
		attribute.String("inventory.sku", r.SKU),
		attribute.Int("inventory.qty", r.Qty),
	))
	defer span.End()
	if r.FailInventory || r.Qty <= 0 {
		err := fmt.Errorf("reserve %d of %s: insufficient stock", r.Qty, r.SKU)
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return 0, err
	}
	return 100 - r.Qty, nil
}

func main() {
	p, err := otelfaas.New(context.Background(), "inventory")
	if err != nil {
		log.Printf("tracing disabled: %v", err)
		os.Exit(1)
	}
	f := &function{otel: p}
	lambda.Start(f.handle)
}
