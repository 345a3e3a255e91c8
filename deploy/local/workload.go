package local

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/aws/aws-lambda-go/events"
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
}

// Call is what one orders invocation returned.
type Call struct {
	Index         int
	RequestID     string
	StatusCode    int
	FunctionError string
	ColdStart     bool
	FailInventory bool
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
		payload, err := orderEvent(i, fail)
		if err != nil {
			return nil, err
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			res, err := s.Emulator.Invoke(ctx, "orders", payload)
			c := Call{Index: i, FailInventory: fail}
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

func orderEvent(i int, failInventory bool) ([]byte, error) {
	body, err := json.Marshal(orderBody{SKU: fmt.Sprintf("SKU-%03d", i%17), Qty: 1 + i%3, FailInventory: failInventory})
	if err != nil {
		return nil, fmt.Errorf("encode order: %w", err)
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version:  "2.0",
		RouteKey: "POST /orders",
		RawPath:  "/orders",
		Headers:  map[string]string{"content-type": "application/json"},
		Body:     string(body),
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:  "POST /orders",
			Stage:     "$default",
			RequestID: fmt.Sprintf("demo-%04d", i),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: "POST", Path: "/orders", Protocol: "HTTP/1.1", SourceIP: "127.0.0.1", UserAgent: "lambdascope-demo",
			},
		},
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode API Gateway event: %w", err)
	}
	return b, nil
}
