// Command inventory is a sample Lambda function (custom-runtime bootstrap)
// that reserves stock for an order. It is invoked by the orders function with
// an API-Gateway-style event whose headers carry the W3C trace context, and
// fails with a real error when the request asks it to.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/lambdascope/lambdascope/examples/functions/internal/otelfaas"
)

type reservation struct {
	SKU           string `json:"sku"`
	Qty           int    `json:"qty"`
	FailInventory bool   `json:"fail_inventory"`
}

type function struct {
	otel *otelfaas.Provider
}

func (f *function) handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (resp events.APIGatewayV2HTTPResponse, err error) {
	defer f.otel.Flush(ctx)
	ctx, span := f.otel.StartInvocation(ctx, req.Headers, "http",
		attribute.String("http.request.method", req.RequestContext.HTTP.Method),
		attribute.String("url.path", req.RawPath),
	)
	defer func() {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		} else {
			span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
		}
		span.End()
	}()

	var r reservation
	if err := json.Unmarshal([]byte(req.Body), &r); err != nil {
		return events.APIGatewayV2HTTPResponse{StatusCode: 400, Body: `{"error":"invalid reservation"}`}, nil
	}
	left, err := f.reserve(ctx, r)
	fmt.Printf("inventory: sku=%s qty=%d ok=%t trace_id=%s\n", r.SKU, r.Qty, err == nil, span.SpanContext().TraceID())
	if err != nil {
		return resp, err
	}
	body, _ := json.Marshal(map[string]any{"sku": r.SKU, "reserved": r.Qty, "remaining": left})
	return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: string(body), Headers: map[string]string{"Content-Type": "application/json"}}, nil
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
