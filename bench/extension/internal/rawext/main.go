// Command rawext is the raw-socket baseline of the start-up benchmarks:
// the least a Go extension can do before its first event and its first
// served export, over package net's TCP with HTTP/1.1 written and read by
// hand (no net/http). It binds the OTLP/HTTP port
// (LAMBDASCOPE_OTLP_HTTP_ADDR, when set), registers, asks for the next
// event, answers every export with 200, and exits at the event (SHUTDOWN).
package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
)

func main() {
	if err := run(); err != nil {
		_, _ = os.Stderr.WriteString("rawext: " + err.Error() + "\n")
		os.Exit(1)
	}
}

func run() error {
	if addr := os.Getenv("LAMBDASCOPE_OTLP_HTTP_ADDR"); addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		go serve(ln)
	}
	api := os.Getenv("AWS_LAMBDA_RUNTIME_API")
	c, err := net.Dial("tcp", api)
	if err != nil {
		return err
	}
	defer c.Close()
	r := bufio.NewReader(c)
	body := `{"events":["SHUTDOWN"]}`
	if _, err := io.WriteString(c, "POST /2020-01-01/extension/register HTTP/1.1\r\nHost: "+api+
		"\r\nLambda-Extension-Name: rawext\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body); err != nil {
		return err
	}
	headers, err := readMessage(r)
	if err != nil {
		return err
	}
	id := headers["lambda-extension-identifier"]
	if id == "" {
		return errors.New("register: no identifier")
	}
	if _, err := io.WriteString(c, "GET /2020-01-01/extension/event/next HTTP/1.1\r\nHost: "+api+
		"\r\nLambda-Extension-Identifier: "+id+"\r\n\r\n"); err != nil {
		return err
	}
	_, err = readMessage(r)
	return err
}

// serve answers every request on ln with 200 and an empty body.
func serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			r := bufio.NewReader(c)
			for {
				if _, err := readMessage(r); err != nil {
					return
				}
				if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n"); err != nil {
					return
				}
			}
		}()
	}
}

// readMessage reads a request or response with a Content-Length body (or
// none) and returns its headers, names in lower case.
func readMessage(r *bufio.Reader) (map[string]string, error) {
	if _, err := r.ReadString('\n'); err != nil {
		return nil, err
	}
	h := map[string]string{}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		k, v, _ := strings.Cut(line, ":")
		h[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	if n, _ := strconv.Atoi(h["content-length"]); n > 0 {
		if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
			return nil, err
		}
	}
	return h, nil
}
