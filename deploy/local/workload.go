package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambdascope/lambdascope/emulator"
	"github.com/lambdascope/lambdascope/emulator/eventsource"
)

// Workload describes the invocations the demo and the end-to-end tests send
// to the orders function, which calls the inventory function.
type Workload struct {
	// Invocations of orders to send.
	Invocations int
	// Concurrency is how many run at once; above 1 the emulator starts more
	// execution environments, so more invocations are cold starts.
	Concurrency int
	// FailEvery makes every n-th order ask inventory to fail (0: none).
	FailEvery int
	// REST sends API Gateway REST API proxy events (payload format 1.0)
	// instead of HTTP API events (2.0).
	REST bool
	// TraceEvery gives every n-th request a traceparent header, as a
	// traced client sends it (0: none); the others carry none.
	TraceEvery int
}

// Call is what one orders invocation returned.
type Call struct {
	Index         int
	RequestID     string
	StatusCode    int
	FunctionError string
	ColdStart     bool
	FailInventory bool
	// Traceparent is the header the request carried, if any.
	Traceparent string
}

// orderBody is the JSON the orders function reads from the request body.
type orderBody struct {
	SKU           string `json:"sku"`
	Qty           int    `json:"qty"`
	FailInventory bool   `json:"fail_inventory,omitempty"`
}

// RunWorkload sends the workload's invocations through the emulator, as an
// API Gateway HTTP API would, and reports each as it completes.
func (s *Stack) RunWorkload(ctx context.Context, w Workload, progress func(done, total int)) ([]Call, error) {
	if w.Concurrency < 1 {
		w.Concurrency = 1
	}
	calls := make([]Call, w.Invocations)
	errs := make([]error, w.Invocations)
	sem := make(chan struct{}, w.Concurrency)
	var mu sync.Mutex
	done := 0
	var wg sync.WaitGroup
	for i := range w.Invocations {
		fail := w.FailEvery > 0 && (i+1)%w.FailEvery == 0
		tp := ""
		if w.TraceEvery > 0 && i%w.TraceEvery == 0 {
			tp = newTraceparent()
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c := Call{Index: i, FailInventory: fail, Traceparent: tp}
			// Built when it is sent: the request time is API Gateway's.
			payload, err := orderEvent(i, fail, w.REST, tp)
			var res *emulator.InvokeResult
			if err == nil {
				res, err = s.Emulator.Invoke(ctx, "orders", payload)
			}
			if err != nil {
				errs[i] = fmt.Errorf("invoke orders #%d: %w", i, err)
			} else {
				c.RequestID, c.FunctionError, c.ColdStart = res.RequestID, res.FunctionError, res.ColdStart
				var resp events.APIGatewayV2HTTPResponse
				if json.Unmarshal(res.Payload, &resp) == nil {
					c.StatusCode = resp.StatusCode
				}
			}
			calls[i] = c
			mu.Lock()
			done++
			if progress != nil {
				progress(done, w.Invocations)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return calls, err
		}
	}
	return calls, nil
}

// orderEvent is the event API Gateway passes to orders for one order.
func orderEvent(i int, failInventory, rest bool, traceparent string) ([]byte, error) {
	body, err := json.Marshal(orderBody{SKU: fmt.Sprintf("SKU-%03d", i%17), Qty: 1 + i%3, FailInventory: failInventory})
	if err != nil {
		return nil, fmt.Errorf("encode order: %w", err)
	}
	req := eventsource.HTTPRequest{Method: "POST", Path: "/orders", Body: string(body),
		Headers: map[string]string{"Content-Type": "application/json", "User-Agent": "lambdascope-demo"}}
	if traceparent != "" {
		req.Headers["traceparent"] = traceparent
	}
	build := eventsource.APIGatewayHTTP
	if rest {
		build = eventsource.APIGatewayREST
	}
	b, err := build(req)
	if err != nil {
		return nil, fmt.Errorf("build API Gateway event: %w", err)
	}
	return b, nil
}

// newTraceparent is the W3C traceparent of a sampled client span.
func newTraceparent() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return "00-" + hex.EncodeToString(b[:16]) + "-" + hex.EncodeToString(b[16:]) + "-01"
}
