// Command minext is the baseline of the start-up benchmark: the least an
// external extension can do before its first event — register with the
// Extensions API and ask for the next event — then exit at SHUTDOWN.
package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "minext:", err)
		os.Exit(1)
	}
}

func run() error {
	base := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2020-01-01/extension"
	req, err := http.NewRequest(http.MethodPost, base+"/register", bytes.NewReader([]byte(`{"events":["SHUTDOWN"]}`)))
	if err != nil {
		return fmt.Errorf("build register request: %w", err)
	}
	req.Header.Set("Lambda-Extension-Name", "minext")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	id := resp.Header.Get("Lambda-Extension-Identifier")

	req, err = http.NewRequest(http.MethodGet, base+"/event/next", nil)
	if err != nil {
		return fmt.Errorf("build next request: %w", err)
	}
	req.Header.Set("Lambda-Extension-Identifier", id)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("next: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}
