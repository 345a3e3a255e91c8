// Command function is a tiny aws-lambda-go function the emulator's tests
// run; the request says what it should do.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type request struct {
	Echo    string   `json:"echo"`
	Log     string   `json:"log"`
	SleepMs int      `json:"sleep_ms"`
	Fail    bool     `json:"fail"`
	Exit    bool     `json:"exit"`
	Env     []string `json:"env"`
}

type response struct {
	Echo       string            `json:"echo"`
	RequestID  string            `json:"request_id"`
	ARN        string            `json:"arn"`
	TraceID    string            `json:"trace_id"`
	DeadlineMs int64             `json:"deadline_ms"`
	Env        map[string]string `json:"env"`
	PID        int               `json:"pid"`
}

func handle(ctx context.Context, req request) (*response, error) {
	if req.Log != "" {
		fmt.Println(req.Log)
	}
	if req.SleepMs > 0 {
		time.Sleep(time.Duration(req.SleepMs) * time.Millisecond)
	}
	if req.Exit {
		os.Exit(3)
	}
	if req.Fail {
		return nil, errors.New("requested failure")
	}
	resp := &response{Echo: req.Echo, Env: map[string]string{}, PID: os.Getpid()}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		resp.RequestID = lc.AwsRequestID
		resp.ARN = lc.InvokedFunctionArn
	}
	if v, ok := ctx.Value("x-amzn-trace-id").(string); ok {
		resp.TraceID = v
	}
	if d, ok := ctx.Deadline(); ok {
		resp.DeadlineMs = d.UnixMilli()
	}
	for _, k := range req.Env {
		if v, ok := os.LookupEnv(k); ok {
			resp.Env[k] = v
		}
	}
	return resp, nil
}

func main() {
	if path := os.Getenv("TESTFN_SIGTERM_OUT"); path != "" {
		// Record when SIGTERM arrives, then exit as a runtime would.
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM)
		go func() {
			<-sigs
			_ = os.WriteFile(path, []byte(time.Now().UTC().Format(time.RFC3339Nano)), 0o644)
			os.Exit(0)
		}()
	}
	lambda.Start(handle)
}
