// Command function is a tiny aws-lambda-go function the emulator's tests
// run; the request says what it should do.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
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
	// WriteTmp holds files to write under TMPDIR, by name, before
	// anything else; ReadTmp names files under TMPDIR to return.
	WriteTmp map[string]string `json:"write_tmp"`
	ReadTmp  []string          `json:"read_tmp"`
}

type response struct {
	Echo       string            `json:"echo"`
	RequestID  string            `json:"request_id"`
	ARN        string            `json:"arn"`
	TraceID    string            `json:"trace_id"`
	DeadlineMs int64             `json:"deadline_ms"`
	Env        map[string]string `json:"env"`
	PID        int               `json:"pid"`
	Tmp        map[string]string `json:"tmp"`
}

func handle(ctx context.Context, req request) (*response, error) {
	for name, content := range req.WriteTmp {
		if err := os.WriteFile(filepath.Join(os.TempDir(), name), []byte(content), 0o644); err != nil {
			return nil, err
		}
	}
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
	resp := &response{Echo: req.Echo, Env: map[string]string{}, PID: os.Getpid(), Tmp: map[string]string{}}
	for _, name := range req.ReadTmp {
		if b, err := os.ReadFile(filepath.Join(os.TempDir(), name)); err == nil {
			resp.Tmp[name] = string(b)
		}
	}
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
