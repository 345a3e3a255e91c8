// Command lambda-emulator runs Lambda functions and extensions locally under
// the Lambdascope emulator and invokes them from stdin or over the Invoke API.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/lambdascope/lambdascope/emulator"
)

const usage = `lambda-emulator runs AWS Lambda functions (custom-runtime "bootstrap"
executables, or Node.js handlers in the emulator's nodejs20.x runtime) and
external extensions as local processes behind the Lambda Runtime, Extensions
and Telemetry APIs, and serves the Lambda Invoke API, SQS queues, SNS topics
and EventBridge rules.

Usage:
  lambda-emulator --function NAME=PATH [--node-function NAME=DIR ...] [--extension PATH ...]
                  [--queue NAME=CONSUMER ...] [--topic NAME=FN[,FN...] ...]
                  [--rule NAME=SOURCE=FN[,FN...] ...] [flags]

A Node.js function's handler is index.handler unless given after a comma
(NAME=DIR,file.export); --env AWS_LAMBDA_EXEC_WRAPPER=PATH starts its
runtime through a wrapper, as Lambda does. A queue is served with the SQS
JSON protocol at the Invoke API's address (AWS_ENDPOINT_URL_SQS in the
functions' environment) and invokes its consumer with batches. A topic is
served with the SNS query protocol (Publish; AWS_ENDPOINT_URL_SNS) and
invokes each subscriber with every message; a rule is on the default bus,
takes the events of SOURCE (empty: any) put with the EventBridge JSON
protocol (PutEvents; AWS_ENDPOINT_URL_EVENTBRIDGE) and invokes its targets.

Without --serve, each line on stdin is an invocation: "NAME PAYLOAD", or just
PAYLOAD when one function is configured. Each result is printed as one JSON
line on stdout. With --serve, the Invoke API is served until SIGINT/SIGTERM:
  POST <url>/2015-03-31/functions/NAME/invocations

Flags:
`

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "lambda-emulator:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("lambda-emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var functions, nodeFunctions, queues, topics, rules, extensions, envs multiFlag
	fs.Var(&functions, "function", "`NAME=PATH` of a function's bootstrap executable (repeatable)")
	fs.Var(&nodeFunctions, "node-function", "`NAME=DIR[,HANDLER]` of a Node.js function's code (repeatable)")
	fs.Var(&queues, "queue", "`NAME[=CONSUMER]` of an SQS queue and the function it invokes (repeatable)")
	fs.Var(&topics, "topic", "`NAME=FN[,FN...]` of an SNS topic and the functions subscribed (repeatable)")
	fs.Var(&rules, "rule", "`NAME=SOURCE=FN[,FN...]` of an EventBridge rule, the source it takes and its targets (repeatable)")
	fs.Var(&extensions, "extension", "`PATH` of an extension executable, added to every function (repeatable)")
	fs.Var(&envs, "env", "`KEY=VALUE` environment variable for every function (repeatable)")
	memory := fs.Int("memory", emulator.DefaultMemoryMB, "memory size in MB")
	timeout := fs.Duration("timeout", emulator.DefaultTimeout, "function timeout")
	region := fs.String("region", emulator.DefaultRegion, "AWS region")
	listen := fs.String("listen", emulator.DefaultListenAddr, "address of the Invoke API")
	serve := fs.Bool("serve", false, "serve the Invoke API until interrupted instead of reading stdin")
	noFreeze := fs.Bool("no-freeze", false, "keep idle environments running instead of freezing them (SIGSTOP) between invocations")
	verbose := fs.Bool("v", false, "log the emulator's own activity to stderr")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(functions)+len(nodeFunctions) == 0 {
		fs.Usage()
		return errors.New("at least one --function or --node-function is required")
	}
	env := map[string]string{}
	for _, kv := range envs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("--env %q: want KEY=VALUE", kv)
		}
		env[k] = v
	}
	cfg := emulator.Config{Region: *region, ListenAddr: *listen, Output: stderr, DisableFreeze: *noFreeze}
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	for _, f := range functions {
		name, path, ok := strings.Cut(f, "=")
		if !ok {
			return fmt.Errorf("--function %q: want NAME=PATH", f)
		}
		cfg.Functions = append(cfg.Functions, emulator.FunctionConfig{
			Name: name, Handler: path, Extensions: extensions, MemoryMB: *memory, Timeout: *timeout, Env: env,
		})
	}
	for _, f := range nodeFunctions {
		name, spec, ok := strings.Cut(f, "=")
		if !ok {
			return fmt.Errorf("--node-function %q: want NAME=DIR[,HANDLER]", f)
		}
		dir, handler, _ := strings.Cut(spec, ",")
		if handler == "" {
			handler = "index.handler"
		}
		cfg.Functions = append(cfg.Functions, emulator.FunctionConfig{
			Name: name, Runtime: "nodejs20.x", Handler: handler, CodeDir: dir,
			Extensions: extensions, MemoryMB: *memory, Timeout: *timeout, Env: env,
		})
	}
	for _, q := range queues {
		name, consumer, _ := strings.Cut(q, "=")
		cfg.Queues = append(cfg.Queues, emulator.QueueConfig{Name: name, Consumer: consumer})
	}
	for _, tp := range topics {
		name, subs, ok := strings.Cut(tp, "=")
		if !ok || subs == "" {
			return fmt.Errorf("--topic %q: want NAME=FN[,FN...]", tp)
		}
		cfg.Topics = append(cfg.Topics, emulator.TopicConfig{Name: name, Subscribers: strings.Split(subs, ",")})
	}
	for _, r := range rules {
		parts := strings.SplitN(r, "=", 3)
		if len(parts) != 3 || parts[2] == "" {
			return fmt.Errorf("--rule %q: want NAME=SOURCE=FN[,FN...]", r)
		}
		rc := emulator.RuleConfig{Name: parts[0], Targets: strings.Split(parts[2], ",")}
		if parts[1] != "" {
			rc.Sources = []string{parts[1]}
		}
		cfg.Rules = append(cfg.Rules, rc)
	}
	em, err := emulator.New(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := em.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "Invoke API:", em.InvokeURL())
	var runErr error
	if *serve {
		<-ctx.Done()
	} else {
		runErr = invokeLines(ctx, em, cfg.Functions, stdin, stdout)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(runErr, em.Shutdown(sctx))
}

func invokeLines(ctx context.Context, em *emulator.Emulator, fns []emulator.FunctionConfig, stdin io.Reader, stdout io.Writer) error {
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64*1024), 7*1024*1024)
	enc := json.NewEncoder(stdout)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		name, payload := fns[0].Name, line
		if !strings.HasPrefix(line, "{") && !strings.HasPrefix(line, "[") {
			var rest string
			name, rest, _ = strings.Cut(line, " ")
			payload = strings.TrimSpace(rest)
		}
		if payload == "" {
			payload = "{}"
		}
		res, err := em.Invoke(ctx, name, []byte(payload))
		if err != nil {
			return err
		}
		out := map[string]any{
			"function":    name,
			"requestId":   res.RequestID,
			"coldStart":   res.ColdStart,
			"durationMs":  float64(res.Duration.Microseconds()) / 1000,
			"payload":     json.RawMessage(res.Payload),
			"functionErr": res.FunctionError,
		}
		if !json.Valid(res.Payload) {
			out["payload"] = string(res.Payload)
		}
		if err := enc.Encode(out); err != nil {
			return fmt.Errorf("write result: %w", err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read stdin: %w", err)
	}
	return nil
}
