// Command orders is a sample Lambda function (custom-runtime bootstrap)
// behind API Gateway: it validates an order, stores it (a simulated database
// query), and reserves stock by invoking the inventory function through the
// Lambda Invoke API at $AWS_ENDPOINT_URL_LAMBDA with a direct invocation's
// event (the reservation itself, the W3C trace context beside it: no API
// Gateway stands between the two functions). An order placed is then sent to the SQS
// queue named by ORDERS_QUEUE (when set) over the SQS API at
// $AWS_ENDPOINT_URL_SQS, its trace context in the message's attributes,
// as an OpenTelemetry SQS instrumentation sends it. The request body may be
// {"sku": "...", "qty": n, "fail_inventory": true}.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/lambdascope/lambdascope/examples/functions/internal/otelfaas"
)

const inventoryFunction = "inventory"

type order struct {
	SKU           string `json:"sku"`
	Qty           int    `json:"qty"`
	FailInventory bool   `json:"fail_inventory"`
}

// reservation is the event orders invokes inventory with: a direct
// invocation's, as an AWS SDK's Invoke sends it, with the W3C trace
// context in the event (an SDK's instrumentation would put it in the
// invocation's client context, which the emulator does not pass on).
type reservation struct {
	order
	Traceparent string `json:"traceparent,omitempty"`
	Tracestate  string `json:"tracestate,omitempty"`
}

// httpRequest is the part of an API Gateway event (HTTP API v2 or REST
// proxy v1) the function reads.
type httpRequest struct {
	method, path, body string
	headers            map[string]string
}

func parseEvent(raw json.RawMessage) (httpRequest, error) {
	var probe struct {
		Version    string `json:"version"`
		HTTPMethod string `json:"httpMethod"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return httpRequest{}, fmt.Errorf("decode event: %w", err)
	}
	var r httpRequest
	var b64 bool
	if probe.HTTPMethod != "" {
		var v1 events.APIGatewayProxyRequest
		if err := json.Unmarshal(raw, &v1); err != nil {
			return r, fmt.Errorf("decode REST API event: %w", err)
		}
		r = httpRequest{method: v1.HTTPMethod, path: v1.Path, body: v1.Body, headers: v1.Headers}
		b64 = v1.IsBase64Encoded
	} else {
		var v2 events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(raw, &v2); err != nil {
			return r, fmt.Errorf("decode HTTP API event: %w", err)
		}
		r = httpRequest{method: v2.RequestContext.HTTP.Method, path: v2.RawPath, body: v2.Body, headers: v2.Headers}
		b64 = v2.IsBase64Encoded
	}
	if b64 {
		b, err := base64.StdEncoding.DecodeString(r.body)
		if err != nil {
			return r, fmt.Errorf("decode base64 body: %w", err)
		}
		r.body = string(b)
	}
	return r, nil
}

type function struct {
	otel   *otelfaas.Provider
	client *http.Client
}

func (f *function) handle(ctx context.Context, raw json.RawMessage) (resp events.APIGatewayV2HTTPResponse, err error) {
	defer f.otel.Flush(ctx)
	req, perr := parseEvent(raw)
	ctx, span := f.otel.StartInvocation(ctx, req.headers, "http",
		attribute.String("http.request.method", req.method),
		attribute.String("url.path", req.path),
		attribute.String("http.route", "/orders"),
	)
	defer func() {
		span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
		if resp.StatusCode >= 500 {
			span.SetStatus(codes.Error, resp.Body)
		}
		span.End()
	}()
	if perr != nil {
		return reply(400, map[string]any{"error": perr.Error()}), nil
	}

	o, err := f.validate(ctx, req.body)
	if err != nil {
		fmt.Printf("orders: rejected: %v trace_id=%s\n", err, span.SpanContext().TraceID())
		return reply(400, map[string]any{"error": err.Error()}), nil
	}
	orderID := f.store(ctx, o)
	reserved, err := f.reserve(ctx, o)
	fmt.Printf("orders: order=%s sku=%s qty=%d inventory_ok=%t trace_id=%s\n",
		orderID, o.SKU, o.Qty, err == nil, span.SpanContext().TraceID())
	if err != nil {
		span.RecordError(err)
		return reply(502, map[string]any{"order": orderID, "error": err.Error()}), nil
	}
	if queue := os.Getenv("ORDERS_QUEUE"); queue != "" {
		if err := f.publish(ctx, queue, orderID, o); err != nil {
			// The order stands; the shipment is booked later.
			fmt.Printf("orders: order=%s not sent to %s: %v\n", orderID, queue, err)
		}
	}
	return reply(200, map[string]any{"order": orderID, "inventory": reserved}), nil
}

func reply(status int, body any) events.APIGatewayV2HTTPResponse {
	b, _ := json.Marshal(body)
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(b),
	}
}

func (f *function) validate(ctx context.Context, body string) (order, error) {
	_, span := f.otel.Tracer().Start(ctx, "validate order")
	defer span.End()
	o := order{SKU: "sku-1", Qty: 1}
	if strings.TrimSpace(body) != "" {
		if err := json.Unmarshal([]byte(body), &o); err != nil {
			err = fmt.Errorf("invalid order: %w", err)
			span.SetStatus(codes.Error, err.Error())
			return o, err
		}
	}
	span.SetAttributes(attribute.String("order.sku", o.SKU), attribute.Int("order.qty", o.Qty))
	if o.SKU == "" || o.Qty <= 0 {
		err := errors.New("invalid order: sku and a positive qty are required")
		span.SetStatus(codes.Error, err.Error())
		return o, err
	}
	return o, nil
}

// store simulates inserting the order into a database.
func (f *function) store(ctx context.Context, o order) string {
	_, span := f.otel.Tracer().Start(ctx, "INSERT shop.orders", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("db.system.name", "postgresql"),
			attribute.String("db.namespace", "shop"),
			attribute.String("db.collection.name", "orders"),
			attribute.String("db.operation.name", "INSERT"),
			attribute.String("db.query.text", "INSERT INTO orders (sku, qty) VALUES ($1, $2) RETURNING id"),
			attribute.String("server.address", "orders-db.internal"),
			attribute.Int("server.port", 5432),
		))
	defer span.End()
	time.Sleep(3 * time.Millisecond)
	id := "ord-" + span.SpanContext().SpanID().String()[:8]
	_ = o
	return id
}

// reserve invokes the inventory function the way an AWS SDK would, over the
// Lambda Invoke API, in a CLIENT span whose context travels in the event.
func (f *function) reserve(ctx context.Context, o order) (json.RawMessage, error) {
	region := os.Getenv("AWS_REGION")
	ctx, span := f.otel.Tracer().Start(ctx, inventoryFunction+" invoke", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("rpc.system", "aws-api"),
			attribute.String("rpc.service", "Lambda"),
			attribute.String("rpc.method", "Invoke"),
			attribute.String("cloud.region", region),
			attribute.String("faas.invoked_name", inventoryFunction),
			attribute.String("faas.invoked_provider", "aws"),
			attribute.String("faas.invoked_region", region),
		))
	defer span.End()
	fail := func(err error) (json.RawMessage, error) {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return nil, err
	}

	endpoint := os.Getenv("AWS_ENDPOINT_URL_LAMBDA")
	if endpoint == "" {
		endpoint = "https://lambda." + region + ".amazonaws.com"
	}
	carrier := map[string]string{}
	otelfaas.Inject(ctx, carrier)
	payload, _ := json.Marshal(reservation{order: o, Traceparent: carrier["traceparent"], Tracestate: carrier["tracestate"]})
	url := strings.TrimRight(endpoint, "/") + "/2015-03-31/functions/" + inventoryFunction + "/invocations"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return fail(fmt.Errorf("build inventory request: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return fail(fmt.Errorf("invoke inventory: %w", err))
	}
	defer func() { _ = resp.Body.Close() }()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return fail(fmt.Errorf("read inventory response: %w", err))
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode != http.StatusOK {
		return fail(fmt.Errorf("invoke inventory: status %d: %s", resp.StatusCode, bytes.TrimSpace(out)))
	}
	if fe := resp.Header.Get("X-Amz-Function-Error"); fe != "" {
		return fail(fmt.Errorf("inventory failed (%s): %s", fe, bytes.TrimSpace(out)))
	}
	if !json.Valid(out) {
		return fail(fmt.Errorf("decode inventory response: not JSON: %s", bytes.TrimSpace(out)))
	}
	return json.RawMessage(out), nil
}

// publish sends the placed order to the queue over the SQS JSON protocol,
// in a PRODUCER span whose context travels in the message's attributes.
func (f *function) publish(ctx context.Context, queue, orderID string, o order) error {
	ctx, span := f.otel.Tracer().Start(ctx, "send "+queue, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "aws_sqs"),
			attribute.String("messaging.destination.name", queue),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.operation.name", "SendMessage"),
			attribute.String("rpc.system", "aws-api"),
			attribute.String("rpc.service", "SQS"),
			attribute.String("rpc.method", "SendMessage"),
		))
	defer span.End()
	fail := func(err error) error {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return err
	}
	region, account := os.Getenv("AWS_REGION"), ""
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		if parts := strings.Split(lc.InvokedFunctionArn, ":"); len(parts) > 4 {
			account = parts[4]
		}
	}
	endpoint := os.Getenv("AWS_ENDPOINT_URL_SQS")
	if endpoint == "" {
		endpoint = "https://sqs." + region + ".amazonaws.com"
	}
	queueURL := strings.TrimRight(endpoint, "/") + "/" + account + "/" + queue
	carrier := map[string]string{}
	otelfaas.Inject(ctx, carrier)
	attrs := map[string]any{}
	for k, v := range carrier {
		attrs[k] = map[string]string{"DataType": "String", "StringValue": v}
	}
	body, _ := json.Marshal(map[string]any{"order": orderID, "sku": o.SKU, "qty": o.Qty})
	payload, _ := json.Marshal(map[string]any{"QueueUrl": queueURL, "MessageBody": string(body), "MessageAttributes": attrs})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, queueURL, bytes.NewReader(payload))
	if err != nil {
		return fail(fmt.Errorf("build SendMessage request: %w", err))
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "AmazonSQS.SendMessage")
	resp, err := f.client.Do(req)
	if err != nil {
		return fail(fmt.Errorf("send message: %w", err))
	}
	defer func() { _ = resp.Body.Close() }()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fail(fmt.Errorf("send message: status %d: %s", resp.StatusCode, bytes.TrimSpace(out)))
	}
	var res struct{ MessageId string }
	if err := json.Unmarshal(out, &res); err != nil {
		return fail(fmt.Errorf("decode SendMessage answer: %w", err))
	}
	span.SetAttributes(attribute.String("messaging.message.id", res.MessageId))
	return nil
}

func main() {
	p, err := otelfaas.New(context.Background(), "orders")
	if err != nil {
		log.Printf("tracing disabled: %v", err)
		os.Exit(1)
	}
	f := &function{otel: p, client: &http.Client{Timeout: 30 * time.Second}}
	lambda.Start(f.handle)
}
